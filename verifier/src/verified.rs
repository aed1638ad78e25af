//! The proof a launch carries from the judge to the install and the exec.
//!
//! [`VerifiedPackage`] has no public constructor: only [`crate::evaluate::judge`] builds one,
//! and only for an allow verdict. It holds exactly what was judged (the artifact's identity and
//! digests, and the lock, tools and SBOM of the statements by the matched rule's required
//! signers), so "the lock installed is the lock judged" holds by construction: the installer
//! takes this value, never a lock read from anywhere else. The interpreter is not judged by
//! signature: it is pinned (system config, then policy) and the resolver enforces the pin.

use mcpin_artifact::Digests;
use mcpin_attestation::{Lock, PackageInfo, SbomRef, ToolsSection};

/// A package that passed every check of the policy, with what was judged.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    pub(crate) package: PackageInfo,
    pub(crate) digests: Digests,
    pub(crate) lock: Option<Lock>,
    pub(crate) tools: Option<ToolsSection>,
    pub(crate) sbom: Option<SbomRef>,
    pub(crate) signers: Vec<String>,
    pub(crate) rule: usize,
    pub(crate) sandbox: mcpin_sandbox::SandboxPolicy,
}

impl VerifiedPackage {
    /// The artifact's identity (ecosystem, name, version, purl, entry points).
    pub fn package(&self) -> &PackageInfo {
        &self.package
    }

    /// The digests of the artifact bytes that were verified.
    pub fn digests(&self) -> &Digests {
        &self.digests
    }

    /// The signed lock to install; `None` only for a package that declares no dependencies.
    pub fn lock(&self) -> Option<&Lock> {
        self.lock.as_ref()
    }

    /// The signed tools (the runtime guard holds the server to these).
    pub fn tools(&self) -> Option<&ToolsSection> {
        self.tools.as_ref()
    }

    /// The signed SBOM reference.
    pub fn sbom(&self) -> Option<&SbomRef> {
        self.sbom.as_ref()
    }

    /// The policy signer ids whose statements or approvals allowed the package, sorted.
    pub fn signers(&self) -> &[String] {
        &self.signers
    }

    /// The 0-based index of the `[[packages]]` rule that allowed it.
    pub fn rule(&self) -> usize {
        self.rule
    }

    /// What the server may touch while it runs: `[sandbox]` with the allowing rule's
    /// `[packages.sandbox]` keys in place of the global ones.
    pub fn sandbox(&self) -> &mcpin_sandbox::SandboxPolicy {
        &self.sandbox
    }
}
