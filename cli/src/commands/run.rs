//! `mcpin run -- ARGV`: the launch pipeline (`mcpin_launcher::pipeline`), then the audit
//! record, then exec, or the runtime guard (`mcpin-guard`) when the signed statement carries
//! tools. Stdout belongs to the MCP server, so nothing here writes to it; every
//! decision goes to stderr (refusals) and to the audit log.

use std::path::PathBuf;

use anyhow::Context;
use mcpin_guard::{Code, Ended};
use mcpin_launcher::audit::AuditLog;
use mcpin_launcher::locate::BaseDirs;
use mcpin_launcher::pipeline::{self, GuardInputs, Prepared, RunSettings};

use super::policy::{policy_root_key, state_dir};
use crate::args::{PolicyTrustArgs, RegistryArgs, RunArgs};
use crate::exit::ExitStatus;
use crate::settings;

/// What the pipeline needs, from flags and the environment (shared with `mcpin wrap`'s gate).
pub fn run_settings(
    policy: Option<PathBuf>,
    trust: &PolicyTrustArgs,
    registry: RegistryArgs,
    dirs: BaseDirs,
) -> anyhow::Result<RunSettings> {
    Ok(RunSettings {
        policy,
        policy_root_key: policy_root_key(trust.policy_root_key.as_deref())?,
        state_dir: state_dir(trust.state_dir.as_deref())?,
        registry: settings::registry(registry, false)?,
        path: std::env::var_os("PATH"),
        dirs,
    })
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitStatus> {
    let dirs = BaseDirs::from_env();
    let log_path = match &args.audit_log {
        Some(path) => path.clone(),
        None => dirs.audit_log().context(
            "cannot record the decision: neither XDG_STATE_HOME nor HOME is set (use --audit-log)",
        )?,
    };
    let run_settings = run_settings(args.policy.clone(), &args.policy_trust, args.registry, dirs)?;
    let prepared = pipeline::prepare(&args.argv, std::env::vars_os(), &run_settings);
    let log = AuditLog::new(log_path);
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
        Prepared::Launch {
            launch,
            decision,
            guard,
        } => {
            log.append(decision)
                .context("recording the decision in the audit log")?;
            if !guard.enabled() {
                return Err(launch.exec()).context("starting the server");
            }
            let llm_provider = args
                .llm_provider
                .or_else(|| std::env::var("MCPIN_LLM_PROVIDER").ok())
                .filter(|name| !name.is_empty());
            let GuardInputs {
                tools,
                runtime,
                server,
            } = *guard;
            let config = mcpin_guard::Config {
                tools: tools.expect("the guard is enabled only with signed tools"),
                runtime,
                llm_provider,
                account: mcpin_guard::Account::current(),
                server,
            };
            let guarded = launch
                .guard(config, Box::new(log))
                .context("starting the server")?;
            let code = match guarded.ended {
                Ended::ServerClosed => guarded.code,
                Ended::Stopped(stop) => stop_status(stop.code) as i32,
            };
            // Like exec, the server's exit code is ours; every record is written by now.
            std::process::exit(code)
        }
    }
}

/// The exit status when the guard stopped the server.
fn stop_status(code: Code) -> ExitStatus {
    match code {
        Code::DriftDenied => ExitStatus::Denied,
        Code::AuditFailed | Code::StreamFailed => ExitStatus::Io,
        _ => ExitStatus::InvalidInput,
    }
}
