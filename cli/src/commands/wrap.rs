use std::path::PathBuf;

use anyhow::{Context, bail};
use mcpin_launcher::wrap::{
    self, Action, Client, ClientDirs, FileReport, ToolResolver, WrapOptions,
};

use mcpin_launcher::locate::BaseDirs;
use mcpin_launcher::pipeline::PolicyGate;

use crate::args::{TargetArgs, UnwrapArgs, WrapArgs};
use crate::exit::ExitStatus;
use crate::output;

/// The (client, file) pairs named on the command line.
fn targets(args: &TargetArgs) -> anyhow::Result<Vec<(Client, PathBuf)>> {
    let client = |name: &str| Client::from_name(name).expect("clap checked the client name");
    if let (Some(path), Some(name)) = (&args.config, &args.client) {
        return Ok(vec![(client(name), path.clone())]);
    }
    let clients: Vec<Client> = if args.all {
        Client::ALL.to_vec()
    } else if args.clients.is_empty() {
        bail!("name the clients to rewrite, or use --all, or --config FILE --client NAME");
    } else {
        args.clients.iter().map(|name| client(name)).collect()
    };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .context("HOME is not set: use --config FILE --client NAME")?;
    let project = match &args.project {
        Some(dir) => Some(dir.clone()),
        None => std::env::current_dir().ok(),
    };
    let dirs = ClientDirs {
        home,
        config: std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute()),
        project,
    };
    let mut found = Vec::new();
    for client in clients {
        for path in client.locations(&dirs) {
            if path.is_file() {
                found.push((client, path));
            }
        }
    }
    if found.is_empty() {
        eprintln!("mcpin: no config files found for the named clients");
    }
    Ok(found)
}

fn describe(report: &FileReport) {
    let verb = if report.written {
        "rewrote"
    } else if report.changed {
        "would rewrite"
    } else {
        "unchanged"
    };
    eprintln!("{} {}: {verb}", report.client.name(), report.path.display());
    if report.exact_restore == Some(false) && report.changed {
        eprintln!(
            "  the file changed since it was wrapped: entries restored one by one, not byte for byte"
        );
    }
    for server in &report.servers {
        let action = match server.action {
            Action::Wrapped => "wrap",
            Action::AlreadyWrapped => "already wrapped",
            Action::LeftAlone => "left alone (not npx/uvx/docker)",
            Action::Unwrapped => "unwrap",
        };
        eprintln!("  {}: {action}", server.name);
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
                if verdict.outcome != mcpin_launcher::audit::Outcome::Allow {
                    for reason in &verdict.reasons {
                        eprintln!("      {} [{}]", reason.message, reason.code);
                    }
                }
            }
            (None, Action::Wrapped) => {
                eprintln!("    policy: not checked")
            }
            _ => {}
        }
    }
    for blocked in &report.blocked {
        eprintln!("  strict: not written because {blocked}");
    }
}

fn finish(reports: Vec<FileReport>, args: &TargetArgs) -> anyhow::Result<ExitStatus> {
    if args.json {
        output::report(&serde_json::json!({ "files": reports }))?;
    } else {
        for report in &reports {
            describe(report);
            if args.dry_run {
                output::text(&report.diff)?;
            }
        }
    }
    let blocked = reports.iter().any(|r| !r.blocked.is_empty());
    Ok(if blocked {
        ExitStatus::Denied
    } else {
        ExitStatus::Success
    })
}

/// The absolute path of this binary, as written into configs.
fn mcpin_path() -> anyhow::Result<PathBuf> {
    std::env::current_exe()
        .and_then(fs_err::canonicalize)
        .context("finding the absolute path of this mcpin binary")
}

pub fn wrap(args: WrapArgs) -> anyhow::Result<ExitStatus> {
    let mcpin = mcpin_path()?;
    let settings = super::run::run_settings(
        args.policy.clone(),
        &args.policy_trust,
        args.registry,
        BaseDirs::from_env(),
    )?;
    let resolver = ToolResolver {
        registry: settings.registry.clone(),
    };
    let gate = PolicyGate::new(&settings);
    let options = WrapOptions {
        mcpin,
        resolver: Some(&resolver),
        gate: Some(&gate),
        strict: args.strict,
        dry_run: args.target.dry_run,
    };
    let mut reports = Vec::new();
    for (client, path) in targets(&args.target)? {
        reports.push(wrap::wrap_file(client, &path, &options)?);
    }
    finish(reports, &args.target)
}

pub fn unwrap(args: UnwrapArgs) -> anyhow::Result<ExitStatus> {
    let mcpin = mcpin_path()?;
    let mut reports = Vec::new();
    for (client, path) in targets(&args.target)? {
        reports.push(wrap::unwrap_file(
            client,
            &path,
            &mcpin,
            args.target.dry_run,
        )?);
    }
    finish(reports, &args.target)
}
