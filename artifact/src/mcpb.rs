//! `manifest.json` of an MCPB bundle (formerly DXT).

use mcpin_attestation::{Ecosystem, EntryPoint, PackageInfo};
use serde::Deserialize;

use crate::ArtifactError;

#[derive(Deserialize)]
struct Manifest {
    name: Option<String>,
    version: Option<String>,
    server: Option<Server>,
}

#[derive(Deserialize)]
struct Server {
    entry_point: Option<String>,
}

pub(crate) fn manifest_info(
    bytes: &[u8],
    file_name: String,
    size: u64,
) -> Result<PackageInfo, ArtifactError> {
    let invalid = |why: String| ArtifactError::Metadata {
        path: "manifest.json".to_owned(),
        why,
    };
    let manifest: Manifest =
        serde_json::from_slice(bytes).map_err(|error| invalid(error.to_string()))?;
    let name = crate::required(manifest.name, "name", "manifest.json")?;
    let version = crate::required(manifest.version, "version", "manifest.json")?;
    let entry_points = manifest
        .server
        .and_then(|server| server.entry_point)
        .map(|target| EntryPoint {
            name: name.clone(),
            target,
        })
        .into_iter()
        .collect();
    // MCPB has no purl type of its own; `generic` is the purl spec's answer.
    let purl = crate::purl("generic", None, &name, &version)
        .map_err(|error| invalid(error.to_string()))?;
    Ok(PackageInfo {
        ecosystem: Ecosystem::Mcpb,
        name,
        version,
        purl,
        file_name,
        size,
        entry_points,
        mcp_name: None,
    })
}
