//! `mcpin wrap` / `mcpin unwrap`: find the configs, run the library's plan-then-apply, print the
//! per-file report (stderr, or JSON on stdout) and pick the exit code.

use std::path::PathBuf;

use anyhow::Context;
use mcpin_launcher::wrap::{
    self, Action, Client, ClientDirs, FileReport, FileStatus, Location, MissingClient, RecordStore,
    RunOptions, RunReport, ToolResolver, WrapOptions,
};

use mcpin_launcher::locate::BaseDirs;
use mcpin_launcher::pipeline::PolicyGate;

use super::policy::state_dir;
use crate::args::{TargetArgs, UnwrapArgs, WrapArgs};
use crate::exit::{ExitStatus, wrap_reason_status};
use crate::output;

/// The configs named on the command line, and the named clients that have none.
fn targets(
    args: &TargetArgs,
    records: &RecordStore,
) -> anyhow::Result<(Vec<Location>, Vec<MissingClient>)> {
    let client = |name: &str| Client::from_name(name).expect("clap checked the client name");
    // Records name configs by absolute path, so `unwrap` finds them from any directory.
    let absolute = |path: &PathBuf| {
        std::path::absolute(path).with_context(|| format!("resolving `{}`", path.display()))
    };
    if let (Some(path), Some(name)) = (&args.config, &args.client) {
        let client = client(name);
        let location = Location {
            client,
            format: client.format_for(path),
            path: absolute(path)?,
        };
        return Ok((vec![location], Vec::new()));
    }
    let clients: Vec<Client> = if args.all {
        Client::ALL.to_vec()
    } else {
        args.clients.iter().map(|name| client(name)).collect()
    };
    let project = match &args.project {
        Some(dir) => Some(absolute(dir)?),
        None => std::env::current_dir().ok(),
    };
    let dirs = ClientDirs::from_env(&BaseDirs::from_env(), project)
        .context("HOME is not set: use --config FILE --client NAME")?;
    let discovery = wrap::discover(&clients, &dirs, Some(records.dir()));
    let missing = if args.all {
        Vec::new()
    } else {
        discovery
            .missing
            .into_iter()
            .map(|(client, searched)| MissingClient { client, searched })
            .collect()
    };
    Ok((discovery.found, missing))
}

fn run_options(args: &TargetArgs) -> RunOptions {
    RunOptions {
        dry_run: args.dry_run,
        keep_going: args.keep_going,
        force: args.force,
    }
}

fn status_text(report: &FileReport, command: &str) -> String {
    let reason = || {
        report
            .reason
            .as_ref()
            .map_or(String::new(), |r| r.message.clone())
    };
    match report.status {
        FileStatus::Wrapped | FileStatus::Unwrapped if report.written => format!("{command}ped"),
        FileStatus::Wrapped | FileStatus::Unwrapped => format!("would {command}"),
        FileStatus::Unchanged => "unchanged".to_owned(),
        FileStatus::Refused => "not written (--strict)".to_owned(),
        FileStatus::Failed => format!("failed: {}", reason()),
        FileStatus::Skipped => {
            let code = report.reason.as_ref().map_or("", |r| r.code.as_str());
            format!("skipped: {} [{code}]", reason())
        }
    }
}

fn describe(report: &FileReport, command: &str) {
    let target = report
        .target
        .as_ref()
        .map(|t| format!(" (-> {})", t.display()))
        .unwrap_or_default();
    eprintln!(
        "{} {}{target}: {}",
        report.client.name(),
        report.path.display(),
        status_text(report, command)
    );
    for warning in &report.warnings {
        eprintln!("  warning: {warning}");
    }
    if report.exact_restore == Some(false) && report.status == FileStatus::Unwrapped {
        eprintln!(
            "  the file changed since it was wrapped: entries restored one by one, not byte for byte"
        );
    }
    for server in &report.servers {
        let action = match server.action {
            Action::Wrapped => "wrap",
            Action::AlreadyWrapped if server.problem.is_some() => {
                "already wrapped, by another program"
            }
            Action::AlreadyWrapped => "already wrapped",
            Action::LeftAlone => "left alone (not npx/uvx/docker)",
            Action::UnsupportedLauncher => "NOT WRAPPED (launcher mcpin cannot check)",
            Action::Unreadable => "NOT WRAPPED (unreadable)",
            Action::Unwrapped => "unwrap",
        };
        eprintln!("  {}: {action}", server.name);
        if let Some(problem) = &server.problem {
            eprintln!("    {problem}");
        }
        for pin in &server.pins {
            eprintln!("    pinned {} -> {}", pin.from, pin.to);
        }
        for error in &server.pin_errors {
            eprintln!("    not pinned: {error}");
        }
        if let Some(refusal) = &server.refusal {
            eprintln!("    refused at launch: {refusal}");
        }
        match (&server.verdict, server.action) {
            (Some(verdict), _) => {
                eprintln!("    policy: {:?}", verdict.outcome);
                for reason in &verdict.reasons {
                    let shown = verdict.outcome != mcpin_launcher::audit::Outcome::Allow
                        || reason.code == "env-stripped";
                    if shown {
                        eprintln!("      {} [{}]", reason.message, reason.code);
                    }
                }
            }
            (None, Action::Wrapped) => eprintln!("    policy: not checked"),
            _ => {}
        }
    }
    for finding in &report.cross {
        eprintln!(
            "  lint across servers: {} [{}, {}]",
            finding.message,
            finding.rule,
            finding.severity.as_str()
        );
    }
    for blocked in &report.blocked {
        eprintln!("  strict: not written because {blocked}");
    }
}

/// The exit status of a run: a malformed config (3) over an I/O failure (4) over a strict
/// refusal (1).
fn exit_status(report: &RunReport) -> ExitStatus {
    let rank = |status: ExitStatus| match status {
        ExitStatus::InvalidInput => 3,
        ExitStatus::Io => 2,
        ExitStatus::Denied => 1,
        _ => 0,
    };
    report
        .files
        .iter()
        .filter_map(|file| file.reason.as_ref())
        .map(|reason| wrap_reason_status(reason.code))
        .max_by_key(|status| rank(*status))
        .unwrap_or(ExitStatus::Success)
}

fn finish(
    mut report: RunReport,
    missing: Vec<MissingClient>,
    json: bool,
) -> anyhow::Result<ExitStatus> {
    report.clients_without_config = missing;
    if json {
        output::json(&report)?;
    } else {
        for file in &report.files {
            describe(file, report.command);
            if report.dry_run {
                output::text(&file.diff)?;
            }
        }
        for missing in &report.clients_without_config {
            let searched: Vec<String> = missing
                .searched
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            eprintln!(
                "{}: no config found (looked in {})",
                missing.client.name(),
                searched.join(", ")
            );
        }
        if report.files.is_empty() && report.clients_without_config.is_empty() {
            eprintln!("mcpin: no config files found");
        }
        let count = |status: FileStatus| report.files.iter().filter(|f| f.status == status).count();
        let failed = count(FileStatus::Failed) + count(FileStatus::Refused);
        if failed > 0 {
            let skipped = count(FileStatus::Skipped);
            eprintln!(
                "mcpin: {failed} config(s) failed; {skipped} skipped{}",
                if report.dry_run { " (dry run)" } else { "" }
            );
        }
    }
    Ok(exit_status(&report))
}

/// The absolute path of this binary, as written into configs.
fn mcpin_path() -> anyhow::Result<PathBuf> {
    std::env::current_exe()
        .and_then(fs_err::canonicalize)
        .context("finding the absolute path of this mcpin binary")
}

pub fn wrap(args: WrapArgs) -> anyhow::Result<ExitStatus> {
    let mcpin = mcpin_path()?;
    let settings = super::run::launch_settings(
        args.policy.clone(),
        None,
        &args.policy_trust,
        args.registry,
        BaseDirs::from_env(),
    )?
    .settings?;
    // Records are the user's, in the user's state directory (in system mode the policy's
    // rollback state is root's, and `--state-dir` is refused above).
    let records = RecordStore::new(&state_dir(args.policy_trust.state_dir.as_deref())?);
    let resolver = ToolResolver {
        registry: settings.registry.clone(),
    };
    let gate = PolicyGate::new(&settings);
    let options = WrapOptions {
        mcpin,
        resolver: Some(&resolver),
        gate: Some(&gate),
        strict: args.strict,
        run: run_options(&args.target),
    };
    let (locations, missing) = targets(&args.target, &records)?;
    let report = wrap::wrap(&locations, &options, &records)?;
    finish(report, missing, args.target.json)
}

pub fn unwrap(args: UnwrapArgs) -> anyhow::Result<ExitStatus> {
    let mcpin = mcpin_path()?;
    let records = RecordStore::new(&state_dir(args.state_dir.as_deref())?);
    let (mut locations, mut missing) = targets(&args.target, &records)?;
    if args.target.config.is_none() {
        // Every config wrap recorded, also those outside today's project or client folders.
        let named: Vec<Client> = args
            .target
            .clients
            .iter()
            .filter_map(|name| Client::from_name(name))
            .collect();
        let clients = (!args.target.all).then_some(named.as_slice());
        let recorded = wrap::recorded_locations(&records, clients)?;
        missing.retain(|m| !recorded.iter().any(|l| l.client == m.client));
        locations = wrap::merge_locations(locations, recorded);
    }
    let report = wrap::unwrap(&locations, &mcpin, run_options(&args.target), &records)?;
    finish(report, missing, args.target.json)
}
