//! `mcpin run -- ARGV`: everything up to the verifier. Stdout belongs to the MCP server, so
//! nothing here writes to it; every decision goes to stderr and to the audit log.
//!
//! This build has no registry client and no verifier, so an argv that passes the grammar,
//! the environment check and the policy lookup is still refused with `verifier-unavailable`:
//! there is no path from here to an unverified launch.

use std::path::Path;

use anyhow::Context;
use mcpin_launcher::audit::{AuditLog, Decision, Outcome, PolicyRef, Reason};
use mcpin_launcher::env::EnvPolicy;
use mcpin_launcher::grammar::{self, VersionSpec};
use mcpin_launcher::locate::{self, BaseDirs, PolicyLocation};
use sha2::{Digest, Sha256};

use crate::args::RunArgs;
use crate::exit::ExitStatus;

/// The checks, in order; the first deny ends the launch.
fn decide(args: &RunArgs, dirs: &BaseDirs) -> (Option<PolicyRef>, Reason) {
    let deny = |code: &str, message: String| Reason {
        code: code.to_owned(),
        message,
    };
    let request = match grammar::parse(&args.argv) {
        Ok(request) => request,
        Err(refusal) => return (None, deny(refusal.code.code(), refusal.reason)),
    };
    if let Err(error) = EnvPolicy::default().sanitize(std::env::vars_os()) {
        return (None, deny("env-denied", error.to_string()));
    }
    let policy_path = match locate::find_policy(
        args.policy.as_deref(),
        dirs,
        Path::new(locate::SYSTEM_POLICY),
    ) {
        PolicyLocation::Found(path) => path,
        PolicyLocation::Missing { searched } => {
            let searched: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
            return (
                None,
                deny(
                    "no-policy",
                    format!("no policy file found (looked at {})", searched.join(", ")),
                ),
            );
        }
    };
    let policy = match fs_err::read(&policy_path) {
        Ok(bytes) => PolicyRef {
            path: policy_path.display().to_string(),
            version: None,
            digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        },
        Err(error) => return (None, deny("policy-unreadable", error.to_string())),
    };
    let package = &request.package;
    let version = match &package.version {
        VersionSpec::Exact(v) => v.clone(),
        VersionSpec::Floating(spec) => format!("{spec} (floating: run `mcpin wrap` to pin it)"),
    };
    let reason = deny(
        "verifier-unavailable",
        format!(
            "{} {} {version}: this build cannot fetch and verify packages (registry client and verifier not connected), so it launches nothing",
            package.ecosystem, package.name
        ),
    );
    (Some(policy), reason)
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitStatus> {
    let dirs = BaseDirs::from_env();
    let (policy, reason) = decide(&args, &dirs);
    eprintln!(
        "mcpin: launch refused: {} [{}]",
        reason.message, reason.code
    );
    let log_path = match &args.audit_log {
        Some(path) => path.clone(),
        None => dirs.audit_log().context(
            "cannot record the decision: neither XDG_STATE_HOME nor HOME is set (use --audit-log)",
        )?,
    };
    AuditLog::new(log_path)
        .append(Decision {
            argv: args.argv,
            artifact: None,
            policy,
            signers: Vec::new(),
            verdict: Outcome::Deny,
            reasons: vec![reason],
        })
        .context("recording the decision in the audit log")?;
    Ok(ExitStatus::Denied)
}
