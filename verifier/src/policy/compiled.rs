//! The compact form of a validated policy, and the rule index a judgement looks rules up in.
//!
//! [`super::compile`] validates the TOML (with spans, for diagnostics) into a
//! [`CompiledPolicy`]: the policy's small parts as JSON, and its `[[packages]]` rules as an
//! index over per-rule records. Every [`Policy`] is loaded from one ([`CompiledPolicy::load`]),
//! whether the bytes were just compiled from the TOML or read from the policy cache, so a
//! cached policy and a parsed one are the same value by construction.
//!
//! Nothing that can change without the policy's bytes changing is compiled in: key files are
//! loaded again on every load (and must hold the key they held when compiled), relative paths
//! are kept as written and joined to the policy's directory on load.
//!
//! The rule index makes a lookup cost the length of the name, not the number of rules:
//! - a rule whose name has no glob character is found by its exact (normalized) name;
//! - a glob rule is found by its literal prefix, the text before its first glob character
//!   (`@scope/` for `@scope/*`, empty for `*-mcp`): a name can only match a glob that starts
//!   with a prefix of the name, so probing every prefix of the name finds every candidate.
//!
//! Keys are 64-bit hashes in one sorted table, so loading the index is a bounds check, not a
//! build. A probe yields candidates; each candidate's record is decoded and its name checked
//! with the rule's own matcher ([`PackageRule::matches_name`]), so a hash collision costs a
//! decode, never a wrong match. Candidates are returned in file order, as the judge expects.
//!
//! Layout (little-endian): magic `MCPINPOL`, u32 format, u32 globals length, globals JSON,
//! u32 rule count, u32 key count, keys (u64 hash, u32 first posting, u32 postings), postings
//! (u32 rule index, one per rule), record offsets (u64, rule count + 1), records (JSON).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mcpin_attestation::Ecosystem;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    DeniedComponent, LaunchRules, PackageRule, Policy, RuntimePolicy, SbomRules, Server, Signer,
    SignerKind, ToolRules, VersionReq, normalize_name, parse_max_age, parse_time,
};
use crate::keys::PublicKey;
use crate::sigstore::IdentityMatch;

const MAGIC: &[u8; 8] = b"MCPINPOL";
const FORMAT: u32 = 1;
const KEY_ENTRY: usize = 16;
const EXACT: u8 = b'=';
const PREFIX: u8 = b'*';
/// Characters with a meaning in a name glob (`\` escapes one).
const GLOB_CHARS: &[char] = &['*', '?', '[', '{', '\\'];

/// Everything of a validated policy but its package rules, as validation left it: strings as
/// written (paths relative to the policy file), parsed again on load by the same functions
/// validation used.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyImage {
    pub name: String,
    pub version: u64,
    pub expires: Option<String>,
    pub max_age: Option<String>,
    pub signers: Vec<SignerImage>,
    pub servers: Vec<Server>,
    pub tools: ToolRules,
    pub sbom: SbomImage,
    pub launch: LaunchRules,
    pub approvers: Vec<String>,
    pub store_dir: Option<String>,
    pub store_url: Option<String>,
    pub store_oci: Option<String>,
    pub trusted_root: Option<String>,
    pub runtime: RuntimePolicy,
    pub sandbox: mcpin_sandbox::SandboxPolicy,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) enum SignerImage {
    Key {
        id: String,
        /// As written, relative to the policy file.
        public_key: String,
        /// The id of the key the file held when the policy was compiled.
        key_id: String,
    },
    Sigstore {
        id: String,
        issuer: String,
        san: Option<String>,
        san_regex: Option<String>,
        repository: Option<String>,
        git_ref: Option<String>,
        workflow: Option<String>,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SbomImage {
    pub require: bool,
    /// `(purl, versions)` as written.
    pub deny: Vec<(String, Option<String>)>,
    pub licenses_allow: Option<Vec<String>>,
    pub licenses_deny: Vec<String>,
    pub require_hashes: bool,
}

/// One `[[packages]]` rule as validation left it (short keys: there may be 100,000 of them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleImage {
    #[serde(rename = "e")]
    pub ecosystem: Ecosystem,
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(rename = "d", default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<(String, String)>,
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub require_any: Vec<String>,
    #[serde(rename = "l", default, skip_serializing_if = "Vec::is_empty")]
    pub require_all: Vec<String>,
    #[serde(rename = "p", default, skip_serializing_if = "is_false")]
    pub require_approval: bool,
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub tools_digest: Option<String>,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolRules>,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<mcpin_sandbox::SandboxOverride>,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A validated policy in its compact form (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledPolicy {
    bytes: Vec<u8>,
}

/// Why compiled bytes cannot be loaded: not what [`super::compile`] writes, or a key file no
/// longer holds the key the policy was compiled with. A cache that fails this way is ignored
/// and the TOML parsed again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CompiledError(String);

fn malformed(why: impl Into<String>) -> CompiledError {
    CompiledError(why.into())
}

/// Where each section of the rule index lies in the bytes.
#[derive(Debug, Clone, Copy)]
struct Sections {
    globals: (usize, usize),
    rules: usize,
    keys: usize,
    key_count: usize,
    postings: usize,
    offsets: usize,
    records: usize,
}

impl CompiledPolicy {
    /// Encodes a validated policy.
    pub(super) fn encode(image: &PolicyImage, rules: &[RuleImage]) -> CompiledPolicy {
        let globals = serde_json::to_vec(image).expect("a policy image serializes");
        let mut keys: Vec<(u64, u32)> = rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let pattern = normalize_name(rule.ecosystem, &rule.name);
                let key = match literal_prefix(&pattern) {
                    Some(prefix) => key_hash(rule.ecosystem, PREFIX, prefix),
                    None => key_hash(rule.ecosystem, EXACT, &pattern),
                };
                (key, u32::try_from(index).expect("fewer than 2^32 rules"))
            })
            .collect();
        keys.sort_unstable();
        let mut entries: Vec<(u64, u32, u32)> = Vec::new();
        for (position, (key, _)) in keys.iter().enumerate() {
            match entries.last_mut() {
                Some((last, _, count)) if last == key => *count += 1,
                _ => entries.push((*key, position as u32, 1)),
            }
        }
        let records: Vec<Vec<u8>> = rules
            .iter()
            .map(|rule| serde_json::to_vec(rule).expect("a rule serializes"))
            .collect();

        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT.to_le_bytes());
        bytes.extend_from_slice(&(globals.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&globals);
        bytes.extend_from_slice(&(rules.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (key, first, count) in &entries {
            bytes.extend_from_slice(&key.to_le_bytes());
            bytes.extend_from_slice(&first.to_le_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
        }
        for (_, index) in &keys {
            bytes.extend_from_slice(&index.to_le_bytes());
        }
        let mut offset = 0u64;
        bytes.extend_from_slice(&offset.to_le_bytes());
        for record in &records {
            offset += record.len() as u64;
            bytes.extend_from_slice(&offset.to_le_bytes());
        }
        for record in &records {
            bytes.extend_from_slice(record);
        }
        CompiledPolicy { bytes }
    }

    /// Compiled bytes as [`Self::as_bytes`] gave them; their structure is checked here, each
    /// rule record when it is looked up.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<CompiledPolicy, CompiledError> {
        sections(&bytes)?;
        Ok(CompiledPolicy { bytes })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The policy at `path` (which names it in messages and anchors its relative paths): loads
    /// its key files and checks each holds the key it held when the policy was compiled.
    pub fn load(self, path: &Path) -> Result<Policy, CompiledError> {
        let sections = sections(&self.bytes)?;
        let (start, end) = sections.globals;
        let image: PolicyImage = serde_json::from_slice(&self.bytes[start..end])
            .map_err(|e| malformed(format!("policy image: {e}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let expires = image
            .expires
            .as_deref()
            .map(parse_time)
            .transpose()
            .map_err(malformed)?;
        let max_age = image
            .max_age
            .as_deref()
            .map(parse_max_age)
            .transpose()
            .map_err(malformed)?;
        let named_files = super::named_files(&image, base);
        let signers = image
            .signers
            .iter()
            .cloned()
            .map(|signer| load_signer(signer, base))
            .collect::<Result<_, _>>()?;
        let sbom = load_sbom(image.sbom)?;
        let store_url = image
            .store_url
            .map(|url| url::Url::parse(&url).map_err(|e| malformed(e.to_string())))
            .transpose()?;
        let store_oci = image
            .store_oci
            .map(|location| {
                mcpin_registry_client::attestations::oci::parse_location(&location)
                    .map_err(|e| malformed(e.to_string()))
            })
            .transpose()?;
        Ok(Policy {
            path: path.to_owned(),
            name: image.name,
            version: image.version,
            expires,
            max_age,
            signers,
            servers: image.servers,
            packages: PackageRules {
                bytes: self.bytes,
                sections,
            },
            tools: image.tools,
            sbom,
            launch: image.launch,
            approvers: image.approvers,
            store_dir: image.store_dir.map(|dir| base.join(dir)),
            store_url,
            store_oci,
            trusted_root: image.trusted_root.map(|file| base.join(file)),
            named_files,
            runtime: image.runtime,
            sandbox: image.sandbox,
        })
    }
}

fn load_signer(signer: SignerImage, base: &Path) -> Result<Signer, CompiledError> {
    Ok(match signer {
        SignerImage::Key {
            id,
            public_key,
            key_id,
        } => {
            let key = PublicKey::load(&base.join(&public_key))
                .map_err(|e| malformed(format!("signer `{id}`: {e}")))?;
            if key.id().as_str() != key_id {
                return Err(malformed(format!(
                    "signer `{id}`: `{public_key}` now holds key {}, not {key_id}",
                    key.id()
                )));
            }
            Signer {
                id,
                kind: SignerKind::Key(key),
            }
        }
        SignerImage::Sigstore {
            id,
            issuer,
            san,
            san_regex,
            repository,
            git_ref,
            workflow,
        } => {
            let identity = match (san, san_regex) {
                (Some(san), None) => IdentityMatch::Exact(san),
                (None, Some(pattern)) => IdentityMatch::Regex(
                    super::anchored_regex(&pattern).map_err(|e| malformed(e.to_string()))?,
                ),
                _ => return Err(malformed(format!("signer `{id}`: no SAN"))),
            };
            Signer {
                id,
                kind: SignerKind::Sigstore {
                    issuer,
                    identity,
                    repository,
                    git_ref,
                    workflow,
                },
            }
        }
    })
}

fn load_sbom(image: SbomImage) -> Result<SbomRules, CompiledError> {
    let license = |id: String| spdx::license_id(&id).ok_or_else(|| malformed(id));
    Ok(SbomRules {
        require: image.require,
        deny: image
            .deny
            .into_iter()
            .map(|(purl, versions)| {
                DeniedComponent::parse(&purl, versions.as_deref())
                    .map_err(|(_, why)| malformed(format!("`{purl}`: {why}")))
            })
            .collect::<Result<_, _>>()?,
        licenses_allow: image
            .licenses_allow
            .map(|ids| ids.into_iter().map(license).collect())
            .transpose()?,
        licenses_deny: image
            .licenses_deny
            .into_iter()
            .map(license)
            .collect::<Result<_, _>>()?,
        require_hashes: image.require_hashes,
    })
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let field = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(field.try_into().ok()?) as usize)
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(field.try_into().ok()?))
}

/// Checks the structure: every section in bounds, keys sorted, postings naming rules, record
/// offsets in order. Linear in the number of rules, with no allocation.
fn sections(bytes: &[u8]) -> Result<Sections, CompiledError> {
    let truncated = || malformed("truncated");
    if bytes.get(..8) != Some(MAGIC) {
        return Err(malformed("not a compiled mcpin policy"));
    }
    if read_u32(bytes, 8) != Some(FORMAT as usize) {
        return Err(malformed("another compiled policy format"));
    }
    let globals_len = read_u32(bytes, 12).ok_or_else(truncated)?;
    let globals = (16, 16 + globals_len);
    let rules_at = globals.1;
    let rule_count = read_u32(bytes, rules_at).ok_or_else(truncated)?;
    let key_count = read_u32(bytes, rules_at + 4).ok_or_else(truncated)?;
    let keys = rules_at + 8;
    let postings = keys + key_count * KEY_ENTRY;
    let offsets = postings + rule_count * 4;
    let records = offsets + (rule_count + 1) * 8;
    if bytes.len() < records {
        return Err(truncated());
    }
    let mut previous = None;
    let mut covered = 0;
    for entry in 0..key_count {
        let at = keys + entry * KEY_ENTRY;
        let key = read_u64(bytes, at).ok_or_else(truncated)?;
        let first = read_u32(bytes, at + 8).ok_or_else(truncated)?;
        let count = read_u32(bytes, at + 12).ok_or_else(truncated)?;
        if previous.is_some_and(|p| p >= key) || first != covered || count == 0 {
            return Err(malformed("rule index out of order"));
        }
        previous = Some(key);
        covered += count;
    }
    if covered != rule_count {
        return Err(malformed("rule index does not cover every rule"));
    }
    for posting in 0..rule_count {
        if read_u32(bytes, postings + posting * 4).ok_or_else(truncated)? >= rule_count {
            return Err(malformed("rule index names a rule that does not exist"));
        }
    }
    let mut last = 0;
    for index in 0..=rule_count {
        let offset = read_u64(bytes, offsets + index * 8).ok_or_else(truncated)?;
        if offset < last || (index == 0 && offset != 0) {
            return Err(malformed("rule records out of order"));
        }
        last = offset;
    }
    if (bytes.len() - records) as u64 != last {
        return Err(malformed("rule records do not end where the file does"));
    }
    Ok(Sections {
        globals,
        rules: rule_count,
        keys,
        key_count,
        postings,
        offsets,
        records,
    })
}

/// The text of a glob before its first glob character, or `None` for a name without any.
fn literal_prefix(pattern: &str) -> Option<&str> {
    pattern.find(GLOB_CHARS).map(|at| &pattern[..at])
}

fn key_hash(ecosystem: Ecosystem, kind: u8, text: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(ecosystem.as_str().as_bytes());
    hasher.update([0, kind]);
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// How a rule names packages.
#[derive(Debug, Clone)]
pub(super) enum NameMatch {
    /// A name without glob characters: equal (normalized) names.
    Exact(String),
    Glob(globset::GlobMatcher),
}

impl NameMatch {
    /// The matcher for `pattern` (already normalized); validation has checked it builds.
    pub(super) fn new(pattern: &str) -> Result<NameMatch, globset::Error> {
        if literal_prefix(pattern).is_none() {
            return Ok(NameMatch::Exact(pattern.to_owned()));
        }
        Ok(NameMatch::Glob(
            super::name_glob(pattern)?.compile_matcher(),
        ))
    }

    pub(super) fn is_match(&self, name: &str) -> bool {
        match self {
            NameMatch::Exact(exact) => exact == name,
            NameMatch::Glob(glob) => glob.is_match(name),
        }
    }
}

/// The `[[packages]]` rules of a policy, looked up by package name through the index.
#[derive(Debug, Clone)]
pub struct PackageRules {
    bytes: Vec<u8>,
    sections: Sections,
}

/// A rule record that does not decode: the compiled policy was damaged after it was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the compiled policy's rule {index} cannot be read ({why}); remove the policy cache")]
pub struct RulesError {
    pub index: usize,
    pub why: String,
}

impl PackageRules {
    /// How many `[[packages]]` rules the policy has.
    pub fn len(&self) -> usize {
        self.sections.rules
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every rule that speaks about the package `name` of `ecosystem`, in file order.
    pub fn matching(
        &self,
        ecosystem: Ecosystem,
        name: &str,
    ) -> Result<Vec<PackageRule>, RulesError> {
        let normalized = normalize_name(ecosystem, name);
        let mut candidates = BTreeSet::new();
        self.probe(key_hash(ecosystem, EXACT, &normalized), &mut candidates);
        for end in (0..=normalized.len()).filter(|&end| normalized.is_char_boundary(end)) {
            self.probe(
                key_hash(ecosystem, PREFIX, &normalized[..end]),
                &mut candidates,
            );
        }
        let mut rules = Vec::new();
        for index in candidates {
            let rule = self.rule(index)?;
            if rule.matches_name(ecosystem, name) {
                rules.push(rule);
            }
        }
        Ok(rules)
    }

    /// Adds the rules filed under `key` to `found`.
    fn probe(&self, key: u64, found: &mut BTreeSet<usize>) {
        let s = &self.sections;
        let key_at = |entry: usize| read_u64(&self.bytes, s.keys + entry * KEY_ENTRY);
        let (mut low, mut high) = (0, s.key_count);
        while low < high {
            let middle = (low + high) / 2;
            match key_at(middle).map(|k| k.cmp(&key)) {
                Some(std::cmp::Ordering::Less) => low = middle + 1,
                Some(std::cmp::Ordering::Greater) => high = middle,
                Some(std::cmp::Ordering::Equal) => {
                    let at = s.keys + middle * KEY_ENTRY;
                    // In bounds: checked when the sections were read.
                    let first = read_u32(&self.bytes, at + 8).unwrap_or(0);
                    let count = read_u32(&self.bytes, at + 12).unwrap_or(0);
                    found.extend(
                        (first..first + count)
                            .filter_map(|p| read_u32(&self.bytes, s.postings + p * 4)),
                    );
                    return;
                }
                None => return,
            }
        }
    }

    /// Decodes rule `index`.
    fn rule(&self, index: usize) -> Result<PackageRule, RulesError> {
        let s = &self.sections;
        let error = |why: String| RulesError { index, why };
        let start = read_u64(&self.bytes, s.offsets + index * 8);
        let end = read_u64(&self.bytes, s.offsets + (index + 1) * 8);
        let record = start
            .zip(end)
            .and_then(|(start, end)| {
                self.bytes
                    .get(s.records + start as usize..s.records + end as usize)
            })
            .ok_or_else(|| error("out of bounds".into()))?;
        let image: RuleImage = serde_json::from_slice(record).map_err(|e| error(e.to_string()))?;
        let version = image
            .version
            .as_deref()
            .map(|req| VersionReq::parse(image.ecosystem, req))
            .transpose()
            .map_err(error)?;
        let name_match = NameMatch::new(&normalize_name(image.ecosystem, &image.name))
            .map_err(|e| error(e.to_string()))?;
        Ok(PackageRule {
            index,
            ecosystem: image.ecosystem,
            name: image.name,
            name_match,
            version,
            digests: image.digests,
            require_any: image.require_any,
            require_all: image.require_all,
            require_approval: image.require_approval,
            tools_digest: image.tools_digest,
            tools: image.tools,
            sandbox: image.sandbox,
        })
    }

    /// Every rule, in file order (for tests and tools that list them).
    pub fn iter(&self) -> impl Iterator<Item = Result<PackageRule, RulesError>> + '_ {
        (0..self.len()).map(|index| self.rule(index))
    }
}

/// The directory compiled policies are cached in: `<state dir>/policy-cache`.
pub fn cache_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("policy-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixes_stop_at_the_first_glob_character() {
        assert_eq!(literal_prefix("@scope/*"), Some("@scope/"));
        assert_eq!(literal_prefix("mcp-server-?x"), Some("mcp-server-"));
        assert_eq!(literal_prefix("*-mcp"), Some(""));
        assert_eq!(literal_prefix("a{b,c}"), Some("a"));
        assert_eq!(literal_prefix("a[bc]"), Some("a"));
        assert_eq!(literal_prefix(r"a\*"), Some("a"));
        assert_eq!(literal_prefix("@scope/server"), None);
        assert_eq!(literal_prefix("a,b]"), None);
    }

    /// A name without glob characters matches exactly what the glob of it matches.
    #[test]
    fn exact_names_match_as_their_glob_does() {
        let names = [
            "a", "a,b", "x]y", "@s/p", "@s/p/q", "a.b", "A", "@s/P", "", "a/", "/a",
        ];
        for pattern in names.iter().filter(|p| literal_prefix(p).is_none()) {
            let glob = super::super::name_glob(pattern).unwrap().compile_matcher();
            let exact = NameMatch::new(pattern).unwrap();
            assert!(matches!(exact, NameMatch::Exact(_)));
            for name in names {
                assert_eq!(
                    exact.is_match(name),
                    glob.is_match(name),
                    "{pattern} vs {name}"
                );
            }
        }
    }

    #[test]
    fn a_damaged_index_is_refused() {
        let image = PolicyImage {
            name: "p".into(),
            version: 1,
            expires: None,
            max_age: None,
            signers: vec![],
            servers: vec![],
            runtime: Default::default(),
            sandbox: Default::default(),
            tools: Default::default(),
            sbom: Default::default(),
            launch: Default::default(),
            approvers: vec![],
            store_dir: None,
            store_url: None,
            store_oci: None,
            trusted_root: None,
        };
        let rule = |name: &str| RuleImage {
            ecosystem: Ecosystem::Npm,
            name: name.into(),
            version: None,
            digests: vec![],
            require_any: vec!["p".into()],
            require_all: vec![],
            require_approval: false,
            tools_digest: None,
            tools: None,
            sandbox: None,
        };
        let compiled = CompiledPolicy::encode(&image, &[rule("a"), rule("@s/*"), rule("a")]);
        let bytes = compiled.as_bytes().to_vec();
        CompiledPolicy::from_bytes(bytes.clone()).unwrap();
        for cut in [0, 8, 20, bytes.len() - 1] {
            assert!(
                CompiledPolicy::from_bytes(bytes[..cut].to_vec()).is_err(),
                "{cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(b' ');
        assert!(CompiledPolicy::from_bytes(longer).is_err());
        // Every single-byte change in the index either is refused or still finds the same
        // rules, or fewer (a damaged index can hide a rule, never invent a match).
        let policy = CompiledPolicy::from_bytes(bytes.clone())
            .unwrap()
            .load(Path::new("p.toml"))
            .unwrap();
        let indexes = |policy: &Policy, name: &str| -> Vec<usize> {
            policy
                .packages
                .matching(Ecosystem::Npm, name)
                .map(|rules| rules.iter().map(|r| r.index).collect())
                .unwrap_or_default()
        };
        assert_eq!(indexes(&policy, "a"), [0, 2]);
        assert_eq!(indexes(&policy, "@s/x"), [1]);
        let records = policy.packages.sections.records;
        for at in 0..records {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x55;
            let Ok(compiled) = CompiledPolicy::from_bytes(damaged) else {
                continue;
            };
            let Ok(damaged) = compiled.load(Path::new("p.toml")) else {
                continue;
            };
            for (name, all) in [("a", vec![0, 2]), ("@s/x", vec![1]), ("b", vec![])] {
                let found = indexes(&damaged, name);
                assert!(
                    found.iter().all(|i| all.contains(i)),
                    "byte {at}: {found:?}"
                );
            }
        }
        // A damaged record is an error when its rule is looked up (the judge denies).
        let mut damaged = bytes.clone();
        damaged[records] = b'X';
        let policy = CompiledPolicy::from_bytes(damaged)
            .unwrap()
            .load(Path::new("p.toml"))
            .unwrap();
        let error = policy.packages.matching(Ecosystem::Npm, "a").unwrap_err();
        assert_eq!(error.index, 0);
        assert!(policy.packages.matching(Ecosystem::Npm, "@s/x").is_ok());
    }
}
