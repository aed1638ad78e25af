//! Installing exactly a verified package and its signed lock from the content-addressed
//! store, natively (no resolver, no installer, no project or user configuration), once, into a
//! read-only tree that is re-checked before every launch.
//!
//! npm: every lock entry's tarball is taken from the store by its sha512 integrity and
//! unpacked (no install scripts, ever) under `pkg/<install path>`, the package itself under
//! `pkg/`. PyPI ([`pypi`]): for each lock entry whose environment marker holds for the
//! interpreter, the best-ranked compatible wheel the lock names is taken from the store by its
//! sha256 and unpacked into `site/` with every file checked against its RECORD; the package's
//! own wheel likewise; mcpin writes the console scripts (`bin/<name>`) itself and compiles
//! bytecode with the pinned interpreter. sdists are never built.
//!
//! The tree a launch expects is computed from the verified archive bytes as they are
//! unpacked, so it is a function of signed data and the interpreter. The install record
//! beside the tree is a cache of it, authenticated with a per-store secret ([`record`]); the
//! interpreter is never read from it (it is resolved per launch and is part of the install
//! key). A record that does not authenticate means its tree is discarded and installed again
//! from the store ([`Installed::rebuilt`] says why); an authenticated record whose tree differs
//! is tampering, refused with `install-tampered`.
//!
//! Layout: `<store>/installs/v1/<key>/` is the tree, `<key>.json` its sealed record, `<key>` an
//! HMAC (keyed by the store secret) over the artifact's sha256, the lock digest and the
//! interpreter's path and sha256. An install is staged in `installs/v1/tmp/` (private to the
//! user), made read-only, checked against the expected manifest, and renamed into place under
//! an exclusive file lock, so concurrent first launches install once and all succeed.

mod npm;
mod pypi;
pub mod record;
mod tags;

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use fs4::FileExt;
use mcpin_attestation::{EntryPoint, Lock, LockedPackages};
use mcpin_registry_client::store;
use mcpin_registry_client::{Client, Settings};
use url::Url;

use crate::interpreter::Interpreter;
use crate::tree::{Entry, TreeError, TreeManifest, make_read_only, remove_read_only};
pub use record::{InstallRecord, SecretError, StoreSecret};

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
    #[error("`{what}`: no wheel the lock names fits {interpreter} ({files})")]
    NoCompatibleWheel {
        what: String,
        interpreter: String,
        files: String,
    },
    #[error("lock entry `{what}`: environment marker `{marker}` is invalid: {why}")]
    Marker {
        what: String,
        marker: String,
        why: String,
    },
    #[error("`{interpreter}` cannot install this package: {why}")]
    Interpreter { interpreter: PathBuf, why: String },
    #[error("compiling bytecode with `{interpreter}` failed: {why}")]
    Bytecode { interpreter: PathBuf, why: String },
    /// The staged tree is not what the verified archives produce (a file appeared, changed or
    /// went missing while installing).
    #[error("the staged install differs from what the verified archives produce: {0}")]
    Staged(TreeError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Unsafe(#[from] store::UnsafePath),
}

impl InstallError {
    /// The stable reason code for the audit record.
    pub fn code(&self) -> &'static str {
        match self {
            InstallError::Tree(TreeError::Changed { .. }) => "install-tampered",
            InstallError::Unsafe(_) | InstallError::Secret(SecretError::Unsafe(_)) => {
                "store-unsafe"
            }
            _ => "install-failed",
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The interpreter a package needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    Node,
    /// `major.minor` from the signed lock's target, or `3` for a wheel without a lock.
    Python {
        version: String,
    },
}

/// Which interpreter `file_name` (the verified artifact) with `lock` runs on.
pub fn runtime_for(file_name: &str, lock: Option<&Lock>) -> Runtime {
    match lock.map(|lock| &lock.packages) {
        Some(LockedPackages::Pypi { target, .. }) => Runtime::Python {
            version: target.python_version.clone(),
        },
        Some(LockedPackages::Npm { .. }) => Runtime::Node,
        None if file_name.ends_with(".whl") => Runtime::Python {
            version: "3".into(),
        },
        None => Runtime::Node,
    }
}

/// What an install is for: the verified artifact, the lock its statement signs, and the
/// interpreter resolved for this launch.
#[derive(Debug)]
pub struct InstallRequest<'a> {
    /// The artifact's blob in the store; its bytes are re-checked against the verified digest.
    pub artifact: &'a Path,
    /// The artifact's published file name (wheels need theirs).
    pub file_name: &'a str,
    /// What the judge verified: the artifact's digest and the signed lock to install. Only
    /// the verifier can build one, so the lock installed is the lock judged.
    pub package: &'a mcpin_verifier::VerifiedPackage,
    pub interpreter: &'a Interpreter,
}

impl InstallRequest<'_> {
    pub(crate) fn sha256(&self) -> &str {
        &self.package.digests().sha256
    }

    /// The signed lock, or `None` for a package without dependencies.
    pub(crate) fn lock(&self) -> Option<&Lock> {
        self.package.lock()
    }
}

/// A checked install: the tree matched its authenticated record just now.
#[derive(Debug)]
pub struct Installed {
    pub root: PathBuf,
    /// The tree digest (recorded, and just recomputed).
    pub tree_digest: String,
    /// Whether this call created it.
    pub created: bool,
    /// Why a previous install under the same key was discarded and installed again (its
    /// record did not authenticate), if it was.
    pub rebuilt: Option<String>,
    /// The interpreter the tree was installed for and is launched with.
    pub interpreter: Interpreter,
    tree: TreeManifest,
}

/// An entry point that does not lead into the installed tree. Stable code
/// `entry-point-outside-tree`.
#[derive(Debug, thiserror::Error)]
#[error("entry point `{name}` = `{target}` {why} [entry-point-outside-tree]")]
pub struct EntryPointError {
    pub name: String,
    pub target: String,
    pub why: String,
}

impl Installed {
    /// The command that starts `entry`: `node <tree>/pkg/<bin>` or
    /// `python -I -S -B <tree>/bin/<console script>`, then `args`.
    ///
    /// `-I -S`: no `PYTHON*` variables, no user site, no `site` (the interpreter's own
    /// site-packages and its `.pth` files stay out; the console script adds the tree's `site/`
    /// itself). `-B`: the bytecode compiled at install is read, never written, so a module the
    /// compiler skipped cannot make Python (running as root, which read-only bits do not stop)
    /// write into the verified tree.
    pub fn command(
        &self,
        entry: &EntryPoint,
        args: impl IntoIterator<Item = OsString>,
    ) -> Result<(PathBuf, Vec<OsString>), EntryPointError> {
        let refuse = |why: String| EntryPointError {
            name: entry.name.clone(),
            target: entry.target.clone(),
            why,
        };
        let script = match self.interpreter.python {
            None => {
                let relative = enclosed(&entry.target)
                    .ok_or_else(|| refuse("points outside the package directory".into()))?;
                format!("pkg/{relative}")
            }
            Some(_) => format!("bin/{}", entry.name),
        };
        if !self
            .tree
            .entries
            .iter()
            .any(|(path, e)| *path == script && matches!(e, Entry::File { .. }))
        {
            return Err(refuse(format!(
                "has no file `{script}` in the installed tree"
            )));
        }
        let mut argv: Vec<OsString> = match self.interpreter.python {
            None => Vec::new(),
            Some(_) => ["-I", "-S", "-B"].map(OsString::from).to_vec(),
        };
        argv.push(self.root.join(&script).into_os_string());
        argv.extend(args);
        Ok((self.interpreter.path.clone(), argv))
    }
}

/// `target` (relative to a package directory) with `.` removed, if it stays inside.
fn enclosed(target: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(target).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// `<store>/installs/v1`.
pub fn installs_dir(store: &Path) -> PathBuf {
    store.join("installs").join("v1")
}

enum Found {
    Valid(Box<Installed>),
    /// The record does not authenticate or does not fit: why.
    Invalid(String),
}

/// Returns the verified install for `request`, creating it first if needed (or again, when
/// its record does not authenticate). The tree is re-checked against the authenticated
/// record every time; a change fails with [`TreeError::Changed`] (`install-tampered`).
pub fn ensure_installed(
    registry: &Settings,
    request: &InstallRequest,
) -> Result<Installed, InstallError> {
    let owner = &registry.owner;
    let secret = StoreSecret::open_or_create(&registry.store, owner)?;
    let base = installs_dir(&registry.store);
    let tmp = base.join("tmp");
    let locks = base.join("locks");
    for dir in [&tmp, &locks] {
        store::create_private_dir_all(dir).map_err(io(dir))?;
    }
    for dir in [base.parent().unwrap_or(&base), &base, &tmp, &locks] {
        store::check_not_shared(dir, owner)?;
    }
    let lock_digest = request
        .lock()
        .map_or_else(|| "none".to_owned(), Lock::digest);
    let key = secret.install_key(request.sha256(), &lock_digest, request.interpreter);
    let root = base.join(&key);
    let record_path = base.join(format!("{key}.json"));
    let expect = Expected {
        key: &key,
        request,
        lock_digest: &lock_digest,
        secret: &secret,
    };
    if root.is_dir()
        && let Found::Valid(installed) = expect.check(&root, &record_path)?
    {
        return Ok(*installed);
    }
    let lock_path = locks.join(format!("{key}.lock"));
    let lock_file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    FileExt::lock(lock_file.file()).map_err(io(&lock_path))?;
    let staging = tempfile::Builder::new()
        .prefix("install-")
        .tempdir_in(&tmp)
        .map_err(io(&tmp))?;
    // Another process may have installed it while we waited, or the record is not ours.
    let mut rebuilt = None;
    if root.is_dir() {
        match expect.check(&root, &record_path)? {
            Found::Valid(installed) => return Ok(*installed),
            Found::Invalid(why) => {
                let discarded = staging.path().join("discarded");
                fs_err::rename(&root, &discarded).map_err(io(&root))?;
                remove_read_only(&discarded)?;
                rebuilt = Some(why);
            }
        }
    }
    let tree = staging.path().join("tree");
    fs_err::create_dir(&tree).map_err(io(&tree))?;
    // Built only here: a warm launch never needs the network (or its TLS roots).
    let client = Client::new(registry.clone()).map_err(|source| InstallError::Registry {
        what: "the registry client".to_owned(),
        source,
    })?;
    let entries = match request.lock().map(|lock| &lock.packages) {
        Some(LockedPackages::Pypi { target, packages }) => {
            pypi::install(&client, request, Some(target), packages, &tree)?
        }
        Some(LockedPackages::Npm { packages }) => npm::install(&client, request, packages, &tree)?,
        None if request.file_name.ends_with(".whl") => {
            pypi::install(&client, request, None, &[], &tree)?
        }
        None => npm::install(&client, request, &[], &tree)?,
    };
    let expected = TreeManifest::from_entries(entries);
    make_read_only(&tree)?;
    expected.verify(&tree).map_err(InstallError::Staged)?;
    let record = InstallRecord {
        key: key.clone(),
        artifact_sha256: request.sha256().to_owned(),
        lock_digest,
        interpreter_path: request.interpreter.path.clone(),
        interpreter_sha256: request.interpreter.sha256.clone(),
        tree: expected,
    };
    mcpin_artifact::write_atomic(&record_path, &secret.seal(&record), 0o644)
        .map_err(io(&record_path))?;
    // The rename of the tree is the commit point: a tree in place always has its record.
    fs_err::rename(&tree, &root).map_err(io(&root))?;
    drop(lock_file);
    Ok(Installed {
        root,
        tree_digest: record.tree.digest.clone(),
        created: true,
        rebuilt,
        interpreter: request.interpreter.clone(),
        tree: record.tree,
    })
}

/// What the record of one install key must say.
struct Expected<'a> {
    key: &'a str,
    request: &'a InstallRequest<'a>,
    lock_digest: &'a str,
    secret: &'a StoreSecret,
}

impl Expected<'_> {
    fn check(&self, root: &Path, record_path: &Path) -> Result<Found, InstallError> {
        let bytes = match fs_err::read(record_path) {
            Ok(bytes) => bytes,
            Err(error) => return Ok(Found::Invalid(format!("its record is unreadable: {error}"))),
        };
        let record = match self.secret.open(&bytes) {
            Ok(record) => record,
            Err(why) => return Ok(Found::Invalid(format!("its record {why}"))),
        };
        let request = self.request;
        if record.key != self.key
            || record.artifact_sha256 != request.sha256()
            || record.lock_digest != self.lock_digest
            || record.interpreter_path != request.interpreter.path
            || record.interpreter_sha256 != request.interpreter.sha256
        {
            return Ok(Found::Invalid(
                "its record is for another artifact, lock or interpreter".into(),
            ));
        }
        // The digest covers every entry, so equal digests mean an identical tree.
        if TreeManifest::compute(root)?.digest != record.tree.digest {
            record.tree.verify(root)?;
        }
        Ok(Found::Valid(Box::new(Installed {
            root: root.to_owned(),
            tree_digest: record.tree.digest.clone(),
            created: false,
            rebuilt: None,
            interpreter: request.interpreter.clone(),
            tree: record.tree,
        })))
    }
}

fn url_of(what: &str, url: &str) -> Result<Url, InstallError> {
    Url::parse(url).map_err(|_| InstallError::BadUrl {
        what: what.to_owned(),
        url: url.to_owned(),
    })
}

/// The files an unpack wrote, as manifest entries under `prefix`.
fn entries_of(
    prefix: &str,
    files: Vec<mcpin_artifact::UnpackedFile>,
) -> impl Iterator<Item = (String, Entry)> + '_ {
    files.into_iter().map(move |file| {
        (
            format!("{prefix}{}", file.path),
            Entry::file(file.size, file.sha256, file.executable),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpreter::{Origin, Tool};

    fn installed(python: bool, files: &[&str]) -> Installed {
        Installed {
            root: "/store/installs/v1/k".into(),
            tree_digest: String::new(),
            created: false,
            rebuilt: None,
            interpreter: Interpreter {
                tool: if python { Tool::Python } else { Tool::Node },
                path: "/usr/bin/interp".into(),
                sha256: "0".repeat(64),
                origin: Origin::Path,
                python: python.then(|| {
                    serde_json::from_value(serde_json::json!({
                        "version": "3.11", "implementation_name": "cpython",
                        "implementation_version": "3.11.2", "os_name": "posix",
                        "platform_machine": "x86_64", "platform_python_implementation": "CPython",
                        "platform_release": "", "platform_system": "Linux", "platform_version": "",
                        "python_full_version": "3.11.2", "python_version": "3.11",
                        "sys_platform": "linux", "cache_tag": "cpython-311", "glibc": "2.36",
                        "free_threaded": false, "platform": "linux-x86_64", "pointer_bits": 64
                    }))
                    .unwrap()
                }),
            },
            tree: TreeManifest::from_entries(
                files
                    .iter()
                    .map(|f| ((*f).to_owned(), Entry::file(0, String::new(), false))),
            ),
        }
    }

    fn entry(name: &str, target: &str) -> EntryPoint {
        EntryPoint {
            name: name.into(),
            target: target.into(),
        }
    }

    #[test]
    fn a_bin_outside_the_installed_tree_is_refused() {
        let npm = installed(false, &["pkg/dist/index.js", "evil.js"]);
        let (program, args) = npm
            .command(&entry("srv", "./dist/index.js"), [OsString::from("--x")])
            .unwrap();
        assert_eq!(program, Path::new("/usr/bin/interp"));
        assert_eq!(
            args,
            ["/store/installs/v1/k/pkg/dist/index.js", "--x"].map(OsString::from)
        );
        for target in ["../evil.js", "/etc/passwd", "dist/missing.js", "dist"] {
            let error = npm.command(&entry("srv", target), []).unwrap_err();
            assert!(
                error.to_string().contains("[entry-point-outside-tree]"),
                "{error}"
            );
        }
        let python = installed(true, &["bin/srv", "site/srv/__init__.py"]);
        let (_, args) = python.command(&entry("srv", "srv:main"), []).unwrap();
        assert_eq!(
            args,
            ["-I", "-S", "-B", "/store/installs/v1/k/bin/srv"].map(OsString::from)
        );
        // A console script mcpin did not write (an unsafe name or target) is not run.
        assert!(python.command(&entry("other", "os:system"), []).is_err());
    }

    #[test]
    fn entry_targets_must_stay_in_the_package() {
        assert_eq!(
            enclosed("./dist/index.js").as_deref(),
            Some("dist/index.js")
        );
        assert_eq!(enclosed("bin/../dist/x.js").as_deref(), Some("dist/x.js"));
        assert_eq!(enclosed("../../evil.js"), None);
        assert_eq!(enclosed("/usr/bin/evil"), None);
        assert_eq!(enclosed("."), None);
    }
}
