//! Sigstore bundle verification with `sigstore-verify`: keyless bundles (a
//! Fulcio certificate checked against an OIDC identity, Rekor and TSA evidence)
//! and managed-key bundles, over messageSignature and DSSE in-toto content.
//!
//! The trusted root is the production root embedded in `sigstore-trust-root`
//! unless a file is given. Nothing here touches the network.

use std::io::Read;
use std::path::{Path, PathBuf};

use sigstore_verify::types::{
    Artifact, ArtifactDigest, Bundle, DerPublicKey, HashAlgorithm, Sha256Hash, SignatureContent,
};
use sigstore_verify::{
    IdentityMatcher, PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult, Verifier,
};

/// Why a Sigstore bundle was not accepted. [`code`](Self::code) is stable.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("trusted root `{path}` is not a usable Sigstore trusted root: {why}")]
    TrustedRoot { path: String, why: String },
    #[error("`{0}` is not a sha256:<64 hex> digest")]
    Digest(String),
    #[error("public key `{path}` is not a PEM public key: {why}")]
    Key { path: PathBuf, why: String },
    #[error("bundle `{path}` is not a Sigstore bundle: {why}")]
    Bundle { path: String, why: String },
    #[error("bundle `{path}` does not verify: {source}")]
    Rejected {
        path: String,
        source: sigstore_verify::Error,
    },
    #[error("bundle `{path}`: signer identity `{actual}` does not match the pattern `{pattern}`")]
    IdentityPattern {
        path: String,
        actual: String,
        pattern: String,
    },
}

impl SigstoreError {
    /// The stable, kebab-case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            SigstoreError::Io { .. } => "sigstore-io",
            SigstoreError::TrustedRoot { .. } => "sigstore-trusted-root",
            SigstoreError::Digest(_) => "sigstore-digest-malformed",
            SigstoreError::Key { .. } => "sigstore-key-malformed",
            SigstoreError::Bundle { .. } => "sigstore-bundle-malformed",
            SigstoreError::Rejected { source, .. } => match source {
                sigstore_verify::Error::IdentityMismatch { .. }
                | sigstore_verify::Error::IssuerMismatch { .. } => "sigstore-identity-mismatch",
                sigstore_verify::Error::ArtifactMismatch(_) => "sigstore-artifact-mismatch",
                _ => "sigstore-bundle-invalid",
            },
            SigstoreError::IdentityPattern { .. } => "sigstore-identity-mismatch",
        }
    }
}

/// The Sigstore trust material: Fulcio CAs, Rekor and CT log keys, TSAs.
pub struct TrustedRoot {
    verifier: Verifier,
}

impl std::fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrustedRoot")
    }
}

impl TrustedRoot {
    /// The Sigstore public-good production root embedded in `sigstore-trust-root`.
    pub fn production() -> Self {
        Self::from_json(
            "<embedded production root>",
            sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT,
        )
        .expect("the embedded production trusted root is valid")
    }

    /// A trusted root JSON file (`trusted_root.json`, as TUF distributes it).
    pub fn load(path: &Path) -> Result<Self, SigstoreError> {
        let json = fs_err::read_to_string(path).map_err(|source| SigstoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&path.display().to_string(), &json)
    }

    /// The file at `path`, or the production root when there is none.
    pub fn load_or_production(path: Option<&Path>) -> Result<Self, SigstoreError> {
        path.map_or_else(|| Ok(Self::production()), Self::load)
    }

    /// The file at `path`, whose bytes must hash to `sha256` (hex) when one is given.
    pub fn from_file_pinned(path: &Path, sha256: Option<&str>) -> Result<Self, SigstoreError> {
        use sha2::Digest as _;
        let bytes = fs_err::read(path).map_err(|source| SigstoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        let name = path.display().to_string();
        if let Some(pinned) = sha256 {
            let actual = hex::encode(sha2::Sha256::digest(&bytes));
            if actual != pinned {
                return Err(SigstoreError::TrustedRoot {
                    path: name,
                    why: format!(
                        "its sha256 is {actual}, but the signed policy pins {pinned} (re-sign the policy if the change is intended)"
                    ),
                });
            }
        }
        let json = String::from_utf8(bytes).map_err(|e| SigstoreError::TrustedRoot {
            path: name.clone(),
            why: e.to_string(),
        })?;
        Self::from_json(&name, &json)
    }

    fn from_json(name: &str, json: &str) -> Result<Self, SigstoreError> {
        let error = |why: String| SigstoreError::TrustedRoot {
            path: name.to_owned(),
            why,
        };
        let root = sigstore_verify::trust_root::TrustedRoot::from_json(json)
            .map_err(|e| error(e.to_string()))?;
        let verifier = Verifier::new(&root).map_err(|e| error(e.to_string()))?;
        Ok(TrustedRoot { verifier })
    }
}

/// The artifact a bundle must be about: a file, only its sha256 digest, or both of its
/// digests (a statement may name its subject by either: npm provenance uses sha512).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRef {
    File(PathBuf),
    Sha256(String),
    Digests(mcpin_artifact::Digests),
}

impl ArtifactRef {
    /// `sha256:<hex>` is a digest; anything else is a file path.
    pub fn parse(value: &str) -> Result<Self, SigstoreError> {
        match value.strip_prefix("sha256:") {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(ArtifactRef::Sha256(hex.to_ascii_lowercase()))
            }
            Some(_) => Err(SigstoreError::Digest(value.to_owned())),
            None => Ok(ArtifactRef::File(PathBuf::from(value))),
        }
    }
}

/// How the signer's SAN must look.
#[derive(Debug, Clone)]
pub enum IdentityMatch {
    Exact(String),
    Regex(regex::Regex),
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum SignerRequirement {
    /// A Fulcio certificate for this identity, issued after login at `issuer`.
    Identity {
        identity: IdentityMatch,
        issuer: String,
    },
    /// A managed key (PEM SPKI), with transparency-log evidence.
    Key(DerPublicKey),
    /// Any Fulcio certificate: for reports that say who signed (`mcpin review`), never for
    /// deciding whom to trust.
    AnyIdentity,
}

impl SignerRequirement {
    /// A managed-key requirement from a PEM public key file.
    pub fn key_file(path: &Path) -> Result<Self, SigstoreError> {
        let pem = fs_err::read_to_string(path).map_err(|source| SigstoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        DerPublicKey::from_pem(&pem)
            .map(SignerRequirement::Key)
            .map_err(|e| SigstoreError::Key {
                path: path.to_owned(),
                why: e.to_string(),
            })
    }
}

/// CI claims a Fulcio certificate carries about the workload that signed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowClaims {
    /// `source_repository_uri`, e.g. `https://github.com/sigstore/sigstore-js`.
    pub repository: Option<String>,
    /// `source_repository_ref`, e.g. `refs/heads/main`.
    pub git_ref: Option<String>,
    /// `build_config_uri`: the workflow file at a ref.
    pub workflow: Option<String>,
}

/// A bundle that verified. Only [`verify`] constructs it.
#[derive(Debug, Clone)]
pub struct SigstoreVerified {
    /// The certificate SAN (keyless) or `None` (managed key).
    pub identity: Option<String>,
    pub issuer: Option<String>,
    pub claims: WorkflowClaims,
    /// The DSSE payload, for DSSE bundles: an in-toto statement whose subject matched.
    pub dsse_payload: Option<Vec<u8>>,
}

/// Verifies the bundle at `bundle_path` for `artifact`, signed as `signer`
/// requires, against `root`.
pub fn verify(
    bundle_path: &Path,
    artifact: &ArtifactRef,
    signer: &SignerRequirement,
    root: &TrustedRoot,
) -> Result<SigstoreVerified, SigstoreError> {
    let json = fs_err::read_to_string(bundle_path).map_err(|source| SigstoreError::Io {
        path: bundle_path.to_owned(),
        source,
    })?;
    verify_json(
        &bundle_path.display().to_string(),
        &json,
        artifact,
        signer,
        root,
    )
}

/// [`verify`] over bundle JSON already in memory; `name` names it in errors.
pub fn verify_json(
    name: &str,
    json: &str,
    artifact: &ArtifactRef,
    signer: &SignerRequirement,
    root: &TrustedRoot,
) -> Result<SigstoreVerified, SigstoreError> {
    let bundle = Bundle::from_json(json).map_err(|e| SigstoreError::Bundle {
        path: name.to_owned(),
        why: e.to_string(),
    })?;
    let rejected = |source| SigstoreError::Rejected {
        path: name.to_owned(),
        source,
    };
    let result = match signer {
        SignerRequirement::Key(key) => {
            let policy = PublicKeyVerificationPolicy::new(key.clone());
            verify_artifact(&root.verifier, artifact, &bundle, &policy).map_err(rejected)?
        }
        SignerRequirement::AnyIdentity => verify_artifact(
            &root.verifier,
            artifact,
            &bundle,
            &VerificationPolicy::any_identity(),
        )
        .map_err(rejected)?,
        SignerRequirement::Identity { identity, issuer } => {
            let policy = match identity {
                IdentityMatch::Exact(exact) => {
                    VerificationPolicy::new(IdentityMatcher::from(exact.as_str()), issuer.clone())
                }
                // The library matches exact identities only; a pattern is checked on its result.
                IdentityMatch::Regex(_) => {
                    VerificationPolicy::any_identity().require_issuer(issuer.clone())
                }
            };
            let result =
                verify_artifact(&root.verifier, artifact, &bundle, &policy).map_err(rejected)?;
            if let IdentityMatch::Regex(pattern) = identity {
                let actual = result.identity().map(|san| san.as_str()).unwrap_or("");
                if !pattern.is_match(actual) {
                    return Err(SigstoreError::IdentityPattern {
                        path: name.to_owned(),
                        actual: actual.to_owned(),
                        pattern: pattern.as_str().to_owned(),
                    });
                }
            }
            result
        }
    };
    let claims = result
        .certificate()
        .map(|info| WorkflowClaims {
            repository: info.ci_claims.source_repository_uri.clone(),
            git_ref: info.ci_claims.source_repository_ref.clone(),
            workflow: info.ci_claims.build_config_uri.clone(),
        })
        .unwrap_or_default();
    let dsse_payload = match &bundle.content {
        SignatureContent::DsseEnvelope(envelope) => Some(envelope.payload.as_bytes().to_vec()),
        _ => None,
    };
    Ok(SigstoreVerified {
        identity: result.identity().map(|san| san.as_str().to_owned()),
        issuer: result.issuer().map(str::to_owned),
        claims,
        dsse_payload,
    })
}

fn verify_artifact(
    verifier: &Verifier,
    artifact: &ArtifactRef,
    bundle: &Bundle,
    policy: &(impl sigstore_verify::Policy + ?Sized),
) -> Result<VerificationResult, sigstore_verify::Error> {
    match artifact {
        ArtifactRef::Sha256(hex) => {
            let digest = Sha256Hash::from_hex(hex)?;
            verifier.verify(digest, bundle, policy)
        }
        ArtifactRef::Digests(digests) => {
            let sha256 = Sha256Hash::from_hex(&digests.sha256)?;
            match verifier.verify(sha256, bundle, policy) {
                Err(sigstore_verify::Error::ArtifactMismatch(_)) => {
                    let sha512 = hex::decode(&digests.sha512).map_err(|e| {
                        sigstore_verify::Error::ArtifactMismatch(format!("sha512: {e}"))
                    })?;
                    let digest = ArtifactDigest::new(HashAlgorithm::Sha2512, sha512)?;
                    verifier.verify(Artifact::from_digest(digest), bundle, policy)
                }
                other => other,
            }
        }
        ArtifactRef::File(path) => {
            let mut file =
                fs_err::File::open(path).map_err(sigstore_verify::Error::ArtifactRead)?;
            if needs_whole_message(bundle)? {
                // Schemes such as Ed25519 sign the message itself, not a prehash.
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)
                    .map_err(sigstore_verify::Error::ArtifactRead)?;
                verifier.verify(bytes.as_slice(), bundle, policy)
            } else {
                verifier.verify_reader(file, bundle, policy)
            }
        }
    }
}

fn needs_whole_message(bundle: &Bundle) -> Result<bool, sigstore_verify::Error> {
    if !matches!(bundle.content, SignatureContent::MessageSignature(_)) {
        return Ok(false);
    }
    let Some(certificate) = bundle.signing_certificate() else {
        // Managed-key bundles: the key type is not known until verification; read it whole.
        return Ok(true);
    };
    Ok(
        !sigstore_verify::crypto::parse_certificate_info(certificate)?
            .key_algorithm
            .default_signing_scheme()
            .supports_prehashed(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_refs_parse_digests_strictly() {
        let hex = "ab".repeat(32);
        assert_eq!(
            ArtifactRef::parse(&format!("sha256:{hex}")).unwrap(),
            ArtifactRef::Sha256(hex)
        );
        assert!(matches!(
            ArtifactRef::parse("sha256:abc"),
            Err(SigstoreError::Digest(_))
        ));
        assert_eq!(
            ArtifactRef::parse("a.txt").unwrap(),
            ArtifactRef::File("a.txt".into())
        );
    }

    #[test]
    fn embedded_production_root_loads() {
        TrustedRoot::production();
    }
}
