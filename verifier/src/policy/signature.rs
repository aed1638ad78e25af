//! Signing a policy file with a policy-root key, and checking that signature.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::keys::{KeyId, PublicKey};

/// predicateType of the statement that signs a policy file.
pub const POLICY_PREDICATE_TYPE: &str = "https://mcpin.dev/attestation/policy/v1";

/// The predicate of a policy signature. A policy names files by path (signer keys, a trusted
/// root); the signature pins what they were when it was signed, so replacing `keys/x.pub`
/// beside a signed policy cannot make another key trusted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyPredicate {
    pub version: u64,
    /// Every key signer's id → the key id (hex sha256 of the SPKI DER) it was signed with.
    #[serde(default)]
    pub signer_keys: BTreeMap<String, String>,
    /// The sha256 (hex) of the trusted-root file, when the policy names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_sha256: Option<String>,
    /// Every file that travels with the policy → its sha256 (hex): the keys and trusted root it
    /// names and every file of its `[store] dir`, by path relative to the policy's directory
    /// with `/` separators. Only files named by a plain relative path are pinned here.
    /// `mcpin policy pull` installs exactly these files, each only if its bytes match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

/// Why a policy's signature is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PolicySignatureError {
    #[error(
        "policy-unsigned: a policy-root key is configured ({root}) but `{signature}` does not exist; sign the policy with `mcpin policy sign`"
    )]
    Unsigned { root: KeyId, signature: PathBuf },
    #[error(
        "policy-signature-invalid: `{signature}` does not verify with the policy-root key: {source}"
    )]
    Invalid {
        signature: PathBuf,
        source: crate::dsse::VerifyError,
    },
    #[error("policy-signature-invalid: `{signature}` signs a {found} statement, not a policy")]
    WrongType { signature: PathBuf, found: String },
    #[error("policy-signature-invalid: `{signature}`: the policy predicate is malformed: {why}")]
    Predicate { signature: PathBuf, why: String },
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("policy-signature-invalid: `{path}`: {source}")]
    Bundle {
        path: PathBuf,
        source: mcpin_attestation::BundleError,
    },
}

impl PolicySignatureError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicySignatureError::Unsigned { .. } => "policy-unsigned",
            PolicySignatureError::Io { .. } => "policy-io",
            _ => "policy-signature-invalid",
        }
    }
}

/// Where the signature of the policy at `path` lives: `PATH.sigstore.json`.
pub fn signature_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sigstore.json");
    PathBuf::from(name)
}

/// Signs the exact bytes of a policy file: a DSSE in-toto statement whose
/// subject is the file (by sha256 and sha512), and whose predicate pins the files it names,
/// in a Sigstore bundle.
pub fn sign_policy(
    policy_bytes: &[u8],
    file_name: &str,
    predicate: &PolicyPredicate,
    key: &crate::keys::SecretKey,
) -> mcpin_attestation::Bundle {
    use sha2::Digest;
    let statement = mcpin_attestation::Statement {
        statement_type: mcpin_attestation::STATEMENT_TYPE_V1.to_owned(),
        subject: vec![mcpin_attestation::Subject {
            name: file_name.to_owned(),
            digest: [
                (
                    "sha256".to_owned(),
                    hex::encode(sha2::Sha256::digest(policy_bytes)),
                ),
                (
                    "sha512".to_owned(),
                    hex::encode(sha2::Sha512::digest(policy_bytes)),
                ),
            ]
            .into(),
        }],
        predicate_type: POLICY_PREDICATE_TYPE.to_owned(),
        predicate: serde_json::to_value(predicate).expect("a policy predicate serializes"),
    };
    crate::dsse::sign_statement(&statement, key)
}

/// Checks that the policy at `path` (whose bytes are `policy_bytes`) is signed by `root` in
/// `PATH.sigstore.json`; returns what the signature pins.
pub fn verify_policy_signature(
    path: &Path,
    policy_bytes: &[u8],
    root: &PublicKey,
) -> Result<PolicyPredicate, PolicySignatureError> {
    verify_policy_signature_sha256(path, &sha256_hex(policy_bytes), root)
}

/// [`verify_policy_signature`] for a policy whose bytes were hashed as they were read:
/// `policy_sha256` is their sha256 (lowercase hex). The statement's subject must name it (its
/// sha512, which `mcpin policy sign` also records, is not computed: one digest binds the
/// bytes, and a policy is hashed on every run).
pub fn verify_policy_signature_sha256(
    path: &Path,
    policy_sha256: &str,
    root: &PublicKey,
) -> Result<PolicyPredicate, PolicySignatureError> {
    let signature = signature_path(path);
    let bytes = match fs_err::read(&signature) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(PolicySignatureError::Unsigned {
                root: root.id().clone(),
                signature,
            });
        }
        Err(source) => {
            return Err(PolicySignatureError::Io {
                path: signature,
                source,
            });
        }
    };
    check_bundle(signature, &bytes, policy_sha256, root)
}

/// Checks that the bundle `bytes` (named `signature` in errors) signs `policy_bytes` under
/// `root`; returns what the signature pins. For a policy that is not on disk yet
/// (`mcpin policy pull` checks what it downloaded before installing anything).
pub fn verify_policy_signature_bytes(
    signature: &Path,
    bytes: &[u8],
    policy_bytes: &[u8],
    root: &PublicKey,
) -> Result<PolicyPredicate, PolicySignatureError> {
    check_bundle(signature.to_owned(), bytes, &sha256_hex(policy_bytes), root)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn check_bundle(
    signature: PathBuf,
    bytes: &[u8],
    policy_sha256: &str,
    root: &PublicKey,
) -> Result<PolicyPredicate, PolicySignatureError> {
    let bundle = mcpin_attestation::Bundle::from_json(bytes).map_err(|source| {
        PolicySignatureError::Bundle {
            path: signature.clone(),
            source,
        }
    })?;
    let invalid = |source| PolicySignatureError::Invalid {
        signature: signature.clone(),
        source,
    };
    let verified = crate::dsse::verify_bundle(&bundle, root).map_err(invalid)?;
    if verified.statement().predicate_type != POLICY_PREDICATE_TYPE {
        return Err(PolicySignatureError::WrongType {
            signature,
            found: verified.statement().predicate_type.clone(),
        });
    }
    verified
        .subject_with_sha256(policy_sha256)
        .map_err(invalid)?;
    serde_json::from_value(verified.statement().predicate.clone()).map_err(|error| {
        PolicySignatureError::Predicate {
            signature,
            why: error.to_string(),
        }
    })
}
