//! The whole policy check of one artifact, shared by `mcpin verify --policy` and
//! `mcpin run`: load the policy (its signature under a policy-root key, rollback
//! state), find the bundles (beside the artifact, the policy's store directory,
//! HTTPS store and OCI store) and evaluate.

use std::path::{Path, PathBuf};

use mcpin_artifact::Identified;
use sha2::{Digest, Sha256};

use crate::PublicKey;
use crate::evaluate::{self, Attestation, Evidence};
use crate::policy::{
    self, Policy, PolicyError, PolicySignatureError, PolicyState, StateError, VersionCheck,
};
use crate::sigstore::{SigstoreError, TrustedRoot};
use crate::verdict::{Check, Code, Outcome, Reason, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("reading policy `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("policy `{0}` is not UTF-8")]
    NotUtf8(PathBuf),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    TrustRoot(#[from] SigstoreError),
    #[error("creating a temporary directory for the attestation store: {0}")]
    Temp(#[source] std::io::Error),
}

/// A parsed policy with what was learned while loading it.
#[derive(Debug)]
pub struct LoadedPolicy {
    pub policy: Policy,
    /// `sha256:<hex>` of the policy file's bytes.
    pub digest: String,
    /// The policy-signature reason (pass or info), first in every verdict.
    pub signature: Reason,
    pub version_check: VersionCheck,
}

/// A policy is either usable or refused (unsigned / bad signature under a root key).
#[derive(Debug)]
pub enum PolicyLoad {
    Loaded(Box<LoadedPolicy>),
    Refused { digest: String, verdict: Verdict },
}

/// Reads, checks the signature of (when `root_key` is set), parses, and records the
/// version of the policy at `path`.
pub fn load_policy(
    path: &Path,
    root_key: Option<&PublicKey>,
    state_dir: &Path,
) -> Result<PolicyLoad, GateError> {
    let bytes = fs_err::read(path).map_err(|source| GateError::Io {
        path: path.to_owned(),
        source,
    })?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    let signature = match root_key {
        Some(root) => match policy::verify_policy_signature(path, &bytes, root) {
            Ok(()) => Reason {
                check: Check::Policy,
                code: Code::PolicySigned,
                outcome: Outcome::Pass,
                message: format!("policy signed by policy-root key {}", root.id()),
            },
            Err(error) => {
                let code = match error {
                    PolicySignatureError::Unsigned { .. } => Code::PolicyUnsigned,
                    _ => Code::PolicySignatureInvalid,
                };
                return Ok(PolicyLoad::Refused {
                    digest,
                    verdict: Verdict::refused(Check::Policy, code, error.to_string()),
                });
            }
        },
        None => Reason {
            check: Check::Policy,
            code: Code::PolicyRootNotConfigured,
            outcome: Outcome::Info,
            message: "no policy-root key configured: the policy's signature is not checked".into(),
        },
    };
    let text = String::from_utf8(bytes).map_err(|_| GateError::NotUtf8(path.to_owned()))?;
    let policy = Policy::parse(path, &text)?;
    let version_check = PolicyState::new(state_dir).observe(&policy.name, policy.version)?;
    Ok(PolicyLoad::Loaded(Box::new(LoadedPolicy {
        policy,
        digest,
        signature,
        version_check,
    })))
}

/// The verdict on one artifact, and the statements that verified for it.
#[derive(Debug)]
pub struct Judged {
    pub verdict: Verdict,
    pub attestations: Vec<Attestation>,
}

/// Judges the artifact at `artifact_path` against `loaded`. `bundles` overrides
/// discovery when not empty; `sboms` are extra SBOM files.
pub fn judge(
    loaded: &LoadedPolicy,
    artifact_path: &Path,
    identified: &Identified,
    bundles: &[PathBuf],
    mut sboms: Vec<PathBuf>,
) -> Result<Judged, GateError> {
    let policy = &loaded.policy;
    let sha256 = &identified.digests.sha256;
    let mut found = if bundles.is_empty() {
        evaluate::discover_bundles(artifact_path, sha256, policy.store_dir.as_deref())
    } else {
        bundles.to_vec()
    };
    let fetched_dir = tempfile::tempdir().map_err(GateError::Temp)?;
    let mut store_reasons = Vec::new();
    if bundles.is_empty() {
        let (files, reasons) = evaluate::fetch_store(policy, sha256, fetched_dir.path());
        let (fetched, others): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|file| file.to_string_lossy().ends_with(".sigstore.json"));
        found.extend(fetched);
        sboms.extend(others);
        store_reasons = reasons;
    }
    let root = TrustedRoot::load_or_production(policy.trusted_root.as_deref())?;
    let evidence = Evidence {
        artifact_path,
        package: &identified.package,
        digests: &identified.digests,
        bundles: found,
        sboms,
        version_check: loaded.version_check,
        now: jiff::Timestamp::now(),
    };
    let (mut verdict, attestations) =
        evaluate::evaluate_with_attestations(policy, &root, &evidence);
    verdict.reasons.insert(0, loaded.signature.clone());
    verdict.reasons.extend(store_reasons);
    Ok(Judged {
        verdict,
        attestations,
    })
}
