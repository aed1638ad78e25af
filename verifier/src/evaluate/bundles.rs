//! Verifying each gathered bundle: which policy signer made it, for this artifact.

use mcpin_registry_client::attestations::FileKind;
use mcpin_registry_client::attestations::provenance::{Found, TrustedPublisher};
use serde_json::Value;

use crate::dsse::VerifyError;
use crate::policy::{Policy, SignerKind};
use crate::sigstore::{self, ArtifactRef, SignerRequirement, TrustedRoot, WorkflowClaims};
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
    let registry = registry_provenance(evidence, reasons);
    if let Some(found) = registry {
        for file in &found.bundles {
            verify_provenance(
                policy,
                root,
                evidence,
                found,
                file,
                reasons,
                &mut attestations,
            );
        }
    }
    if bundles.is_empty() && registry.is_none_or(|found| found.bundles.is_empty()) {
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
                    keyless: None,
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
            workflow,
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
                let wrong_workflow = workflow
                    .as_deref()
                    .is_some_and(|want| !workflow_matches(want, claims));
                if wrong(repository, &claims.repository)
                    || wrong(git_ref, &claims.git_ref)
                    || wrong_workflow
                {
                    last = Some((
                        Code::SignerUntrusted,
                        format!(
                            "`{shown}` was built from repository {} at ref {} by workflow {}, not what signer `{}` requires",
                            shown_claim(&claims.repository),
                            shown_claim(&claims.git_ref),
                            shown_claim(&claims.workflow),
                            signer.id
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
                    keyless: Some((
                        verified.issuer.clone().unwrap_or_default(),
                        verified.claims.clone(),
                    )),
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

/// The registry's provenance, when it was asked: an info line saying where it came from or
/// why there is none.
fn registry_provenance<'a>(evidence: &Evidence<'a>, reasons: &mut Reasons) -> Option<&'a Found> {
    let provenance = evidence.provenance?;
    match &provenance.found {
        Ok(found) => {
            reasons.info(
                Check::Signature,
                Code::ProvenanceFetched,
                if found.from_store {
                    format!(
                        "{} registry provenance attestation(s) read from the store (fetched once; the registry serves them at {})",
                        found.bundles.len(),
                        provenance.url
                    )
                } else {
                    format!(
                        "{} registry provenance attestation(s) fetched from {}",
                        found.bundles.len(),
                        provenance.url
                    )
                },
            );
            Some(found)
        }
        Err(why) => {
            reasons.info(Check::Signature, Code::ProvenanceUnavailable, why.clone());
            None
        }
    }
}

/// One registry provenance attestation: it counts for the Sigstore signer it verifies under,
/// unless npm's `trustedPublisher` contradicts the certificate.
fn verify_provenance(
    policy: &Policy,
    root: &TrustedRoot,
    evidence: &Evidence,
    found: &Found,
    file: &mcpin_registry_client::attestations::AttestationFile,
    reasons: &mut Reasons,
    attestations: &mut Vec<Attestation>,
) {
    let attestation = match verify_one(policy, root, evidence, &file.origin, &file.bytes) {
        Ok(attestation) => attestation,
        Err((code, message)) => {
            let code = match code {
                Code::SignerUntrusted => Code::ProvenanceMismatch,
                _ => Code::ProvenanceInvalid,
            };
            reasons.info(
                Check::Signature,
                code,
                format!("registry provenance: {message}"),
            );
            return;
        }
    };
    let Some((issuer, claims)) = attestation.keyless.clone() else {
        // A managed-key bundle (npm's publish attestation) signed by a policy key signer.
        reasons.pass(
            Check::Signature,
            Code::ProvenanceVerified,
            format!(
                "registry attestation `{}` verified: signer `{}`",
                file.origin, attestation.signer
            ),
        );
        attestations.push(attestation);
        return;
    };
    if let Some(publisher) = &found.trusted_publisher
        && publisher_contradicts(publisher, &issuer)
    {
        reasons.info(
            Check::Signature,
            Code::ProvenancePublisherMismatch,
            format!(
                "`{}`: npm names trusted publisher `{}` for this version, but the provenance certificate was issued by {issuer}; it does not count",
                file.origin, publisher.id
            ),
        );
        return;
    }
    reasons.pass(
        Check::Signature,
        Code::ProvenanceVerified,
        format!(
            "registry provenance `{}` verified: signer `{}`, built from {} at {} by {}",
            file.origin,
            attestation.signer,
            shown_claim(&claims.repository),
            shown_claim(&claims.git_ref),
            shown_claim(&claims.workflow)
        ),
    );
    attestations.push(attestation);
}

/// Whether npm's trusted publisher names a CI provider other than the one whose OIDC issuer
/// signed the certificate. An unknown provider cannot be compared and contradicts nothing.
fn publisher_contradicts(publisher: &TrustedPublisher, issuer: &str) -> bool {
    publisher
        .issuer()
        .is_some_and(|expected| expected != issuer)
}

/// Whether the certificate's Build Config URI (without `@ref`) is `want`: a full URL, or a
/// path inside the certificate's source repository (`.github/workflows/release.yml`).
pub(crate) fn workflow_matches(want: &str, claims: &WorkflowClaims) -> bool {
    let Some(config) = claims.workflow.as_deref() else {
        return false;
    };
    let config = config.rsplit_once('@').map_or(config, |(path, _)| path);
    if want.contains("://") {
        return config == want;
    }
    let Some(repository) = claims.repository.as_deref() else {
        return false;
    };
    config
        .strip_prefix(repository)
        .filter(|rest| rest.starts_with('/'))
        .is_some_and(|rest| rest.trim_start_matches('/') == want.trim_start_matches('/'))
}

fn shown_claim(claim: &Option<String>) -> &str {
    claim.as_deref().unwrap_or("(not in the certificate)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflows_match_by_path_in_the_repository_or_by_url_without_the_ref() {
        let claims = WorkflowClaims {
            repository: Some("https://github.com/sigstore/sigstore-js".into()),
            git_ref: Some("refs/heads/main".into()),
            workflow: Some(
                "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
                    .into(),
            ),
        };
        assert!(workflow_matches(".github/workflows/release.yml", &claims));
        assert!(workflow_matches("/.github/workflows/release.yml", &claims));
        assert!(workflow_matches(
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml",
            &claims
        ));
        assert!(!workflow_matches(".github/workflows/ci.yml", &claims));
        assert!(!workflow_matches("workflows/release.yml", &claims));
        assert!(!workflow_matches(
            "https://github.com/evil/sigstore-js/.github/workflows/release.yml",
            &claims
        ));
        // GitLab writes `project//.gitlab-ci.yml`.
        let gitlab = WorkflowClaims {
            repository: Some("https://gitlab.com/group/project".into()),
            git_ref: None,
            workflow: Some(
                "https://gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main".into(),
            ),
        };
        assert!(workflow_matches(".gitlab-ci.yml", &gitlab));
        assert!(!workflow_matches(
            ".github/workflows/release.yml",
            &WorkflowClaims::default()
        ));
    }

    #[test]
    fn a_trusted_publisher_contradicts_only_another_known_issuer() {
        let github = TrustedPublisher {
            id: "github".into(),
            oidc_config_id: None,
        };
        assert!(!publisher_contradicts(
            &github,
            "https://token.actions.githubusercontent.com"
        ));
        assert!(publisher_contradicts(&github, "https://gitlab.com"));
        let unknown = TrustedPublisher {
            id: "circleci".into(),
            oidc_config_id: None,
        };
        assert!(!publisher_contradicts(&unknown, "https://gitlab.com"));
    }
}
