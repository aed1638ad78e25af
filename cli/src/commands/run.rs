//! `mcpin run -- ARGV`: the launch pipeline (`mcpin_launcher::pipeline`), then the audit
//! record, then exec, or the runtime guard (`mcpin-guard`) when the signed statement carries
//! tools. Stdout belongs to the MCP server, so nothing here writes to it; every decision goes
//! to stderr (refusals) and to the audit log — including refusals that happen before the
//! pipeline can start (a command line that does not parse, an unreadable policy-root key, a
//! malformed `~/.npmrc`, a flag system mode refuses).

use std::path::{Path, PathBuf};

use anyhow::Context;
use mcpin_guard::{Code, Ended};
use mcpin_launcher::audit::{AuditLog, Decision};
use mcpin_launcher::locate::BaseDirs;
use mcpin_launcher::pipeline::{self, Access, GuardInputs, Prepared, RunSettings};
use mcpin_launcher::system::{self, Caller, Mode, SYSTEM_CONFIG};
use mcpin_verifier::PublicKey;
use mcpin_verifier::verdict::Verdict;

use super::policy::{policy_root_key, state_dir};
use crate::args::{InstallArgs, PolicyTrustArgs, RegistryArgs, RunArgs};
use crate::exit::ExitStatus;
use crate::settings::RegistryScope;
use crate::{output, settings};

/// Settings that could not be resolved, with the stable code the audit record carries.
pub struct SettingsRefusal {
    pub code: &'static str,
    pub error: anyhow::Error,
}

fn refusal(code: &'static str) -> impl FnOnce(anyhow::Error) -> SettingsRefusal {
    move |error| SettingsRefusal { code, error }
}

impl From<SettingsRefusal> for anyhow::Error {
    fn from(refusal: SettingsRefusal) -> Self {
        refusal.error.context(format!("refused [{}]", refusal.code))
    }
}

/// Where a launch's decisions are logged, and the settings for it (or why there are none).
pub struct LaunchSettings {
    /// `None` when neither a flag, the system config nor the base directories name one.
    pub audit_log: Option<PathBuf>,
    pub settings: Result<RunSettings, SettingsRefusal>,
}

/// What the pipeline needs, and where its decisions are logged, from flags and the environment
/// in per-user mode, or from `/etc/mcpin/config.toml` in system mode, where the flags and
/// variables that would change them are refused (shared with `mcpin wrap` and `mcpin install`).
/// An error means not even the audit log is known (an unreadable or insecure system config).
pub fn launch_settings(
    policy: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    trust: &PolicyTrustArgs,
    registry: RegistryArgs,
    dirs: BaseDirs,
) -> anyhow::Result<LaunchSettings> {
    let caller = Caller::current();
    let privileged = caller.privileged;
    let Mode::System(system) = system::load(Path::new(SYSTEM_CONFIG), caller.uid)? else {
        let audit_log = audit_log.or_else(|| dirs.audit_log());
        let settings = (|| {
            Ok(RunSettings {
                policy,
                policy_root_key: policy_root_key(trust.policy_root_key.as_deref())
                    .map_err(refusal("policy-root-key-invalid"))?,
                state_dir: state_dir(trust.state_dir.as_deref())
                    .map_err(refusal("state-dir-unknown"))?,
                access: Access::ReadWrite,
                registry: settings::registry(registry, false, RegistryScope::Launch)
                    .map_err(refusal("registry-config-invalid"))?,
                path: std::env::var_os("PATH"),
                interpreters: Default::default(),
                dirs,
            })
        })();
        return Ok(LaunchSettings {
            audit_log,
            settings,
        });
    };
    let settings = (|| {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        system::refuse_overrides(&[
            ("--policy", policy.is_some()),
            ("--audit-log", audit_log.is_some()),
            ("--policy-root-key", trust.policy_root_key.is_some()),
            ("--state-dir", trust.state_dir.is_some()),
            ("--store", registry.store.is_some()),
            ("MCPIN_POLICY_ROOT_KEY", set("MCPIN_POLICY_ROOT_KEY")),
            ("MCPIN_STATE_DIR", set("MCPIN_STATE_DIR")),
            ("MCPIN_STORE", set("MCPIN_STORE")),
        ])
        .map_err(|error| refusal("system-override")(error.into()))?;
        let mut registry_settings = settings::registry(
            RegistryArgs {
                store: Some(system.store.clone()),
                ..registry
            },
            false,
            RegistryScope::Launch,
        )
        .map_err(refusal("registry-config-invalid"))?;
        // The system store is filled by a privileged `mcpin install`; a user's launch reads it.
        registry_settings.http.offline |= !privileged;
        registry_settings.owner = mcpin_registry_client::store::Owner::system();
        let policy_root_key = match &system.policy_root_key {
            Some(path) => Some(
                PublicKey::load(path)
                    .with_context(|| format!("loading policy-root key `{}`", path.display()))
                    .map_err(refusal("policy-root-key-invalid"))?,
            ),
            None => None,
        };
        Ok(RunSettings {
            policy: Some(system.policy.clone()),
            policy_root_key,
            state_dir: system.state_dir.clone(),
            access: if privileged {
                Access::ReadWrite
            } else {
                Access::ReadOnly
            },
            registry: registry_settings,
            path: std::env::var_os("PATH"),
            interpreters: system.interpreters.clone(),
            dirs,
        })
    })();
    Ok(LaunchSettings {
        audit_log: Some(system.audit_log.clone()),
        settings,
    })
}

/// The audit log and settings of `mcpin run` and `mcpin install`: a refusal of the settings is
/// recorded as a deny for `argv` before it is returned.
fn settings_or_refusal(
    launch: LaunchSettings,
    argv: &[String],
) -> anyhow::Result<(RunSettings, AuditLog)> {
    let log = AuditLog::new(launch.audit_log.context(
        "cannot record the decision: neither XDG_STATE_HOME nor HOME is set (use --audit-log)",
    )?);
    match launch.settings {
        Ok(settings) => Ok((settings, log)),
        Err(refused) => {
            log.append(Decision::refused(
                argv,
                refused.code,
                format!("{:#}", refused.error),
            ))
            .context("recording the decision in the audit log")?;
            Err(refused.into())
        }
    }
}

/// A `mcpin run` command line that does not parse (an unknown flag, a bad value) is a refusal
/// too. `raw` is the whole command line; the record goes to the default audit log (an
/// `--audit-log` on a line that does not parse is not read), with code `run-usage-invalid`.
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
        Some(separator) => &raw[separator + 1..],
        None => &raw[2..],
    };
    let caller = Caller::current();
    let log = match system::load(Path::new(SYSTEM_CONFIG), caller.uid)? {
        Mode::System(system) => system.audit_log,
        _ => BaseDirs::from_env()
            .audit_log()
            .context("cannot record the refusal: neither XDG_STATE_HOME nor HOME is set")?,
    };
    let message = error.to_string();
    let first_line = message.lines().next().unwrap_or_default();
    AuditLog::new(log)
        .append(Decision::refused(
            argv,
            "run-usage-invalid",
            first_line.trim_start_matches("error: ").to_owned(),
        ))
        .context("recording the refusal in the audit log")?;
    Ok(())
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitStatus> {
    let launch = launch_settings(
        args.policy.clone(),
        args.audit_log.clone(),
        &args.policy_trust,
        args.registry,
        BaseDirs::from_env(),
    )?;
    let (run_settings, log) = settings_or_refusal(launch, &args.argv)?;
    let prepared = pipeline::prepare(&args.argv, std::env::vars_os(), &run_settings);
    match prepared {
        Prepared::Refused { decision, verdict } => {
            report_refusal(verdict.as_ref(), &decision);
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

/// `mcpin install -- ARGV`: every check `mcpin run` makes, and the install, without the
/// launch. In system mode this is the privileged step that fills the root-owned store.
pub fn install(args: InstallArgs) -> anyhow::Result<ExitStatus> {
    let launch = launch_settings(
        args.policy.clone(),
        args.audit_log.clone(),
        &args.policy_trust,
        args.registry,
        BaseDirs::from_env(),
    )?;
    let (run_settings, log) = settings_or_refusal(launch, &args.argv)?;
    let prepared = pipeline::prepare(&args.argv, std::env::vars_os(), &run_settings);
    let (decision, status) = match prepared {
        Prepared::Refused { decision, verdict } => {
            report_refusal(verdict.as_ref(), &decision);
            (decision, ExitStatus::Denied)
        }
        Prepared::Launch { decision, .. } => {
            for reason in decision
                .reasons
                .iter()
                .filter(|r| r.code == "install-verified")
            {
                eprintln!("mcpin: installed: {}", reason.message);
            }
            (decision, ExitStatus::Success)
        }
    };
    if args.json {
        output::report(&serde_json::json!({
            "installed": status == ExitStatus::Success,
            "decision": &decision,
        }))?;
    }
    log.append(decision)
        .context("recording the decision in the audit log")?;
    Ok(status)
}

fn report_refusal(verdict: Option<&Verdict>, decision: &Decision) {
    if let Some(verdict) = verdict {
        eprint!("{}", verdict.to_table());
    }
    for reason in &decision.reasons {
        eprintln!(
            "mcpin: launch refused: {} [{}]",
            reason.message, reason.code
        );
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
