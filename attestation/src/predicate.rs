use serde::{Deserialize, Serialize};

use crate::ToolsSection;

/// predicateType of the statement a publisher signs: the package, and the
/// tools, lock and SBOM that belong to it. The trailing `v1` is the format
/// version; an incompatible change gets a new URI.
pub const PACKAGE_PREDICATE_TYPE: &str = "https://mcpin.dev/attestation/mcp-package/v1";

/// predicateType of an enterprise approval (countersignature) over the same subject.
pub const APPROVAL_PREDICATE_TYPE: &str = "https://mcpin.dev/attestation/approval/v1";

/// Package ecosystems mcpin understands: the one definition the predicate, the launcher
/// grammar and policy files share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Npm,
    Pypi,
    Oci,
    Mcpb,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Oci => "oci",
            Ecosystem::Mcpb => "mcpb",
        }
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The predicate of [`PACKAGE_PREDICATE_TYPE`].
///
/// `package` is always present. `tools`, `lock` and `sbom` are optional in the
/// format; a policy decides which of them it requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackagePredicate {
    pub package: PackageInfo,
    /// The canonical tools payload (`mcpin tools capture`), with its digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsSection>,
    /// The locked run-time dependency tree (`mcpin lock`), inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<crate::Lock>,
    /// The CycloneDX SBOM, by digest; the document travels beside the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<SbomRef>,
}

/// What a package is, as read from its own metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageInfo {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub purl: String,
    /// The file name of the artifact as published (wheel tags matter).
    pub file_name: String,
    pub size: u64,
    /// The server's entry points: npm `bin`, Python console scripts, the MCPB entry point.
    #[serde(default)]
    pub entry_points: Vec<EntryPoint>,
    /// The MCP registry name (`io.github.owner/name`) the package declares, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_name: Option<String>,
}

/// A way to start the server: a command name and what it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPoint {
    /// The command name (npm bin name, console script name, or the MCPB name).
    pub name: String,
    /// What it runs: a path inside the package, or `module:function` for Python.
    pub target: String,
}

/// Media type of the CycloneDX JSON documents mcpin writes and references.
pub const CYCLONEDX_JSON_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json; version=1.5";

/// A reference to the CycloneDX document that describes the same package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomRef {
    /// [`CYCLONEDX_JSON_MEDIA_TYPE`] for documents mcpin writes.
    pub media_type: String,
    /// `sha256` of the exact SBOM bytes, lowercase hex.
    pub sha256: String,
}

/// The predicate of [`APPROVAL_PREDICATE_TYPE`]: an enterprise says it reviewed
/// this subject, with these tools, lock and SBOM, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPredicate {
    pub approver: String,
    /// RFC 3339 timestamp.
    pub approved_at: String,
    /// RFC 3339 timestamp after which the approval no longer counts.
    pub expires: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_sha256: Option<String>,
}
