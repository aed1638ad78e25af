//! Writing a command's output to stdout.

use std::io::Write;

use anyhow::Context;

/// The `schema_version` of every `--json` report whose shape the CLI defines. A report
/// gets a new number when a field changes meaning or goes away; added fields keep it.
pub const SCHEMA_VERSION: u32 = 1;

/// Writes a `--json` report: `report`'s fields (it must serialize as an object) and
/// `schema_version` first.
pub fn report(report: &impl serde::Serialize) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    struct Versioned<'a, T> {
        schema_version: u32,
        #[serde(flatten)]
        report: &'a T,
    }
    json(&Versioned {
        schema_version: SCHEMA_VERSION,
        report,
    })
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).context("writing JSON to stdout")?;
    writeln!(out).context("writing to stdout")?;
    Ok(())
}

/// Writes text to stdout.
pub fn text(text: &str) -> anyhow::Result<()> {
    bytes(text.as_bytes())
}

/// A closed stdout (`mcpin inspect … | head`) is not worth an error message.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().map(|io| io.kind()) == broken
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|json| json.io_error_kind())
                == broken
    })
}

/// Writes raw bytes to stdout.
pub fn bytes(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).context("writing to stdout")?;
    out.flush().context("writing to stdout")
}
