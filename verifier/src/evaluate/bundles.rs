//! Verifying each gathered bundle: which policy signer made it, for this artifact.

use mcpin_registry_client::attestations::FileKind;
use serde_json::Value;

use crate::dsse::VerifyError;
use crate::policy::{Policy, SignerKind};
use crate::sigstore::{self, ArtifactRef, SignerRequirement, TrustedRoot};
use crate::verdict::{Check, Code, Reasons};

use super::{Attestation, Evidence};

pub(super) fn verify_bundles(
    policy: &Policy,
    root: &TrustedRoot,
    evidence: &Evidence,
    reasons: &mut Reasons,
) -> Vec<Attestation> {
    let mut attestations = Vec::new();
    let bundles: Vec<_> = evidence
        .files
        .iter()
        .filter(|file| file.kind == FileKind::Bundle)
        .collect();
    if bundles.is_empty() {
        reasons.fail(
            Check::Signature,
            Code::Unsigned,
            format!(
                "no bundle found for `{}` (looked for ARTIFACT.sigstore.json, ARTIFACT.*.sigstore.json{})",
                evidence.artifact,
                if policy.store_dir.is_some()
                    || policy.store_url.is_some()
                    || policy.store_oci.is_some()
                {
                    " and the policy's store"
                } else {
                    ""
                }
            ),
        );
        return attestations;
    }
    for file in bundles {
        match verify_one(policy, root, evidence, &file.origin, &file.bytes) {
            Ok(attestation) => {
                let predicate = attestation
                    .statement
                    .as_ref()
                    .map_or("?", |s| s.predicate_type.as_str());
                reasons.pass(
                    Check::Signature,
                    Code::SignatureVerified,
                    format!(
                        "`{}` verified: signer `{}`, predicate {predicate}",
                        file.origin, attestation.signer
                    ),
                );
                attestations.push(attestation);
            }
            Err((code, message)) => reasons.info(Check::Signature, code, message),
        }
    }
    attestations
}

fn verify_one(
    policy: &Policy,
    root: &TrustedRoot,
    evidence: &Evidence,
    shown: &str,
    bytes: &[u8],
) -> Result<Attestation, (Code, String)> {
    let raw: Value = mcpin_attestation::strict_json::from_slice(bytes)
        .map_err(|e| (Code::BundleInvalid, format!("`{shown}` is not JSON: {e}")))?;
    let material = &raw["verificationMaterial"];
    let keyless =
        material.get("certificate").is_some() || material.get("x509CertificateChain").is_some();
    if !keyless {
        let bundle = mcpin_attestation::Bundle::from_json(bytes)
            .map_err(|e| (Code::BundleInvalid, format!("`{shown}`: {e}")))?;
        let identified = evidence.identified;
        for signer in &policy.signers {
            let SignerKind::Key(key) = &signer.kind else {
                continue;
            };
            let verified = match crate::dsse::verify_bundle(&bundle, key) {
                Ok(verified) => verified,
                // The signature is good; what it signs cannot be read.
                Err(error @ (VerifyError::Statement(_) | VerifyError::StatementType(_))) => {
                    return Err((
                        Code::StatementMalformed,
                        format!(
                            "`{shown}` is signed by `{}` but its statement is malformed: {error}",
                            signer.id
                        ),
                    ));
                }
                Err(_) => continue,
            };
            return match verified
                .subject_matching(&identified.digests, Some(&identified.package.purl))
            {
                Ok(_) => Ok(Attestation {
                    signer: signer.id.clone(),
                    origin: shown.to_owned(),
                    statement: Some(verified.statement().clone()),
                }),
                Err(e) => Err((
                    if e.code() == "digest-mismatch" {
                        Code::DigestMismatch
                    } else {
                        Code::SubjectMismatch
                    },
                    format!("`{shown}` is signed by `{}` but {e}", signer.id),
                )),
            };
        }
        let hint = bundle
            .verification_material
            .public_key
            .map(|hint| hint.hint)
            .unwrap_or_default();
        let named = policy.signers.iter().find(
            |signer| matches!(&signer.kind, SignerKind::Key(key) if key.id().as_str() == hint),
        );
        return Err(match named {
            Some(signer) => (
                Code::SignatureInvalid,
                format!(
                    "`{shown}` names the key of signer `{}` but its signature does not verify (altered bundle)",
                    signer.id
                ),
            ),
            None => (
                Code::SignerUntrusted,
                format!("`{shown}` is signed by key `{hint}`, which is not a policy signer"),
            ),
        });
    }
    let json = String::from_utf8_lossy(bytes);
    let artifact = ArtifactRef::Digests(evidence.identified.digests.clone());
    let mut last = None;
    for signer in &policy.signers {
        let SignerKind::Sigstore {
            issuer,
            identity,
            repository,
            git_ref,
        } = &signer.kind
        else {
            continue;
        };
        let requirement = SignerRequirement::Identity {
            identity: identity.clone(),
            issuer: issuer.clone(),
        };
        match sigstore::verify_json(shown, &json, &artifact, &requirement, root) {
            Ok(verified) => {
                let claims = &verified.claims;
                let wrong = |want: &Option<String>, got: &Option<String>| {
                    want.as_ref().is_some_and(|want| got.as_ref() != Some(want))
                };
                if wrong(repository, &claims.repository) || wrong(git_ref, &claims.git_ref) {
                    last = Some((
                        Code::SignerUntrusted,
                        format!(
                            "`{shown}` was built from repository {:?} ref {:?}, not what signer `{}` requires",
                            claims.repository, claims.git_ref, signer.id
                        ),
                    ));
                    continue;
                }
                let statement = match verified.dsse_payload.as_deref() {
                    Some(payload) => Some(
                        mcpin_attestation::strict_json::from_slice(payload).map_err(|e| {
                            (
                                Code::StatementMalformed,
                                format!(
                                    "`{shown}` is signed by `{}` but its statement is malformed: {e}",
                                    signer.id
                                ),
                            )
                        })?,
                    ),
                    None => None,
                };
                return Ok(Attestation {
                    signer: signer.id.clone(),
                    origin: shown.to_owned(),
                    statement,
                });
            }
            Err(error) if error.code() == "sigstore-artifact-mismatch" => {
                last = Some((Code::SubjectMismatch, error.to_string()));
            }
            Err(error) if error.code() == "sigstore-identity-mismatch" => {}
            Err(error) => {
                last = Some((Code::BundleInvalid, error.to_string()));
            }
        }
    }
    Err(last.unwrap_or((
        Code::SignerUntrusted,
        format!("`{shown}` is a keyless bundle whose identity is not a policy signer"),
    )))
}
