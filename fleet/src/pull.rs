//! `mcpin policy pull`: fetch a signed policy and the files its signature pins, over HTTPS or
//! from an OCI registry (through the one registry client: its HTTP settings, CA bundle,
//! offline mode and retries), verify all of it, and install it where system mode reads it.
//!
//! Nothing is written before everything is checked, in this order:
//! 1. the signature verifies with the system's policy-root key (`policy-unsigned`,
//!    `policy-signature-invalid`);
//! 2. every file arrives with the bytes the signature pins (`policy-reference-changed`); OCI
//!    blobs are also checked against their descriptors (a tampered blob is refused by the
//!    registry client before that);
//! 3. the policy parses, names only files it pins (`policy-file-unpinned`), and its keys and
//!    trusted root are the pinned ones (`gate::check_pins`);
//! 4. it is not older than a policy already seen here (`policy-rollback`), not expired
//!    (`policy-expired`), has the installed policy's name (`policy-name-changed`), and does not
//!    reuse an installed version number for other bytes (`policy-version-reused`).
//!
//! Then each file is moved into place with a rename (the pinned files first, the signature and
//! the policy last): in the moment between, a launch sees the old policy with a new signature
//! or new keys (which fail its checks), or the old policy judging with old and new store files,
//! all signed. Files a previous pull
//! installed that the new signature no longer pins (a withdrawn approval) are removed. Only
//! after that does the rollback state move, and the pull record (the time `max-age` measures
//! from) is written. Only root may run it: it writes root's files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fs4::FileExt;
use jiff::Timestamp;
use mcpin_launcher::system::SystemConfig;
use mcpin_registry_client::Client;
use mcpin_registry_client::attestations::oci::{BUNDLE_MEDIA_TYPE, TITLE_ANNOTATION};
use mcpin_registry_client::oci::Reference;
use mcpin_verifier::PublicKey;
use mcpin_verifier::policy::{
    self, Policy, PolicyError, PolicySignatureError, PolicyState, PullRecord, PullState, StateError,
};
use serde::Serialize;
use url::Url;

use crate::Code;
use crate::distribution::{
    Distribution, MAX_FILE_BYTES, MAX_FILES, POLICY_ARTIFACT_TYPE, POLICY_MEDIA_TYPE,
    check_complete, is_plain_relative, sha256_hex,
};

/// Version of the `--json` report of `mcpin policy pull`.
pub const SCHEMA_VERSION: u32 = 1;

/// Where a policy is pulled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The policy file's URL; its signature is at `URL.sigstore.json`, pinned files beside it.
    Https(Url),
    /// An OCI repository and tag (or digest).
    Oci(Reference),
}

impl Source {
    /// `oci:HOST/REPO[:TAG|@sha256:…]` (tag `latest` when none), or an `https://` URL (`http://`
    /// only to a loopback host).
    pub fn parse(text: &str) -> Result<Source, String> {
        if let Some(written) = text.strip_prefix("oci:") {
            let mut reference = Reference::parse(written)?;
            if !written.starts_with(&format!("{}/", reference.registry)) {
                return Err("name the registry host: oci:HOST/REPO[:TAG]".to_owned());
            }
            if reference.tag.is_none() && reference.digest.is_none() {
                reference.tag = Some("latest".to_owned());
            }
            return Ok(Source::Oci(reference));
        }
        let url =
            Url::parse(text).map_err(|e| format!("neither oci:HOST/REPO[:TAG] nor a URL ({e})"))?;
        mcpin_registry_client::require_secure(&url).map_err(|e| e.to_string())?;
        if url.path().ends_with('/') {
            return Err("give the URL of the policy file, not of its directory".to_owned());
        }
        Ok(Source::Https(url))
    }

    /// How it is shown (credentials redacted).
    pub fn shown(&self) -> String {
        match self {
            Source::Https(url) => mcpin_registry_client::redact(url),
            Source::Oci(reference) => format!("oci:{reference}"),
        }
    }
}

/// Why a pull installed nothing. Every variant has a stable [`code`](PullError::code).
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The source is neither `oci:HOST/REPO[:TAG]` nor an `https://` URL of a policy file.
    #[error("`{text}`: {why}")]
    Source { text: String, why: String },
    /// Not in system mode: there is no system-wide place to install a policy.
    #[error(
        "mcpin policy pull installs the policy system mode reads, and this machine has no {} (per-user mode)",
        mcpin_launcher::system::SYSTEM_CONFIG
    )]
    NotSystemMode,
    /// Not running as root.
    #[error(
        "mcpin policy pull writes root's files (the policy, its keys and store, the rollback state): run it as root (sudo, or the systemd unit in contrib/)"
    )]
    NotPrivileged,
    /// The system config names no policy-root key to verify with.
    #[error(
        "{} sets no `policy-root-key`: a pulled policy must be verified with it",
        mcpin_launcher::system::SYSTEM_CONFIG
    )]
    NoRootKey,
    /// The policy-root key the system config names cannot be loaded.
    #[error("policy-root key `{path}`: {source}")]
    RootKey {
        path: PathBuf,
        #[source]
        source: mcpin_verifier::KeyError,
    },
    /// A download failed (network, HTTP status, offline mode, a blob whose bytes do not match
    /// its digest).
    #[error("fetching {what}: {source}")]
    Fetch {
        what: String,
        #[source]
        source: mcpin_registry_client::Error,
    },
    /// What the source serves is not laid out as a published policy.
    #[error("{0}")]
    Layout(String),
    /// The signature is missing (`policy-unsigned`) or does not verify with the policy-root key
    /// (`policy-signature-invalid`).
    #[error(transparent)]
    Signature(#[from] PolicySignatureError),
    /// A file's bytes differ from the pin in the signature, or a key or trusted root is not
    /// the pinned one.
    #[error("policy-reference-changed: {0}")]
    ReferenceChanged(String),
    /// The policy names a file its signature does not pin, or pins a file it does not name.
    #[error("policy-file-unpinned: {0}")]
    Unpinned(String),
    /// The signed policy does not parse.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// The policy is older than one already seen on this machine.
    #[error(
        "policy-rollback: policy `{name}` version {version} is older than version {last_seen} already seen on this machine"
    )]
    Rollback {
        name: String,
        version: u64,
        last_seen: u64,
    },
    /// The policy's `expires` has passed.
    #[error("policy-expired: policy `{name}` version {version} expired at {expires}")]
    Expired {
        name: String,
        version: u64,
        expires: Timestamp,
    },
    /// The source serves a policy of another name than the installed one.
    #[error(
        "policy-name-changed: the installed policy is `{installed}` but the source serves `{pulled}`; to switch policies on purpose, remove {record} first"
    )]
    NameChanged {
        installed: String,
        pulled: String,
        record: PathBuf,
    },
    /// The installed version number with other bytes.
    #[error(
        "policy-version-reused: version {version} of policy `{name}` is installed with other bytes ({installed}); every published change needs a higher version"
    )]
    VersionReused {
        name: String,
        version: u64,
        installed: String,
    },
    /// The rollback state or the pull record cannot be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// Writing the policy, its files or the lock failed.
    #[error("`{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PullError {
    /// Its stable code.
    pub fn code(&self) -> Code {
        match self {
            PullError::Source { .. } => Code::PullSourceInvalid,
            PullError::NotSystemMode => Code::PullNotSystemMode,
            PullError::NotPrivileged => Code::PullNotPrivileged,
            PullError::NoRootKey => Code::PullNoRootKey,
            PullError::RootKey { .. } => Code::PullRootKeyInvalid,
            PullError::Fetch { source, .. } => match source {
                mcpin_registry_client::Error::IntegrityMismatch { .. } => Code::BlobDigestMismatch,
                _ => Code::PullFetchFailed,
            },
            PullError::Layout(_) => Code::PullLayoutInvalid,
            PullError::Signature(error) => crate::signature_code(error),
            PullError::ReferenceChanged(_) => Code::PolicyReferenceChanged,
            PullError::Unpinned(_) => Code::PolicyFileUnpinned,
            PullError::Invalid(_) => Code::PolicyInvalid,
            PullError::Rollback { .. } => Code::PolicyRollback,
            PullError::Expired { .. } => Code::PolicyExpired,
            PullError::NameChanged { .. } => Code::PolicyNameChanged,
            PullError::VersionReused { .. } => Code::PolicyVersionReused,
            PullError::State(_) => Code::PullState,
            PullError::Io { .. } => Code::PullIo,
        }
    }
}

/// Whether the pull changed the installed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullStatus {
    /// A new policy (or a first one) is installed.
    Installed,
    /// The source serves the installed policy; its files were checked and written again, and
    /// the pull time (for `max-age`) refreshed.
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct PulledPolicy {
    /// Where system mode reads it.
    pub path: PathBuf,
    pub name: String,
    pub version: u64,
    /// `sha256:<hex>` of the policy file.
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PulledFile {
    /// Relative to the policy's directory.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// Whether it was downloaded (`false`: the installed copy already held the pinned bytes).
    pub downloaded: bool,
}

/// The result of a pull that installed (or re-confirmed) a policy.
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    pub schema_version: u32,
    pub source: String,
    pub status: PullStatus,
    pub policy: PulledPolicy,
    /// The version installed before, if a pull is recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<u64>,
    /// The files installed besides the policy and its signature.
    pub files: Vec<PulledFile>,
    /// Files a previous pull installed that the new signature no longer pins, now removed.
    pub removed: Vec<String>,
    pub pulled_at: Timestamp,
}

/// Fetches, verifies and installs the policy `source` serves, for the system config `system`
/// (its `policy`, `policy-root-key` and `state-dir`), with the registry client `client`.
/// `privileged`: whether this process may write root's files.
pub fn pull(
    source: &Source,
    system: &SystemConfig,
    privileged: bool,
    client: &Client,
    now: Timestamp,
) -> Result<PullReport, PullError> {
    if !privileged {
        return Err(PullError::NotPrivileged);
    }
    let root_path = system
        .policy_root_key
        .as_ref()
        .ok_or(PullError::NoRootKey)?;
    let root = PublicKey::load(root_path).map_err(|source| PullError::RootKey {
        path: root_path.clone(),
        source,
    })?;
    create_dirs(&system.state_dir)?;
    let lock_path = system.state_dir.join("policy-pull.lock");
    let lock = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    FileExt::lock(lock.file()).map_err(io(&lock_path))?;

    let dir = system.policy.parent().unwrap_or(Path::new("/"));
    let (distribution, downloaded) = fetch(source, client, &root, dir)?;
    install(source, distribution, &downloaded, system, &root, now)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
    move |source| PullError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Downloads the policy, checks its signature, then downloads every pinned file and checks
/// its bytes against the pin.
fn fetch(
    source: &Source,
    client: &Client,
    root: &PublicKey,
    installed: &Path,
) -> Result<(Distribution, BTreeSet<String>), PullError> {
    let mut downloaded = BTreeSet::new();
    let fetch_error = |what: &str| {
        let what = what.to_owned();
        move |source| PullError::Fetch { what, source }
    };
    match source {
        Source::Https(url) => {
            let policy_name = url
                .path_segments()
                .and_then(|mut segments| segments.next_back())
                .filter(|name| !name.is_empty())
                .ok_or_else(|| PullError::Layout(format!("`{}` names no file", source.shown())))?
                .to_owned();
            let policy = client
                .get_bytes(url, "the policy", MAX_FILE_BYTES)
                .map_err(fetch_error("the policy"))?;
            let mut signature_url = url.clone();
            signature_url.set_path(&format!("{}.sigstore.json", url.path()));
            let signature = client
                .get_bytes(&signature_url, "the policy's signature", MAX_FILE_BYTES)
                .map_err(fetch_error("the policy's signature"))?;
            let pins = verify(&policy_name, &policy, &signature, root)?;
            let mut files = BTreeMap::new();
            for (relative, pinned) in &pins.files {
                let file_url = relative_url(url, relative)?;
                let bytes = match installed_copy(installed, relative, pinned) {
                    Some(bytes) => bytes,
                    None => {
                        downloaded.insert(relative.clone());
                        client
                            .get_bytes(&file_url, relative, MAX_FILE_BYTES)
                            .map_err(fetch_error(relative))?
                    }
                };
                check_pin(relative, pinned, &bytes)?;
                files.insert(relative.clone(), bytes);
            }
            Ok((
                Distribution {
                    policy_name,
                    policy,
                    signature,
                    files,
                },
                downloaded,
            ))
        }
        Source::Oci(reference) => {
            let (manifest, digest) = client
                .oci_get_tagged_manifest(reference)
                .map_err(fetch_error("the policy manifest"))?;
            if manifest.artifact_type.as_deref() != Some(POLICY_ARTIFACT_TYPE) {
                return Err(PullError::Layout(format!(
                    "oci:{reference} ({digest}) is not an mcpin policy (artifactType {:?}, expected {POLICY_ARTIFACT_TYPE})",
                    manifest.artifact_type
                )));
            }
            if manifest.layers.len() > MAX_FILES + 2 {
                return Err(PullError::Layout(format!(
                    "oci:{reference} has {} layers (at most {})",
                    manifest.layers.len(),
                    MAX_FILES + 2
                )));
            }
            let mut by_title = BTreeMap::new();
            for layer in &manifest.layers {
                let Some(title) = layer.annotations.get(TITLE_ANNOTATION) else {
                    return Err(PullError::Layout(format!(
                        "layer {} of oci:{reference} has no {TITLE_ANNOTATION}",
                        layer.digest
                    )));
                };
                if !is_plain_relative(title) || by_title.insert(title.clone(), layer).is_some() {
                    return Err(PullError::Layout(format!(
                        "layer title `{title}` of oci:{reference} is not a plain relative path, or repeats"
                    )));
                }
            }
            let policy_layers: Vec<_> = manifest
                .layers
                .iter()
                .filter(|layer| layer.media_type == POLICY_MEDIA_TYPE)
                .collect();
            let [policy_layer] = policy_layers.as_slice() else {
                return Err(PullError::Layout(format!(
                    "oci:{reference} has {} layers of type {POLICY_MEDIA_TYPE} (one expected)",
                    policy_layers.len()
                )));
            };
            let policy_name = policy_layer.annotations[TITLE_ANNOTATION].clone();
            let signature_name = format!("{policy_name}.sigstore.json");
            let Some(signature_layer) = by_title
                .get(&signature_name)
                .filter(|layer| layer.media_type == BUNDLE_MEDIA_TYPE)
            else {
                return Err(PullError::Signature(PolicySignatureError::Unsigned {
                    root: root.id().clone(),
                    signature: PathBuf::from(format!("oci:{reference} layer `{signature_name}`")),
                }));
            };
            let blob = |layer: &mcpin_registry_client::oci::Descriptor, what: &str| {
                client
                    .oci_get_blob(reference, layer, MAX_FILE_BYTES)
                    .map_err(fetch_error(what))
            };
            let policy = blob(policy_layer, &policy_name)?;
            let signature = blob(signature_layer, &signature_name)?;
            let pins = verify(&policy_name, &policy, &signature, root)?;
            if let Some(extra) = by_title.keys().find(|title| {
                **title != policy_name
                    && **title != signature_name
                    && !pins.files.contains_key(*title)
            }) {
                return Err(PullError::Unpinned(format!(
                    "oci:{reference} carries `{extra}`, which the policy's signature does not pin"
                )));
            }
            let mut files = BTreeMap::new();
            for (relative, pinned) in &pins.files {
                let Some(layer) = by_title.get(relative) else {
                    return Err(PullError::Layout(format!(
                        "oci:{reference} lacks `{relative}`, which the policy's signature pins"
                    )));
                };
                let bytes = match installed_copy(installed, relative, pinned) {
                    Some(bytes) => bytes,
                    None => {
                        downloaded.insert(relative.clone());
                        blob(layer, relative)?
                    }
                };
                check_pin(relative, pinned, &bytes)?;
                files.insert(relative.clone(), bytes);
            }
            Ok((
                Distribution {
                    policy_name,
                    policy,
                    signature,
                    files,
                },
                downloaded,
            ))
        }
    }
}

/// The signature over `policy`, checked with `root`: what it pins.
fn verify(
    policy_name: &str,
    policy: &[u8],
    signature: &[u8],
    root: &PublicKey,
) -> Result<policy::PolicyPredicate, PullError> {
    let shown = PathBuf::from(format!("{policy_name}.sigstore.json"));
    let pins = policy::verify_policy_signature_bytes(&shown, signature, policy, root)?;
    if pins.files.len() > MAX_FILES {
        return Err(PullError::Layout(format!(
            "the signature pins {} files (at most {MAX_FILES})",
            pins.files.len()
        )));
    }
    if let Some(path) = pins.files.keys().find(|path| !is_plain_relative(path)) {
        return Err(PullError::Unpinned(format!(
            "the signature pins `{path}`, which is not a plain relative path"
        )));
    }
    Ok(pins)
}

/// The installed copy of a pinned file when it already holds the pinned bytes: a store of
/// many bundles is not downloaded again on every pull.
fn installed_copy(dir: &Path, relative: &str, pinned: &str) -> Option<Vec<u8>> {
    let path = dir.join(relative);
    let metadata = std::fs::symlink_metadata(&path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_FILE_BYTES {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    (sha256_hex(&bytes) == pinned).then_some(bytes)
}

fn check_pin(relative: &str, pinned: &str, bytes: &[u8]) -> Result<(), PullError> {
    let actual = sha256_hex(bytes);
    if actual == pinned {
        Ok(())
    } else {
        Err(PullError::ReferenceChanged(format!(
            "`{relative}` has sha256 {actual}, but the policy was signed with sha256 {pinned}"
        )))
    }
}

/// `relative` (a plain relative path) beside the policy at `url`, each segment percent-encoded.
fn relative_url(url: &Url, relative: &str) -> Result<Url, PullError> {
    let mut file = url.clone();
    {
        let mut segments = file
            .path_segments_mut()
            .map_err(|()| PullError::Layout(format!("`{url}` cannot hold relative paths")))?;
        segments.pop();
        segments.extend(relative.split('/'));
    }
    file.set_query(None);
    Ok(file)
}

/// Checks the downloaded policy in a staging directory beside the installed one, then moves it
/// into place.
fn install(
    source: &Source,
    distribution: Distribution,
    downloaded: &BTreeSet<String>,
    system: &SystemConfig,
    root: &PublicKey,
    now: Timestamp,
) -> Result<PullReport, PullError> {
    let target = &system.policy;
    let dir = target.parent().unwrap_or(Path::new("/"));
    create_dirs(dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".mcpin-pull-")
        .tempdir_in(dir)
        .map_err(io(dir))?;
    let file_name = target
        .file_name()
        .ok_or_else(|| PullError::Layout(format!("`{}` names no file", target.display())))?;
    let staged_policy = staging.path().join(file_name);
    let staged_signature = policy::signature_path(&staged_policy);
    let write = |path: &Path, bytes: &[u8]| -> Result<(), PullError> {
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(io(parent))?;
        }
        mcpin_artifact::write_atomic(path, bytes, 0o644).map_err(io(path))
    };
    for (relative, bytes) in &distribution.files {
        write(&staging.path().join(relative), bytes)?;
    }
    write(&staged_signature, &distribution.signature)?;
    write(&staged_policy, &distribution.policy)?;

    // Parsed where it stands, so its relative key and trusted-root paths are the staged files.
    let text = String::from_utf8(distribution.policy.clone())
        .map_err(|_| PullError::Layout("the policy is not UTF-8".to_owned()))?;
    let policy = Policy::parse(&staged_policy, &text)?;
    let pins = policy::verify_policy_signature(&staged_policy, &distribution.policy, root)?;
    check_complete(&policy, &pins).map_err(PullError::Unpinned)?;
    mcpin_verifier::gate::check_pins(&policy, &pins).map_err(PullError::ReferenceChanged)?;
    if let Some(trusted_root) = &policy.trusted_root {
        mcpin_verifier::sigstore::TrustedRoot::from_file_pinned(
            trusted_root,
            pins.trusted_root_sha256.as_deref(),
        )
        .map_err(|error| PullError::ReferenceChanged(error.to_string()))?;
    }
    refuse_protected(&distribution, system)?;

    let digest = format!("sha256:{}", sha256_hex(&distribution.policy));
    let versions = PolicyState::new(&system.state_dir);
    let seen = versions.check(&policy.name, policy.version)?;
    if seen.is_rollback() {
        return Err(PullError::Rollback {
            name: policy.name.clone(),
            version: policy.version,
            last_seen: seen.last_seen.unwrap_or_default(),
        });
    }
    if let Some(expires) = policy.expires
        && now >= expires
    {
        return Err(PullError::Expired {
            name: policy.name.clone(),
            version: policy.version,
            expires,
        });
    }
    let records = PullState::new(&system.state_dir);
    let previous = records.read()?;
    if let Some(previous) = &previous {
        if previous.name != policy.name {
            return Err(PullError::NameChanged {
                installed: previous.name.clone(),
                pulled: policy.name.clone(),
                record: records.path().to_owned(),
            });
        }
        if previous.version == policy.version && previous.digest != digest {
            return Err(PullError::VersionReused {
                name: policy.name.clone(),
                version: policy.version,
                installed: previous.digest.clone(),
            });
        }
    }

    // Everything checked: move the files into place, the policy last.
    let rename = |from: &Path, to: &Path| -> Result<(), PullError> {
        if let Some(parent) = to.parent() {
            create_dirs(parent)?;
        }
        fs_err::rename(from, to).map_err(io(to))
    };
    for relative in distribution.files.keys() {
        rename(&staging.path().join(relative), &dir.join(relative))?;
    }
    rename(&staged_signature, &policy::signature_path(target))?;
    rename(&staged_policy, target)?;

    let installed: Vec<String> = distribution.files.keys().cloned().collect();
    let mut removed = Vec::new();
    if let Some(previous) = &previous {
        for stale in previous
            .files
            .iter()
            .filter(|f| !distribution.files.contains_key(*f))
        {
            // Only plain relative paths were ever recorded; a record edited by hand to name
            // anything else is not followed.
            if !is_plain_relative(stale) {
                continue;
            }
            let path = dir.join(stale);
            match fs_err::remove_file(&path) {
                Ok(()) => removed.push(stale.clone()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io(&path)(error)),
            }
            remove_empty_parents(dir, &path);
        }
    }
    versions.observe(&policy.name, policy.version)?;
    records.write(&PullRecord {
        name: policy.name.clone(),
        version: policy.version,
        digest: digest.clone(),
        source: source.shown(),
        pulled_at: now,
        files: installed,
    })?;
    let status = match &previous {
        Some(previous) if previous.digest == digest => PullStatus::Unchanged,
        _ => PullStatus::Installed,
    };
    Ok(PullReport {
        schema_version: SCHEMA_VERSION,
        source: source.shown(),
        status,
        policy: PulledPolicy {
            path: target.clone(),
            name: policy.name.clone(),
            version: policy.version,
            digest,
            expires: policy.expires.map(|t| t.to_string()),
            max_age: policy.max_age.as_ref().map(|m| m.text.clone()),
        },
        previous_version: previous.map(|p| p.version),
        files: distribution
            .files
            .iter()
            .map(|(path, bytes)| PulledFile {
                path: path.clone(),
                sha256: sha256_hex(bytes),
                size: bytes.len() as u64,
                downloaded: downloaded.contains(path),
            })
            .collect(),
        removed,
        pulled_at: now,
    })
}

/// A pinned file may not land on the system config, the policy-root key, or the policy and its
/// signature (which are installed under their own names).
fn refuse_protected(distribution: &Distribution, system: &SystemConfig) -> Result<(), PullError> {
    let dir = system.policy.parent().unwrap_or(Path::new("/"));
    let mut protected = vec![
        PathBuf::from(mcpin_launcher::system::SYSTEM_CONFIG),
        system.policy.clone(),
        policy::signature_path(&system.policy),
    ];
    protected.extend(system.policy_root_key.clone());
    for relative in distribution.files.keys() {
        let target = dir.join(relative);
        if protected.contains(&target) || relative.starts_with(".mcpin-pull-") {
            return Err(PullError::Unpinned(format!(
                "the signature pins `{relative}`, which would overwrite {}",
                target.display()
            )));
        }
    }
    Ok(())
}

/// Creates `dir` and its missing parents with mode 0755 whatever the umask: every user's
/// launch reads what is installed there. Directories that exist are left as they are.
fn create_dirs(dir: &Path) -> Result<(), PullError> {
    use std::os::unix::fs::PermissionsExt;
    let mut missing = Vec::new();
    let mut current = Some(dir);
    while let Some(path) = current.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        missing.push(path);
        current = path.parent();
    }
    for path in missing.into_iter().rev() {
        match fs_err::create_dir(path) {
            Ok(()) => fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                .map_err(io(path))?,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(io(path)(error)),
        }
    }
    Ok(())
}

/// Removes the directories between `path` and `dir` that are now empty.
fn remove_empty_parents(dir: &Path, path: &Path) {
    let mut current = path.parent();
    while let Some(parent) = current {
        if parent == dir || !parent.starts_with(dir) || std::fs::remove_dir(parent).is_err() {
            break;
        }
        current = parent.parent();
    }
}
