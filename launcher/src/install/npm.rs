//! npm: the package tarball under `pkg/`, each locked dependency under `pkg/<install path>`,
//! every tarball taken from the store by its signed sha512 integrity. No install scripts.

use std::path::{Component, Path};

use base64::Engine as _;
use mcpin_artifact::Limits;
use mcpin_attestation::NpmPackage;
use mcpin_registry_client::{Algorithm, Checksum, Client};

use super::{InstallError, InstallRequest, entries_of, io, url_of};
use crate::tree::Entry;

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

/// Unpacks the package and its lock into `tree`; returns every file written.
pub(super) fn install(
    client: &Client,
    request: &InstallRequest,
    packages: &[NpmPackage],
    tree: &Path,
) -> Result<Vec<(String, Entry)>, InstallError> {
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
    let root = unpack(request.artifact, &pkg, request.file_name)?;
    // The bytes unpacked must be the bytes that were verified.
    if root.digests.sha256 != request.sha256() {
        return Err(InstallError::Integrity {
            what: request.file_name.to_owned(),
        });
    }
    let mut entries: Vec<(String, Entry)> = entries_of("pkg/", root.files).collect();
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
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(InstallError::BadUrl {
                what,
                url: package.path.clone(),
            });
        }
        let unpacked = unpack(&stored.path, &pkg.join(relative), &what)?;
        if unpacked.digests.sha512 != checksum.hex {
            return Err(InstallError::Integrity { what });
        }
        let prefix = format!("pkg/{}/", package.path.trim_end_matches('/'));
        entries.extend(entries_of(&prefix, unpacked.files).collect::<Vec<_>>());
    }
    Ok(entries)
}
