//! Identify an MCP server artifact from its bytes.
//!
//! [`identify`] reads a local npm tarball, Python wheel or sdist, or MCPB
//! bundle once, as a stream (and an OCI image from its manifest bytes, see
//! [`identify_image`]): it hashes every byte (sha256 and sha512 together)
//! while it walks the archive, and reads only the package's own metadata
//! (`package/package.json`, `*.dist-info/METADATA` and `entry_points.txt`,
//! `PKG-INFO`, `manifest.json`) into memory, each under a size cap.
//!
//! Archives are hostile until proven otherwise. [`identify`] extracts nothing to disk,
//! and an archive is rejected whole if any entry has an absolute path, a `..`
//! component, a link or device type, or a duplicate path, if it has too many
//! entries, or if it decompresses out of proportion to its size. See [`Limits`].
//!
//! It also unpacks what it identifies, under the same rules: an npm tarball
//! ([`unpack_npm_tarball`]) and a wheel into a site directory, checked file by file
//! against its RECORD ([`unpack_wheel`]); both report every file written with the digest
//! of the bytes written.
//!
//! It also holds [`write_atomic`], the one way every mcpin crate replaces a file.
//!
//! This crate does not fetch (that is `mcpin-registry-client`) and does not
//! judge signatures (that is `mcpin-verifier`).

mod error;
mod fs;
mod hash;
mod limits;
mod mcpb;
mod npm;
mod oci;
mod python;
mod tarball;
mod unpacked;
mod wheel;
mod zipfile;

use std::io::Read;
use std::path::Path;

pub use error::ArtifactError;
pub use fs::write_atomic;
pub use hash::{Digests, HashingReader, digest_reader};
pub use limits::Limits;
use mcpin_attestation::PackageInfo;
pub use oci::identify_image;
pub use python::core_metadata_field;
pub use tarball::unpack_npm_tarball;
pub use unpacked::{Unpacked, UnpackedFile};
pub use wheel::{UnpackedWheel, unpack_wheel};

/// What [`identify`] learned about an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub package: PackageInfo,
    pub digests: Digests,
    /// The package's own metadata file as read (bounded): its path inside the
    /// archive and its bytes. Callers that need more than [`PackageInfo`]
    /// (dependencies, license) parse it themselves.
    pub metadata: Metadata,
}

/// A metadata file read from inside an artifact: `package/package.json`,
/// `*.dist-info/METADATA`, `PKG-INFO` or `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Identifies the artifact at `path` with the default [`Limits`].
pub fn identify(path: &Path) -> Result<Identified, ArtifactError> {
    identify_with_limits(path, &Limits::default())
}

/// Identifies the artifact at `path`, enforcing `limits`.
pub fn identify_with_limits(path: &Path, limits: &Limits) -> Result<Identified, ArtifactError> {
    let file_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| ArtifactError::FileName(path.to_owned()))?
        .to_owned();
    let mut file = fs_err::File::open(path)?;
    let mut magic = [0u8; 4];
    let read = read_up_to(&mut file, &mut magic)?;
    drop(file);
    match &magic[..read] {
        [0x1f, 0x8b, ..] => tarball::identify(path, file_name, limits),
        [b'P', b'K', 3, 4] => zipfile::identify(path, file_name, limits),
        _ => Err(ArtifactError::UnknownFormat(file_name)),
    }
}

/// A package URL (purl) string for `ty`/`namespace`/`name`@`version`.
pub(crate) fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
) -> Result<String, packageurl::Error> {
    let mut purl = packageurl::PackageUrl::new(ty, name)?;
    if let Some(namespace) = namespace {
        purl.with_namespace(namespace)?;
    }
    purl.with_version(version)?;
    Ok(purl.to_string())
}

/// A metadata field that must be present and non-empty.
fn required(value: Option<String>, field: &str, path: &str) -> Result<String, ArtifactError> {
    value
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ArtifactError::Metadata {
            path: path.to_owned(),
            why: format!("no `{field}`"),
        })
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
