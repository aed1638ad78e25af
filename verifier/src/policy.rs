//! The allowlist policy: a TOML file, read with spans so that every error
//! points at the line and column in the user's file, then validated into a
//! [`Policy`]. Anything the policy does not allow is denied.
//!
//! Reading is two steps, as in cargo-deny: [`PolicyFile`] is the serde shape
//! (unknown keys rejected; its JSON Schema comes from the same types), and
//! [`compile`] checks it into a [`CompiledPolicy`] (globs, regexes, version ranges, SPDX
//! ids and key files all checked), from which [`CompiledPolicy::load`] makes the
//! [`Policy`]. [`Policy::parse`] does both; the compiled form is what the policy cache keeps,
//! so a policy loaded from the cache is built by the same code as one parsed from TOML.
//!
//! This module also signs and verifies policy files against a policy-root key,
//! and keeps the last seen `version` in a state file (rollback protection).

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use mcpin_attestation::Ecosystem;
use serde_spanned::Spanned;
use sha2::Digest as _;

use crate::keys::PublicKey;
use crate::sigstore::IdentityMatch;
pub use crate::state::{PolicyState, PullRecord, PullState, StateError, VersionCheck};

mod compiled;
mod file;
mod interpreters;
mod runtime;
mod sandbox;
mod signature;

pub use compiled::{CompiledError, CompiledPolicy, PackageRules, RulesError, cache_dir};
use compiled::{NameMatch, PolicyImage, RuleImage, SbomImage, SignerImage};

pub use file::{
    ApprovalRulesFile, DeniedComponentFile, LaunchRulesFile, PackageRuleFile, PolicyFile,
    SbomRulesFile, ServerFile, SignerFile, SigstoreFile, StoreFile, ToolRulesFile, json_schema,
};
pub use interpreters::{InterpreterPins, Pin};
pub use runtime::{
    DEFAULT_APPROVAL_TIMEOUT, DestructiveMode, OnDrift, RateLimit, RuntimeFile, RuntimePolicy,
    RuntimeTool, RuntimeToolFile, ToolClass,
};
pub use sandbox::{PortsFile, SandboxFile};
pub use signature::{
    POLICY_PREDICATE_TYPE, PolicyPredicate, PolicySignatureError, sign_policy, signature_path,
    verify_policy_signature, verify_policy_signature_bytes, verify_policy_signature_sha256,
};

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Parse or validation errors, each at a place in the file.
    #[error("{}", render(path, diagnostics))]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
    /// A file the policy names changed between validating the policy and loading it.
    #[error("policy `{path}`: {source}")]
    Changed {
        path: PathBuf,
        source: CompiledError,
    },
}

/// One problem at a place in a policy file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The line of the file with the span underlined.
    pub snippet: String,
}

fn render(path: &Path, diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{}: {}\n{}",
                path.display(),
                d.line,
                d.column,
                d.message,
                d.snippet
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A validated policy.
#[derive(Debug)]
pub struct Policy {
    pub path: PathBuf,
    pub name: String,
    pub version: u64,
    pub expires: Option<Timestamp>,
    /// `max-age`: how long after its last successful pull the policy still allows anything.
    pub max_age: Option<MaxAge>,
    pub signers: Vec<Signer>,
    /// `[[packages]]`, looked up by name ([`PackageRules::matching`]).
    pub packages: PackageRules,
    /// `[[servers]]`: the approved launch command lines (`mcpin policy compile`).
    pub servers: Vec<Server>,
    pub tools: ToolRules,
    pub sbom: SbomRules,
    pub launch: LaunchRules,
    pub approvers: Vec<String>,
    pub store_dir: Option<PathBuf>,
    pub store_url: Option<url::Url>,
    pub store_oci: Option<mcpin_registry_client::oci::Reference>,
    pub trusted_root: Option<PathBuf>,
    /// Every file or directory the policy names by path, as written and as resolved.
    pub named_files: Vec<NamedFile>,
    /// `[runtime]`: what the runtime guard enforces while the server runs.
    pub runtime: RuntimePolicy,
    /// `[sandbox]`: what a server may touch (a package rule's `[packages.sandbox]` overrides
    /// it key by key: see [`Policy::sandbox_for`]).
    pub sandbox: mcpin_sandbox::SandboxPolicy,
}

/// The policy's `max-age`, as written and as a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxAge {
    pub text: String,
    pub duration: jiff::SignedDuration,
}

/// One approved server launch (`[[servers]]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub name: String,
    /// The launcher argv (`npx -y pkg@1.2.3 ARGS…`), without the `mcpin run --` in front.
    pub argv: Vec<String>,
}

/// A path the policy names: a signer's key, the trusted root, the store directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFile {
    /// What names it, for messages (`signer \`publisher\` public-key`).
    pub what: String,
    /// The path as written in the policy.
    pub written: String,
    /// The path resolved against the policy's directory.
    pub resolved: PathBuf,
    /// The store directory (a tree of files), not one file.
    pub is_dir: bool,
}

impl NamedFile {
    /// The written path as a plain relative path below the policy's directory, with `/`
    /// separators (`./keys/a.pub` is `keys/a.pub`); `None` when it is absolute or climbs out with
    /// `..`. Only such files travel with a policy (`mcpin policy publish`, `mcpin policy pull`).
    pub fn distributable(&self) -> Option<String> {
        distributable_path(&self.written)
    }
}

/// `written` as a plain relative path with `/` separators, if it is one (see
/// [`NamedFile::distributable`]).
pub fn distributable_path(written: &str) -> Option<String> {
    let mut parts = Vec::new();
    for component in Path::new(written).components() {
        match component {
            std::path::Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    let plain = parts
        .iter()
        .all(|part| !part.is_empty() && !part.contains(['\\', '\0']));
    (plain && !parts.is_empty()).then(|| parts.join("/"))
}

#[derive(Debug)]
pub struct Signer {
    pub id: String,
    pub kind: SignerKind,
}

#[derive(Debug)]
pub enum SignerKind {
    Key(PublicKey),
    Sigstore {
        issuer: String,
        identity: IdentityMatch,
        repository: Option<String>,
        git_ref: Option<String>,
        /// The workflow path (or URL without `@ref`) the build ran.
        workflow: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct PackageRule {
    /// Index in `[[packages]]`, for messages.
    pub index: usize,
    pub ecosystem: Ecosystem,
    pub name: String,
    name_match: NameMatch,
    pub version: Option<VersionReq>,
    /// `(algorithm, lowercase hex)`.
    pub digests: Vec<(String, String)>,
    pub require_any: Vec<String>,
    pub require_all: Vec<String>,
    pub require_approval: bool,
    pub tools_digest: Option<String>,
    pub tools: Option<ToolRules>,
    /// `[packages.sandbox]`.
    pub sandbox: Option<mcpin_sandbox::SandboxOverride>,
}

/// A version requirement in an ecosystem's own syntax.
#[derive(Debug, Clone)]
pub enum VersionReq {
    Npm(node_semver::Range),
    Pypi(pep440_rs::VersionSpecifiers),
}

pub type ToolRules = ToolRulesFile;

#[derive(Debug, Default)]
pub struct SbomRules {
    pub require: bool,
    pub deny: Vec<DeniedComponent>,
    pub licenses_allow: Option<Vec<spdx::LicenseId>>,
    pub licenses_deny: Vec<spdx::LicenseId>,
    pub require_hashes: bool,
}

#[derive(Debug, Clone)]
pub struct DeniedComponent {
    pub purl_type: String,
    pub namespace: Option<String>,
    pub name: String,
    pub versions: Option<VersionReq>,
    pub source: String,
}

pub use crate::launch::LaunchRules;

impl VersionReq {
    /// Parses `requirement` in the syntax of `ecosystem` (npm semver for npm and MCPB, PEP 440 for PyPI).
    pub fn parse(ecosystem: Ecosystem, requirement: &str) -> Result<Self, String> {
        match ecosystem {
            Ecosystem::Npm | Ecosystem::Mcpb => node_semver::Range::parse(requirement)
                .map(VersionReq::Npm)
                .map_err(|e| format!("not an npm semver range: {e}")),
            Ecosystem::Pypi => requirement
                .parse()
                .map(VersionReq::Pypi)
                // The parser's message ends with a drawing of the input; the snippet shows it instead.
                .map_err(|e| {
                    let message = e.to_string();
                    let first = message
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .trim_end_matches(':');
                    format!("not a PEP 440 version specifier: {first}")
                }),
            Ecosystem::Oci => {
                Err("OCI images have no version order: pin them with `digests` instead".to_owned())
            }
        }
    }

    /// Whether `version` satisfies the requirement; an unparsable version never does.
    pub fn matches(&self, version: &str) -> bool {
        match self {
            VersionReq::Npm(range) => {
                node_semver::Version::parse(version).is_ok_and(|version| version.satisfies(range))
            }
            VersionReq::Pypi(specifiers) => version
                .parse::<pep440_rs::Version>()
                .is_ok_and(|version| specifiers.contains(&version)),
        }
    }
}

impl PackageRule {
    /// Whether this rule speaks about the package `name` of `ecosystem`.
    pub fn matches_name(&self, ecosystem: Ecosystem, name: &str) -> bool {
        ecosystem == self.ecosystem && self.name_match.is_match(&normalize_name(ecosystem, name))
    }
}

/// The glob a rule's (normalized) name is, as validation checks it and lookups match it.
fn name_glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
}

/// A `san-regex`, anchored: the whole SAN must match, not a substring.
fn anchored_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

impl DeniedComponent {
    /// An `[[sbom.deny]]` entry; on error, whether `versions` (else the purl) is at fault, and
    /// why.
    fn parse(purl_text: &str, versions: Option<&str>) -> Result<Self, (bool, String)> {
        let purl = purl_text
            .parse::<packageurl::PackageUrl>()
            .map_err(|e| (false, format!("invalid purl: {e}")))?;
        if purl.version().is_some() {
            return Err((
                false,
                "give the purl without a version and put the range in `versions`".into(),
            ));
        }
        let versions = versions
            .map(|range| {
                let ecosystem = match purl.ty() {
                    "npm" => Ecosystem::Npm,
                    "pypi" => Ecosystem::Pypi,
                    other => {
                        return Err((
                            true,
                            format!(
                                "version ranges are supported for npm and pypi purls, not `{other}`"
                            ),
                        ));
                    }
                };
                VersionReq::parse(ecosystem, range).map_err(|why| (true, why))
            })
            .transpose()?;
        Ok(DeniedComponent {
            purl_type: purl.ty().to_owned(),
            namespace: purl.namespace().map(str::to_owned),
            name: purl.name().to_owned(),
            versions,
            source: purl_text.to_owned(),
        })
    }
}

/// PyPI names compare after PEP 503 normalization; others as they are.
fn normalize_name(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Pypi => mcpin_attestation::normalize_pypi_name(name),
        _ => name.to_owned(),
    }
}

/// Parses `YYYY-MM-DD` (UTC midnight) or an RFC 3339 timestamp (with `Z` or a numeric offset).
pub fn parse_time(value: &str) -> Result<Timestamp, String> {
    // Only a bare date is a date: a civil-date parse also accepts a date-time prefix and
    // would cut `2027-01-01T23:00:00-05:00` to its day.
    let bare_date = value.len() == 10 && !value.contains('T');
    if bare_date && let Ok(date) = value.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|zoned| zoned.timestamp())
            .map_err(|e| e.to_string());
    }
    value
        .parse::<Timestamp>()
        .map_err(|_| format!("`{value}` is neither a date (YYYY-MM-DD) nor an RFC 3339 time"))
}

/// Collects validation errors with their spans.
struct Checker<'a> {
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics
            .push(diagnostic(self.text, span, message.into()));
    }
}

fn diagnostic(text: &str, span: Range<usize>, message: String) -> Diagnostic {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let snippet = format!(
        "{line:>5} | {}\n      | {}{}",
        &text[line_start..line_end],
        " ".repeat(column - 1),
        "^".repeat(width)
    );
    Diagnostic {
        line,
        column,
        message,
        snippet,
    }
}

/// Parses and validates policy `text` (read from `path`, which names it in diagnostics and
/// anchors its relative paths) into its compiled form. Every error points at its line and
/// column.
pub fn compile(path: &Path, text: &str) -> Result<CompiledPolicy, PolicyError> {
    let file: PolicyFile = toml::from_str(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        PolicyError::Invalid {
            path: path.to_owned(),
            diagnostics: vec![diagnostic(text, span, error.message().trim().to_owned())],
        }
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut check = Checker {
        text,
        diagnostics: Vec::new(),
    };

    if let Some(value) = &file.expires {
        let _ = parse_time(value.get_ref()).map_err(|why| check.error(value.span(), why));
    }
    if let Some(value) = &file.max_age {
        let _ = parse_max_age(value.get_ref()).map_err(|why| check.error(value.span(), why));
    }
    let servers = servers(&file.servers, &mut check);

    let mut signers = Vec::new();
    let mut ids = BTreeSet::new();
    for signer in &file.signers {
        if !ids.insert(signer.id.get_ref().clone()) {
            check.error(
                signer.id.span(),
                format!("signer id `{}` is defined twice", signer.id.get_ref()),
            );
        }
        signers.extend(signer_image(signer, base, &mut check));
    }
    let known_signer = |check: &mut Checker, id: &Spanned<String>| {
        if !ids.contains(id.get_ref()) {
            check.error(id.span(), format!("no signer has id `{}`", id.get_ref()));
        }
    };
    let approvers: Vec<String> = file
        .approval
        .signers
        .iter()
        .map(|id| {
            known_signer(&mut check, id);
            id.get_ref().clone()
        })
        .collect();

    let mut packages = Vec::with_capacity(file.packages.len());
    for rule in &file.packages {
        // Only parsed here: a matcher is compiled for the few rules a lookup finds.
        let _ = name_glob(&normalize_name(rule.ecosystem, rule.name.get_ref()))
            .map_err(|e| check.error(rule.name.span(), format!("invalid name glob: {e}")));
        if let Some(req) = &rule.version {
            let _ = VersionReq::parse(rule.ecosystem, req.get_ref())
                .map_err(|why| check.error(req.span(), why));
        }
        let digests = rule
            .digests
            .iter()
            .filter_map(|pin| {
                parse_digest(pin.get_ref())
                    .map_err(|why| check.error(pin.span(), why))
                    .ok()
            })
            .collect();
        for id in rule.require_any.iter().chain(&rule.require_all) {
            known_signer(&mut check, id);
        }
        if rule.require_approval && approvers.is_empty() {
            check.error(
                rule.name.span(),
                "require-approval is set but `[approval] signers` names no approver",
            );
        }
        if rule.require_any.is_empty() && rule.require_all.is_empty() {
            check.error(
                rule.name.span(),
                "this rule requires no signer: set require-any or require-all (unsigned packages are never allowed)",
            );
        }
        let tools_digest =
            rule.tools_digest
                .as_ref()
                .and_then(|pin| match parse_digest(pin.get_ref()) {
                    Ok((algorithm, _)) if algorithm == "sha256" => {
                        Some(pin.get_ref().to_ascii_lowercase())
                    }
                    Ok(_) => {
                        check.error(pin.span(), "tools-digest must be a sha256: digest");
                        None
                    }
                    Err(why) => {
                        check.error(pin.span(), why);
                        None
                    }
                });
        packages.push(RuleImage {
            ecosystem: rule.ecosystem,
            name: rule.name.get_ref().clone(),
            version: rule.version.as_ref().map(|req| req.get_ref().clone()),
            digests,
            require_any: rule
                .require_any
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            require_all: rule
                .require_all
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            require_approval: rule.require_approval,
            tools_digest,
            tools: rule.tools.clone(),
            sandbox: rule
                .sandbox
                .as_ref()
                .map(|over| sandbox::sandbox_override(over, &mut check)),
        });
    }

    let sbom = sbom_image(&file.sbom, &mut check);
    let launch = launch_rules(&file.launch, &mut check);
    let runtime = runtime::runtime_policy(&file.runtime, &mut check);
    let sandbox = sandbox::sandbox_policy(&file.sandbox, &mut check);
    if let Some(url) = &file.store.url {
        let _ = url::Url::parse(url.get_ref())
            .map_err(|e| e.to_string())
            .and_then(|parsed| {
                mcpin_registry_client::require_secure(&parsed).map_err(|e| e.to_string())
            })
            .map_err(|why| check.error(url.span(), why));
    }
    if let Some(location) = &file.store.oci {
        let _ = mcpin_registry_client::attestations::oci::parse_location(location.get_ref())
            .map_err(|error| check.error(location.span(), error.to_string()));
    }
    if !check.diagnostics.is_empty() {
        return Err(PolicyError::Invalid {
            path: path.to_owned(),
            diagnostics: check.diagnostics,
        });
    }
    let image = PolicyImage {
        name: file.name.clone().unwrap_or_else(|| "default".to_owned()),
        version: *file.version.get_ref(),
        expires: file.expires.as_ref().map(|value| value.get_ref().clone()),
        max_age: file.max_age.as_ref().map(|value| value.get_ref().clone()),
        signers,
        servers,
        tools: file.tools.clone(),
        sbom,
        launch,
        approvers,
        store_dir: file.store.dir.clone(),
        store_url: file.store.url.as_ref().map(|url| url.get_ref().clone()),
        store_oci: file.store.oci.as_ref().map(|oci| oci.get_ref().clone()),
        trusted_root: file.sigstore.trusted_root.clone(),
        runtime,
        sandbox,
    };
    Ok(CompiledPolicy::encode(&image, &packages))
}

/// Every file or directory a policy names by path (signer keys, the trusted root, the store
/// directory), written relative to `base`.
fn named_files(image: &PolicyImage, base: &Path) -> Vec<NamedFile> {
    let mut named: Vec<NamedFile> = image
        .signers
        .iter()
        .filter_map(|signer| match signer {
            SignerImage::Key { id, public_key, .. } => Some(NamedFile {
                what: format!("signer `{id}` public-key"),
                written: public_key.clone(),
                resolved: base.join(public_key),
                is_dir: false,
            }),
            SignerImage::Sigstore { .. } => None,
        })
        .collect();
    if let Some(written) = &image.trusted_root {
        named.push(NamedFile {
            what: "[sigstore] trusted-root".to_owned(),
            written: written.clone(),
            resolved: base.join(written),
            is_dir: false,
        });
    }
    if let Some(written) = &image.store_dir {
        named.push(NamedFile {
            what: "[store] dir".to_owned(),
            written: written.clone(),
            resolved: base.join(written),
            is_dir: true,
        });
    }
    named
}

impl Policy {
    /// Reads and validates the policy file at `path`.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = fs_err::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates policy `text`; `path` names it in errors and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, PolicyError> {
        compile(path, text)?
            .load(path)
            .map_err(|source| PolicyError::Changed {
                path: path.to_owned(),
                source,
            })
    }

    /// The sandbox of a package allowed by `rule`: `[sandbox]` with the rule's
    /// `[packages.sandbox]` keys in place of the global ones.
    pub fn sandbox_for(&self, rule: &PackageRule) -> mcpin_sandbox::SandboxPolicy {
        match &rule.sandbox {
            Some(over) => self.sandbox.with_override(over),
            None => self.sandbox.clone(),
        }
    }

    /// What a signature over this policy pins: each key signer's key id and the digest of the
    /// trusted-root file (read now).
    pub fn pins(&self) -> Result<PolicyPredicate, PolicyError> {
        let trusted_root_sha256 = match &self.trusted_root {
            Some(path) => {
                let bytes = fs_err::read(path).map_err(|source| PolicyError::Io {
                    path: path.clone(),
                    source,
                })?;
                Some(hex::encode(sha2::Sha256::digest(bytes)))
            }
            None => None,
        };
        let mut files = std::collections::BTreeMap::new();
        for named in &self.named_files {
            let Some(relative) = named.distributable() else {
                continue;
            };
            if named.is_dir {
                if named.resolved.is_dir() {
                    hash_tree(&named.resolved, &relative, 0, &mut files)?;
                }
            } else {
                files.insert(relative, sha256_file(&named.resolved)?);
            }
        }
        Ok(PolicyPredicate {
            version: self.version,
            files,
            signer_keys: self
                .signers
                .iter()
                .filter_map(|signer| match &signer.kind {
                    SignerKind::Key(key) => Some((signer.id.clone(), key.id().as_str().to_owned())),
                    SignerKind::Sigstore { .. } => None,
                })
                .collect(),
            trusted_root_sha256,
        })
    }

    /// Where this policy keeps attestations besides the artifact's own directory.
    pub fn attestation_sources(&self) -> mcpin_registry_client::attestations::Sources {
        mcpin_registry_client::attestations::Sources {
            dir: self.store_dir.clone(),
            https: self.store_url.clone(),
            oci: self.store_oci.clone(),
        }
    }

    /// Whether a registry's own provenance could satisfy a signer of this policy: it has a
    /// Sigstore identity signer.
    pub fn wants_registry_provenance(&self) -> bool {
        self.signers
            .iter()
            .any(|signer| matches!(signer.kind, SignerKind::Sigstore { .. }))
    }

    pub fn signer(&self, id: &str) -> Option<&Signer> {
        self.signers.iter().find(|signer| signer.id == id)
    }
}

/// The sha256 (hex) of the file at `path`.
fn sha256_file(path: &Path) -> Result<String, PolicyError> {
    let bytes = fs_err::read(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(hex::encode(sha2::Sha256::digest(bytes)))
}

/// Deepest directory level below a store directory that a signature pins.
const MAX_TREE_DEPTH: usize = 8;

/// Every regular file below `dir` (written as `prefix`), by `prefix/relative path` → sha256.
/// A symbolic link or a tree deeper than [`MAX_TREE_DEPTH`] is an error: what a signature pins
/// must be plain files.
fn hash_tree(
    dir: &Path,
    prefix: &str,
    depth: usize,
    files: &mut std::collections::BTreeMap<String, String>,
) -> Result<(), PolicyError> {
    let io = |path: &Path, source: std::io::Error| PolicyError::Io {
        path: path.to_owned(),
        source,
    };
    if depth > MAX_TREE_DEPTH {
        return Err(io(
            dir,
            std::io::Error::other(format!("more than {MAX_TREE_DEPTH} directory levels")),
        ));
    }
    let mut entries: Vec<_> = fs_err::read_dir(dir)
        .map_err(|source| io(dir, source))?
        .collect::<Result<_, _>>()
        .map_err(|source| io(dir, source))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(|source| io(&path, source))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(io(
                &path,
                std::io::Error::other("the file name is not UTF-8"),
            ));
        };
        let relative = format!("{prefix}/{name}");
        if kind.is_dir() {
            hash_tree(&path, &relative, depth + 1, files)?;
        } else if kind.is_file() {
            files.insert(relative, sha256_file(&path)?);
        } else {
            return Err(io(
                &path,
                std::io::Error::other("not a regular file or directory (a symbolic link?)"),
            ));
        }
    }
    Ok(())
}

/// Parses `max-age`: a positive duration such as `7d`, `12h` or `30m`.
fn parse_max_age(text: &str) -> Result<MaxAge, String> {
    let duration = humantime::parse_duration(text).map_err(|e| {
        format!("`{text}` is not a duration such as \"7d\", \"12h\" or \"30m\": {e}")
    })?;
    if duration.is_zero() {
        return Err("max-age must be longer than zero".to_owned());
    }
    let duration = jiff::SignedDuration::try_from(duration)
        .map_err(|_| format!("`{text}` is too long a duration"))?;
    Ok(MaxAge {
        text: text.to_owned(),
        duration,
    })
}

/// Validates `[[servers]]`: names a client config can carry, each once; non-empty argvs.
fn servers(list: &[ServerFile], check: &mut Checker) -> Vec<Server> {
    let mut names = BTreeSet::new();
    let mut servers = Vec::new();
    for server in list {
        let name = server.name.get_ref();
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name {
            check.error(
                server.name.span(),
                "a server name is 1 to 64 letters, digits, `-` or `_` (what every client accepts as a server name)",
            );
            continue;
        }
        if !names.insert(name.clone()) {
            check.error(
                server.name.span(),
                format!("server `{name}` is defined twice"),
            );
            continue;
        }
        let argv = server.argv.get_ref();
        if argv.first().is_none_or(String::is_empty) {
            check.error(
                server.argv.span(),
                "argv is the launcher command line, e.g. [\"npx\", \"-y\", \"pkg@1.2.3\"]",
            );
            continue;
        }
        servers.push(Server {
            name: name.clone(),
            argv: argv.clone(),
        });
    }
    servers
}

fn signer_image(signer: &SignerFile, base: &Path, check: &mut Checker) -> Option<SignerImage> {
    let sigstore_keys = signer.issuer.is_some()
        || signer.san.is_some()
        || signer.san_regex.is_some()
        || signer.repository.is_some()
        || signer.git_ref.is_some()
        || signer.workflow.is_some();
    let id = signer.id.get_ref().clone();
    match (&signer.public_key, sigstore_keys) {
        (Some(file), false) => {
            let key = PublicKey::load(&base.join(file.get_ref()))
                .map_err(|e| check.error(file.span(), e.to_string()))
                .ok()?;
            if let Some(expected) = &signer.key_id
                && expected.get_ref().to_ascii_lowercase() != key.id().as_str()
            {
                check.error(
                    expected.span(),
                    format!(
                        "key-id does not match the key in `{}` (its id is {})",
                        file.get_ref(),
                        key.id()
                    ),
                );
            }
            Some(SignerImage::Key {
                id,
                public_key: file.get_ref().clone(),
                key_id: key.id().as_str().to_owned(),
            })
        }
        (Some(file), true) => {
            check.error(
                file.span(),
                "a signer is either a key (public-key) or a Sigstore identity (issuer, san…), not both",
            );
            None
        }
        (None, true) => {
            let Some(issuer) = &signer.issuer else {
                check.error(signer.id.span(), "a Sigstore signer needs `issuer`");
                return None;
            };
            match (&signer.san, &signer.san_regex) {
                (Some(_), None) => {}
                (None, Some(pattern)) => {
                    if let Err(e) = anchored_regex(pattern.get_ref()) {
                        check.error(pattern.span(), format!("invalid regular expression: {e}"));
                        return None;
                    }
                }
                _ => {
                    check.error(
                        issuer.span(),
                        "a Sigstore signer needs exactly one of `san` or `san-regex`",
                    );
                    return None;
                }
            }
            Some(SignerImage::Sigstore {
                id,
                issuer: issuer.get_ref().clone(),
                san: signer.san.clone(),
                san_regex: signer.san_regex.as_ref().map(|p| p.get_ref().clone()),
                repository: signer.repository.clone(),
                git_ref: signer.git_ref.clone(),
                workflow: signer.workflow.clone(),
            })
        }
        (None, false) => {
            check.error(
                signer.id.span(),
                "a signer needs `public-key` (ed25519) or `issuer` with `san`/`san-regex` (Sigstore)",
            );
            None
        }
    }
}

fn launch_rules(file: &LaunchRulesFile, check: &mut Checker) -> LaunchRules {
    let patterns = |check: &mut Checker, list: &[Spanned<String>]| -> Vec<String> {
        list.iter()
            .filter(|pattern| {
                let valid = crate::launch::env::valid_pattern(pattern.get_ref());
                if !valid {
                    check.error(
                        pattern.span(),
                        format!(
                            "`{}` is not a variable name or `PREFIX*` pattern",
                            pattern.get_ref()
                        ),
                    );
                }
                valid
            })
            .map(|pattern| pattern.get_ref().clone())
            .collect()
    };
    let env = crate::launch::env::EnvLists {
        allow: patterns(check, &file.env_allow),
        strip: patterns(check, &file.env_strip),
        deny: patterns(check, &file.env_deny),
    };
    let docker_deny_flags = file
        .docker_deny_flags
        .iter()
        .filter(|flag| {
            let text = flag.get_ref();
            let name = text.split_once('=').map_or(text.as_str(), |(name, _)| name);
            let valid = name.len() > 2
                && name.starts_with("--")
                && name[2..].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                check.error(
                    flag.span(),
                    format!("`{text}`: write the long form, `--name` or `--name=value` (`-e` is `--env`, `--net` is `--network`)"),
                );
            }
            valid
        })
        .map(|flag| flag.get_ref().clone())
        .collect();
    let docker_mount_sources = file
        .docker_mount_sources
        .iter()
        .filter_map(|dir| {
            let path = PathBuf::from(dir.get_ref());
            let normal = path.is_absolute()
                && path.components().all(|c| {
                    !matches!(
                        c,
                        std::path::Component::ParentDir | std::path::Component::CurDir
                    )
                });
            if !normal {
                check.error(
                    dir.span(),
                    "docker-mount-sources entries are absolute paths without `.` or `..`",
                );
                return None;
            }
            Some(path)
        })
        .collect();
    let docker_host = file.docker_host.as_ref().and_then(|host| {
        let text = host.get_ref();
        let valid = match url::Url::parse(text) {
            Ok(url) if url.scheme() == "unix" => url.host().is_none() && url.path().starts_with('/'),
            Ok(url) if matches!(url.scheme(), "tcp" | "ssh") => url.host().is_some(),
            _ => false,
        };
        if !valid {
            check.error(
                host.span(),
                "docker-host is `unix:///path/to/docker.sock`, `tcp://host:port` or `ssh://user@host`",
            );
        }
        valid.then(|| text.clone())
    });
    let interpreters = match &file.interpreters {
        Some(pins) => match pins.get_ref().check() {
            Ok(()) => pins.get_ref().clone(),
            Err(why) => {
                check.error(pins.span(), format!("[launch.interpreters] {why}"));
                InterpreterPins::default()
            }
        },
        None => InterpreterPins::default(),
    };
    LaunchRules {
        launchers: file.launchers.clone(),
        docker_deny_flags,
        env,
        docker_mount_sources,
        docker_host,
        interpreters,
        rehash_installed: file.rehash_installed,
    }
}

fn sbom_image(file: &SbomRulesFile, check: &mut Checker) -> SbomImage {
    let licenses = |check: &mut Checker, ids: &[Spanned<String>]| -> Vec<String> {
        ids.iter()
            .filter(|id| {
                let found = spdx::license_id(id.get_ref()).is_some();
                if !found {
                    check.error(
                        id.span(),
                        format!("`{}` is not an SPDX license id", id.get_ref()),
                    );
                }
                found
            })
            .map(|id| id.get_ref().clone())
            .collect()
    };
    let licenses_allow = file.licenses_allow.as_ref().map(|ids| licenses(check, ids));
    let licenses_deny = licenses(check, &file.licenses_deny);
    let mut deny = Vec::new();
    for entry in &file.deny {
        let versions = entry
            .versions
            .as_ref()
            .map(|range| range.get_ref().as_str());
        match DeniedComponent::parse(entry.purl.get_ref(), versions) {
            Ok(_) => deny.push((entry.purl.get_ref().clone(), versions.map(str::to_owned))),
            Err((at_versions, why)) => {
                let span = match (&entry.versions, at_versions) {
                    (Some(range), true) => range.span(),
                    _ => entry.purl.span(),
                };
                check.error(span, why);
            }
        }
    }
    SbomImage {
        require: file.require,
        deny,
        licenses_allow,
        licenses_deny,
        require_hashes: file.require_hashes,
    }
}

/// Splits `sha256:<hex>` / `sha512:<hex>` into algorithm and lowercase hex.
pub fn parse_digest(value: &str) -> Result<(String, String), String> {
    let (algorithm, hex) = value
        .split_once(':')
        .ok_or_else(|| format!("`{value}` is not `sha256:<hex>` or `sha512:<hex>`"))?;
    let length = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "unknown digest algorithm `{algorithm}` (sha256 or sha512)"
            ));
        }
    };
    if hex.len() != length || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{value}`: {algorithm} needs {length} hex digits"));
    }
    Ok((algorithm.to_owned(), hex.to_ascii_lowercase()))
}

/// A commented starter policy (`mcpin policy init`).
pub const TEMPLATE: &str = include_str!("policy_template.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_their_offset() {
        let at = |s: &str| parse_time(s).unwrap().to_string();
        assert_eq!(at("2027-01-01"), "2027-01-01T00:00:00Z");
        assert_eq!(at("2027-01-01T23:00:00-05:00"), "2027-01-02T04:00:00Z");
        assert_eq!(at("2027-01-01T10:00:00Z"), "2027-01-01T10:00:00Z");
        assert!(
            parse_time("2027-01-01T23:00:00").is_err(),
            "no offset: ambiguous"
        );
        assert!(parse_time("next week").is_err());
    }

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(Path::new("/nonexistent/policy.toml"), text)
    }

    fn messages(error: PolicyError) -> String {
        match error {
            PolicyError::Invalid { diagnostics, .. } => diagnostics
                .into_iter()
                .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
                .collect::<Vec<_>>()
                .join("\n"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn max_age_is_a_positive_duration() {
        let policy = parse("version = 1\nmax-age = \"7d\"\n").unwrap();
        let max_age = policy.max_age.unwrap();
        assert_eq!(max_age.text, "7d");
        assert_eq!(max_age.duration, jiff::SignedDuration::from_hours(7 * 24));
        for bad in ["\"soon\"", "\"0s\"", "\"7\"", "7"] {
            let text = format!("version = 1\nmax-age = {bad}\n");
            assert!(parse(&text).is_err(), "{bad}");
        }
        let error = messages(parse("version = 1\nmax-age = \"0s\"\n").unwrap_err());
        assert!(
            error.starts_with("2:11 max-age must be longer than zero"),
            "{error}"
        );
    }

    #[test]
    fn servers_have_unique_plain_names_and_an_argv() {
        let policy = parse(
            "version = 1\n[[servers]]\nname = \"fs\"\nargv = [\"npx\", \"-y\", \"a@1.0.0\"]\n",
        )
        .unwrap();
        assert_eq!(
            policy.servers,
            [Server {
                name: "fs".into(),
                argv: vec!["npx".into(), "-y".into(), "a@1.0.0".into()],
            }]
        );
        let error = messages(
            parse(
                "version = 1\n[[servers]]\nname = \"fs\"\nargv = [\"npx\"]\n\
                 [[servers]]\nname = \"fs\"\nargv = [\"uvx\"]\n\
                 [[servers]]\nname = \"a b\"\nargv = [\"npx\"]\n\
                 [[servers]]\nname = \"empty\"\nargv = []\n\
                 [[servers]]\nname = \"x\"\nargv = [\"npx\"]\nenv = {}\n",
            )
            .unwrap_err(),
        );
        assert!(error.contains("unknown field `env`"), "{error}");
        let error = messages(
            parse(
                "version = 1\n[[servers]]\nname = \"fs\"\nargv = [\"npx\"]\n\
                 [[servers]]\nname = \"fs\"\nargv = [\"uvx\"]\n\
                 [[servers]]\nname = \"a b\"\nargv = [\"npx\"]\n\
                 [[servers]]\nname = \"empty\"\nargv = []\n",
            )
            .unwrap_err(),
        );
        assert!(
            error.contains("6:8 server `fs` is defined twice"),
            "{error}"
        );
        assert!(
            error.contains("9:8 a server name is 1 to 64 letters"),
            "{error}"
        );
        assert!(
            error.contains("13:8 argv is the launcher command line"),
            "{error}"
        );
    }

    #[test]
    fn distributable_paths_are_plain_and_relative() {
        assert_eq!(
            distributable_path("keys/a.pub").as_deref(),
            Some("keys/a.pub")
        );
        assert_eq!(
            distributable_path("./keys/./a.pub").as_deref(),
            Some("keys/a.pub")
        );
        for outside in ["/etc/mcpin/a.pub", "../a.pub", "keys/../../a.pub", "", "."] {
            assert_eq!(distributable_path(outside), None, "{outside}");
        }
    }

    #[test]
    fn a_signature_pins_every_distributable_file() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("keys")).unwrap();
        crate::keys::SecretKey::generate()
            .write_pair(&dir.path().join("keys/p"), None)
            .unwrap();
        fs_err::create_dir_all(dir.path().join("bundles/abc")).unwrap();
        fs_err::write(dir.path().join("bundles/abc/x.sigstore.json"), "{}").unwrap();
        let text = "version = 1\n[[signers]]\nid = \"p\"\npublic-key = \"keys/p.pub\"\n\
                    [store]\ndir = \"bundles\"\n";
        let policy = Policy::parse(&dir.path().join("policy.toml"), text).unwrap();
        let pins = policy.pins().unwrap();
        assert_eq!(
            pins.files.keys().collect::<Vec<_>>(),
            ["bundles/abc/x.sigstore.json", "keys/p.pub"]
        );
        assert!(
            !pins.files.contains_key("keys/p.key"),
            "only what the policy names"
        );
        assert_eq!(
            pins.files["bundles/abc/x.sigstore.json"],
            hex::encode(sha2::Sha256::digest(b"{}"))
        );
        // A symbolic link in the store is not pinned as if it were a file.
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("bundles/abc/y.cdx.json"))
            .unwrap();
        assert!(matches!(policy.pins(), Err(PolicyError::Io { .. })));
    }
}
