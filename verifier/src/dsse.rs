//! Signing statements into DSSE-in-Sigstore-bundle form, and verifying them.

use mcpin_artifact::Digests;
use mcpin_attestation::{
    Bundle, BundleError, Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE_V1,
    Statement, Subject,
};

use crate::keys::{KeyId, PublicKey, SecretKey};

/// Why a bundle does not verify. [`code`](Self::code) is stable and documented.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("bundle-malformed: {0}")]
    Bundle(#[from] BundleError),
    #[error(
        "keyless-bundle: the bundle is signed with a certificate, not a key; verify it with a Sigstore identity"
    )]
    Keyless,
    #[error("payload-type: DSSE payloadType is `{0}`, expected `{IN_TOTO_PAYLOAD_TYPE}`")]
    PayloadType(String),
    #[error("wrong-key: the bundle was signed by key {hint}, not by the given key {expected}")]
    WrongKey { expected: KeyId, hint: String },
    #[error("signature-invalid: no DSSE signature verifies with key {0}")]
    SignatureInvalid(KeyId),
    #[error("statement-malformed: the signed payload is not an in-toto statement: {0}")]
    Statement(serde_json::Error),
    #[error("statement-type: statement `_type` is `{0}`, expected `{STATEMENT_TYPE_V1}`")]
    StatementType(String),
    #[error(
        "digest-mismatch: the artifact's bytes (sha256:{artifact_sha256}) differ from every signed subject: {subjects}"
    )]
    DigestMismatch {
        artifact_sha256: String,
        subjects: String,
    },
    #[error("subject-mismatch: the bundle is for {subjects}, not for {artifact_purl}")]
    SubjectMismatch {
        artifact_purl: String,
        subjects: String,
    },
}

impl VerifyError {
    /// The stable, kebab-case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Bundle(_) => "bundle-malformed",
            VerifyError::Keyless => "keyless-bundle",
            VerifyError::PayloadType(_) => "payload-type",
            VerifyError::WrongKey { .. } => "wrong-key",
            VerifyError::SignatureInvalid(_) => "signature-invalid",
            VerifyError::Statement(_) => "statement-malformed",
            VerifyError::StatementType(_) => "statement-type",
            VerifyError::DigestMismatch { .. } => "digest-mismatch",
            VerifyError::SubjectMismatch { .. } => "subject-mismatch",
        }
    }
}

/// A statement whose signature has been checked against a trusted key.
/// Only [`verify_bundle`] constructs it.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedStatement {
    statement: Statement,
    signer: KeyId,
}

impl VerifiedStatement {
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    pub fn signer(&self) -> &KeyId {
        &self.signer
    }

    /// The subject that names `sha256` (lowercase hex) as its sha256 digest. For files mcpin
    /// signs with both digests and checks on every run (a policy): sha256 alone binds the
    /// bytes, and not hashing them with sha512 as well halves the cost of a large file.
    pub fn subject_with_sha256(&self, sha256: &str) -> Result<&Subject, VerifyError> {
        let subjects = &self.statement.subject;
        subjects
            .iter()
            .find(|s| {
                s.digest
                    .get("sha256")
                    .is_some_and(|expected| expected.eq_ignore_ascii_case(sha256))
            })
            .ok_or_else(|| VerifyError::DigestMismatch {
                artifact_sha256: sha256.to_owned(),
                subjects: subjects
                    .iter()
                    .map(|subject| {
                        let sha256 = subject.digest.get("sha256").map_or("-", String::as_str);
                        format!("{} (sha256:{sha256})", subject.name)
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The subject whose digests equal the artifact's. Every digest a subject
    /// names in an algorithm we know (sha256, sha512) must match, and it must
    /// name at least one. `artifact_purl`, when the artifact could be
    /// identified, tells a bundle for another package (`subject-mismatch`)
    /// apart from altered bytes of the same package (`digest-mismatch`).
    pub fn subject_matching(
        &self,
        artifact: &Digests,
        artifact_purl: Option<&str>,
    ) -> Result<&Subject, VerifyError> {
        let subjects = &self.statement.subject;
        if let Some(subject) = subjects.iter().find(|s| subject_matches(s, artifact)) {
            return Ok(subject);
        }
        let listed = subjects
            .iter()
            .map(|subject| {
                let sha256 = subject.digest.get("sha256").map_or("-", String::as_str);
                format!("{} (sha256:{sha256})", subject.name)
            })
            .collect::<Vec<_>>()
            .join(", ");
        match artifact_purl {
            Some(purl) if !subjects.iter().any(|subject| subject.name == purl) => {
                Err(VerifyError::SubjectMismatch {
                    artifact_purl: purl.to_owned(),
                    subjects: listed,
                })
            }
            _ => Err(VerifyError::DigestMismatch {
                artifact_sha256: artifact.sha256.clone(),
                subjects: listed,
            }),
        }
    }
}

fn subject_matches(subject: &Subject, artifact: &Digests) -> bool {
    let mut compared = 0;
    for (algorithm, expected) in &subject.digest {
        let actual = match algorithm.as_str() {
            "sha256" => &artifact.sha256,
            "sha512" => &artifact.sha512,
            _ => continue,
        };
        if !expected.eq_ignore_ascii_case(actual) {
            return false;
        }
        compared += 1;
    }
    compared > 0
}

/// Signs `statement` with `key` and wraps it in a v0.3 Sigstore bundle whose
/// public-key hint is the key id.
pub fn sign_statement(statement: &Statement, key: &SecretKey) -> Bundle {
    let payload = statement.to_canonical_json();
    let signature = key.sign(&mcpin_attestation::pae(IN_TOTO_PAYLOAD_TYPE, &payload));
    let envelope = Envelope::new(
        IN_TOTO_PAYLOAD_TYPE,
        &payload,
        vec![EnvelopeSignature::new(
            &signature,
            Some(key.id().to_string()),
        )],
    );
    Bundle::with_public_key(envelope, key.id().to_string())
}

/// Checks that `bundle` is a DSSE in-toto statement signed by `key`.
/// Subject digests are checked separately with [`VerifiedStatement::subject_matching`].
pub fn verify_bundle(bundle: &Bundle, key: &PublicKey) -> Result<VerifiedStatement, VerifyError> {
    let material = &bundle.verification_material;
    if material.certificate.is_some() || material.x509_certificate_chain.is_some() {
        return Err(VerifyError::Keyless);
    }
    let envelope = bundle.envelope()?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(VerifyError::PayloadType(envelope.payload_type.clone()));
    }
    let signed_bytes = envelope.pae()?;
    let mut verified = false;
    for signature in &envelope.signatures {
        if key.verify(&signed_bytes, &signature.sig_bytes()?) {
            verified = true;
            break;
        }
    }
    if !verified {
        let hint = material.public_key.as_ref().map(|hint| hint.hint.as_str());
        return Err(match hint {
            Some(hint) if hint != key.id().as_str() => VerifyError::WrongKey {
                expected: key.id().clone(),
                hint: hint.to_owned(),
            },
            _ => VerifyError::SignatureInvalid(key.id().clone()),
        });
    }
    let statement: Statement =
        mcpin_attestation::strict_json::from_slice(&envelope.payload_bytes()?)
            .map_err(VerifyError::Statement)?;
    if statement.statement_type != STATEMENT_TYPE_V1 {
        return Err(VerifyError::StatementType(statement.statement_type));
    }
    Ok(VerifiedStatement {
        statement,
        signer: key.id().clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn statement() -> Statement {
        Statement {
            statement_type: STATEMENT_TYPE_V1.into(),
            subject: vec![Subject {
                name: "pkg:npm/x@1.0.0".into(),
                digest: BTreeMap::from([("sha256".into(), "aa".repeat(32))]),
            }],
            predicate_type: mcpin_attestation::PACKAGE_PREDICATE_TYPE.into(),
            predicate: serde_json::json!({}),
        }
    }

    #[test]
    fn signature_verifies_only_with_the_signing_key() {
        let key = SecretKey::generate();
        let bundle = sign_statement(&statement(), &key);
        let verified = verify_bundle(&bundle, &key.public_key()).unwrap();
        assert_eq!(verified.statement(), &statement());

        let other = SecretKey::generate();
        let error = verify_bundle(&bundle, &other.public_key()).unwrap_err();
        assert_eq!(error.code(), "wrong-key");
    }

    #[test]
    fn subject_needs_every_known_digest_to_match() {
        let key = SecretKey::generate();
        let verified =
            verify_bundle(&sign_statement(&statement(), &key), &key.public_key()).unwrap();
        let mut digests = Digests {
            size: 1,
            sha256: "aa".repeat(32),
            sha512: "bb".repeat(64),
        };
        assert!(verified.subject_matching(&digests, None).is_ok());
        digests.sha256 = "ab".repeat(32);
        assert_eq!(
            verified
                .subject_matching(&digests, Some("pkg:npm/x@1.0.0"))
                .unwrap_err()
                .code(),
            "digest-mismatch"
        );
        assert_eq!(
            verified
                .subject_matching(&digests, Some("pkg:npm/y@2.0.0"))
                .unwrap_err()
                .code(),
            "subject-mismatch"
        );
    }
}
