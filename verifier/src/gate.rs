//! Loading the policy a judgement is made under, shared by `mcpin verify --policy`, `mcpin run`
//! and `mcpin wrap`: its bytes, its signature under the policy-root key, the files it names, the
//! rollback state and the Sigstore trusted root. The judgement itself ([`crate::evaluate::judge`])
//! reads nothing.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

mod cache;

use crate::PublicKey;
use crate::policy::{
    self, Policy, PolicyError, PolicySignatureError, PolicyState, StateError,
    VersionCheck,
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

/// How the rollback state may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAccess {
    /// Compare, and record a newer version.
    Record,
    /// Compare only (system mode, unprivileged: a privileged step records).
    ReadOnly,
}

/// Reads, checks the signature of (when `root_key` is set), parses, and checks the files
/// the policy at `path` names against what its signature pins. Only a policy whose signature
/// verified updates the rollback state: an unsigned policy can neither lower nor raise it.
///
/// Parsing is skipped when the state directory's policy cache holds the policy compiled from
/// these exact bytes (see [`cache`]); a run that may record state writes the cache after
/// parsing. Either way the policy is loaded from its compiled form by the same code.
pub fn load_policy(
    path: &Path,
    root_key: Option<&PublicKey>,
    state_dir: &Path,
    access: StateAccess,
) -> Result<PolicyLoad, GateError> {
    let bytes = fs_err::read(path).map_err(|source| GateError::Io {
        path: path.to_owned(),
        source,
    })?;
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let digest = format!("sha256:{}", hex::encode(sha256));
    let refused = |code, message: String| {
        Ok(PolicyLoad::Refused {
            digest: digest.clone(),
            verdict: Verdict::refused(Check::Policy, code, message),
        })
    };
    let pins = match root_key {
        Some(root) => match policy::verify_policy_signature(path, &hex::encode(sha256), root) {
            Ok(pins) => Some(pins),
            Err(error) => {
                let code = match error {
                    PolicySignatureError::Unsigned { .. } => Code::PolicyUnsigned,
                    _ => Code::PolicySignatureInvalid,
                };
                return refused(code, error.to_string());
            }
        },
        None => None,
    };
    // A cache whose key files no longer hold the keys it was compiled with is stale: these
    // same bytes are parsed again, so the policy is always what parsing the file gives now.
    let cached = cache::read(state_dir, access, path, &sha256)
        .and_then(|compiled| compiled.load(path).ok());
    let policy = match cached {
        Some(policy) => policy,
        None => {
            let text =
                std::str::from_utf8(&bytes).map_err(|_| GateError::NotUtf8(path.to_owned()))?;
            let compiled = policy::compile(path, text)?;
            if access == StateAccess::Record {
                cache::write(state_dir, path, &sha256, &compiled);
            }
            compiled
                .load(path)
                .map_err(|source| PolicyError::Changed {
                    path: path.to_owned(),
                    source,
                })?
        }
    };
    let (signature, version_check) = match (&pins, root_key) {
        (Some(pins), Some(root)) => {
            if let Err(message) = check_pins(&policy, pins) {
                return refused(Code::PolicyReferenceChanged, message);
            }
            let signature = Reason {
                check: Check::Policy,
                code: Code::PolicySigned,
                outcome: Outcome::Pass,
                message: format!(
                    "policy signed by policy-root key {}, with the keys and trusted root it names",
                    root.id()
                ),
            };
            let state = PolicyState::new(state_dir);
            let check = match access {
                StateAccess::Record => state.observe(&policy.name, policy.version)?,
                StateAccess::ReadOnly => state.check(&policy.name, policy.version)?,
            };
            (signature, check)
        }
        _ => (
            Reason {
                check: Check::Policy,
                code: Code::PolicyRootNotConfigured,
                outcome: Outcome::Info,
                message: "no policy-root key configured: the policy's signature is not checked and its version is not tracked".into(),
            },
            VersionCheck::untracked(policy.version),
        ),
    };
    let root = match &policy.trusted_root {
        Some(file) => TrustedRoot::from_file_pinned(
            file,
            pins.as_ref().and_then(|p| p.trusted_root_sha256.as_deref()),
        )?,
        None => TrustedRoot::production(),
    };
    Ok(PolicyLoad::Loaded(Box::new(LoadedPolicy {
        policy,
        digest,
        signature,
        version_check,
        root,
    })))
}

/// Every key signer's key must be the one the signature pinned, and a trusted-root file must
/// have been pinned (its bytes are checked as they are read).
pub fn check_pins(policy: &Policy, pins: &policy::PolicyPredicate) -> Result<(), String> {
    let resign = "re-sign the policy with `mcpin policy sign` if the change is intended";
    for signer in &policy.signers {
        let crate::policy::SignerKind::Key(key) = &signer.kind else {
            continue;
        };
        match pins.signer_keys.get(&signer.id) {
            Some(pinned) if pinned == key.id().as_str() => {}
            Some(pinned) => {
                return Err(format!(
                    "signer `{}`: its key file now holds key {}, but the policy was signed with key {pinned}; {resign}",
                    signer.id,
                    key.id()
                ));
            }
            None => {
                return Err(format!(
                    "signer `{}`: the policy signature does not pin its key ({}); {resign}",
                    signer.id,
                    key.id()
                ));
            }
        }
    }
    if policy.trusted_root.is_some() && pins.trusted_root_sha256.is_none() {
        return Err(format!(
            "the policy names a trusted root that its signature does not pin; {resign}"
        ));
    }
    Ok(())
}
