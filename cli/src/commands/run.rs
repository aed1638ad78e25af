//! `mcpin run -- ARGV`: the launch pipeline (`mcpin_launcher::pipeline`), then the audit
//! record, then exec. Stdout belongs to the MCP server, so nothing here writes to it; every
//! decision goes to stderr (refusals) and to the audit log — including refusals that happen
//! before the pipeline can start (an unreadable policy-root key, a malformed `~/.npmrc`).

use std::path::PathBuf;

use anyhow::Context;
use mcpin_launcher::audit::{AuditLog, Decision, Outcome, Reason};
use mcpin_launcher::locate::BaseDirs;
use mcpin_launcher::pipeline::{self, Prepared, RunSettings};

use super::policy::{policy_root_key, state_dir};
use crate::args::{PolicyTrustArgs, RegistryArgs, RunArgs};
use crate::exit::ExitStatus;
use crate::settings::{self, RegistryScope};

/// Settings that could not be resolved, with the stable code the audit record carries.
pub struct SettingsRefusal {
    pub code: &'static str,
    pub error: anyhow::Error,
}

fn refusal(code: &'static str) -> impl FnOnce(anyhow::Error) -> SettingsRefusal {
    move |error| SettingsRefusal { code, error }
}

/// What the pipeline needs, from flags and the environment (shared with `mcpin wrap`'s gate).
pub fn run_settings(
    policy: Option<PathBuf>,
    trust: &PolicyTrustArgs,
    registry: RegistryArgs,
    dirs: BaseDirs,
) -> Result<RunSettings, SettingsRefusal> {
    Ok(RunSettings {
        policy,
        policy_root_key: policy_root_key(trust.policy_root_key.as_deref())
            .map_err(refusal("policy-root-key-invalid"))?,
        state_dir: state_dir(trust.state_dir.as_deref()).map_err(refusal("state-dir-unknown"))?,
        registry: settings::registry(registry, false, RegistryScope::Launch)
            .map_err(refusal("registry-config-invalid"))?,
        path: std::env::var_os("PATH"),
        dirs,
    })
}

impl From<SettingsRefusal> for anyhow::Error {
    fn from(refusal: SettingsRefusal) -> Self {
        refusal.error.context(format!("refused [{}]", refusal.code))
    }
}

/// A `mcpin run` command line that does not parse (an unknown flag, a bad value) is a refusal
/// too. `raw` is the whole command line; the record goes to the default audit log (an
/// `--audit-log` on a line that does not parse is not trusted), with code `run-usage-invalid`.
/// Does nothing for other subcommands, `--help` and `--version`.
pub fn record_usage_error(raw: &[String], error: &clap::Error) -> anyhow::Result<()> {
    use clap::error::ErrorKind;
    if raw.get(1).map(String::as_str) != Some("run")
        || matches!(
            error.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        )
    {
        return Ok(());
    }
    let argv = match raw.iter().position(|arg| arg == "--") {
        Some(separator) => raw[separator + 1..].to_vec(),
        None => raw[2..].to_vec(),
    };
    let log = BaseDirs::from_env()
        .audit_log()
        .context("cannot record the refusal: neither XDG_STATE_HOME nor HOME is set")?;
    let message = error.to_string();
    let first_line = message.lines().next().unwrap_or_default();
    AuditLog::new(log)
        .append(Decision {
            argv,
            artifact: None,
            policy: None,
            signers: Vec::new(),
            verdict: Outcome::Deny,
            reasons: vec![Reason {
                code: "run-usage-invalid".to_owned(),
                message: first_line.trim_start_matches("error: ").to_owned(),
            }],
        })
        .context("recording the refusal in the audit log")?;
    Ok(())
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitStatus> {
    let dirs = BaseDirs::from_env();
    let log_path = match &args.audit_log {
        Some(path) => path.clone(),
        None => dirs.audit_log().context(
            "cannot record the decision: neither XDG_STATE_HOME nor HOME is set (use --audit-log)",
        )?,
    };
    let log = AuditLog::new(log_path);
    let run_settings =
        match run_settings(args.policy.clone(), &args.policy_trust, args.registry, dirs) {
            Ok(settings) => settings,
            Err(refused) => {
                let decision = Decision {
                    argv: args.argv.clone(),
                    artifact: None,
                    policy: None,
                    signers: Vec::new(),
                    verdict: Outcome::Deny,
                    reasons: vec![Reason {
                        code: refused.code.to_owned(),
                        message: format!("{:#}", refused.error),
                    }],
                };
                log.append(decision)
                    .context("recording the decision in the audit log")?;
                return Err(refused.into());
            }
        };
    let prepared = pipeline::prepare(&args.argv, std::env::vars_os(), &run_settings);
    match prepared {
        Prepared::Refused { decision, verdict } => {
            if let Some(verdict) = &verdict {
                eprint!("{}", verdict.to_table());
            }
            for reason in &decision.reasons {
                eprintln!(
                    "mcpin: launch refused: {} [{}]",
                    reason.message, reason.code
                );
            }
            log.append(decision)
                .context("recording the decision in the audit log")?;
            Ok(ExitStatus::Denied)
        }
        Prepared::Launch { launch, decision } => {
            log.append(decision)
                .context("recording the decision in the audit log")?;
            Err(launch.exec()).context("starting the server")
        }
    }
}
