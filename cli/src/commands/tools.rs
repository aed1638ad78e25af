use std::time::Duration;

use anyhow::Context;
use mcpin_tools::{ClientOptions, LintedFile, Server, Severity};

use super::write_atomic;
use crate::args::{ToolsCaptureArgs, ToolsCommand, ToolsDiffArgs, ToolsLintArgs};
use crate::exit::ExitStatus;
use crate::output;

pub fn run(command: ToolsCommand) -> anyhow::Result<ExitStatus> {
    match command {
        ToolsCommand::Capture(args) => capture(args),
        ToolsCommand::Diff(args) => diff(args),
        ToolsCommand::Lint(args) => lint(args),
    }
}

fn capture(args: ToolsCaptureArgs) -> anyhow::Result<ExitStatus> {
    let (program, server_args) = args.command.split_first().expect("clap requires CMD");
    let command = if args.no_sandbox {
        let mut command = std::process::Command::new(program);
        command.args(server_args);
        command
    } else {
        // The trampoline starts for any program; a server that cannot start is reported as
        // without the sandbox.
        if !findable(program) {
            return Err(mcpin_tools::ClientError::Spawn {
                program: program.to_string_lossy().into_owned(),
                error: std::io::ErrorKind::NotFound.into(),
            }
            .into());
        }
        let mcpin = std::env::current_exe().context("finding the mcpin binary")?;
        let (command, record) =
            mcpin_sandbox::trampoline::capture(&mcpin, program, server_args, None)
                .map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
        for warning in &record.warnings {
            eprintln!("mcpin: capture sandbox: {warning}");
        }
        command
    };
    let options = ClientOptions {
        step_timeout: Duration::from_secs(args.timeout),
        ..ClientOptions::default()
    };
    let description = mcpin_tools::describe_server(command, &options)?;
    let section = mcpin_tools::build_section(&description)?;
    let bytes = mcpin_tools::section_bytes(&section);
    match &args.out {
        Some(out) => write_atomic(out, &bytes)?,
        None => output::bytes(&bytes)?,
    }
    eprintln!(
        "captured {} tool(s) from {} (protocol {}): {}{}",
        section.payload.tools.len(),
        server_name(&section.payload.server_info),
        section.payload.protocol_version,
        section.digest,
        args.out
            .map(|out| format!("\nwrote {}", out.display()))
            .unwrap_or_default()
    );
    Ok(ExitStatus::Success)
}

/// Whether `program` names an existing file, directly or on `PATH` (as the exec will look).
fn findable(program: &std::ffi::OsStr) -> bool {
    let path = std::path::Path::new(program);
    if path.components().count() > 1 {
        return path.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(path).is_file()))
}

/// `name version` from a serverInfo object, for messages.
pub fn server_name(info: &serde_json::Value) -> String {
    let field = |key: &str| info.get(key).and_then(|v| v.as_str()).unwrap_or("?");
    format!("{} {}", field("name"), field("version"))
}

fn read(path: &std::path::Path) -> anyhow::Result<mcpin_attestation::ToolsSection> {
    mcpin_tools::read_section(path)
        .with_context(|| format!("reading tools payload `{}`", path.display()))
}

fn diff(args: ToolsDiffArgs) -> anyhow::Result<ExitStatus> {
    let old = read(&args.old)?;
    let new = read(&args.new)?;
    let diff = mcpin_tools::diff(&old, &new);
    if args.json {
        output::report(&diff)?;
    } else {
        output::text(&diff.render_text())?;
    }
    Ok(match diff.is_identical() {
        true => ExitStatus::Success,
        false => ExitStatus::Denied,
    })
}

fn lint(args: ToolsLintArgs) -> anyhow::Result<ExitStatus> {
    let fail_on: Severity = args.fail_on.parse().map_err(anyhow::Error::msg)?;
    let sections = args
        .files
        .iter()
        .map(|file| read(file))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let names: Vec<String> = args
        .files
        .iter()
        .map(|file| file.display().to_string())
        .collect();
    let reports: Vec<_> = sections
        .iter()
        .map(|section| mcpin_tools::lint(&section.payload))
        .collect();
    let files: Vec<LintedFile> = names
        .iter()
        .zip(&reports)
        .map(|(file, report)| LintedFile { file, report })
        .collect();
    let servers: Vec<Server> = names
        .iter()
        .zip(&sections)
        .map(|(label, section)| Server {
            label,
            payload: &section.payload,
        })
        .collect();
    let cross = mcpin_tools::cross_server(&servers);
    if args.sarif {
        output::json(&mcpin_tools::sarif(&files, &cross))?;
    } else if args.json {
        output::json(&mcpin_tools::json_report(&files, &cross))?;
    } else {
        output::text(&mcpin_tools::render_text(&files, &cross))?;
    }
    Ok(match mcpin_tools::highest_severity(&files, &cross) {
        Some(highest) if highest >= fail_on => ExitStatus::Denied,
        _ => ExitStatus::Success,
    })
}
