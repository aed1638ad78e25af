//! Checking that the lock and SBOM files at hand are the ones a verified
//! statement names.

use std::collections::BTreeMap;

use mcpin_attestation::{Lock, LockedPackages, PackagePredicate};
use sha2::{Digest, Sha256};

/// Why a lock or SBOM file does not belong to a signed predicate.
/// [`code`](Self::code) is stable and documented.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindingError {
    #[error("sbom-missing: the signed statement references no SBOM, but one was given")]
    SbomMissing,
    #[error(
        "sbom-mismatch: SBOM `{file}` has sha256:{actual}, the signed statement names sha256:{expected}"
    )]
    SbomMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("lock-missing: the signed statement carries no lock, but one was given")]
    LockMissing,
    #[error("lock-mismatch: lock `{file}` differs from the signed lock: {}", .changes.join("; "))]
    LockMismatch { file: String, changes: Vec<String> },
}

impl BindingError {
    pub fn code(&self) -> &'static str {
        match self {
            BindingError::SbomMissing => "sbom-missing",
            BindingError::SbomMismatch { .. } => "sbom-mismatch",
            BindingError::LockMissing => "lock-missing",
            BindingError::LockMismatch { .. } => "lock-mismatch",
        }
    }
}

/// The SBOM bytes must hash to the digest the predicate names.
pub fn check_sbom(
    predicate: &PackagePredicate,
    file: &str,
    bytes: &[u8],
) -> Result<(), BindingError> {
    let expected = predicate.sbom.as_ref().ok_or(BindingError::SbomMissing)?;
    let actual = hex::encode(Sha256::digest(bytes));
    if !expected.sha256.eq_ignore_ascii_case(&actual) {
        return Err(BindingError::SbomMismatch {
            file: file.to_owned(),
            expected: expected.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// The lock must equal the signed one; a difference names each changed entry.
pub fn check_lock(
    predicate: &PackagePredicate,
    file: &str,
    lock: &Lock,
) -> Result<(), BindingError> {
    let signed = predicate.lock.as_ref().ok_or(BindingError::LockMissing)?;
    if signed.digest() == lock.digest() {
        return Ok(());
    }
    let mut changes = lock_changes(signed, lock);
    if changes.is_empty() {
        changes.push(format!(
            "lock digest {} is not the signed {}",
            lock.digest(),
            signed.digest()
        ));
    }
    Err(BindingError::LockMismatch {
        file: file.to_owned(),
        changes,
    })
}

/// Each entry added, removed or changed, by install path (npm) or name (PyPI).
fn lock_changes(signed: &Lock, given: &Lock) -> Vec<String> {
    let mut changes = Vec::new();
    if signed.root != given.root {
        changes.push(format!(
            "root package {}@{} differs from {}@{}",
            given.root.name, given.root.version, signed.root.name, signed.root.version
        ));
    }
    let entries = |lock: &Lock| -> BTreeMap<String, (String, String)> {
        match &lock.packages {
            LockedPackages::Npm { packages } => packages
                .iter()
                .map(|p| {
                    let text = serde_json_canonicalizer::to_string(p).expect("serializes");
                    (
                        p.path.clone(),
                        (
                            format!("{}@{} integrity {}", p.name, p.version, p.integrity),
                            text,
                        ),
                    )
                })
                .collect(),
            LockedPackages::Pypi { packages, .. } => packages
                .iter()
                .map(|p| {
                    let text = serde_json_canonicalizer::to_string(p).expect("serializes");
                    let hashes: Vec<&str> = p.files.iter().map(|f| f.sha256.as_str()).collect();
                    (
                        p.name.clone(),
                        (
                            format!("{}=={} sha256 {}", p.name, p.version, hashes.join(",")),
                            text,
                        ),
                    )
                })
                .collect(),
        }
    };
    let (signed_entries, given_entries) = (entries(signed), entries(given));
    for (key, (summary, text)) in &given_entries {
        match signed_entries.get(key) {
            None => changes.push(format!(
                "dependency `{key}` ({summary}) is not in the signed lock"
            )),
            Some((signed_summary, signed_text)) if signed_text != text => changes.push(format!(
                "dependency `{key}` is {summary}, signed as {signed_summary}"
            )),
            Some(_) => {}
        }
    }
    for (key, (summary, _)) in &signed_entries {
        if !given_entries.contains_key(key) {
            changes.push(format!("dependency `{key}` ({summary}) is missing"));
        }
    }
    changes
}
