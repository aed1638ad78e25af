//! An OCI attestation store: Sigstore bundles and CycloneDX SBOMs kept in a
//! registry repository as OCI artifacts attached to the artifact they are about
//! (the cosign / ORAS "attach to a digest" pattern).
//!
//! For an artifact whose sha256 is H, each file is one OCI 1.1 artifact manifest:
//! `artifactType` = the file's media type, the empty config
//! (`application/vnd.oci.empty.v1+json`, `{}`), one layer = the file, and a
//! `subject` descriptor `{mediaType: application/octet-stream, digest: sha256:H,
//! size: <artifact size>}` — the artifact itself (an npm tarball, a wheel) need not
//! be in the registry. They are found through the referrers API, or the
//! `sha256-H` tag index on registries without it (Docker distribution 2.8).
//!
//! Every manifest and blob is hashed against its digest (the registry's
//! `Docker-Content-Digest` is never trusted) and bounded in size. What is fetched
//! is only evidence: the bundles are verified like any other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{AttestationFile, FileKind, MAX_FILE_BYTES, MAX_FILES};
use crate::Client;
use crate::oci::{Descriptor, Manifest, OCI_MANIFEST, Reference};

/// The media type of a Sigstore bundle (v0.3).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The media type of a CycloneDX JSON SBOM.
pub const SBOM_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
/// The OCI 1.1 empty config for artifacts that have none.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The media type of a subject that is not an OCI manifest (a package file).
pub const SUBJECT_MEDIA_TYPE: &str = "application/octet-stream";
/// The annotation carrying the pushed file's name.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

#[derive(Debug, thiserror::Error)]
pub enum OciStoreError {
    #[error(
        "OCI attestation store `{location}` must be HOST/REPOSITORY (e.g. ghcr.io/acme/attestations) without a tag or digest: {why}"
    )]
    Location { location: String, why: String },
    #[error("OCI attestation store {store}: {source}")]
    Registry {
        store: String,
        #[source]
        source: crate::Error,
    },
    #[error("reading `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{path}` is not JSON ({why}); only Sigstore bundles and CycloneDX JSON SBOMs are pushed"
    )]
    NotJson { path: PathBuf, why: String },
}

/// Parses `HOST/REPOSITORY` (the host is required; loopback hosts are spoken to
/// over plain HTTP, every other over HTTPS).
pub fn parse_location(text: &str) -> Result<Reference, OciStoreError> {
    let error = |why: String| OciStoreError::Location {
        location: text.to_owned(),
        why,
    };
    let reference = Reference::parse(text).map_err(error)?;
    if reference.tag.is_some() || reference.digest.is_some() {
        return Err(error("a store is a repository, not an image".into()));
    }
    if !text.starts_with(&format!("{}/", reference.registry)) {
        return Err(error("the registry host is missing".into()));
    }
    Ok(reference)
}

/// One file pushed to the store.
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    pub file: PathBuf,
    pub media_type: String,
    /// The artifact manifest's digest.
    pub manifest: String,
    /// The file's blob digest.
    pub blob: String,
}

/// One attachment listed for an artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// The artifact manifest's digest.
    pub manifest: String,
    pub artifact_type: Option<String>,
    /// The file name it was pushed from, when the manifest says.
    pub title: Option<String>,
}

/// What a fetch found: bundles and SBOMs, and referrers skipped with why.
#[derive(Debug, Default)]
pub struct FetchedFiles {
    pub files: Vec<AttestationFile>,
    pub skipped: Vec<String>,
}

/// The sha256 (hex) and size of the file at `artifact`: the subject attachments name.
pub fn subject_of(artifact: &Path) -> Result<mcpin_artifact::Digests, OciStoreError> {
    let read_error = |source| OciStoreError::Read {
        path: artifact.to_owned(),
        source,
    };
    let file = fs_err::File::open(artifact).map_err(read_error)?;
    mcpin_artifact::digest_reader(file).map_err(read_error)
}

/// The files to push when none are named: `ARTIFACT.sigstore.json` and
/// `ARTIFACT.*.sigstore.json` beside the artifact, and each one's SBOM copy
/// (`X.sigstore.json` → `X.cdx.json`) where it exists. Pairs of path and media type.
pub fn default_files(artifact: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut files = Vec::new();
    for bundle in super::bundles_beside(artifact) {
        let sbom = super::sbom_beside(&bundle);
        files.push((bundle, BUNDLE_MEDIA_TYPE));
        if sbom.is_file() {
            files.push((sbom, SBOM_MEDIA_TYPE));
        }
    }
    files
}

/// One OCI attestation store, spoken to through the registry client (its HTTP settings,
/// offline mode and credentials apply).
pub struct OciStore<'a> {
    location: &'a Reference,
    client: &'a Client,
}

impl<'a> OciStore<'a> {
    pub fn new(client: &'a Client, location: &'a Reference) -> OciStore<'a> {
        OciStore { location, client }
    }

    fn registry_error(&self, source: crate::Error) -> OciStoreError {
        OciStoreError::Registry {
            store: self.location.to_string(),
            source,
        }
    }

    /// Attaches `file` (of `media_type`) to the artifact with `sha256` hex and `size`.
    pub fn push(
        &self,
        sha256: &str,
        size: u64,
        file: &Path,
        media_type: &str,
    ) -> Result<Pushed, OciStoreError> {
        let bytes = fs_err::read(file).map_err(|source| OciStoreError::Read {
            path: file.to_owned(),
            source,
        })?;
        if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            return Err(OciStoreError::NotJson {
                path: file.to_owned(),
                why: error.to_string(),
            });
        }
        let push_blob = |bytes: &[u8], media_type: &str| {
            let mut descriptor = self
                .client
                .oci_push_blob(self.location, bytes)
                .map_err(|e| self.registry_error(e))?;
            descriptor.media_type = media_type.to_owned();
            Ok::<_, OciStoreError>(descriptor)
        };
        let config = push_blob(b"{}", EMPTY_MEDIA_TYPE)?;
        let mut layer = push_blob(&bytes, media_type)?;
        let title = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        layer
            .annotations
            .insert(TITLE_ANNOTATION.to_owned(), title.clone());
        let blob = layer.digest.clone();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_owned()),
            artifact_type: Some(media_type.to_owned()),
            config: Some(config),
            layers: vec![layer],
            manifests: Vec::new(),
            subject: Some(Descriptor {
                media_type: SUBJECT_MEDIA_TYPE.to_owned(),
                digest: format!("sha256:{sha256}"),
                size,
                artifact_type: None,
                annotations: BTreeMap::new(),
                platform: None,
            }),
            annotations: BTreeMap::from([(TITLE_ANNOTATION.to_owned(), title)]),
        };
        let attached = self
            .client
            .oci_attach(self.location, &manifest)
            .map_err(|e| self.registry_error(e))?;
        Ok(Pushed {
            file: file.to_owned(),
            media_type: media_type.to_owned(),
            manifest: attached.digest,
            blob,
        })
    }

    /// The artifacts attached to the artifact with `sha256` hex.
    pub fn list(&self, sha256: &str) -> Result<Vec<Listed>, OciStoreError> {
        let referrers = self
            .client
            .oci_referrers(self.location, &format!("sha256:{sha256}"))
            .map_err(|e| self.registry_error(e))?;
        Ok(referrers
            .into_iter()
            .map(|descriptor| Listed {
                manifest: descriptor.digest,
                artifact_type: descriptor.artifact_type,
                title: descriptor.annotations.get(TITLE_ANNOTATION).cloned(),
            })
            .collect())
    }

    /// Fetches the bundles and SBOMs attached to `sha256`. Fails only when the
    /// referrers cannot be listed; a referrer that cannot be read, names another
    /// subject or carries no bundle or SBOM is skipped and said so.
    pub fn fetch(&self, sha256: &str) -> Result<FetchedFiles, OciStoreError> {
        let subject = format!("sha256:{sha256}");
        let mut referrers = self
            .client
            .oci_referrers(self.location, &subject)
            .map_err(|e| self.registry_error(e))?;
        let mut found = FetchedFiles::default();
        if referrers.len() > MAX_FILES {
            found.skipped.push(format!(
                "{} referrers beyond the first {MAX_FILES}",
                referrers.len() - MAX_FILES
            ));
            referrers.truncate(MAX_FILES);
        }
        for referrer in referrers {
            let ours =
                |media_type: &str| [BUNDLE_MEDIA_TYPE, SBOM_MEDIA_TYPE].contains(&media_type);
            if referrer.artifact_type.as_deref().is_some_and(|t| !ours(t)) {
                continue; // another tool's attachment (e.g. a signature format we do not read)
            }
            let skip = |why: String| format!("referrer {}: {why}", referrer.digest);
            let manifest = match self
                .client
                .oci_get_manifest(self.location, &referrer.digest)
            {
                Ok(manifest) => manifest,
                Err(error) => {
                    found.skipped.push(skip(error.to_string()));
                    continue;
                }
            };
            match manifest.subject.as_ref().map(|s| s.digest.as_str()) {
                Some(named) if named == subject => {}
                other => {
                    found.skipped.push(skip(format!(
                        "its subject is {} (not this artifact)",
                        other.unwrap_or("missing")
                    )));
                    continue;
                }
            }
            if !manifest.layers.iter().any(|l| ours(&l.media_type)) {
                found
                    .skipped
                    .push(skip("no Sigstore bundle or CycloneDX layer".into()));
                continue;
            }
            for layer in manifest.layers.iter().filter(|l| ours(&l.media_type)) {
                let bytes = match self
                    .client
                    .oci_get_blob(self.location, layer, MAX_FILE_BYTES)
                {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        found.skipped.push(skip(error.to_string()));
                        continue;
                    }
                };
                let file = AttestationFile {
                    kind: if layer.media_type == BUNDLE_MEDIA_TYPE {
                        FileKind::Bundle
                    } else {
                        FileKind::Sbom
                    },
                    origin: format!("{}@{}", self.location, layer.digest),
                    bytes,
                };
                if !found.files.contains(&file) {
                    found.files.push(file);
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_host_and_repository() {
        let store = parse_location("127.0.0.1:5000/acme/attestations").unwrap();
        assert_eq!(store.registry, "127.0.0.1:5000");
        assert_eq!(store.repository, "acme/attestations");
        assert!(parse_location("ghcr.io/acme/attest").is_ok());
        for bad in [
            "acme/attestations",
            "ghcr.io/acme/attest:latest",
            "ghcr.io/Acme/attest",
            "ghcr.io/acme/attest@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "",
        ] {
            assert!(
                matches!(parse_location(bad), Err(OciStoreError::Location { .. })),
                "{bad}"
            );
        }
    }
}
