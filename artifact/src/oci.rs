//! OCI images are identified by their manifest: the image digest is the sha256 of the
//! manifest's exact bytes, and the manifest names the config and layers by digest, so
//! signing the manifest binds every byte of the image. The config (when given) contributes
//! only the entry points (`Entrypoint`, `Cmd`), which are informational.

use mcpin_attestation::{Ecosystem, EntryPoint, PackageInfo};

use crate::{ArtifactError, Identified, Metadata, digest_reader};

/// Identifies the image `registry/repository` from its manifest bytes and, optionally, its
/// config bytes. The package is `ecosystem = oci`, `name = registry/repository`,
/// `version = sha256:<manifest hex>`, purl
/// `pkg:oci/<last segment>@sha256:<hex>?repository_url=<registry>%2F<repository>` (the
/// `packageurl` crate's encoding).
pub fn identify_image(
    registry: &str,
    repository: &str,
    manifest: &[u8],
    config: Option<&[u8]>,
) -> Result<Identified, ArtifactError> {
    let manifest_path = format!("{registry}/{repository} manifest");
    let parsed: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| ArtifactError::Metadata {
            path: manifest_path.clone(),
            why: format!("not JSON: {e}"),
        })?;
    if !parsed.is_object() || parsed.get("manifests").is_some() {
        return Err(ArtifactError::Metadata {
            path: manifest_path,
            why: "not an image manifest (an image index names no single image)".to_owned(),
        });
    }
    let digests = digest_reader(manifest)?;
    let version = format!("sha256:{}", digests.sha256);
    let name = format!("{registry}/{repository}");
    let last = repository.rsplit('/').next().unwrap_or(repository);
    let purl = packageurl::PackageUrl::new("oci", last)
        .and_then(|mut purl| {
            purl.with_version(version.as_str())?
                .add_qualifier("repository_url", name.as_str())?;
            Ok(purl.to_string())
        })
        .map_err(|e| ArtifactError::Metadata {
            path: manifest_path.clone(),
            why: format!("no purl for `{name}`: {e}"),
        })?;
    let entry_points = match config {
        Some(bytes) => entry_points(bytes).map_err(|why| ArtifactError::Metadata {
            path: format!("{name} config"),
            why,
        })?,
        None => Vec::new(),
    };
    Ok(Identified {
        package: PackageInfo {
            ecosystem: Ecosystem::Oci,
            file_name: format!("{name}@{version}"),
            name,
            version,
            purl,
            size: digests.size,
            entry_points,
            mcp_name: None,
        },
        digests,
        metadata: Metadata {
            path: "config".to_owned(),
            bytes: config.unwrap_or_default().to_vec(),
        },
    })
}

/// `Entrypoint` and `Cmd` of an image config, each as one entry point (arguments joined by
/// spaces, for reading; the image runs them as the config says).
fn entry_points(config: &[u8]) -> Result<Vec<EntryPoint>, String> {
    let config: serde_json::Value =
        serde_json::from_slice(config).map_err(|e| format!("not JSON: {e}"))?;
    let mut found = Vec::new();
    for (key, name) in [("Entrypoint", "entrypoint"), ("Cmd", "cmd")] {
        match &config["config"][key] {
            serde_json::Value::Null => {}
            serde_json::Value::Array(parts) => {
                let parts: Option<Vec<&str>> = parts.iter().map(|p| p.as_str()).collect();
                let parts = parts.ok_or_else(|| format!("`config.{key}` is not a string array"))?;
                if !parts.is_empty() {
                    found.push(EntryPoint {
                        name: name.to_owned(),
                        target: parts.join(" "),
                    });
                }
            }
            _ => return Err(format!("`config.{key}` is not a string array")),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":2},"layers":[]}"#;

    #[test]
    fn an_image_is_named_by_its_manifest_digest() {
        let config = br#"{"config":{"Entrypoint":["/bin/server","--stdio"],"Cmd":null}}"#;
        let id = identify_image("127.0.0.1:5000", "mcp/time", MANIFEST, Some(config)).unwrap();
        let hex = id.digests.sha256.clone();
        assert_eq!(id.package.ecosystem, Ecosystem::Oci);
        assert_eq!(id.package.name, "127.0.0.1:5000/mcp/time");
        assert_eq!(id.package.version, format!("sha256:{hex}"));
        assert_eq!(
            id.package.purl,
            // The packageurl crate percent-encodes `/` in qualifier values.
            format!("pkg:oci/time@sha256:{hex}?repository_url=127.0.0.1:5000%2Fmcp%2Ftime")
        );
        assert_eq!(id.package.size, MANIFEST.len() as u64);
        assert_eq!(
            id.package.entry_points,
            vec![EntryPoint {
                name: "entrypoint".into(),
                target: "/bin/server --stdio".into()
            }]
        );
    }

    #[test]
    fn an_index_or_a_bad_config_is_refused() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        let error = identify_image("r", "a", index, None).unwrap_err();
        assert!(error.to_string().contains("image index"), "{error}");
        let error =
            identify_image("r", "a", MANIFEST, Some(br#"{"config":{"Cmd":"sh"}}"#)).unwrap_err();
        assert!(error.to_string().contains("config.Cmd"), "{error}");
    }
}
