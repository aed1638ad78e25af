use std::fmt::Write;
use std::path::Path;

use mcpin_launcher::system::Mode;
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
            let mut corrupt = store.verify()?;
            // Every installed tree, re-hashed against its record (launches compare stats).
            // The system store is root's: its files are checked as system mode reads them.
            let owner = match mcpin_launcher::system::load(
                Path::new(mcpin_launcher::system::SYSTEM_CONFIG),
                mcpin_launcher::system::Caller::current().uid,
            )? {
                Mode::System(system) if system.store == store.root() => {
                    mcpin_registry_client::store::Owner::system()
                }
                _ => settings.owner.clone(),
            };
            corrupt.extend(mcpin_launcher::install::verify_installs(
                store.root(),
                &owner,
            )?);
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
