//! Finding bundles (beside the artifact, in the policy's stores) and verifying each one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::policy::{Policy, SignerKind};
use crate::sigstore::{self, ArtifactRef, SignerRequirement, TrustedRoot};
use crate::verdict::{Check, Code, Outcome, Reason, Reasons};

use super::{Attestation, Evidence};

/// Bundles for `artifact`: `ARTIFACT.sigstore.json`, `ARTIFACT.*.sigstore.json`
/// beside it, and `<store>/<sha256>/*.sigstore.json` in the policy's store.
pub fn discover_bundles(artifact: &Path, sha256: &str, store: Option<&Path>) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    let name = artifact
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match artifact.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    for entry in read_dir_files(&dir) {
        let file = entry
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(rest) = file.strip_prefix(&name)
            && (rest == ".sigstore.json"
                || (rest.starts_with('.') && rest.ends_with(".sigstore.json")))
        {
            found.insert(entry);
        }
    }
    if let Some(store) = store {
        for entry in read_dir_files(&store.join(sha256)) {
            if entry.to_string_lossy().ends_with(".sigstore.json") {
                found.insert(entry);
            }
        }
    }
    found.into_iter().collect()
}

/// Where the SBOM signed with a bundle travels: `X.sigstore.json` → `X.cdx.json`;
/// any other bundle name gets `.cdx.json` appended.
pub fn sbom_beside(bundle: &Path) -> PathBuf {
    let name = bundle.as_os_str().to_string_lossy();
    match name.strip_suffix(".sigstore.json") {
        Some(stem) => PathBuf::from(format!("{stem}.cdx.json")),
        None => PathBuf::from(format!("{name}.cdx.json")),
    }
}

pub(super) fn read_dir_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .collect()
        })
        .unwrap_or_default()
}

/// Fetches the files the policy's HTTPS and OCI stores hold for `sha256` into
/// `dest`. Returns them (bundles `*.sigstore.json` and SBOMs) and reasons saying
/// what happened; a store that cannot be read contributes nothing, which can
/// only lead to a deny, and a referrer that cannot be used is skipped and named.
pub fn fetch_store(policy: &Policy, sha256: &str, dest: &Path) -> (Vec<PathBuf>, Vec<Reason>) {
    let info = |code, message| Reason {
        check: Check::Signature,
        code,
        outcome: Outcome::Info,
        message,
    };
    let mut files = Vec::new();
    let mut reasons = Vec::new();
    if let Some(url) = &policy.store_url {
        match crate::store::fetch(url, sha256, &dest.join("https")) {
            Ok(fetched) => {
                reasons.push(info(
                    Code::StoreFetched,
                    format!("fetched {} file(s) from {url}/{sha256}/", fetched.len()),
                ));
                files.extend(fetched);
            }
            Err(error) => reasons.push(info(Code::StoreUnavailable, error.to_string())),
        }
    }
    if let Some(location) = &policy.store_oci {
        let fetched =
            crate::oci_store::OciStore::open(location, Default::default()).and_then(|store| {
                let dir = dest.join("oci");
                fs_err::create_dir_all(&dir).map_err(|source| {
                    crate::oci_store::OciStoreError::Write {
                        path: dir.clone(),
                        source,
                    }
                })?;
                store.fetch(sha256, &dir)
            });
        match fetched {
            Ok(fetched) => {
                reasons.push(info(
                    Code::StoreFetched,
                    format!(
                        "fetched {} file(s) attached to sha256:{sha256} in OCI store {location}",
                        fetched.files.len()
                    ),
                ));
                reasons.extend(
                    fetched.skipped.into_iter().map(|why| {
                        info(Code::StoreSkipped, format!("OCI store {location}: {why}"))
                    }),
                );
                files.extend(fetched.files);
            }
            Err(error) => reasons.push(info(Code::StoreUnavailable, error.to_string())),
        }
    }
    (files, reasons)
}

pub(super) fn verify_bundles(
    policy: &Policy,
    root: &TrustedRoot,
    evidence: &Evidence,
    reasons: &mut Reasons,
) -> Vec<Attestation> {
    let mut attestations = Vec::new();
    if evidence.bundles.is_empty() {
        reasons.fail(
            Check::Signature,
            Code::Unsigned,
            format!(
                "no bundle found for `{}` (looked for ARTIFACT.sigstore.json, ARTIFACT.*.sigstore.json{})",
                evidence.artifact_path.display(),
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
    for path in &evidence.bundles {
        match verify_one(policy, root, evidence, path) {
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
                        path.display(),
                        attestation.signer
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
    path: &Path,
) -> Result<Attestation, (Code, String)> {
    let shown = path.display();
    let bytes = fs_err::read(path).map_err(|e| (Code::BundleInvalid, e.to_string()))?;
    let raw: Value = serde_json::from_slice(&bytes)
        .map_err(|e| (Code::BundleInvalid, format!("`{shown}` is not JSON: {e}")))?;
    let material = &raw["verificationMaterial"];
    let keyless =
        material.get("certificate").is_some() || material.get("x509CertificateChain").is_some();
    if !keyless {
        let bundle = mcpin_attestation::Bundle::from_json(&bytes)
            .map_err(|e| (Code::BundleInvalid, format!("`{shown}`: {e}")))?;
        for signer in &policy.signers {
            let SignerKind::Key(key) = &signer.kind else {
                continue;
            };
            let Ok(verified) = crate::dsse::verify_bundle(&bundle, key) else {
                continue;
            };
            return match verified.subject_matching(evidence.digests, Some(&evidence.package.purl)) {
                Ok(_) => Ok(Attestation {
                    signer: signer.id.clone(),
                    bundle: path.to_owned(),
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
    let json = String::from_utf8_lossy(&bytes);
    let artifact = ArtifactRef::File(evidence.artifact_path.to_owned());
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
        match sigstore::verify_json(&shown.to_string(), &json, &artifact, &requirement, root) {
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
                let statement = verified
                    .dsse_payload
                    .as_deref()
                    .and_then(|payload| serde_json::from_slice(payload).ok());
                return Ok(Attestation {
                    signer: signer.id.clone(),
                    bundle: path.to_owned(),
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
