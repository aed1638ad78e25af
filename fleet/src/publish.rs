//! `mcpin policy publish`: a signed policy and exactly the files its signature pins, written as
//! a directory tree for a static HTTPS host or pushed as one OCI artifact. Nothing is published
//! that `mcpin policy pull` would refuse: the signature must verify with the policy-root key,
//! and every file on disk must be what the signature pins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mcpin_registry_client::Client;
use mcpin_registry_client::attestations::oci::{
    BUNDLE_MEDIA_TYPE, EMPTY_MEDIA_TYPE, TITLE_ANNOTATION,
};
use mcpin_registry_client::oci::{Manifest, OCI_MANIFEST, Reference};
use mcpin_verifier::PublicKey;
use mcpin_verifier::policy::{self, Policy, PolicyError, PolicyPredicate, PolicySignatureError};
use serde::Serialize;

use crate::Code;
use crate::distribution::{
    Distribution, FILE_MEDIA_TYPE, POLICY_ARTIFACT_TYPE, POLICY_MEDIA_TYPE, check_complete,
    sha256_hex,
};

/// Version of the `--json` report of `mcpin policy publish`.
pub const SCHEMA_VERSION: u32 = 1;

/// Where a policy is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A directory to upload to a static HTTPS host as it is.
    Dir(PathBuf),
    /// An OCI repository and tag (`oci:HOST/REPO[:TAG]`, default tag `latest`).
    Oci(Reference),
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The signature is missing or does not verify with the policy-root key.
    #[error(transparent)]
    Signature(#[from] PolicySignatureError),
    /// The policy does not parse (`policy-invalid`).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The policy names a file its signature does not pin, or one outside its directory
    /// (`policy-file-unpinned`).
    #[error("policy `{path}`: {message}")]
    Incomplete { path: PathBuf, message: String },
    /// A file on disk is not what the signature pins (`policy-reference-changed`).
    #[error(
        "policy-reference-changed: {message}; publish exactly what was signed, or sign the policy again with `mcpin policy sign`"
    )]
    Changed { message: String },
    /// Reading the policy or writing the directory failed (`publish-io`).
    #[error("`{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The registry refused or could not be reached (`publish-registry`).
    #[error("publishing to oci:{reference}: {source}")]
    Registry {
        reference: String,
        #[source]
        source: mcpin_registry_client::Error,
    },
}

impl PublishError {
    /// Its stable code.
    pub fn code(&self) -> Code {
        match self {
            PublishError::Signature(error) => crate::signature_code(error),
            PublishError::Policy(_) => Code::PolicyInvalid,
            PublishError::Incomplete { .. } => Code::PolicyFileUnpinned,
            PublishError::Changed { .. } => Code::PolicyReferenceChanged,
            PublishError::Io { .. } => Code::PublishIo,
            PublishError::Registry { .. } => Code::PublishRegistry,
        }
    }
}

/// One published file.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// What was published.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    pub schema_version: u32,
    pub policy: PublishedPolicy,
    /// The directory, or `oci:HOST/REPO:TAG`.
    pub destination: String,
    /// The policy file, its signature and every pinned file.
    pub files: Vec<PublishedFile>,
    /// OCI: the digest of the artifact manifest the tag now names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedPolicy {
    pub name: String,
    pub version: u64,
    /// `sha256:<hex>` of the policy file.
    pub digest: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads the policy at `path`, checks its signature under `root` and that the files on disk
/// are exactly the files the signature pins, and returns all of it in memory.
pub fn read_signed(
    path: &Path,
    root: &PublicKey,
) -> Result<(Distribution, Policy, PolicyPredicate), PublishError> {
    let bytes = fs_err::read(path).map_err(io(path))?;
    let pins = policy::verify_policy_signature(path, &bytes, root)?;
    let signature_path = policy::signature_path(path);
    let signature = fs_err::read(&signature_path).map_err(io(&signature_path))?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| PublishError::Incomplete {
        path: path.to_owned(),
        message: "the policy is not UTF-8".to_owned(),
    })?;
    let policy = Policy::parse(path, &text)?;
    check_complete(&policy, &pins).map_err(|message| PublishError::Incomplete {
        path: path.to_owned(),
        message,
    })?;
    if let Err(message) = mcpin_verifier::gate::check_pins(&policy, &pins) {
        return Err(PublishError::Changed { message });
    }
    // What is on disk now, hashed as `mcpin policy sign` hashes it.
    let now = policy.pins()?;
    if now.files != pins.files {
        let differ: Vec<&str> = pins
            .files
            .keys()
            .chain(now.files.keys())
            .filter(|path| pins.files.get(*path) != now.files.get(*path))
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        return Err(PublishError::Changed {
            message: format!(
                "these files differ from what the signature pins: {}",
                differ.join(", ")
            ),
        });
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut files = BTreeMap::new();
    for (relative, pinned) in &pins.files {
        let file = base.join(relative);
        let content = fs_err::read(&file).map_err(io(&file))?;
        if &sha256_hex(&content) != pinned {
            return Err(PublishError::Changed {
                message: format!("`{relative}` changed while it was read"),
            });
        }
        files.insert(relative.clone(), content);
    }
    let policy_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("policy.toml")
        .to_owned();
    Ok((
        Distribution {
            policy_name,
            policy: bytes,
            signature,
            files,
        },
        policy,
        pins,
    ))
}

/// The files of `distribution` in publishing order: the policy, its signature, then the pinned
/// files by path.
fn ordered(distribution: &Distribution) -> Vec<(String, &[u8], &'static str)> {
    let mut files = vec![
        (
            distribution.policy_name.clone(),
            distribution.policy.as_slice(),
            POLICY_MEDIA_TYPE,
        ),
        (
            format!("{}.sigstore.json", distribution.policy_name),
            distribution.signature.as_slice(),
            BUNDLE_MEDIA_TYPE,
        ),
    ];
    files.extend(
        distribution
            .files
            .iter()
            .map(|(path, bytes)| (path.clone(), bytes.as_slice(), FILE_MEDIA_TYPE)),
    );
    files
}

/// Publishes `distribution` (of `policy`) to `destination`. `client` is needed for OCI only.
pub fn publish(
    distribution: &Distribution,
    policy: &Policy,
    destination: &Destination,
    client: Option<&Client>,
) -> Result<PublishReport, PublishError> {
    let files = ordered(distribution);
    let report_files = files
        .iter()
        .map(|(path, bytes, _)| PublishedFile {
            path: path.clone(),
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        })
        .collect();
    let (shown, manifest) = match destination {
        Destination::Dir(dir) => {
            for (path, bytes, _) in &files {
                let target = dir.join(path);
                if let Some(parent) = target.parent() {
                    fs_err::create_dir_all(parent).map_err(io(parent))?;
                }
                mcpin_artifact::write_atomic(&target, bytes, 0o644).map_err(io(&target))?;
            }
            (dir.display().to_string(), None)
        }
        Destination::Oci(reference) => {
            let client = client.expect("publishing to OCI needs the registry client");
            let registry = |source| PublishError::Registry {
                reference: reference.to_string(),
                source,
            };
            let mut config = client.oci_push_blob(reference, b"{}").map_err(registry)?;
            config.media_type = EMPTY_MEDIA_TYPE.to_owned();
            let mut layers = Vec::new();
            for (path, bytes, media_type) in &files {
                let mut layer = client.oci_push_blob(reference, bytes).map_err(registry)?;
                layer.media_type = (*media_type).to_owned();
                layer
                    .annotations
                    .insert(TITLE_ANNOTATION.to_owned(), path.clone());
                layers.push(layer);
            }
            let manifest = Manifest {
                schema_version: 2,
                media_type: Some(OCI_MANIFEST.to_owned()),
                artifact_type: Some(POLICY_ARTIFACT_TYPE.to_owned()),
                config: Some(config),
                layers,
                annotations: BTreeMap::from([(
                    "dev.mcpin.policy.version".to_owned(),
                    policy.version.to_string(),
                )]),
                ..Manifest::default()
            };
            let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
            let (descriptor, _) = client
                .oci_push_manifest(reference, OCI_MANIFEST, &bytes)
                .map_err(registry)?;
            (format!("oci:{reference}"), Some(descriptor.digest))
        }
    };
    Ok(PublishReport {
        schema_version: SCHEMA_VERSION,
        policy: PublishedPolicy {
            name: policy.name.clone(),
            version: policy.version,
            digest: format!("sha256:{}", sha256_hex(&distribution.policy)),
        },
        destination: shown,
        files: report_files,
        manifest,
    })
}
