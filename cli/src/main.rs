//! `mcpin`: parse the command line, run the command, map the outcome to an exit code.
//! Human messages go to stderr; stdout carries only a command's output (JSON with `--json`).

mod args;
mod commands;
mod exit;
mod output;
mod settings;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli.command) {
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
