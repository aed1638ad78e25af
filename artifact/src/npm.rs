//! `package/package.json` of an npm tarball.

use std::collections::BTreeMap;

use mcpin_attestation::{Ecosystem, EntryPoint, PackageInfo};
use serde::Deserialize;

use crate::ArtifactError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageJson {
    name: Option<String>,
    version: Option<String>,
    bin: Option<Bin>,
    mcp_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Bin {
    Single(String),
    Map(BTreeMap<String, String>),
}

pub(crate) fn package_info(
    path: &str,
    bytes: &[u8],
    file_name: String,
    size: u64,
) -> Result<PackageInfo, ArtifactError> {
    let invalid = |why: String| ArtifactError::Metadata {
        path: path.to_owned(),
        why,
    };
    let manifest: PackageJson =
        serde_json::from_slice(bytes).map_err(|error| invalid(error.to_string()))?;
    let name = crate::required(manifest.name, "name", path)?;
    let version = crate::required(manifest.version, "version", path)?;
    let (namespace, short_name) = match name.split_once('/') {
        Some((scope, short)) if scope.starts_with('@') && !short.is_empty() => (Some(scope), short),
        None if !name.starts_with('@') => (None, name.as_str()),
        _ => return Err(invalid(format!("`{name}` is not a valid npm package name"))),
    };
    let entry_points = match manifest.bin {
        Some(Bin::Single(target)) => vec![EntryPoint {
            name: short_name.to_owned(),
            target,
        }],
        Some(Bin::Map(bins)) => bins
            .into_iter()
            .map(|(name, target)| EntryPoint { name, target })
            .collect(),
        None => Vec::new(),
    };
    let purl = crate::purl("npm", namespace, short_name, &version)
        .map_err(|error| invalid(error.to_string()))?;
    Ok(PackageInfo {
        ecosystem: Ecosystem::Npm,
        name,
        version,
        purl,
        file_name,
        size,
        entry_points,
        mcp_name: manifest.mcp_name,
    })
}
