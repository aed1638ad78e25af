//! The formats mcpin signs and reads, and nothing else.
//!
//! A signed mcpin statement is an [in-toto Statement v1](https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
//! whose predicate is [`PackagePredicate`] (or [`ApprovalPredicate`] for an
//! enterprise countersignature), wrapped in a [DSSE](https://github.com/secure-systems-lab/dsse)
//! envelope and stored as a [Sigstore bundle](https://github.com/sigstore/protobuf-specs) v0.3 JSON file.
//!
//! This crate holds the serde types, the DSSE pre-authentication encoding and
//! structural checks. It does no cryptography: signing and verifying live in
//! `mcpin-verifier`, which depends on this crate and never the reverse.

mod bundle;
mod lock;
mod predicate;
pub mod sbom_facts;
mod statement;
pub mod strict_json;
mod tools;

pub use bundle::{
    BUNDLE_MEDIA_TYPE_V03, Bundle, BundleError, Envelope, EnvelopeSignature, PublicKeyHint,
    VerificationMaterial, pae,
};
pub use lock::{
    DistributionKind, LOCK_VERSION, Lock, LockError, LockRoot, LockedPackages, NpmPackage,
    PypiFile, PypiPackage, PythonTarget,
};
pub use predicate::{
    APPROVAL_PREDICATE_TYPE, ApprovalPredicate, CYCLONEDX_JSON_MEDIA_TYPE, Ecosystem, EntryPoint,
    PACKAGE_PREDICATE_TYPE, PackageInfo, PackagePredicate, SbomRef,
};
pub use statement::{IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE_V1, Statement, Subject};
pub use tools::{Tool, ToolsPayload, ToolsSection};

/// PEP 503 name normalization (lowercase; every run of `-`, `_`, `.` becomes one
/// `-`): how PyPI names are compared, and how the pypi purl type spells them.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    for part in name
        .trim()
        .split(['-', '_', '.'])
        .filter(|part| !part.is_empty())
    {
        if !normalized.is_empty() {
            normalized.push('-');
        }
        normalized.push_str(&part.to_ascii_lowercase());
    }
    normalized
}

#[cfg(test)]
mod tests {
    #[test]
    fn pypi_names_normalize_per_pep_503() {
        assert_eq!(
            super::normalize_pypi_name("MCP_Server..Time"),
            "mcp-server-time"
        );
        assert_eq!(
            super::normalize_pypi_name("Typing_Extensions"),
            "typing-extensions"
        );
        assert_eq!(super::normalize_pypi_name("_a-"), "a");
    }
}
