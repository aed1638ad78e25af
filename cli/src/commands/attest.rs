use std::fmt::Write;

use mcpin_registry_client::attestations::oci::{
    self as oci_store, BUNDLE_MEDIA_TYPE, OciStore, SBOM_MEDIA_TYPE,
};
use serde_json::json;

use crate::args::AttestCommand;
use crate::exit::ExitStatus;
use crate::output;

pub fn run(command: AttestCommand) -> anyhow::Result<ExitStatus> {
    match command {
        AttestCommand::Push {
            artifact,
            oci,
            bundle,
            sbom,
            json,
        } => {
            let location = oci_store::parse_location(&oci)?;
            let subject = oci_store::subject_of(&artifact)?;
            let files = if bundle.is_empty() && sbom.is_empty() {
                oci_store::default_files(&artifact)
            } else {
                let bundles = bundle.into_iter().map(|b| (b, BUNDLE_MEDIA_TYPE));
                bundles
                    .chain(sbom.into_iter().map(|s| (s, SBOM_MEDIA_TYPE)))
                    .collect()
            };
            if files.is_empty() {
                anyhow::bail!(
                    "nothing to push: no {}.sigstore.json or {0}.*.sigstore.json beside it; name files with --bundle / --sbom",
                    artifact.display()
                );
            }
            let client = mcpin_registry_client::Client::new(crate::settings::registry_defaults()?)?;
            let store = OciStore::new(&client, &location);
            let mut pushed = Vec::new();
            for (file, media_type) in files {
                let done = store.push(&subject.sha256, subject.size, &file, media_type)?;
                eprintln!(
                    "mcpin: attached {} to sha256:{} in {location} as {}",
                    file.display(),
                    subject.sha256,
                    done.manifest
                );
                pushed.push(done);
            }
            if json {
                output::report(&json!({
                    "store": location.to_string(),
                    "subject": format!("sha256:{}", subject.sha256),
                    "pushed": pushed,
                }))?;
            }
        }
        AttestCommand::Ls {
            artifact,
            oci,
            json,
        } => {
            let location = oci_store::parse_location(&oci)?;
            let subject = oci_store::subject_of(&artifact)?;
            let client = mcpin_registry_client::Client::new(crate::settings::registry_defaults()?)?;
            let listed = OciStore::new(&client, &location).list(&subject.sha256)?;
            if json {
                output::report(&json!({
                    "store": location.to_string(),
                    "subject": format!("sha256:{}", subject.sha256),
                    "attached": listed,
                }))?;
            } else {
                let mut text = String::new();
                for item in &listed {
                    writeln!(
                        text,
                        "{} {} {}",
                        item.manifest,
                        item.artifact_type.as_deref().unwrap_or("-"),
                        item.title.as_deref().unwrap_or("-")
                    )?;
                }
                output::text(&text)?;
            }
        }
    }
    Ok(ExitStatus::Success)
}
