//! Loading the policy a judgement is made under, shared by `mcpin verify --policy`, `mcpin run`
//! and `mcpin wrap`: its bytes, its signature under the policy-root key, the files it names, the
//! rollback state and the Sigstore trusted root. The judgement itself ([`crate::evaluate::judge`])
//! reads nothing.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::PublicKey;
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
    /// The Sigstore trusted root for keyless signers.
    pub root: TrustedRoot,
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
    let root = TrustedRoot::load_or_production(policy.trusted_root.as_deref())?;
    Ok(PolicyLoad::Loaded(Box::new(LoadedPolicy {
        policy,
        digest,
        signature,
        version_check,
        root,
    })))
}
