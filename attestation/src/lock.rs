//! The lock: every run-time dependency of a package, pinned with its integrity.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `lockVersion` of the format below. An incompatible change gets a new number.
pub const LOCK_VERSION: u32 = 1;

/// Why a lock file was refused.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("lock is not valid JSON of the mcpin lock shape: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("lockVersion {0} is not supported (this mcpin reads lockVersion {LOCK_VERSION})")]
    Version(u32),
}

/// The locked run-time dependency tree of one package (`mcpin lock`).
///
/// Written as RFC 8785 canonical JSON with packages sorted (npm by install
/// path, PyPI by name), so the same resolution always yields the same bytes.
/// Its identity is [`Lock::digest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    pub lock_version: u32,
    pub root: LockRoot,
    /// `ecosystem` and the ecosystem's entries.
    #[serde(flatten)]
    pub packages: LockedPackages,
}

/// The package the lock is for (the signed artifact itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockRoot {
    pub name: String,
    pub version: String,
    /// Names of its direct run-time dependencies, sorted.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// The entries of a lock, by ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ecosystem", rename_all = "lowercase")]
pub enum LockedPackages {
    /// The equivalent of package-lock v3 `packages`, with paths relative to
    /// the root package's directory.
    Npm { packages: Vec<NpmPackage> },
    /// Exact pins for one Python version and platform.
    Pypi {
        target: PythonTarget,
        packages: Vec<PypiPackage>,
    },
}

/// One installed copy of an npm package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NpmPackage {
    /// Install path below the root package, e.g. `node_modules/a/node_modules/b`.
    pub path: String,
    pub name: String,
    pub version: String,
    /// The tarball URL.
    pub resolved: String,
    /// sha512 Subresource Integrity of the tarball (`sha512-<base64>`).
    pub integrity: String,
    /// License as the registry reports it (npm copies it into the lock), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Executables the package declares: name → path inside the package.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bin: BTreeMap<String, String>,
    /// The package declares install scripts (never run by mcpin).
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_install_script: bool,
    /// Installed only where its `os`/`cpu` match (an optional dependency).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// Declared run-time dependencies (including optional and peer): name → range.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<String, String>,
}

/// The Python interpreter and platform a PyPI lock was resolved for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PythonTarget {
    /// `major.minor`, e.g. `3.12`.
    pub python_version: String,
    /// A uv `--python-platform` value, e.g. `x86_64-unknown-linux-gnu`.
    pub platform: String,
}

/// One pinned Python distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PypiPackage {
    /// PEP 503 normalized name.
    pub name: String,
    pub version: String,
    /// Environment marker under which it is needed, as the resolver wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// Every file the installer may use for the target (compatible wheels,
    /// and the sdist only when sdists were allowed), sorted by URL.
    pub files: Vec<PypiFile>,
    /// Normalized names of the packages it requires on the target, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
}

/// A distribution file and its sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PypiFile {
    pub url: String,
    /// Lowercase hex.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `wheel` or `sdist`.
    pub kind: DistributionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistributionKind {
    Wheel,
    Sdist,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Lock {
    /// A lock with its entries in canonical order.
    pub fn new(root: LockRoot, packages: LockedPackages) -> Self {
        let mut lock = Lock {
            lock_version: LOCK_VERSION,
            root,
            packages,
        };
        lock.sort();
        lock
    }

    /// Parses a lock and checks its version. Unknown fields are dropped: the
    /// digest and every check cover only what mcpin reads.
    pub fn from_json(bytes: &[u8]) -> Result<Self, LockError> {
        let lock: Lock = serde_json::from_slice(bytes)?;
        if lock.lock_version != LOCK_VERSION {
            return Err(LockError::Version(lock.lock_version));
        }
        Ok(lock)
    }

    /// The RFC 8785 canonical bytes: what `mcpin lock` writes and what [`Lock::digest`] hashes.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(self).expect("a Lock always serializes")
    }

    /// `sha256:<lowercase hex>` of the canonical bytes. Approvals and policies
    /// name a lock by this digest.
    pub fn digest(&self) -> String {
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(self.to_canonical_json()))
        )
    }

    /// How many installed packages the lock holds.
    pub fn package_count(&self) -> usize {
        match &self.packages {
            LockedPackages::Npm { packages } => packages.len(),
            LockedPackages::Pypi { packages, .. } => packages.len(),
        }
    }

    pub fn ecosystem(&self) -> crate::Ecosystem {
        match self.packages {
            LockedPackages::Npm { .. } => crate::Ecosystem::Npm,
            LockedPackages::Pypi { .. } => crate::Ecosystem::Pypi,
        }
    }

    fn sort(&mut self) {
        self.root.dependencies.sort();
        self.root.dependencies.dedup();
        match &mut self.packages {
            LockedPackages::Npm { packages } => {
                packages.sort_by(|a, b| a.path.cmp(&b.path));
            }
            LockedPackages::Pypi { packages, .. } => {
                packages.sort_by(|a, b| a.name.cmp(&b.name));
                for package in packages {
                    package.files.sort_by(|a, b| a.url.cmp(&b.url));
                    package.dependencies.sort();
                    package.dependencies.dedup();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npm_lock(integrity: &str) -> Lock {
        Lock::new(
            LockRoot {
                name: "server".into(),
                version: "1.0.0".into(),
                dependencies: vec!["b".into(), "a".into()],
            },
            LockedPackages::Npm {
                packages: vec![
                    NpmPackage {
                        path: "node_modules/b".into(),
                        name: "b".into(),
                        version: "2.0.0".into(),
                        resolved: "https://registry.npmjs.org/b/-/b-2.0.0.tgz".into(),
                        integrity: integrity.into(),
                        license: Some("MIT".into()),
                        bin: BTreeMap::new(),
                        has_install_script: false,
                        optional: false,
                        dependencies: BTreeMap::new(),
                    },
                    NpmPackage {
                        path: "node_modules/a".into(),
                        name: "a".into(),
                        version: "1.0.0".into(),
                        resolved: "https://registry.npmjs.org/a/-/a-1.0.0.tgz".into(),
                        integrity: "sha512-AAAA".into(),
                        license: None,
                        bin: BTreeMap::from([("a".into(), "cli.js".into())]),
                        has_install_script: true,
                        optional: false,
                        dependencies: BTreeMap::from([("b".into(), "^2".into())]),
                    },
                ],
            },
        )
    }

    #[test]
    fn lock_round_trips_sorted_and_canonical() {
        let lock = npm_lock("sha512-BBBB");
        let bytes = lock.to_canonical_json();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with(
            r#"{"ecosystem":"npm","lockVersion":1,"packages":[{"bin":{"a":"cli.js"}"#
        ));
        assert!(text.find("node_modules/a").unwrap() < text.find("node_modules/b").unwrap());
        assert_eq!(Lock::from_json(&bytes).unwrap(), lock);
        assert_eq!(lock.root.dependencies, vec!["a", "b"]);
    }

    #[test]
    fn digest_is_sha256_of_the_canonical_bytes_and_tracks_integrity() {
        let lock = npm_lock("sha512-BBBB");
        let expected = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(lock.to_canonical_json()))
        );
        assert_eq!(lock.digest(), expected);
        assert_ne!(lock.digest(), npm_lock("sha512-CCCC").digest());
    }

    #[test]
    fn unknown_versions_and_shapes_are_refused() {
        let text = String::from_utf8(npm_lock("sha512-B").to_canonical_json()).unwrap();
        let future = text.replace("\"lockVersion\":1", "\"lockVersion\":2");
        assert!(matches!(
            Lock::from_json(future.as_bytes()),
            Err(LockError::Version(2))
        ));
        let other = text.replace("\"ecosystem\":\"npm\"", "\"ecosystem\":\"cargo\"");
        assert!(matches!(
            Lock::from_json(other.as_bytes()),
            Err(LockError::Shape(_))
        ));
    }
}
