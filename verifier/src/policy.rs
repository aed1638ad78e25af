//! The allowlist policy: a TOML file, read with spans so that every error
//! points at the line and column in the user's file, then validated into a
//! [`Policy`]. Anything the policy does not allow is denied.
//!
//! Reading is two steps, as in cargo-deny: [`PolicyFile`] is the serde shape
//! (unknown keys rejected; its JSON Schema comes from the same types), and
//! [`Policy::parse`] turns it into checked values (compiled globs, regexes,
//! version ranges, SPDX ids, loaded keys).
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
pub use crate::state::{PolicyState, StateError, VersionCheck};

mod file;
mod interpreters;
mod runtime;
mod sandbox;
mod signature;

pub use file::{
    ApprovalRulesFile, DeniedComponentFile, LaunchRulesFile, PackageRuleFile, PolicyFile,
    SbomRulesFile, SignerFile, SigstoreFile, StoreFile, ToolRulesFile, json_schema,
};
pub use interpreters::{InterpreterPins, Pin};
pub use runtime::{
    DEFAULT_APPROVAL_TIMEOUT, DestructiveMode, OnDrift, RateLimit, RuntimeFile, RuntimePolicy,
    RuntimeTool, RuntimeToolFile, ToolClass,
};
pub use sandbox::{PortsFile, SandboxFile};
pub use signature::{
    POLICY_PREDICATE_TYPE, PolicyPredicate, PolicySignatureError, sign_policy, signature_path,
    verify_policy_signature,
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
    pub signers: Vec<Signer>,
    pub packages: Vec<PackageRule>,
    pub tools: ToolRules,
    pub sbom: SbomRules,
    pub launch: LaunchRules,
    pub approvers: Vec<String>,
    pub store_dir: Option<PathBuf>,
    pub store_url: Option<url::Url>,
    pub store_oci: Option<mcpin_registry_client::oci::Reference>,
    pub trusted_root: Option<PathBuf>,
    /// `[runtime]`: what the runtime guard enforces while the server runs.
    pub runtime: RuntimePolicy,
    /// `[sandbox]`: what a server may touch (a package rule's `[packages.sandbox]` overrides
    /// it key by key: see [`Policy::sandbox_for`]).
    pub sandbox: mcpin_sandbox::SandboxPolicy,
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

#[derive(Debug)]
pub struct PackageRule {
    /// Index in `[[packages]]`, for messages.
    pub index: usize,
    pub ecosystem: Ecosystem,
    pub name: String,
    name_glob: globset::GlobMatcher,
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

#[derive(Debug)]
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
        ecosystem == self.ecosystem && self.name_glob.is_match(normalize_name(ecosystem, name))
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

        let expires = file.expires.as_ref().and_then(|value| {
            parse_time(value.get_ref())
                .map_err(|why| check.error(value.span(), why))
                .ok()
        });

        let mut signers = Vec::new();
        let mut ids = BTreeSet::new();
        for signer in &file.signers {
            if !ids.insert(signer.id.get_ref().clone()) {
                check.error(
                    signer.id.span(),
                    format!("signer id `{}` is defined twice", signer.id.get_ref()),
                );
            }
            if let Some(kind) = signer_kind(signer, base, &mut check) {
                signers.push(Signer {
                    id: signer.id.get_ref().clone(),
                    kind,
                });
            }
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

        let mut packages = Vec::new();
        for (index, rule) in file.packages.iter().enumerate() {
            let glob =
                globset::GlobBuilder::new(&normalize_name(rule.ecosystem, rule.name.get_ref()))
                    .literal_separator(true)
                    .build()
                    .map_err(|e| check.error(rule.name.span(), format!("invalid name glob: {e}")))
                    .ok();
            let version = rule.version.as_ref().and_then(|req| {
                VersionReq::parse(rule.ecosystem, req.get_ref())
                    .map_err(|why| check.error(req.span(), why))
                    .ok()
            });
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
            if let Some(glob) = glob {
                packages.push(PackageRule {
                    index,
                    ecosystem: rule.ecosystem,
                    name: rule.name.get_ref().clone(),
                    name_glob: glob.compile_matcher(),
                    version,
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
                    tools: rule.tools.as_ref().map(clone_tools),
                    sandbox: rule
                        .sandbox
                        .as_ref()
                        .map(|over| sandbox::sandbox_override(over, &mut check)),
                });
            }
        }

        let sbom = sbom_rules(&file.sbom, &mut check);
        let launch = launch_rules(&file.launch, &mut check);
        let runtime = runtime::runtime_policy(&file.runtime, &mut check);
        let sandbox = sandbox::sandbox_policy(&file.sandbox, &mut check);
        let store_url = file.store.url.as_ref().and_then(|url| {
            url::Url::parse(url.get_ref())
                .map_err(|e| e.to_string())
                .and_then(|parsed| {
                    mcpin_registry_client::require_secure(&parsed)
                        .map(|()| parsed)
                        .map_err(|e| e.to_string())
                })
                .map_err(|why| check.error(url.span(), why))
                .ok()
        });
        let store_oci = file.store.oci.as_ref().and_then(|location| {
            mcpin_registry_client::attestations::oci::parse_location(location.get_ref())
                .map_err(|error| check.error(location.span(), error.to_string()))
                .ok()
        });
        if !check.diagnostics.is_empty() {
            return Err(PolicyError::Invalid {
                path: path.to_owned(),
                diagnostics: check.diagnostics,
            });
        }
        Ok(Policy {
            path: path.to_owned(),
            name: file.name.clone().unwrap_or_else(|| "default".to_owned()),
            version: *file.version.get_ref(),
            expires,
            signers,
            packages,
            tools: clone_tools(&file.tools),
            sbom,
            launch,
            approvers,
            store_dir: file.store.dir.as_ref().map(|dir| base.join(dir)),
            store_url,
            store_oci,
            trusted_root: file.sigstore.trusted_root.as_ref().map(|f| base.join(f)),
            runtime,
            sandbox,
        })
    }

    /// The sandbox of a package allowed by `[[packages]]` rule `rule` (0-based): `[sandbox]`
    /// with the rule's `[packages.sandbox]` keys in place of the global ones.
    pub fn sandbox_for(&self, rule: usize) -> mcpin_sandbox::SandboxPolicy {
        match self
            .packages
            .iter()
            .find(|r| r.index == rule)
            .and_then(|r| r.sandbox.as_ref())
        {
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
        Ok(PolicyPredicate {
            version: self.version,
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

fn clone_tools(tools: &ToolRulesFile) -> ToolRules {
    ToolRulesFile {
        require: tools.require,
        allow: tools.allow.clone(),
        deny: tools.deny.clone(),
        deny_destructive: tools.deny_destructive,
        allow_destructive: tools.allow_destructive.clone(),
        deny_open_world: tools.deny_open_world,
        allow_open_world: tools.allow_open_world.clone(),
        max_lint_severity: tools.max_lint_severity,
    }
}

fn signer_kind(signer: &SignerFile, base: &Path, check: &mut Checker) -> Option<SignerKind> {
    let sigstore_keys = signer.issuer.is_some()
        || signer.san.is_some()
        || signer.san_regex.is_some()
        || signer.repository.is_some()
        || signer.git_ref.is_some()
        || signer.workflow.is_some();
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
            Some(SignerKind::Key(key))
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
            let identity = match (&signer.san, &signer.san_regex) {
                (Some(san), None) => IdentityMatch::Exact(san.clone()),
                (None, Some(pattern)) => {
                    // Anchored: the whole SAN must match, not a substring.
                    let anchored = format!("^(?:{})$", pattern.get_ref());
                    match regex::Regex::new(&anchored) {
                        Ok(regex) => IdentityMatch::Regex(regex),
                        Err(e) => {
                            check.error(pattern.span(), format!("invalid regular expression: {e}"));
                            return None;
                        }
                    }
                }
                _ => {
                    check.error(
                        issuer.span(),
                        "a Sigstore signer needs exactly one of `san` or `san-regex`",
                    );
                    return None;
                }
            };
            Some(SignerKind::Sigstore {
                issuer: issuer.get_ref().clone(),
                identity,
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
    }
}

fn sbom_rules(file: &SbomRulesFile, check: &mut Checker) -> SbomRules {
    let license = |check: &mut Checker, id: &Spanned<String>| {
        let found = spdx::license_id(id.get_ref());
        if found.is_none() {
            check.error(
                id.span(),
                format!("`{}` is not an SPDX license id", id.get_ref()),
            );
        }
        found
    };
    let licenses_allow = file
        .licenses_allow
        .as_ref()
        .map(|ids| ids.iter().filter_map(|id| license(check, id)).collect());
    let licenses_deny = file
        .licenses_deny
        .iter()
        .filter_map(|id| license(check, id))
        .collect();
    let mut deny = Vec::new();
    for entry in &file.deny {
        let purl = match entry.purl.get_ref().parse::<packageurl::PackageUrl>() {
            Ok(purl) => purl,
            Err(e) => {
                check.error(entry.purl.span(), format!("invalid purl: {e}"));
                continue;
            }
        };
        if purl.version().is_some() {
            check.error(
                entry.purl.span(),
                "give the purl without a version and put the range in `versions`",
            );
            continue;
        }
        let versions = entry.versions.as_ref().and_then(|range| {
            let ecosystem = match purl.ty() {
                "npm" => Ecosystem::Npm,
                "pypi" => Ecosystem::Pypi,
                other => {
                    check.error(
                        range.span(),
                        format!(
                            "version ranges are supported for npm and pypi purls, not `{other}`"
                        ),
                    );
                    return None;
                }
            };
            VersionReq::parse(ecosystem, range.get_ref())
                .map_err(|why| check.error(range.span(), why))
                .ok()
        });
        deny.push(DeniedComponent {
            purl_type: purl.ty().to_owned(),
            namespace: purl.namespace().map(str::to_owned),
            name: purl.name().to_owned(),
            versions,
            source: entry.purl.get_ref().clone(),
        });
    }
    SbomRules {
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
}
