//! Installing exactly a verified package and its signed lock from the content-addressed
//! store, once, into a read-only tree whose digest is recorded and re-checked before every
//! launch.
//!
//! npm: every lock entry's tarball is fetched by its sha512 integrity and unpacked (no
//! install scripts, ever) under `pkg/<install path>`, the package itself under `pkg/`.
//! PyPI: the locked wheels (and the package's own wheel) are installed with
//! `uv pip install --target … --no-deps --no-index --offline` from a directory of
//! store blobs under their wheel file names; the server runs as `python -I -c <bootstrap>`.
//!
//! Layout: `<store>/installs/v1/<key>/` is the tree, `<key>.json` its [`InstallRecord`],
//! `<key>` = sha256 over the artifact's sha256 and the lock digest. An install is staged
//! in `installs/v1/tmp/`, made read-only, digested, and renamed into place under an
//! exclusive file lock, so concurrent first launches install once and all succeed.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use fs4::FileExt;
use mcpin_artifact::Limits;
use mcpin_attestation::{DistributionKind, Lock, LockedPackages};
use mcpin_registry_client::{Algorithm, Checksum, Client, Settings};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::tree::{TreeError, TreeManifest, make_read_only};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lock entry `{path}`: integrity `{integrity}` is not a sha512 SRI value")]
    BadIntegrity { path: String, integrity: String },
    #[error("lock entry `{what}`: `{url}` is not a URL")]
    BadUrl { what: String, url: String },
    #[error("lock entry `{what}`: {source}")]
    Registry {
        what: String,
        #[source]
        source: mcpin_registry_client::Error,
    },
    #[error("unpacking `{what}`: {source}")]
    Unpack {
        what: String,
        #[source]
        source: mcpin_artifact::ArtifactError,
    },
    #[error("`{what}`: the bytes read differ from the verified digest")]
    Integrity { what: String },
    #[error("lock entry `{what}` has no wheel file (sdists are never built at launch)")]
    NoWheel { what: String },
    #[error("`{command}` failed: {stderr}")]
    Tool { command: String, stderr: String },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("install record `{path}` is unreadable: {reason}")]
    Record { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What an install is for: a package the judge verified (its digest and signed lock), and
/// where its bytes are.
#[derive(Debug)]
pub struct InstallRequest<'a> {
    /// The artifact's blob in the store; its bytes are re-checked against the verified digest.
    pub artifact: &'a Path,
    /// The artifact's published file name (wheels need theirs).
    pub file_name: &'a str,
    pub package: &'a mcpin_verifier::VerifiedPackage,
}

impl InstallRequest<'_> {
    fn sha256(&self) -> &str {
        &self.package.digests().sha256
    }

    fn lock(&self) -> Option<&Lock> {
        self.package.lock()
    }
}

/// How the installed server starts: relative to the tree for npm, a bootstrap for Python.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Runtime {
    /// `node <tree>/pkg/…`; the bin is chosen at launch.
    Node,
    /// `<python> -I -c <bootstrap adding <tree>/site>`.
    Python { python: PathBuf },
}

/// Recorded beside the tree: what it must look like.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstallRecord {
    pub artifact_sha256: String,
    /// `sha256:` of the canonical lock, or `none`.
    pub lock_digest: String,
    pub runtime: Runtime,
    pub tree: TreeManifest,
}

/// A checked install: the tree matched its record just now.
#[derive(Debug)]
pub struct Installed {
    pub root: PathBuf,
    pub runtime: Runtime,
    /// The recorded (and just recomputed) tree digest.
    pub tree_digest: String,
    /// Whether this call created it.
    pub created: bool,
}

/// The part of an [`InstallRecord`] a launch needs; the entries are read only to name
/// what changed when the digest differs.
#[derive(Deserialize)]
struct RecordSummary {
    runtime: Runtime,
    tree: DigestOnly,
}

#[derive(Deserialize)]
struct DigestOnly {
    digest: String,
}

/// `<store>/installs/v1`.
pub fn installs_dir(store: &Path) -> PathBuf {
    store.join("installs").join("v1")
}

fn install_key(sha256: &str, lock_digest: &str) -> String {
    hex::encode(Sha256::digest(format!("{sha256}\0{lock_digest}")))
}

/// Returns the verified install for `request`, creating it first if needed. The recorded
/// tree digest is re-checked every time; a change fails with [`TreeError::Changed`].
pub fn ensure_installed(
    registry: &Settings,
    request: &InstallRequest,
) -> Result<Installed, InstallError> {
    let base = installs_dir(&registry.store);
    let lock_digest = request
        .lock()
        .map_or_else(|| "none".to_owned(), Lock::digest);
    let key = install_key(request.sha256(), &lock_digest);
    let root = base.join(&key);
    let record_path = base.join(format!("{key}.json"));
    if root.is_dir() {
        return check(root, &record_path, false);
    }
    let locks = base.join("locks");
    let tmp = base.join("tmp");
    for dir in [&locks, &tmp] {
        fs_err::create_dir_all(dir).map_err(io(dir))?;
    }
    let lock_path = locks.join(format!("{key}.lock"));
    let lock_file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    FileExt::lock(lock_file.file()).map_err(io(&lock_path))?;
    // Another process may have installed it while we waited.
    if root.is_dir() {
        return check(root, &record_path, false);
    }
    let staging = tempfile::Builder::new()
        .prefix("install-")
        .tempdir_in(&tmp)
        .map_err(io(&tmp))?;
    let tree = staging.path().join("tree");
    // Built only here: a warm launch never needs the network (or its TLS roots).
    let client = Client::new(registry.clone()).map_err(|source| InstallError::Registry {
        what: "the registry client".to_owned(),
        source,
    })?;
    let client = &client;
    let runtime = match request.lock().map(|lock| &lock.packages) {
        Some(LockedPackages::Pypi { target, packages }) => {
            install_pypi(client, request, &target.python_version, packages, &tree)?
        }
        Some(LockedPackages::Npm { packages }) => install_npm(client, request, packages, &tree)?,
        None if request.file_name.ends_with(".whl") => {
            install_pypi(client, request, "3", &[], &tree)?
        }
        None => install_npm(client, request, &[], &tree)?,
    };
    make_read_only(&tree)?;
    let record = InstallRecord {
        artifact_sha256: request.sha256().to_owned(),
        lock_digest,
        runtime,
        tree: TreeManifest::compute(&tree)?,
    };
    let json = serde_json::to_vec(&record).expect("an install record serializes");
    let record_tmp = staging.path().join("record.json");
    fs_err::write(&record_tmp, json).map_err(io(&record_tmp))?;
    fs_err::rename(&record_tmp, &record_path).map_err(io(&record_path))?;
    // The rename of the tree is the commit point: a tree in place always has its record.
    fs_err::rename(&tree, &root).map_err(io(&root))?;
    drop(lock_file);
    Ok(Installed {
        root,
        runtime: record.runtime,
        tree_digest: record.tree.digest,
        created: true,
    })
}

fn check(root: PathBuf, record_path: &Path, created: bool) -> Result<Installed, InstallError> {
    let bytes = fs_err::read(record_path).map_err(io(record_path))?;
    let unreadable = |error: serde_json::Error| InstallError::Record {
        path: record_path.to_owned(),
        reason: error.to_string(),
    };
    let summary: RecordSummary = serde_json::from_slice(&bytes).map_err(unreadable)?;
    // The digest covers every entry, so equal digests mean an identical tree.
    if TreeManifest::compute(&root)?.digest != summary.tree.digest {
        let record: InstallRecord = serde_json::from_slice(&bytes).map_err(unreadable)?;
        record.tree.verify(&root)?;
        // verify() found no differing entry, so the record's digest and entries disagree.
        return Err(TreeError::Changed {
            path: record_path.display().to_string(),
            what: "the install record's digest does not match its entries".into(),
        }
        .into());
    }
    Ok(Installed {
        root,
        runtime: summary.runtime,
        tree_digest: summary.tree.digest,
        created,
    })
}

fn sha512_checksum(path: &str, integrity: &str) -> Result<Checksum, InstallError> {
    let bad = || InstallError::BadIntegrity {
        path: path.to_owned(),
        integrity: integrity.to_owned(),
    };
    let encoded = integrity
        .split_whitespace()
        .find_map(|part| part.strip_prefix("sha512-"))
        .ok_or_else(bad)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad())?;
    Checksum::new(Algorithm::Sha512, &hex::encode(raw)).ok_or_else(bad)
}

fn url_of(what: &str, url: &str) -> Result<Url, InstallError> {
    Url::parse(url).map_err(|_| InstallError::BadUrl {
        what: what.to_owned(),
        url: url.to_owned(),
    })
}

fn install_npm(
    client: &Client,
    request: &InstallRequest,
    packages: &[mcpin_attestation::NpmPackage],
    tree: &Path,
) -> Result<Runtime, InstallError> {
    fs_err::create_dir_all(tree).map_err(io(tree))?;
    let limits = Limits::default();
    let unpack = |tarball: &Path, dest: &Path, what: &str| {
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent).map_err(io(parent))?;
        }
        mcpin_artifact::unpack_npm_tarball(tarball, dest, &limits).map_err(|source| {
            InstallError::Unpack {
                what: what.to_owned(),
                source,
            }
        })
    };
    let pkg = tree.join("pkg");
    // The bytes unpacked must be the bytes that were verified.
    if unpack(request.artifact, &pkg, request.file_name)?.sha256 != request.sha256() {
        return Err(InstallError::Integrity {
            what: request.file_name.to_owned(),
        });
    }
    for package in packages {
        let what = format!("{}@{} ({})", package.name, package.version, package.path);
        let checksum = sha512_checksum(&package.path, &package.integrity)?;
        let url = url_of(&what, &package.resolved)?;
        let stored =
            client
                .fetch_url(&checksum, &url)
                .map_err(|source| InstallError::Registry {
                    what: what.clone(),
                    source,
                })?;
        // The lock's path is relative to the package directory; `..` never appears in
        // npm's install paths, and a crafted one is refused here.
        let relative = Path::new(&package.path);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(InstallError::BadUrl {
                what,
                url: package.path.clone(),
            });
        }
        let digests = unpack(&stored.path, &pkg.join(relative), &what)?;
        if digests.sha512 != checksum.hex {
            return Err(InstallError::Integrity { what });
        }
    }
    Ok(Runtime::Node)
}

fn run_tool(command: &mut Command) -> Result<String, InstallError> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|error| InstallError::Tool {
        command: shown.clone(),
        stderr: error.to_string(),
    })?;
    if !output.status.success() {
        return Err(InstallError::Tool {
            command: shown,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn install_pypi(
    client: &Client,
    request: &InstallRequest,
    python_version: &str,
    packages: &[mcpin_attestation::PypiPackage],
    tree: &Path,
) -> Result<Runtime, InstallError> {
    let wheels = tree.with_file_name("wheels");
    fs_err::create_dir_all(&wheels).map_err(io(&wheels))?;
    let link = |blob: &Path, name: &str| {
        let dest = wheels.join(name);
        fs_err::hard_link(blob, &dest)
            .or_else(|_| fs_err::copy(blob, &dest).map(drop))
            .map_err(io(&dest))
    };
    link(request.artifact, request.file_name)?;
    let root_wheel = wheels.join(request.file_name);
    let file = fs_err::File::open(&root_wheel).map_err(io(&root_wheel))?;
    let digests = mcpin_artifact::digest_reader(file).map_err(io(&root_wheel))?;
    if digests.sha256 != request.sha256() {
        return Err(InstallError::Integrity {
            what: request.file_name.to_owned(),
        });
    }
    let mut requirements = Vec::new();
    for package in packages {
        let what = format!("{}=={}", package.name, package.version);
        let mut any = false;
        for file in &package.files {
            if file.kind != DistributionKind::Wheel {
                continue;
            }
            let checksum = Checksum::new(Algorithm::Sha256, &file.sha256).ok_or_else(|| {
                InstallError::BadIntegrity {
                    path: what.clone(),
                    integrity: file.sha256.clone(),
                }
            })?;
            let url = url_of(&what, &file.url)?;
            let name = url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .unwrap_or_default()
                .to_owned();
            if !name.ends_with(".whl") || name.contains('/') {
                return Err(InstallError::BadUrl {
                    what,
                    url: file.url.clone(),
                });
            }
            let stored =
                client
                    .fetch_url(&checksum, &url)
                    .map_err(|source| InstallError::Registry {
                        what: what.clone(),
                        source,
                    })?;
            link(&stored.path, &name)?;
            any = true;
        }
        if !any {
            return Err(InstallError::NoWheel { what });
        }
        requirements.push(match &package.marker {
            Some(marker) => format!("{what} ; {marker}"),
            None => what,
        });
    }
    let python = PathBuf::from(run_tool(Command::new("uv").args([
        "python",
        "find",
        "--no-project",
        python_version,
    ]))?);
    let site = tree.join("site");
    run_tool(
        Command::new("uv")
            .args(["pip", "install", "--no-deps", "--no-index", "--offline"])
            .arg("--python")
            .arg(&python)
            .arg("--target")
            .arg(&site)
            .arg("--find-links")
            .arg(&wheels)
            .arg(wheels.join(request.file_name))
            .args(&requirements)
            .env_remove("UV_INDEX_URL")
            .env_remove("UV_EXTRA_INDEX_URL"),
    )?;
    Ok(Runtime::Python { python })
}
