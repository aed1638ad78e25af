//! `mcpin completions SHELL` and `mcpin man`: generated from the clap command line.

use anyhow::Context;
use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::exit::ExitStatus;
use crate::output;

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "mcpin", &mut script);
    output::bytes(&script)?;
    Ok(ExitStatus::Success)
}

pub fn man(args: ManArgs) -> anyhow::Result<ExitStatus> {
    let command = Cli::command();
    match args.out_dir {
        Some(dir) => {
            fs_err::create_dir_all(&dir)?;
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("writing man pages into `{}`", dir.display()))?;
            eprintln!("wrote man pages into {}", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .context("rendering the man page")?;
            output::bytes(&page)?;
        }
    }
    Ok(ExitStatus::Success)
}
