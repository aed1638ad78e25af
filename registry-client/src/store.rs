//! The content-addressed store shared by every mcpin command.
//!
//! Layout under the store root (versioned so a future layout can live beside it):
//!
//! ```text
//! v1/sha256/<hex>           artifact bytes, read-only, named by their sha256
//! v1/alias/<alg>/<hex>      sha512 / sha1 digest -> sha256 hex of a stored blob
//! v1/refs/<hex>.json        what a resolved spec (registry, name, version) pinned
//! v1/provenance/<hex>/      what the registry published about how that blob was built
//! v1/locks/<alg>-<hex>.lock one lock file per digest being downloaded
//! v1/tmp/                   downloads in progress (deleted on success or failure)
//! ```
//!
//! A download streams into a temporary file in `v1/tmp`, is hashed while
//! streaming, and is renamed into `v1/sha256/` only when the digest matches.
//! Concurrent processes take the digest's lock first, so one downloads and the
//! others find the finished blob. A crash leaves at most a file in `v1/tmp`,
//! which nothing reads (`mcpin store gc` removes it). A blob found in the store
//! is hashed again before it is handed out.
//!
//! What is in the store decides what runs, so it is opened only when nobody but its user
//! (or root) can change it, as ssh treats `~/.ssh`: see [`check_private_dir`].

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;
use mcpin_artifact::HashingReader;
use serde::{Deserialize, Serialize};
use sha1::Digest as _;

use crate::Error;

/// A digest algorithm a registry publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha256,
    Sha512,
    /// Legacy npm `shasum`; accepted only when explicitly allowed.
    Sha1,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Sha1 => "sha1",
        }
    }
}

/// An expected digest: the algorithm and lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: Algorithm,
    pub hex: String,
}

impl Checksum {
    /// A checksum from hex, rejecting anything that is not hex of the right length.
    pub fn new(algorithm: Algorithm, hex: &str) -> Option<Checksum> {
        let len = match algorithm {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
            Algorithm::Sha1 => 40,
        };
        let hex = hex.to_ascii_lowercase();
        (hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(Checksum { algorithm, hex })
    }

    /// The actual digest when `digests` (and the blob's `sha1`) do not match this checksum.
    fn matches(&self, digests: &Digests, sha1: &str) -> Option<String> {
        let actual = match self.algorithm {
            Algorithm::Sha256 => digests.sha256.as_str(),
            Algorithm::Sha512 => digests.sha512.as_str(),
            Algorithm::Sha1 => sha1,
        };
        (actual != self.hex).then(|| actual.to_owned())
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

/// The size and digests of a blob's exact bytes (one definition, the artifact crate's).
pub use mcpin_artifact::Digests;

/// A blob in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    /// `v1/sha256/<hex>` under the store root.
    pub path: PathBuf,
    #[serde(flatten)]
    pub digests: Digests,
    /// Whether this call downloaded the bytes (false: they were in the store).
    pub downloaded: bool,
}

/// What a resolved spec pinned, kept so offline mode and `store ls` can name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefRecord {
    /// `<ecosystem> <registry> <name> <version-or-tag>`: what was asked.
    pub key: String,
    pub ecosystem: String,
    pub registry: String,
    pub name: String,
    pub version: String,
    pub file_name: String,
    /// Where the bytes came from (redacted).
    pub url: String,
    pub sha256: String,
    pub sha512: String,
    pub size: u64,
    /// OCI: the digest of the image index the pinned manifest was chosen from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// OCI: the config and layer blobs (sha256 hex) the manifest needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<String>,
}

/// One problem `Store::verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Corrupt {
    pub path: PathBuf,
    pub reason: String,
}

/// What `Store::gc` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    pub temp_files: usize,
    pub refs: usize,
    pub blobs: usize,
    pub bytes: u64,
}

/// A content-addressed store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

const LAYOUT: &str = "v1";

impl Store {
    /// Opens (creating if needed) the store at `root`, for the current user: refused with
    /// [`Error::Unsafe`] unless [`check_private_dir`] passes for it.
    pub fn open(root: &Path) -> Result<Store, Error> {
        Store::open_for(root, &Owner::current())
    }

    /// [`Store::open`] for `owner`.
    pub fn open_for(root: &Path, owner: &Owner) -> Result<Store, Error> {
        let store = Store {
            root: root.to_owned(),
        };
        for dir in [
            "sha256",
            "alias/sha512",
            "alias/sha1",
            "refs",
            "provenance",
            "locks",
            "tmp",
        ] {
            let path = store.layout().join(dir);
            create_private_dir_all(&path).map_err(|e| Error::store(&path, e))?;
        }
        check_private_dir(root, owner)?;
        for dir in [
            "",
            "sha256",
            "refs",
            "provenance",
            "alias",
            "alias/sha512",
            "alias/sha1",
        ] {
            check_not_shared(&store.layout().join(dir), owner)?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn layout(&self) -> PathBuf {
        self.root.join(LAYOUT)
    }

    /// Where the blob with this sha256 lives (whether or not it is there).
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.layout().join("sha256").join(sha256)
    }

    fn alias_path(&self, checksum: &Checksum) -> PathBuf {
        self.layout()
            .join("alias")
            .join(checksum.algorithm.as_str())
            .join(&checksum.hex)
    }

    /// The stored blob with this digest, hashed again to prove it; `None` when
    /// absent or when its bytes no longer match (a corrupt blob is never served).
    pub fn find(&self, checksum: &Checksum) -> Result<Option<Stored>, Error> {
        let sha256 = match checksum.algorithm {
            Algorithm::Sha256 => checksum.hex.clone(),
            _ => match fs_err::read_to_string(self.alias_path(checksum)) {
                Ok(sha256) => sha256.trim().to_owned(),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(Error::store(self.alias_path(checksum), error)),
            },
        };
        let path = self.blob_path(&sha256);
        let file = match fs_err::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::store(&path, error)),
        };
        let (digests, sha1) = hash(file).map_err(|e| Error::store(&path, e))?;
        if digests.sha256 != sha256 || checksum.matches(&digests, &sha1).is_some() {
            return Ok(None);
        }
        Ok(Some(Stored {
            path,
            digests,
            downloaded: false,
        }))
    }

    /// Returns the blob with digest `expected`, downloading it with `open` when
    /// the store lacks it. Holds the digest's lock while downloading so
    /// concurrent callers download once. `url` names the source in errors.
    pub fn fetch(
        &self,
        expected: &Checksum,
        url: &str,
        open: impl FnOnce() -> Result<Box<dyn Read>, Error>,
    ) -> Result<Stored, Error> {
        if let Some(stored) = self.find(expected)? {
            return Ok(stored);
        }
        let lock_path = self.layout().join("locks").join(format!(
            "{}-{}.lock",
            expected.algorithm.as_str(),
            expected.hex
        ));
        let lock = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::store(&lock_path, e))?;
        FileExt::lock(lock.file()).map_err(|e| Error::store(&lock_path, e))?;
        // Someone else may have finished while we waited for the lock.
        if let Some(stored) = self.find(expected)? {
            return Ok(stored);
        }
        let reader = open()?;
        let stored = self.commit(expected, url, reader);
        // The lock is released when `lock` is closed (also if the process dies).
        drop(lock);
        stored
    }

    /// Streams `reader` into a temporary file, hashing as it goes, and moves it
    /// into place only if it matches `expected`.
    fn commit(
        &self,
        expected: &Checksum,
        url: &str,
        reader: Box<dyn Read>,
    ) -> Result<Stored, Error> {
        let tmp_dir = self.layout().join("tmp");
        let mut tmp = tempfile::Builder::new()
            .prefix("download-")
            .tempfile_in(&tmp_dir)
            .map_err(|e| Error::store(&tmp_dir, e))?;
        let mut hashing = Sha1Reader::new(HashingReader::new(reader));
        // Copy by hand to tell a failing source (network) from a failing store (disk).
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let n = match hashing.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Interrupted {
                        url: url.to_owned(),
                        source,
                    });
                }
            };
            tmp.as_file_mut()
                .write_all(&buffer[..n])
                .map_err(|e| Error::store(tmp.path(), e))?;
        }
        let (inner, sha1) = hashing.finish();
        let digests = inner.finish().map_err(|e| Error::store(tmp.path(), e))?;
        if let Some(actual) = expected.matches(&digests, &sha1) {
            // `tmp` is deleted on drop: nothing of the bad download stays.
            return Err(Error::IntegrityMismatch {
                url: url.to_owned(),
                algorithm: expected.algorithm.as_str(),
                expected: expected.hex.clone(),
                actual,
            });
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::store(tmp.path(), e))?;
        set_read_only(tmp.as_file()).map_err(|e| Error::store(tmp.path(), e))?;
        let path = self.blob_path(&digests.sha256);
        tmp.persist(&path)
            .map_err(|e| Error::store(&path, e.error))?;
        for alias in [
            Checksum {
                algorithm: Algorithm::Sha512,
                hex: digests.sha512.clone(),
            },
            Checksum {
                algorithm: Algorithm::Sha1,
                hex: sha1,
            },
        ] {
            self.write_atomic(&self.alias_path(&alias), digests.sha256.as_bytes())?;
        }
        Ok(Stored {
            path,
            digests,
            downloaded: true,
        })
    }

    /// Stores bytes already in memory (e.g. an OCI manifest) under `expected`.
    pub fn insert(&self, expected: &Checksum, url: &str, bytes: Vec<u8>) -> Result<Stored, Error> {
        self.fetch(expected, url, || Ok(Box::new(io::Cursor::new(bytes))))
    }

    /// Refs and aliases name public packages and hold no credentials; they are readable by
    /// everyone so that a root-owned system store serves every user.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        mcpin_artifact::write_atomic(path, bytes, 0o644).map_err(|e| Error::store(path, e))
    }

    /// `v1/provenance/<sha256>/<document>`: a registry provenance document kept beside the
    /// blob it speaks about. `sha256` must be 64 hex digits, `document` a plain name.
    fn provenance_path(&self, sha256: &str, document: &str) -> Result<PathBuf, Error> {
        let plain = !document.is_empty()
            && !document.contains(['/', '\\', '\0'])
            && !document.starts_with('.');
        if Checksum::new(Algorithm::Sha256, sha256).is_none() || !plain {
            return Err(Error::Unsupported(format!(
                "provenance document `{document}` for `{sha256}`"
            )));
        }
        Ok(self.layout().join("provenance").join(sha256).join(document))
    }

    /// The registry provenance `document` stored for the blob `sha256`, if any (read under
    /// the attestation size limit).
    pub fn provenance(&self, sha256: &str, document: &str) -> Result<Option<Vec<u8>>, Error> {
        let path = self.provenance_path(sha256, document)?;
        if !path.exists() {
            return Ok(None);
        }
        crate::attestations::read_file(&path, crate::attestations::FileKind::Bundle)
            .map(|file| Some(file.bytes))
    }

    /// Keeps a registry provenance `document` for the blob `sha256` (atomically).
    pub fn put_provenance(&self, sha256: &str, document: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.provenance_path(sha256, document)?;
        let dir = path.parent().expect("a provenance path has a directory");
        create_private_dir_all(dir).map_err(|e| Error::store(dir, e))?;
        self.write_atomic(&path, bytes)
    }

    fn ref_path(&self, key: &str) -> PathBuf {
        let name = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        self.layout().join("refs").join(format!("{name}.json"))
    }

    /// Records what a spec resolved to.
    pub fn put_ref(&self, record: &RefRecord) -> Result<(), Error> {
        let path = self.ref_path(&record.key);
        let json = serde_json::to_vec_pretty(record).expect("a RefRecord serializes");
        self.write_atomic(&path, &json)
    }

    /// What `key` resolved to when last fetched, if recorded.
    pub fn get_ref(&self, key: &str) -> Result<Option<RefRecord>, Error> {
        read_ref(&self.ref_path(key))
    }

    /// Every recorded ref, sorted by key.
    pub fn refs(&self) -> Result<Vec<RefRecord>, Error> {
        let dir = self.layout().join("refs");
        let mut refs = Vec::new();
        for entry in fs_err::read_dir(&dir).map_err(|e| Error::store(&dir, e))? {
            let path = entry.map_err(|e| Error::store(&dir, e))?.path();
            if path.extension().is_some_and(|ext| ext == "json")
                && let Some(record) = read_ref(&path)?
            {
                refs.push(record);
            }
        }
        refs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(refs)
    }

    fn blobs(&self) -> Result<Vec<(String, PathBuf)>, Error> {
        let dir = self.layout().join("sha256");
        let mut blobs = Vec::new();
        for entry in fs_err::read_dir(&dir).map_err(|e| Error::store(&dir, e))? {
            let entry = entry.map_err(|e| Error::store(&dir, e))?;
            blobs.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
        blobs.sort();
        Ok(blobs)
    }

    /// Hashes every blob again and checks every alias and ref. Returns what is wrong.
    pub fn verify(&self) -> Result<Vec<Corrupt>, Error> {
        let mut corrupt = Vec::new();
        for (name, path) in self.blobs()? {
            let file = fs_err::File::open(&path).map_err(|e| Error::store(&path, e))?;
            let (digests, _) = hash(file).map_err(|e| Error::store(&path, e))?;
            if digests.sha256 != name {
                corrupt.push(Corrupt {
                    path,
                    reason: format!("content hashes to sha256:{}", digests.sha256),
                });
            }
        }
        for record in self.refs()? {
            for sha256 in std::iter::once(&record.sha256).chain(&record.blobs) {
                if !self.blob_path(sha256).exists() {
                    corrupt.push(Corrupt {
                        path: self.ref_path(&record.key),
                        reason: format!("{} names sha256:{sha256}, which is missing", record.key),
                    });
                }
            }
        }
        Ok(corrupt)
    }

    /// Removes leftovers of interrupted downloads and refs whose blobs are gone;
    /// with `unreferenced`, also blobs no ref names. Skips downloads in progress.
    pub fn gc(&self, unreferenced: bool) -> Result<GcReport, Error> {
        let mut report = GcReport::default();
        let tmp_dir = self.layout().join("tmp");
        // A temp file is in use only while its digest's lock is held; take every
        // lock we can, and remove temp files only when no download holds one.
        let locks_dir = self.layout().join("locks");
        let mut held = Vec::new();
        let mut busy = false;
        for entry in fs_err::read_dir(&locks_dir).map_err(|e| Error::store(&locks_dir, e))? {
            let path = entry.map_err(|e| Error::store(&locks_dir, e))?.path();
            let file = fs_err::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| Error::store(&path, e))?;
            match FileExt::try_lock(file.file()) {
                Ok(()) => held.push(file),
                Err(_) => busy = true,
            }
        }
        if !busy {
            for entry in fs_err::read_dir(&tmp_dir).map_err(|e| Error::store(&tmp_dir, e))? {
                let path = entry.map_err(|e| Error::store(&tmp_dir, e))?.path();
                report.bytes += fs_err::metadata(&path).map(|m| m.len()).unwrap_or(0);
                fs_err::remove_file(&path).map_err(|e| Error::store(&path, e))?;
                report.temp_files += 1;
            }
        }
        let mut named = std::collections::BTreeSet::new();
        for record in self.refs()? {
            let blobs: Vec<&String> = std::iter::once(&record.sha256)
                .chain(&record.blobs)
                .collect();
            if blobs.iter().all(|sha256| self.blob_path(sha256).exists()) {
                named.extend(blobs.into_iter().cloned());
            } else {
                let path = self.ref_path(&record.key);
                fs_err::remove_file(&path).map_err(|e| Error::store(&path, e))?;
                report.refs += 1;
            }
        }
        if unreferenced && !busy {
            for (name, path) in self.blobs()? {
                if !named.contains(&name) {
                    report.bytes += fs_err::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    fs_err::remove_file(&path).map_err(|e| Error::store(&path, e))?;
                    report.blobs += 1;
                }
            }
        }
        drop(held);
        Ok(report)
    }
}

/// The user a store must belong to, and where their home is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    /// Ancestors are checked up to here when the store is below it, else up to `/`.
    pub home: Option<PathBuf>,
    /// The system store (system mode): root's, filled by a privileged `mcpin install`, read by
    /// every user. Its files are readable by all; only root may write them.
    pub system: bool,
}

impl Owner {
    /// The real user of this process and `$HOME`.
    pub fn current() -> Owner {
        Owner {
            #[cfg(unix)]
            uid: rustix::process::getuid().as_raw(),
            #[cfg(not(unix))]
            uid: 0,
            home: std::env::var_os("HOME")
                .filter(|home| !home.is_empty())
                .map(PathBuf::from),
            system: false,
        }
    }

    /// The system store's owner: root.
    pub fn system() -> Owner {
        Owner {
            uid: 0,
            home: None,
            system: true,
        }
    }
}

/// A store path someone other than its user could change. Stable code `store-unsafe`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the store {store} is not safe to use: `{path}` {why} [store-unsafe]; fix: {fix}")]
pub struct UnsafePath {
    /// The store (or store file) that was refused.
    pub store: PathBuf,
    /// The directory or file at fault.
    pub path: PathBuf,
    pub why: String,
    pub fix: String,
}

/// Creates `path` and missing parents as `0o755` directories (whatever the umask adds,
/// never group- or other-writable).
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o755);
    }
    builder.create(path)
}

/// ssh's rule, for a store directory: `dir` and every directory above it, up to `$HOME`
/// when it is below it (else up to `/`), must be owned by `owner` or root and writable by
/// nobody else. A root-owned sticky directory such as `/tmp` is accepted above the store
/// (others cannot rename or remove what they do not own in it), but not when the store path
/// goes through a symlink: a symlink into a shared directory is how a store ends up where
/// another user can wait for its target to disappear and create their own.
pub fn check_private_dir(dir: &Path, owner: &Owner) -> Result<(), UnsafePath> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let refuse = |path: &Path, why: String, fix: String| UnsafePath {
            store: dir.to_owned(),
            path: path.to_owned(),
            why,
            fix,
        };
        let given = std::path::absolute(dir)
            .map_err(|e| refuse(dir, format!("cannot be resolved ({e})"), String::new()))?;
        let real = fs_err::canonicalize(&given)
            .map_err(|e| refuse(dir, format!("cannot be resolved ({e})"), String::new()))?;
        let via_symlink = real != normalize(&given);
        let home = owner
            .home
            .as_deref()
            .and_then(|home| fs_err::canonicalize(home).ok())
            .filter(|home| real.starts_with(home));
        for path in real.ancestors() {
            let meta = fs_err::metadata(path)
                .map_err(|e| refuse(path, format!("cannot be read ({e})"), String::new()))?;
            if meta.uid() != owner.uid && meta.uid() != 0 {
                return Err(refuse(
                    path,
                    format!(
                        "is owned by uid {}, not by you (uid {}) or root",
                        meta.uid(),
                        owner.uid
                    ),
                    format!(
                        "use a store in a directory you own (--store / MCPIN_STORE), or `chown {} {}`",
                        owner.uid,
                        path.display()
                    ),
                ));
            }
            if meta.mode() & 0o022 != 0 {
                let shared_tmp = path != real && meta.mode() & 0o1000 != 0 && meta.uid() == 0;
                if via_symlink && path != real {
                    return Err(refuse(
                        path,
                        format!(
                            "is writable by others, and the store path {} is a symlink into it",
                            dir.display()
                        ),
                        "point the store (--store / MCPIN_STORE) at a directory only you can write, not a symlink into a shared one".into(),
                    ));
                }
                if !shared_tmp {
                    return Err(refuse(
                        path,
                        format!(
                            "is writable by group or others (mode {:o})",
                            meta.mode() & 0o7777
                        ),
                        format!("`chmod go-w {}`", path.display()),
                    ));
                }
            }
            if Some(path) == home.as_deref() {
                break;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, owner);
    Ok(())
}

/// A directory inside a checked store: owned by `owner` or root and writable by nobody else.
pub fn check_not_shared(path: &Path, owner: &Owner) -> Result<(), UnsafePath> {
    check_one(path, owner, 0o022, "`chmod go-w")
}

/// A secret file: a regular file owned by `owner` that nobody else can read or write. In the
/// system store, where every user must read it and only root can write the store, nobody else
/// may write it.
pub fn check_private_file(path: &Path, owner: &Owner) -> Result<(), UnsafePath> {
    if owner.system {
        return check_one(path, owner, 0o022, "`chmod go-w");
    }
    check_one(path, owner, 0o077, "`chmod go-rwx")
}

fn check_one(path: &Path, owner: &Owner, forbidden: u32, fix: &str) -> Result<(), UnsafePath> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let refuse = |why: String, fix: String| UnsafePath {
            store: path.to_owned(),
            path: path.to_owned(),
            why,
            fix,
        };
        let meta = fs_err::symlink_metadata(path)
            .map_err(|e| refuse(format!("cannot be read ({e})"), String::new()))?;
        if meta.file_type().is_symlink() {
            return Err(refuse(
                "is a symlink".into(),
                format!("remove `{}`; mcpin recreates it", path.display()),
            ));
        }
        if meta.uid() != owner.uid && meta.uid() != 0 {
            return Err(refuse(
                format!(
                    "is owned by uid {}, not by you (uid {})",
                    meta.uid(),
                    owner.uid
                ),
                format!("`chown {} {}`", owner.uid, path.display()),
            ));
        }
        if meta.mode() & forbidden != 0 {
            return Err(refuse(
                format!("has mode {:o}", meta.mode() & 0o7777),
                format!("{fix} {}`", path.display()),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, owner, forbidden, fix);
    Ok(())
}

/// `path` with `.` and `..` removed lexically (it is absolute).
#[cfg(unix)]
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn read_ref(path: &Path) -> Result<Option<RefRecord>, Error> {
    match fs_err::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::store(path, io::Error::new(io::ErrorKind::InvalidData, e))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::store(path, error)),
    }
}

/// The digests of a stored blob, and its sha1 (checked against npm `shasum`s, never kept).
fn hash(reader: impl Read) -> io::Result<(Digests, String)> {
    let mut hashing = Sha1Reader::new(HashingReader::new(reader));
    io::copy(&mut hashing, &mut io::sink())?;
    let (inner, sha1) = hashing.finish();
    Ok((inner.finish()?, sha1))
}

#[cfg(unix)]
fn set_read_only(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o444))
}

#[cfg(not(unix))]
fn set_read_only(file: &std::fs::File) -> io::Result<()> {
    let mut permissions = file.metadata()?.permissions();
    permissions.set_readonly(true);
    file.set_permissions(permissions)
}

/// Adds sha1 (for legacy npm `shasum` checks) to the sha256/sha512 hashing reader.
struct Sha1Reader<R> {
    inner: R,
    sha1: sha1::Sha1,
}

impl<R: Read> Sha1Reader<R> {
    fn new(inner: R) -> Self {
        Sha1Reader {
            inner,
            sha1: sha1::Sha1::new(),
        }
    }

    fn finish(self) -> (R, String) {
        (self.inner, hex::encode(self.sha1.finalize()))
    }
}

impl<R: Read> Read for Sha1Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha1.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256_of(bytes: &[u8]) -> Checksum {
        Checksum::new(Algorithm::Sha256, &hex::encode(sha2::Sha256::digest(bytes))).unwrap()
    }

    #[test]
    fn stores_matching_bytes_and_refuses_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let expected = sha256_of(b"hello");
        let stored = store
            .insert(&expected, "test://hello", b"hello".to_vec())
            .unwrap();
        assert!(stored.downloaded);
        assert_eq!(fs_err::read(&stored.path).unwrap(), b"hello");
        let again = store
            .insert(&expected, "test://hello", b"ignored".to_vec())
            .unwrap();
        assert!(!again.downloaded);

        let other = sha256_of(b"other");
        let error = store
            .insert(&other, "test://other", b"lies".to_vec())
            .unwrap_err();
        assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error}");
        assert!(!store.blob_path(&other.hex).exists());
        assert_eq!(
            fs_err::read_dir(dir.path().join("v1/tmp")).unwrap().count(),
            0
        );
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_store_others_can_write_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let owner = Owner {
            home: Some(dir.path().to_owned()),
            ..Owner::current()
        };
        let root = dir.path().join("store");
        Store::open_for(&root, &owner).unwrap();
        chmod(&root, 0o775);
        let error = Store::open_for(&root, &owner).unwrap_err();
        let Error::Unsafe(unsafe_path) = &error else {
            panic!("{error}")
        };
        assert_eq!(unsafe_path.path, root);
        assert!(error.to_string().contains("chmod go-w"), "{error}");
        assert!(error.to_string().contains("[store-unsafe]"), "{error}");
        chmod(&root, 0o755);
        // A writable parent below $HOME is refused too; above $HOME it is not looked at.
        chmod(dir.path(), 0o777);
        let error = Store::open_for(&root, &owner).unwrap_err();
        assert!(
            error.to_string().contains("writable by group or others"),
            "{error}"
        );
        let inner_home = Owner {
            home: Some(root.clone()),
            ..owner.clone()
        };
        Store::open_for(&root, &inner_home).unwrap();
        chmod(dir.path(), 0o700);
        // A directory inside the layout.
        chmod(&root.join("v1/sha256"), 0o777);
        assert!(matches!(
            Store::open_for(&root, &owner),
            Err(Error::Unsafe(_))
        ));
        chmod(&root.join("v1/sha256"), 0o755);
        Store::open_for(&root, &owner).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_store_owned_by_someone_else_or_symlinked_into_a_shared_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let me = Owner::current();
        let root = dir.path().join("store");
        Store::open_for(&root, &me).unwrap();
        // Root may own what a user's store sits in, so as root, give the store away instead.
        let error = if me.uid == 0 {
            std::os::unix::fs::chown(&root, Some(4242), None).unwrap();
            let error = Store::open_for(&root, &me).unwrap_err();
            std::os::unix::fs::chown(&root, Some(0), None).unwrap();
            error
        } else {
            let stranger = Owner {
                uid: me.uid + 4242,
                home: None,
                system: false,
            };
            Store::open_for(&root, &stranger).unwrap_err()
        };
        assert!(error.to_string().contains("not by you"), "{error}");

        // A sticky, world-writable directory (like /tmp) above the store is fine...
        let shared = dir.path().join("shared");
        fs_err::create_dir(&shared).unwrap();
        chmod(&shared, 0o1777);
        let in_shared = shared.join("store");
        if me.uid == 0 {
            Store::open_for(&in_shared, &me).unwrap();
        }
        // ...but a store path that is a symlink into it is not.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&in_shared, &link).unwrap();
        fs_err::create_dir_all(&in_shared).unwrap();
        let error = Store::open_for(&link, &me).unwrap_err();
        assert!(error.to_string().contains("symlink"), "{error}");
        // And a plain world-writable directory never is.
        chmod(&shared, 0o777);
        let error = Store::open_for(&in_shared, &me).unwrap_err();
        assert!(
            error.to_string().contains("writable by group or others"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_files_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let me = Owner::current();
        let file = dir.path().join("secret");
        fs_err::write(&file, b"k").unwrap();
        chmod(&file, 0o600);
        check_private_file(&file, &me).unwrap();
        chmod(&file, 0o640);
        assert!(check_private_file(&file, &me).is_err());
    }

    #[test]
    fn finds_by_sha512_alias_and_never_serves_a_corrupted_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let stored = store
            .insert(&sha256_of(b"abc"), "test://abc", b"abc".to_vec())
            .unwrap();
        let by_sha512 = Checksum::new(Algorithm::Sha512, &stored.digests.sha512).unwrap();
        assert_eq!(store.find(&by_sha512).unwrap().unwrap().path, stored.path);

        let mut permissions = fs_err::metadata(&stored.path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        permissions.set_readonly(false);
        fs_err::set_permissions(&stored.path, permissions).unwrap();
        fs_err::write(&stored.path, b"abd").unwrap();
        assert_eq!(store.find(&by_sha512).unwrap(), None);
        assert_eq!(store.verify().unwrap().len(), 1);
    }
}
