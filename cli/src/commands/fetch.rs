use std::fmt::Write;
use std::io::IsTerminal;

use mcpin_registry_client::{Client, Spec};
use serde::Serialize;

use crate::args::FetchArgs;
use crate::exit::ExitStatus;
use crate::{output, settings};

/// `mcpin fetch --json` output: the spec asked for and what was fetched.
#[derive(Serialize)]
struct Report<'a> {
    spec: String,
    #[serde(flatten)]
    fetched: &'a mcpin_registry_client::Fetched,
}

pub fn run(args: FetchArgs) -> anyhow::Result<ExitStatus> {
    let spec = Spec::parse(&args.spec)?;
    let settings = settings::registry(
        args.registry,
        std::io::stderr().is_terminal(),
        settings::RegistryScope::Publisher,
    )?;
    let client = Client::new(settings)?;
    let fetched = client.fetch(&spec)?;
    if args.json {
        output::report(&Report {
            spec: spec.to_string(),
            fetched: &fetched,
        })?;
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    writeln!(
        text,
        "{} {} {}",
        fetched.ecosystem, fetched.name, fetched.version
    )?;
    writeln!(text, "  file:     {}", fetched.file_name)?;
    writeln!(text, "  from:     {}", fetched.url)?;
    writeln!(text, "  path:     {}", fetched.path.display())?;
    writeln!(text, "  size:     {}", fetched.size)?;
    writeln!(text, "  sha256:   {}", fetched.sha256)?;
    writeln!(text, "  sha512:   {}", fetched.sha512)?;
    if let Some(index) = &fetched.index_digest {
        writeln!(text, "  index:    {index}")?;
    }
    for blob in &fetched.blobs {
        writeln!(text, "  blob:     sha256:{blob}")?;
    }
    let source = if fetched.downloaded {
        "downloaded"
    } else {
        "already in the store"
    };
    writeln!(text, "  status:   {source}")?;
    output::text(&text)?;
    Ok(ExitStatus::Success)
}
