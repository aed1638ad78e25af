//! `mcpin run -- ARGV`: the launch pipeline (`mcpin_launcher::pipeline`), then the audit
//! record, then exec. Stdout belongs to the MCP server, so nothing here writes to it; every
//! decision goes to stderr (refusals) and to the audit log.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mcpin_launcher::audit::{AuditLog, Decision};
use mcpin_launcher::locate::BaseDirs;
use mcpin_launcher::pipeline::{self, Access, Prepared, RunSettings};
use mcpin_launcher::system::{self, Caller, Mode, SYSTEM_CONFIG};
use mcpin_verifier::PublicKey;
use mcpin_verifier::verdict::Verdict;

use super::policy::{policy_root_key, state_dir};
use crate::args::{InstallArgs, PolicyTrustArgs, RegistryArgs, RunArgs};
use crate::exit::ExitStatus;
use crate::{output, settings};

/// What the pipeline needs, and where its decisions are logged, from flags and the environment
/// in per-user mode, or from `/etc/mcpin/config.toml` in system mode, where the flags and
/// variables that would change them are refused (shared with `mcpin wrap` and `mcpin install`).
pub fn launch_settings(
    policy: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    trust: &PolicyTrustArgs,
    registry: RegistryArgs,
    dirs: BaseDirs,
) -> anyhow::Result<(RunSettings, Option<PathBuf>)> {
    let caller = Caller::current();
    let privileged = caller.privileged;
    let Mode::System(system) = system::load(Path::new(SYSTEM_CONFIG), caller.uid)? else {
        let audit_log = audit_log.or_else(|| dirs.audit_log());
        let settings = RunSettings {
            policy,
            policy_root_key: policy_root_key(trust.policy_root_key.as_deref())?,
            state_dir: state_dir(trust.state_dir.as_deref())?,
            access: Access::ReadWrite,
            registry: settings::registry(registry, false)?,
            path: std::env::var_os("PATH"),
            dirs,
        };
        return Ok((settings, audit_log));
    };
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
    ])?;
    let mut registry_settings = settings::registry(
        RegistryArgs {
            store: Some(system.store.clone()),
            ..registry
        },
        false,
    )?;
    // The system store is filled by a privileged `mcpin install`; a user's launch reads it.
    registry_settings.http.offline |= !privileged;
    let policy_root_key = match &system.policy_root_key {
        Some(path) => Some(
            PublicKey::load(path)
                .with_context(|| format!("loading policy-root key `{}`", path.display()))?,
        ),
        None => None,
    };
    let settings = RunSettings {
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
        dirs,
    };
    Ok((settings, Some(system.audit_log.clone())))
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitStatus> {
    let (run_settings, log_path) = launch_settings(
        args.policy.clone(),
        args.audit_log.clone(),
        &args.policy_trust,
        args.registry,
        BaseDirs::from_env(),
    )?;
    let log_path = log_path.context(
        "cannot record the decision: neither XDG_STATE_HOME nor HOME is set (use --audit-log)",
    )?;
    let prepared = pipeline::prepare(&args.argv, std::env::vars_os(), &run_settings);
    let log = AuditLog::new(log_path);
    match prepared {
        Prepared::Refused { decision, verdict } => {
            report_refusal(verdict.as_ref(), &decision);
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

/// `mcpin install -- ARGV`: every check `mcpin run` makes, and the install, without the
/// launch. In system mode this is the privileged step that fills the root-owned store.
pub fn install(args: InstallArgs) -> anyhow::Result<ExitStatus> {
    let (run_settings, log_path) = launch_settings(
        args.policy.clone(),
        args.audit_log.clone(),
        &args.policy_trust,
        args.registry,
        BaseDirs::from_env(),
    )?;
    let log_path = log_path.context(
        "cannot record the decision: neither XDG_STATE_HOME nor HOME is set (use --audit-log)",
    )?;
    let prepared = pipeline::prepare(&args.argv, std::env::vars_os(), &run_settings);
    let log = AuditLog::new(log_path);
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
