//! The review as text for a terminal (stderr) and as Markdown for a pull request.

use std::fmt::Write;

use crate::{Outcome, Review};

/// The human report.
pub fn text(review: &Review) -> String {
    render(review, false)
}

/// The report as Markdown (headings, tables), for a pull request.
pub fn markdown(review: &Review) -> String {
    render(review, true)
}

fn render(review: &Review, md: bool) -> String {
    let mut out = String::new();
    let h = |out: &mut String, title: &str| {
        if md {
            let _ = writeln!(out, "\n### {title}\n");
        } else {
            let _ = writeln!(out, "\n{title}");
        }
    };
    let item = if md { "- " } else { "  " };
    let package = &review.package;
    if md {
        let _ = writeln!(out, "## Review of `{}`", package.purl);
    } else {
        let _ = writeln!(out, "review of {}", package.purl);
    }
    let _ = writeln!(
        out,
        "{item}file: {} ({} bytes)",
        package.file_name, package.size
    );
    let _ = writeln!(out, "{item}from: {}", review.url);
    let _ = writeln!(out, "{item}sha256: {}", review.sha256);
    let _ = writeln!(out, "{item}sha512: {}", review.sha512);

    h(&mut out, "Provenance");
    let provenance = &review.provenance;
    if let Some(why) = &provenance.unavailable {
        let _ = writeln!(out, "{item}none: {why}");
    }
    if let Some(publisher) = &provenance.trusted_publisher {
        let _ = writeln!(out, "{item}npm trusted publisher: {}", publisher.id);
    }
    for built in &provenance.attestations {
        match &built.error {
            Some(error) => {
                let _ = writeln!(out, "{item}does not verify: {} ({error})", built.origin);
            }
            None => {
                let _ = writeln!(
                    out,
                    "{item}built by {} ({}) from {} at {} with {}",
                    built.identity.as_deref().unwrap_or("?"),
                    built.issuer.as_deref().unwrap_or("?"),
                    built.repository.as_deref().unwrap_or("?"),
                    built.git_ref.as_deref().unwrap_or("?"),
                    built.workflow.as_deref().unwrap_or("?"),
                );
            }
        }
    }
    for reason in &provenance.policy {
        let _ = writeln!(out, "{item}policy: {} {}", reason.code, reason.message);
    }

    h(&mut out, "Tools");
    match &review.tools {
        Outcome::Ok(tools) => {
            let _ = writeln!(out, "{item}{} tool(s), {}", tools.tools.len(), tools.digest);
            if md {
                let _ = writeln!(out, "\n| tool | annotations |\n|---|---|");
            }
            for tool in &tools.tools {
                let annotations = tool
                    .annotations
                    .as_ref()
                    .map_or("-".to_owned(), |a| a.to_string());
                if md {
                    let _ = writeln!(out, "| `{}` | `{annotations}` |", tool.name);
                } else {
                    let _ = writeln!(out, "    {} {annotations}", tool.name);
                }
            }
            if tools.findings.is_empty() {
                let _ = writeln!(out, "{item}lint: no findings");
            }
            for finding in &tools.findings {
                let _ = writeln!(
                    out,
                    "{item}lint {} {} at {}: {}",
                    finding.severity, finding.rule, finding.location, finding.excerpt
                );
            }
        }
        Outcome::Failed(why) => {
            let _ = writeln!(out, "{item}capture failed: {why}");
        }
        Outcome::Skipped(why) => {
            let _ = writeln!(out, "{item}not captured: {why}");
        }
    }
    if let Some(previous) = &review.previous {
        h(&mut out, "Changes since the last approved version");
        let diff = &previous.diff;
        let _ = writeln!(
            out,
            "{item}{} (sha256:{}): {}",
            previous.version,
            previous.sha256,
            if diff.is_identical() {
                "the tools are identical".to_owned()
            } else {
                diff.summary()
            }
        );
    }

    h(&mut out, "Dependencies");
    match &review.lock {
        Outcome::Ok(lock) => {
            let _ = writeln!(
                out,
                "{item}{} dependencies, lock {}",
                lock.dependencies, lock.digest
            );
            for (license, count) in &lock.licenses {
                let _ = writeln!(out, "{item}license {license}: {count}");
            }
        }
        Outcome::Failed(why) => {
            let _ = writeln!(out, "{item}lock failed: {why}");
        }
        Outcome::Skipped(why) => {
            let _ = writeln!(out, "{item}no lock: {why}");
        }
    }
    for denied in &review.denied {
        let _ = writeln!(out, "{item}DENIED {denied}");
    }
    if !review.blocking.is_empty() {
        h(&mut out, "Blocking an approval");
        for reason in &review.blocking {
            let _ = writeln!(out, "{item}{reason}");
        }
    }
    out
}
