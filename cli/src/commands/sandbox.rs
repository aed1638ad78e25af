//! `mcpin sandbox explain`, and the hidden trampoline and reaper subcommands the sandbox uses
//! (`mcpin_sandbox::trampoline`, `mcpin_sandbox::tmp`).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use mcpin_launcher::locate::BaseDirs;
use mcpin_launcher::pipeline::{self, Prepared};
use mcpin_sandbox::Record;
use mcpin_sandbox::tmp::REAP_SUBCOMMAND;
use mcpin_sandbox::trampoline::EXEC_SUBCOMMAND;

use crate::args::SandboxExplainArgs;
use crate::exit::ExitStatus;
use crate::output;

/// Runs `mcpin __sandbox-exec RECORD -- PROGRAM ARGS…` or `mcpin __sandbox-reap DIR` when that
/// is the command line; `None` otherwise.
pub fn hidden() -> Option<ExitCode> {
    let mut argv = std::env::args_os().skip(1);
    let first = argv.next()?;
    if first == EXEC_SUBCOMMAND {
        Some(trampoline(argv.collect()))
    } else if first == REAP_SUBCOMMAND {
        let dir = argv.next()?;
        // Nobody reads the reaper's stderr (it is /dev/null); the exit code says it all.
        Some(match mcpin_sandbox::tmp::reap(Path::new(&dir)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        })
    } else {
        None
    }
}

/// Enters the sandbox the record describes and execs the server; never starts it otherwise.
fn trampoline(args: Vec<OsString>) -> ExitCode {
    let fail = |message: String| {
        eprintln!("mcpin: sandbox: {message} [sandbox-failed]");
        // 126: found but could not be executed, as shells report it.
        ExitCode::from(126)
    };
    let [record, separator, program, rest @ ..] = args.as_slice() else {
        return fail(format!(
            "usage: mcpin {EXEC_SUBCOMMAND} RECORD -- PROGRAM ARGS…"
        ));
    };
    if separator != "--" {
        return fail(format!(
            "usage: mcpin {EXEC_SUBCOMMAND} RECORD -- PROGRAM ARGS…"
        ));
    }
    let Some(record) = record.to_str() else {
        return fail("the record is not UTF-8".to_owned());
    };
    let mcpin = match std::env::current_exe() {
        Ok(path) => path,
        Err(error) => return fail(format!("cannot find the mcpin binary: {error}")),
    };
    if let Err(error) = mcpin_sandbox::trampoline::enter_json(record, &mcpin) {
        return fail(error.to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = std::process::Command::new(program).args(rest).exec();
        fail(format!(
            "executing `{}`: {error}",
            Path::new(program).display()
        ))
    }
    #[cfg(not(unix))]
    {
        let _ = (program, rest);
        fail("the trampoline needs exec (unix)".to_owned())
    }
}

/// The launcher argv a `SPEC` stands for.
fn spec_argv(spec: &str) -> anyhow::Result<Vec<String>> {
    if let Some(package) = spec.strip_prefix("npm:") {
        return Ok(vec!["npx".into(), "-y".into(), package.into()]);
    }
    if let Some(package) = spec.strip_prefix("pypi:") {
        return Ok(vec!["uvx".into(), package.into()]);
    }
    bail!("`{spec}`: write npm:NAME@VERSION or pypi:NAME==VERSION, or the launcher argv after `--`")
}

/// `mcpin sandbox explain`: every check `mcpin run` makes (the package is installed into the
/// store as `mcpin install` would), then the sandbox it would start the server in. Nothing is
/// launched and nothing is written to the audit log.
pub fn explain(args: SandboxExplainArgs) -> anyhow::Result<ExitStatus> {
    let argv = match &args.spec {
        Some(spec) => spec_argv(spec)?,
        None => args.argv.clone(),
    };
    let launch = super::run::launch_settings(
        args.policy.clone(),
        None,
        &args.policy_trust,
        args.registry,
        BaseDirs::from_env(),
    )?;
    let settings = launch.settings.map_err(anyhow::Error::from)?;
    let (decision, allowed) = match pipeline::prepare(&argv, std::env::vars_os(), &settings) {
        Prepared::Launch { decision, .. } => (decision, true),
        Prepared::Refused { decision, .. } => (decision, false),
    };
    // The private directory of this dry run is gone already; each launch makes its own.
    let sandbox = decision.sandbox.clone().map(placeholder_tmp);
    if args.json {
        output::json(&serde_json::json!({
            "schema_version": 1,
            "argv": argv,
            "allowed": allowed,
            "sandbox": sandbox,
            "reasons": decision.reasons,
        }))?;
    } else {
        output::text(&render(allowed, sandbox.as_ref(), &decision.reasons))
            .context("writing the explanation")?;
    }
    Ok(if allowed {
        ExitStatus::Success
    } else {
        ExitStatus::Denied
    })
}

/// The record with the dry run's directory written as `${TMP}`.
fn placeholder_tmp(mut record: Record) -> Record {
    if let Some(tmp) = record.plan.tmp.take() {
        for grant in record.plan.read.iter_mut().chain(&mut record.plan.write) {
            if grant.path == tmp {
                grant.path = "${TMP}".into();
            }
        }
        record.plan.tmp = Some("${TMP}".into());
    }
    record
}

fn render(
    allowed: bool,
    record: Option<&Record>,
    reasons: &[mcpin_launcher::audit::Reason],
) -> String {
    let mut text = String::new();
    if !allowed {
        text.push_str("this launch is refused:\n");
        for reason in reasons {
            text.push_str(&format!("  [{}] {}\n", reason.code, reason.message));
        }
        return text;
    }
    let Some(record) = record else {
        text.push_str("no sandbox: [sandbox] mode is off, the server runs with your privileges\n");
        return text;
    };
    let plan = &record.plan;
    text.push_str(&format!(
        "mode {}, enforced by {}{}\n",
        plan.mode,
        record.enforcement,
        record
            .landlock_abi
            .map(|abi| format!(" (Landlock ABI {abi})"))
            .unwrap_or_default()
    ));
    for (title, grants) in [("read", &plan.read), ("read-write", &plan.write)] {
        text.push_str(&format!("{title}:\n"));
        if grants.is_empty() {
            text.push_str("  (nothing)\n");
        }
        for grant in grants {
            text.push_str(&format!("  {:<50} {}\n", grant.path.display(), grant.from));
        }
    }
    text.push_str(&format!(
        "tcp connect: {}\ntcp bind: {}\n",
        plan.connect, plan.bind
    ));
    for grant in &plan.missing {
        text.push_str(&format!(
            "not granted (does not exist): {} ({})\n",
            grant.path.display(),
            grant.from
        ));
    }
    for warning in &record.warnings {
        text.push_str(&format!("warning: {warning}\n"));
    }
    text
}
