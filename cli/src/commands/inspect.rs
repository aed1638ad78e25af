use std::fmt::Write;

use anyhow::Context;
use mcpin_attestation::{Bundle, PACKAGE_PREDICATE_TYPE, PackagePredicate, Statement};

use crate::args::InspectArgs;
use crate::exit::ExitStatus;
use crate::output;

pub fn run(args: InspectArgs) -> anyhow::Result<ExitStatus> {
    let bytes = fs_err::read(&args.bundle)?;
    let bundle = Bundle::from_json(&bytes)
        .with_context(|| format!("reading bundle `{}`", args.bundle.display()))?;
    let envelope = bundle.envelope()?;
    let statement: Statement = serde_json::from_slice(&envelope.payload_bytes()?)
        .context("the DSSE payload is not an in-toto statement")?;
    if args.json {
        output::report(&statement)?;
        return Ok(ExitStatus::Success);
    }

    let mut text = String::new();
    writeln!(
        text,
        "bundle:     {} (not verified by inspect)",
        args.bundle.display()
    )?;
    writeln!(text, "media type: {}", bundle.media_type)?;
    let signer = match &bundle.verification_material.public_key {
        Some(hint) => format!("public key {}", hint.hint),
        None => "certificate (keyless)".to_owned(),
    };
    writeln!(text, "signer:     {signer}")?;
    writeln!(text, "payload:    {}", envelope.payload_type)?;
    writeln!(text, "predicate:  {}", statement.predicate_type)?;
    writeln!(text, "subjects:")?;
    for subject in &statement.subject {
        writeln!(text, "  {}", subject.name)?;
        for (algorithm, digest) in &subject.digest {
            writeln!(text, "    {algorithm}:{digest}")?;
        }
    }
    if statement.predicate_type == PACKAGE_PREDICATE_TYPE {
        let predicate: PackagePredicate = serde_json::from_value(statement.predicate.clone())
            .context("the mcp-package predicate is malformed")?;
        let package = &predicate.package;
        writeln!(text, "package:")?;
        writeln!(text, "  ecosystem: {}", package.ecosystem)?;
        writeln!(text, "  name:      {}", package.name)?;
        writeln!(text, "  version:   {}", package.version)?;
        writeln!(
            text,
            "  file:      {} ({} bytes)",
            package.file_name, package.size
        )?;
        if let Some(mcp_name) = &package.mcp_name {
            writeln!(text, "  mcpName:   {mcp_name}")?;
        }
        for entry in &package.entry_points {
            writeln!(text, "  entry:     {} -> {}", entry.name, entry.target)?;
        }
        if let Some(lock) = &predicate.lock {
            writeln!(
                text,
                "lock:       {} dependencies, {}",
                lock.package_count(),
                lock.digest()
            )?;
        }
        if let Some(sbom) = &predicate.sbom {
            writeln!(
                text,
                "sbom:       sha256:{} ({})",
                sbom.sha256, sbom.media_type
            )?;
        }
        if let Some(tools) = &predicate.tools {
            writeln!(text, "tools:      {}", tools.digest)?;
            writeln!(
                text,
                "  server:   {} (protocol {})",
                super::tools::server_name(&tools.payload.server_info),
                tools.payload.protocol_version
            )?;
            let width = tools
                .tool_digests
                .keys()
                .map(|name| name.chars().count())
                .max()
                .unwrap_or(0);
            for (name, digest) in &tools.tool_digests {
                writeln!(text, "  {name:<width$}  {digest}")?;
            }
        }
    }
    output::text(&text)?;
    Ok(ExitStatus::Success)
}
