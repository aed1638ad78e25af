//! Attestation evidence: the Sigstore bundles and CycloneDX SBOMs that speak about one
//! artifact, gathered into memory from wherever they are kept (beside the artifact, a policy's
//! store directory, a static HTTPS host, an OCI registry), each bounded in size.
//!
//! Every network read goes through the one registry [`Client`], so offline mode, the CA
//! bundle, proxies and retries apply here as everywhere. Nothing here decides whether a file is
//! trustworthy: the verifier judges the bytes.

pub mod oci;
pub mod provenance;

use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use crate::oci::Reference;
use crate::{Client, Error};

/// Upper bound on any one bundle or SBOM read or fetched.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// At most this many files are taken from one store for one artifact.
pub const MAX_FILES: usize = 64;

/// What a file is, by the name it was found under (or the media type it was attached with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A Sigstore bundle (`*.sigstore.json`).
    Bundle,
    /// A CycloneDX JSON SBOM (`*.cdx.json`).
    Sbom,
}

impl FileKind {
    /// By file name: `*.sigstore.json` is a bundle, `*.cdx.json` an SBOM.
    pub fn of_name(name: &str) -> Option<FileKind> {
        if name.ends_with(".sigstore.json") {
            Some(FileKind::Bundle)
        } else if name.ends_with(".cdx.json") {
            Some(FileKind::Sbom)
        } else {
            None
        }
    }
}

/// One piece of evidence, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationFile {
    pub kind: FileKind,
    /// Where it came from (a path or a redacted URL), for messages.
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// Where a policy keeps attestations besides the artifact's own directory.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `<dir>/<sha256>/*.sigstore.json` and `*.cdx.json`.
    pub dir: Option<PathBuf>,
    /// `<url>/<sha256>/index.json` lists the file names to fetch.
    pub https: Option<Url>,
    /// Files attached to the artifact's sha256 in this repository.
    pub oci: Option<Reference>,
}

/// What happened while gathering, for the verdict's info lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Files were fetched from a remote store.
    Fetched(String),
    /// A store could not be read; its files are not considered.
    Unavailable(String),
    /// One attachment was skipped (unreadable, about another artifact, not ours).
    Skipped(String),
}

/// Everything gathered for one artifact.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub files: Vec<AttestationFile>,
    pub notes: Vec<Note>,
    /// The registry's own provenance, when it was asked for.
    pub provenance: Option<provenance::RegistryProvenance>,
}

impl Gathered {
    fn push(&mut self, file: AttestationFile) {
        if !self.files.contains(&file) {
            self.files.push(file);
        }
    }
}

/// Reads `path` as evidence of `kind`, refusing anything larger than [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path, kind: FileKind) -> Result<AttestationFile, Error> {
    use std::io::Read;
    let file = fs_err::File::open(path).map_err(|e| Error::store(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::store(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::Metadata {
            url: path.display().to_string(),
            reason: format!("larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    Ok(AttestationFile {
        kind,
        origin: path.display().to_string(),
        bytes,
    })
}

/// Bundles kept beside `artifact`: `ARTIFACT.sigstore.json` and `ARTIFACT.*.sigstore.json`.
pub fn bundles_beside(artifact: &Path) -> Vec<PathBuf> {
    let name = artifact
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut found: Vec<PathBuf> = files_in(&parent_dir(artifact))
        .into_iter()
        .filter(|path| {
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            file.strip_prefix(&name).is_some_and(|rest| {
                rest == ".sigstore.json"
                    || (rest.starts_with('.') && rest.ends_with(".sigstore.json"))
            })
        })
        .collect();
    found.sort();
    found
}

/// Where the SBOM signed with a bundle travels: `X.sigstore.json` → `X.cdx.json`;
/// any other bundle name gets `.cdx.json` appended.
pub fn sbom_beside(bundle: &Path) -> PathBuf {
    let name = bundle.as_os_str().to_string_lossy();
    match name.strip_suffix(".sigstore.json") {
        Some(stem) => PathBuf::from(format!("{stem}.cdx.json")),
        None => PathBuf::from(format!("{name}.cdx.json")),
    }
}

/// The evidence kept beside `artifact`: its bundles and every `*.cdx.json` in the same
/// directory (an SBOM is matched later by the digest its statement signs).
pub fn read_beside(artifact: &Path) -> Result<Vec<AttestationFile>, Error> {
    read_bundles(&bundles_beside(artifact))
}

/// The bundles at `paths` and every `*.cdx.json` in their directories.
pub fn read_bundles(paths: &[PathBuf]) -> Result<Vec<AttestationFile>, Error> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for bundle in paths {
        files.push(read_file(bundle, FileKind::Bundle)?);
        let dir = parent_dir(bundle);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    for dir in dirs {
        for path in files_in(&dir) {
            if path.to_string_lossy().ends_with(".cdx.json") {
                files.push(read_file(&path, FileKind::Sbom)?);
            }
        }
    }
    Ok(files)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A plain file name as a store may list it: no separators, no dot names.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name != "index.json"
        && !name.contains(['/', '\\', '\0'])
}

impl Client {
    /// Gathers what `sources` hold for the artifact with `sha256` (hex). A store that cannot
    /// be read contributes nothing and is named in a [`Note`]: missing evidence can only lead
    /// to a deny. Offline mode reads the directory store and nothing remote.
    pub fn gather_attestations(&self, sources: &Sources, sha256: &str) -> Gathered {
        let mut gathered = Gathered::default();
        if let Some(dir) = &sources.dir {
            let entry = dir.join(sha256);
            for path in files_in(&entry).into_iter().take(MAX_FILES) {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                let Some(kind) = FileKind::of_name(&name) else {
                    continue;
                };
                match read_file(&path, kind) {
                    Ok(file) => gathered.push(file),
                    Err(error) => gathered.notes.push(Note::Skipped(error.to_string())),
                }
            }
        }
        if let Some(url) = &sources.https {
            match self.fetch_https_store(url, sha256) {
                Ok(files) => {
                    gathered.notes.push(Note::Fetched(format!(
                        "fetched {} file(s) from {}/{sha256}/",
                        files.len(),
                        crate::redact(url)
                    )));
                    files.into_iter().for_each(|file| gathered.push(file));
                }
                Err(error) => gathered.notes.push(Note::Unavailable(error.to_string())),
            }
        }
        if let Some(location) = &sources.oci {
            match oci::OciStore::new(self, location).fetch(sha256) {
                Ok(fetched) => {
                    gathered.notes.push(Note::Fetched(format!(
                        "fetched {} file(s) attached to sha256:{sha256} in OCI store {location}",
                        fetched.files.len()
                    )));
                    gathered.notes.extend(
                        fetched
                            .skipped
                            .into_iter()
                            .map(|why| Note::Skipped(format!("OCI store {location}: {why}"))),
                    );
                    fetched
                        .files
                        .into_iter()
                        .for_each(|file| gathered.push(file));
                }
                Err(error) => gathered.notes.push(Note::Unavailable(error.to_string())),
            }
        }
        gathered
    }

    /// A static HTTPS store: `<url>/<sha256>/index.json` is a JSON array of plain file names,
    /// each fetched from beside it. Only `https://`, or `http://` to a loopback host.
    fn fetch_https_store(&self, url: &Url, sha256: &str) -> Result<Vec<AttestationFile>, Error> {
        crate::http::require_secure(url)?;
        let base = format!("{}/{sha256}/", url.as_str().trim_end_matches('/'));
        let join = |name: &str| {
            Url::parse(&base)
                .and_then(|base| base.join(name))
                .map_err(|e| Error::Metadata {
                    url: crate::redact(url),
                    reason: e.to_string(),
                })
        };
        let index_url = join("index.json")?;
        let index = self.get_limited(&index_url, "the store index", MAX_FILE_BYTES)?;
        let names: Vec<String> = crate::http::parse_json(&index, &index_url)?;
        if names.len() > MAX_FILES {
            return Err(Error::Metadata {
                url: crate::redact(&index_url),
                reason: format!("{} entries (at most {MAX_FILES})", names.len()),
            });
        }
        let mut files = Vec::new();
        for name in names {
            if !plain_name(&name) {
                return Err(Error::Metadata {
                    url: crate::redact(&index_url),
                    reason: format!("`{name}` is not a plain file name"),
                });
            }
            let Some(kind) = FileKind::of_name(&name) else {
                continue;
            };
            let file_url = join(&name)?;
            let bytes = self.get_limited(&file_url, &name, MAX_FILE_BYTES)?;
            files.push(AttestationFile {
                kind,
                origin: crate::redact(&file_url),
                bytes,
            });
        }
        Ok(files)
    }

    fn get_limited(&self, url: &Url, what: &str, limit: u64) -> Result<Vec<u8>, Error> {
        let response = self
            .http
            .get_ok(url, what, |client| client.get(url.clone()))?;
        crate::http::read_limited(response, url, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_names() {
        assert_eq!(
            FileKind::of_name("a.tgz.sigstore.json"),
            Some(FileKind::Bundle)
        );
        assert_eq!(FileKind::of_name("package.cdx.json"), Some(FileKind::Sbom));
        assert_eq!(FileKind::of_name("package.json"), None);
        assert!(!plain_name("../x.sigstore.json"));
        assert!(!plain_name("index.json"));
        assert!(plain_name("publisher.sigstore.json"));
    }

    #[test]
    fn oversized_evidence_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.sigstore.json");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let error = read_file(&big, FileKind::Bundle).unwrap_err();
        assert!(error.to_string().contains("larger than"), "{error}");
    }

    #[test]
    fn beside_finds_bundles_named_after_the_artifact_and_sboms() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "pkg.tgz",
            "pkg.tgz.sigstore.json",
            "pkg.tgz.approval.sigstore.json",
            "other.tgz.sigstore.json",
            "package.cdx.json",
        ] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let files = read_beside(&dir.path().join("pkg.tgz")).unwrap();
        let names: Vec<(FileKind, String)> = files
            .iter()
            .map(|f| (f.kind, String::from_utf8(f.bytes.clone()).unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                (FileKind::Bundle, "pkg.tgz.approval.sigstore.json".into()),
                (FileKind::Bundle, "pkg.tgz.sigstore.json".into()),
                (FileKind::Sbom, "package.cdx.json".into()),
            ]
        );
    }
}
