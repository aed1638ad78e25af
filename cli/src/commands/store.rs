use std::fmt::Write;

use mcpin_registry_client::Store;
use serde_json::json;

use crate::args::{StoreArgs, StoreCommand};
use crate::exit::ExitStatus;
use crate::{output, settings};

pub fn run(args: StoreArgs) -> anyhow::Result<ExitStatus> {
    let settings = settings::registry(args.registry, false, settings::RegistryScope::Publisher)?;
    let store = Store::open(&settings.store)?;
    match args.command {
        StoreCommand::Ls { json } => {
            let refs = store.refs()?;
            if json {
                output::report(&json!({ "store": store.root(), "refs": refs }))?;
                return Ok(ExitStatus::Success);
            }
            let mut text = String::new();
            for record in &refs {
                writeln!(
                    text,
                    "{:<6} {} {} sha256:{} {} bytes ({})",
                    record.ecosystem,
                    record.name,
                    record.version,
                    record.sha256,
                    record.size,
                    record.key
                )?;
            }
            output::text(&text)?;
        }
        StoreCommand::Gc { unreferenced, json } => {
            let report = store.gc(unreferenced)?;
            if json {
                output::report(&json!({ "store": store.root(), "removed": report }))?;
            } else {
                output::text(&format!(
                    "removed {} temporary files, {} stale refs, {} blobs ({} bytes)\n",
                    report.temp_files, report.refs, report.blobs, report.bytes
                ))?;
            }
        }
        StoreCommand::Verify { json } => {
            let corrupt = store.verify()?;
            if json {
                output::report(&json!({ "store": store.root(), "corrupt": corrupt }))?;
            } else {
                for problem in &corrupt {
                    eprintln!(
                        "mcpin: corrupt: {}: {}",
                        problem.path.display(),
                        problem.reason
                    );
                }
                if corrupt.is_empty() {
                    eprintln!("mcpin: store {} verified", store.root().display());
                }
            }
            if !corrupt.is_empty() {
                return Ok(ExitStatus::Denied);
            }
        }
    }
    Ok(ExitStatus::Success)
}
