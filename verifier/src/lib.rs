//! Signatures and verdicts over mcpin statements.
//!
//! - [`keys`]: ed25519 keys as PKCS#8 / SPKI PEM files (interoperable with
//!   openssl), optionally passphrase-encrypted, named by their key id.
//! - [`dsse`]: sign an in-toto statement into a DSSE envelope inside a
//!   Sigstore bundle, and verify one: payload type, signature, then subject
//!   digests against the artifact's bytes.
//! - [`keyless`]: keyless signing (OIDC token → Fulcio certificate → Rekor)
//!   with `sigstore-sign`.
//! - [`sigstore`]: Sigstore bundles (keyless and managed-key) verified with
//!   `sigstore-verify` against the embedded production trusted root or a file.
//!
//! - [`policy`]: the TOML allowlist policy (with spans, JSON Schema, signing
//!   and rollback protection); [`evaluate`] judges an artifact and its bundles
//!   against it; [`verdict`] is the result, every reason with a stable code;
//!   [`launch`] applies the policy's launch rules for `mcpin run`; [`gate`]
//!   loads the policy a judgement is made under; [`verified`] is the proof an
//!   allowed launch carries to the installer.
//!
//! The judge ([`evaluate::judge`]) does no I/O: bundles and SBOMs arrive as bytes
//! (gathered by `mcpin_registry_client::attestations`), and the verdict comes with
//! a [`VerifiedPackage`] that only the judge can build.
//!
//! Verification returns a [`dsse::VerifiedStatement`], which only this crate
//! can construct: holding one is proof the checks ran. Every failure is a
//! [`dsse::VerifyError`] with a stable kebab-case [`code`](dsse::VerifyError::code).

pub mod dsse;
pub mod evaluate;
pub mod gate;
pub mod keyless;
pub mod keys;
pub mod launch;
pub mod policy;
pub mod sigstore;
mod state;
pub mod verdict;
pub mod verified;

pub use dsse::{VerifiedStatement, VerifyError, sign_statement, verify_bundle};
pub use keys::{KeyError, KeyId, PublicKey, SecretKey};
pub use verified::VerifiedPackage;
