//! The policy file as written: the serde shape, with spans, and its JSON Schema.

use mcpin_attestation::Ecosystem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

/// The policy file as written, for serde and JSON Schema. Keys are kebab-case;
/// unknown keys are errors.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(title = "mcpin policy")]
pub struct PolicyFile {
    /// Revision number. It must grow with every published revision: a policy
    /// older than the last one seen on a machine is refused.
    #[schemars(with = "u64")]
    pub version: Spanned<u64>,
    /// Names this policy for rollback protection (one last-seen version per name).
    #[serde(default)]
    pub name: Option<String>,
    /// The policy stops allowing anything after this date (`YYYY-MM-DD`, UTC
    /// midnight) or RFC 3339 time.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expires: Option<Spanned<String>>,
    /// Freeze-attack defence for fleets: a machine whose last successful `mcpin policy pull` of
    /// this policy is older than this (`"7d"`, `"12h"`, `"30m"`) denies every launch
    /// (`policy-stale`); so does a machine that never pulled it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max_age: Option<Spanned<String>>,
    /// Who may sign: ed25519 keys and Sigstore identities.
    #[serde(default)]
    pub signers: Vec<SignerFile>,
    /// What may run. A package matching no rule is denied.
    #[serde(default)]
    pub packages: Vec<PackageRuleFile>,
    /// The approved launch command lines, from which `mcpin policy compile` writes each agent
    /// client's own managed allowlist (exact `<mcpin> run -- ARGV` arrays).
    #[serde(default)]
    pub servers: Vec<ServerFile>,
    /// Tool rules for every package (a package rule's `tools` replaces them).
    #[serde(default)]
    pub tools: ToolRulesFile,
    /// SBOM rules: whether one is required, denied components and licenses.
    #[serde(default)]
    pub sbom: SbomRulesFile,
    /// Launch rules for `mcpin run`: launchers, docker flags, environment.
    #[serde(default)]
    pub launch: LaunchRulesFile,
    /// Who may approve packages (`mcpin approve`) for rules with `require-approval`.
    #[serde(default)]
    pub approval: ApprovalRulesFile,
    /// Where bundles are looked up besides next to the artifact.
    #[serde(default)]
    pub store: StoreFile,
    /// Sigstore verification settings (keyless signers).
    #[serde(default)]
    pub sigstore: SigstoreFile,
    /// What the runtime guard enforces while the server runs.
    #[serde(default)]
    pub runtime: super::runtime::RuntimeFile,
    /// What a verified server may touch while it runs (Landlock on Linux, docker flags).
    #[serde(default)]
    pub sandbox: super::sandbox::SandboxFile,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SignerFile {
    /// The name package rules use to require this signer.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// An ed25519 public key (SPKI PEM file, relative to the policy file).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub public_key: Option<Spanned<String>>,
    /// The expected key id (hex sha256 of the SPKI DER); checked against `public-key`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key_id: Option<Spanned<String>>,
    /// Sigstore: the OIDC issuer of the signing certificate.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub issuer: Option<Spanned<String>>,
    /// Sigstore: the exact certificate SAN.
    #[serde(default)]
    pub san: Option<String>,
    /// Sigstore: a regular expression the whole SAN must match.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub san_regex: Option<Spanned<String>>,
    /// Sigstore (GitHub Actions): the source repository URL the build ran in.
    #[serde(default)]
    pub repository: Option<String>,
    /// Sigstore (GitHub Actions): the git ref the build ran on, e.g. `refs/heads/main`.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// Sigstore (CI): the workflow that built it, as a path in `repository`
    /// (`.github/workflows/release.yml`) or a full URL without `@ref`; compared with the
    /// certificate's Build Config URI with its `@ref` removed.
    #[serde(default)]
    pub workflow: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PackageRuleFile {
    /// The registry the package comes from.
    pub ecosystem: Ecosystem,
    /// Package name or glob (`@scope/*`, `mcp-server-*`).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Version requirement in the ecosystem's syntax: npm semver ranges, PEP 440 specifiers.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub version: Option<Spanned<String>>,
    /// If set, the artifact's digest must be one of these (`sha256:<hex>` or `sha512:<hex>`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub digests: Vec<Spanned<String>>,
    /// At least one of these signers must have signed the package statement.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub require_any: Vec<Spanned<String>>,
    /// Every one of these signers must have signed (a package statement or an approval).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub require_all: Vec<Spanned<String>>,
    /// A valid approval by one of `[approval] signers` is required.
    #[serde(default)]
    pub require_approval: bool,
    /// The signed tools digest must equal this (`sha256:<hex>`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub tools_digest: Option<Spanned<String>>,
    /// Tool rules for this package, replacing the top-level `[tools]`.
    #[serde(default)]
    pub tools: Option<ToolRulesFile>,
    /// Sandbox keys for this package, each replacing the global `[sandbox]` one.
    #[serde(default)]
    pub sandbox: Option<super::sandbox::SandboxFile>,
}

/// One approved server launch, as an agent config runs it through `mcpin run --`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServerFile {
    /// The server's name in client configs (letters, digits, `-` and `_`).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The launcher command line with an exact version or digest, e.g.
    /// `["npx", "-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "/srv/shared"]`.
    #[schemars(with = "Vec<String>")]
    pub argv: Spanned<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ToolRulesFile {
    /// The signed statement must carry the tools payload.
    #[serde(default)]
    pub require: bool,
    /// If set, only these tool names may be present.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// These tool names may not be present.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Deny tools that may be destructive (MCP `destructiveHint`, which
    /// defaults to true unless `readOnlyHint` is true), unless in `allow-destructive`.
    #[serde(default)]
    pub deny_destructive: bool,
    /// Tool names exempt from `deny-destructive`.
    #[serde(default)]
    pub allow_destructive: Vec<String>,
    /// Deny tools that reach an open world (MCP `openWorldHint`, default true),
    /// unless in `allow-open-world`.
    #[serde(default)]
    pub deny_open_world: bool,
    /// Tool names exempt from `deny-open-world`.
    #[serde(default)]
    pub allow_open_world: Vec<String>,
    /// The worst finding of `mcpin tools lint` allowed over the signed tools
    /// (low, medium, high, critical).
    #[serde(default)]
    #[schemars(with = "Option<SeverityName>")]
    pub max_lint_severity: Option<LintSeverity>,
}

/// The schema of [`LintSeverity`] (the lint crate's type has none).
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum SeverityName {
    Low,
    Medium,
    High,
    Critical,
}

/// Severity of a lint finding over the tools: `low < medium < high < critical`.
pub use mcpin_tools::Severity as LintSeverity;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SbomRulesFile {
    /// The signed statement must reference an SBOM, and the SBOM must be found.
    #[serde(default)]
    pub require: bool,
    /// Components that may not appear.
    #[serde(default)]
    pub deny: Vec<DeniedComponentFile>,
    /// If set, every component's license expression must be satisfiable with these SPDX ids.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub licenses_allow: Option<Vec<Spanned<String>>>,
    /// A component whose license expression cannot be satisfied without these is denied.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub licenses_deny: Vec<Spanned<String>>,
    /// Every component must carry at least one hash.
    #[serde(default)]
    pub require_hashes: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeniedComponentFile {
    /// A purl without version (`pkg:npm/lodash`, `pkg:pypi/requests`).
    #[schemars(with = "String")]
    pub purl: Spanned<String>,
    /// Versions denied, in the ecosystem's syntax; all versions if absent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub versions: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LaunchRulesFile {
    /// Launchers agent configs may use (`npx`, `uvx`, `docker`); empty allows none.
    #[serde(default)]
    pub launchers: Vec<String>,
    /// docker options that deny a launch, besides those the launcher grammar refuses. Long
    /// forms: `--network=bridge` (that value) or `--user` (any value).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub docker_deny_flags: Vec<Spanned<String>>,
    /// Environment variables servers receive besides HOME, PATH, LANG, LC_*, TERM, TMPDIR,
    /// USER and LOGNAME (exact names or `PREFIX*`). Everything else is dropped.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub env_allow: Vec<Spanned<String>>,
    /// Environment variables removed before launch, besides the built-in list (names or `PREFIX*`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub env_strip: Vec<Spanned<String>>,
    /// Environment variables whose presence denies the launch (names or `PREFIX*`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub env_deny: Vec<Spanned<String>>,
    /// Absolute directories docker bind-mount (`-v`) sources must lie in, after symlinks are
    /// resolved. Empty (the default): no bind mount is allowed.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub docker_mount_sources: Vec<Spanned<String>>,
    /// The docker daemon the docker client talks to (`unix:///…`, `tcp://host:port`,
    /// `ssh://user@host`). Unset: the client's default; `DOCKER_HOST` and the other `DOCKER_*`
    /// variables of the caller are never used.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub docker_host: Option<Spanned<String>>,
    /// The `node`, `python` and `docker` launches exec: `{ path = "/usr/bin/node", sha256 =
    /// "…" }` (absolute; the sha256 is optional). A pin in the system config wins. Unpinned
    /// tools are searched on the absolute entries of `PATH`.
    #[serde(default)]
    #[schemars(with = "super::InterpreterPins")]
    pub interpreters: Option<Spanned<super::InterpreterPins>>,
    /// Re-hash every file of an installed package before each launch. By default a launch
    /// compares each file's stat (inode, size, mtime, ctime, mode) with the authenticated
    /// snapshot taken at its last re-hash, which any change by a process without root alters;
    /// a tree in a root-owned store is checked by its ownership. `mcpin store verify`
    /// re-hashes every install on demand.
    #[serde(default)]
    pub rehash_installed: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApprovalRulesFile {
    /// Signer ids whose approvals count.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub signers: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StoreFile {
    /// A directory of bundles: `<dir>/<sha256 of artifact>/*.sigstore.json`
    /// (relative to the policy file).
    #[serde(default)]
    pub dir: Option<String>,
    /// An HTTPS store: `<url>/<sha256 of artifact>/index.json` lists the files
    /// (bundles and SBOMs) to fetch from `<url>/<sha256>/<name>`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// An OCI attestation store `HOST/REPOSITORY`: bundles and SBOMs attached to
    /// the artifact's digest (`subject` sha256:<hex>), found by the referrers API
    /// or the `sha256-<hex>` tag index.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub oci: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SigstoreFile {
    /// A trusted root JSON file; default: the embedded Sigstore production root.
    #[serde(default)]
    pub trusted_root: Option<String>,
}

/// The JSON Schema of the policy file, for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PolicyFile)).expect("a schema serializes")
}
