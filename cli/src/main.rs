//! `mcpin`: parse the command line, run the command, map the outcome to an exit code.
//! Human messages go to stderr; stdout carries only a command's output (JSON with `--json`).

mod args;
mod commands;
mod exit;
mod output;
#[cfg(test)]
mod reference;
mod settings;

use clap::Parser as _;

/// Invoked through a link named `npx`, `uvx` or `docker`, mcpin is `mcpin run -- <name> ARGS…`.
fn multi_call() -> Option<args::Command> {
    let mut argv = std::env::args_os();
    let argv0 = std::path::PathBuf::from(argv.next()?);
    let name = argv0.file_name()?.to_str()?;
    if !["npx", "uvx", "docker"].contains(&name) {
        return None;
    }
    let mut launcher = vec![
        "mcpin".to_owned(),
        "run".to_owned(),
        "--".to_owned(),
        name.to_owned(),
    ];
    // Arguments that are not UTF-8 cannot name a package; keep them lossily so the grammar
    // refuses them with a message rather than mcpin failing silently.
    launcher.extend(argv.map(|arg| arg.to_string_lossy().into_owned()));
    // Through clap, so the defaults (policy lookup, store, registries) are the ones `mcpin run` has.
    Some(args::Cli::parse_from(launcher).command)
}

fn main() -> std::process::ExitCode {
    // The sandbox trampoline and reaper (not in `--help`): before clap, so they cost nothing.
    if let Some(code) = commands::sandbox_hidden() {
        return code;
    }
    let command = match multi_call() {
        Some(command) => command,
        None => match args::Cli::try_parse() {
            Ok(cli) => cli.command,
            Err(error) => {
                let raw: Vec<String> = std::env::args_os()
                    .map(|arg| arg.to_string_lossy().into_owned())
                    .collect();
                if let Err(audit) = commands::record_usage_error(&raw, &error) {
                    eprintln!("mcpin: error: {audit:#}");
                }
                error.exit()
            }
        },
    };
    match commands::run(command) {
        Ok(status) => status.into(),
        Err(error) => {
            let status = exit::status_for(&error);
            if !output::is_broken_pipe(&error) {
                eprintln!("mcpin: error: {error:#}");
            }
            status.into()
        }
    }
}
