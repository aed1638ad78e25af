use std::fmt::Write;
use std::path::Path;

use anyhow::Context;
use mcpin_attestation::Lock;
use mcpin_sbom::{SbomFacts, SbomOptions};

use super::write_atomic;
use crate::args::{SbomArgs, SbomCheckArgs, SbomCommand};
use crate::exit::ExitStatus;
use crate::output;

pub fn run(args: SbomArgs) -> anyhow::Result<ExitStatus> {
    if let Some(SbomCommand::Check(check_args)) = args.command {
        return check(check_args);
    }
    let (Some(artifact), Some(out)) = (args.artifact, args.out) else {
        unreachable!("clap requires ARTIFACT and --out without a subcommand");
    };
    let identified = mcpin_artifact::identify(&artifact)
        .with_context(|| format!("reading artifact `{}`", artifact.display()))?;
    let lock = args.lock.as_deref().map(read_lock).transpose()?;
    let tools = match &args.tools {
        Some(path) => Some(
            mcpin_tools::read_section(path)
                .with_context(|| format!("reading tools payload `{}`", path.display()))?,
        ),
        None => None,
    };
    let options = SbomOptions {
        reproducible: args.reproducible,
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .filter(|value| !value.is_empty()),
    };
    let bytes = mcpin_sbom::build_sbom(&identified, lock.as_ref(), tools.as_ref(), &options)
        .with_context(|| format!("building the SBOM of `{}`", artifact.display()))?;
    write_atomic(&out, &bytes)?;
    eprintln!("wrote {} (CycloneDX 1.5)", out.display());
    Ok(ExitStatus::Success)
}

/// Reads and parses a lock file written by `mcpin lock`.
pub fn read_lock(path: &Path) -> anyhow::Result<Lock> {
    Lock::from_json(&fs_err::read(path)?)
        .with_context(|| format!("reading lock `{}`", path.display()))
}

fn check(args: SbomCheckArgs) -> anyhow::Result<ExitStatus> {
    let bytes = mcpin_sbom::read_sbom_file(&args.sbom)?;
    let facts = SbomFacts::from_json(&bytes)
        .with_context(|| format!("checking SBOM `{}`", args.sbom.display()))?;
    if args.json {
        output::report(&facts)?;
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    writeln!(text, "CycloneDX {}", facts.spec_version)?;
    if let Some(subject) = &facts.subject {
        writeln!(
            text,
            "subject: {} {}",
            subject.purl.as_deref().unwrap_or(&subject.name),
            subject.license.as_deref().unwrap_or("(no license)")
        )?;
    }
    writeln!(text, "components: {}", facts.components.len())?;
    for component in &facts.components {
        writeln!(
            text,
            "  {}  {}",
            component.purl.as_deref().unwrap_or(&component.name),
            component.license.as_deref().unwrap_or("(no license)")
        )?;
    }
    writeln!(text, "services: {}", facts.services.len())?;
    for service in &facts.services {
        let indent = if service.parent.is_some() {
            "    "
        } else {
            "  "
        };
        let summary = service
            .description
            .as_deref()
            .and_then(|description| description.lines().next())
            .unwrap_or("");
        writeln!(text, "{indent}{}  {summary}", service.name)?;
    }
    output::text(&text)?;
    Ok(ExitStatus::Success)
}
