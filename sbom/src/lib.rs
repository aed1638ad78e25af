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
//! - [`read_sbom_file`]: read an untrusted CycloneDX JSON file under the size
//!   limit of [`SbomFacts`] (`mcpin_attestation::sbom_facts`, the one reader the
//!   verifier and review share).
//! - [`binding`]: check that a lock or SBOM file is the one a signed
//!   predicate names.
//!
//! This crate runs the ecosystem resolvers (`npm`, `uv` must be on PATH for
//! [`resolve`]) but never runs package code: no install scripts, no sdist
//! builds unless explicitly allowed. It does not verify signatures (that is
//! `mcpin-verifier`) and does not install anything (that is the launcher).

pub mod binding;
pub mod bom;
pub mod resolve;

pub use binding::{BindingError, check_lock, check_sbom};
pub use bom::{SbomError, SbomOptions, build as build_sbom};
pub use mcpin_attestation::sbom_facts::{
    ComponentFacts, FactsError, MAX_SBOM_BYTES, SbomFacts, ServiceFacts,
};
pub use resolve::{LockOptions, ResolveError, lock};

/// Why an SBOM file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SbomReadError {
    #[error("reading SBOM `{path}`: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("SBOM `{0}` is larger than the {MAX_SBOM_BYTES}-byte limit")]
    TooLarge(std::path::PathBuf),
}

/// Reads an SBOM file, stopping past [`MAX_SBOM_BYTES`] so that an oversize file is refused
/// without being held in memory.
pub fn read_sbom_file(path: &std::path::Path) -> Result<Vec<u8>, SbomReadError> {
    use std::io::Read;
    let io = |source| SbomReadError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    fs_err::File::open(path)
        .map_err(io)?
        .take(MAX_SBOM_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(SbomReadError::TooLarge(path.to_owned()));
    }
    Ok(bytes)
}
