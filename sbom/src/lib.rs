//! Dependency inventory: the lock and the CycloneDX SBOM.
//!
//! - [`resolve`]: `mcpin lock` — resolve every run-time dependency of an npm
//!   tarball or a wheel to exact versions with integrity, using npm
//!   (`npm install --package-lock-only --ignore-scripts` with a private user
//!   config) or uv (`uv pip compile`, wheels only unless sdists are allowed),
//!   and rewrite the result into the deterministic [`mcpin_attestation::Lock`].
//! - [`bom`]: `mcpin sbom` — a CycloneDX 1.5 JSON document (via `cyclonedx-bom`)
//!   with the package, one component per locked dependency, the dependency
//!   graph, and the MCP server and its tools (a [`mcpin_attestation::ToolsSection`])
//!   as services.
//! - [`facts`]: read an untrusted CycloneDX JSON document as raw JSON, under
//!   size and depth limits, into [`SbomFacts`] for review and policy.
//! - [`binding`]: check that a lock or SBOM file is the one a signed
//!   predicate names.
//!
//! This crate runs the ecosystem resolvers (`npm`, `uv` must be on PATH for
//! [`resolve`]) but never runs package code: no install scripts, no sdist
//! builds unless explicitly allowed. It does not verify signatures (that is
//! `mcpin-verifier`) and does not install anything (that is the launcher).

pub mod binding;
pub mod bom;
pub mod facts;
pub mod resolve;

pub use binding::{BindingError, check_lock, check_sbom};
pub use bom::{SbomError, SbomOptions, build as build_sbom};
pub use facts::{ComponentFacts, FactsError, SbomFacts, ServiceFacts, read_sbom_file};
pub use resolve::{LockOptions, ResolveError, lock};
