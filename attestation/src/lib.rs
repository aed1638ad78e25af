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
mod statement;
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
