//! Evaluating an artifact and its bundles against a [`Policy`] into a [`Verdict`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use mcpin_artifact::Digests;
use mcpin_attestation::{
    APPROVAL_PREDICATE_TYPE, ApprovalPredicate, PACKAGE_PREDICATE_TYPE, PackageInfo,
    PackagePredicate, Statement,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::policy::{PackageRule, Policy, SignerKind, ToolRules, VersionCheck};
use crate::sigstore::{self, ArtifactRef, SignerRequirement, TrustedRoot};
use crate::verdict::{Check, Code, Decision, Outcome, Reason, Reasons, SCHEMA_VERSION, Verdict};

/// Upper bound on an SBOM read from disk.
const MAX_SBOM_BYTES: u64 = 32 * 1024 * 1024;

/// Everything the evaluation looks at besides the policy.
#[derive(Debug)]
pub struct Evidence<'a> {
    pub artifact_path: &'a Path,
    pub package: &'a PackageInfo,
    pub digests: &'a Digests,
    /// Bundle files to consider (see [`discover_bundles`]).
    pub bundles: Vec<PathBuf>,
    /// Extra SBOM files to consider besides those beside the bundles.
    pub sboms: Vec<PathBuf>,
    /// The rollback check for this policy on this machine.
    pub version_check: VersionCheck,
    pub now: Timestamp,
}

/// Bundles for `artifact`: `ARTIFACT.sigstore.json`, `ARTIFACT.*.sigstore.json`
/// beside it, and `<store>/<sha256>/*.sigstore.json` in the policy's store.
pub fn discover_bundles(artifact: &Path, sha256: &str, store: Option<&Path>) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    let name = artifact
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match artifact.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    for entry in read_dir_files(&dir) {
        let file = entry
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(rest) = file.strip_prefix(&name)
            && (rest == ".sigstore.json"
                || (rest.starts_with('.') && rest.ends_with(".sigstore.json")))
        {
            found.insert(entry);
        }
    }
    if let Some(store) = store {
        for entry in read_dir_files(&store.join(sha256)) {
            if entry.to_string_lossy().ends_with(".sigstore.json") {
                found.insert(entry);
            }
        }
    }
    found.into_iter().collect()
}

fn read_dir_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .collect()
        })
        .unwrap_or_default()
}

/// Fetches the files the policy's HTTPS and OCI stores hold for `sha256` into
/// `dest`. Returns them (bundles `*.sigstore.json` and SBOMs) and reasons saying
/// what happened; a store that cannot be read contributes nothing, which can
/// only lead to a deny, and a referrer that cannot be used is skipped and named.
pub fn fetch_store(policy: &Policy, sha256: &str, dest: &Path) -> (Vec<PathBuf>, Vec<Reason>) {
    let info = |code, message| Reason {
        check: Check::Signature,
        code,
        outcome: Outcome::Info,
        message,
    };
    let mut files = Vec::new();
    let mut reasons = Vec::new();
    if let Some(url) = &policy.store_url {
        match crate::store::fetch(url, sha256, &dest.join("https")) {
            Ok(fetched) => {
                reasons.push(info(
                    Code::StoreFetched,
                    format!("fetched {} file(s) from {url}/{sha256}/", fetched.len()),
                ));
                files.extend(fetched);
            }
            Err(error) => reasons.push(info(Code::StoreUnavailable, error.to_string())),
        }
    }
    if let Some(location) = &policy.store_oci {
        let fetched =
            crate::oci_store::OciStore::open(location, Default::default()).and_then(|store| {
                let dir = dest.join("oci");
                fs_err::create_dir_all(&dir).map_err(|source| {
                    crate::oci_store::OciStoreError::Write {
                        path: dir.clone(),
                        source,
                    }
                })?;
                store.fetch(sha256, &dir)
            });
        match fetched {
            Ok(fetched) => {
                reasons.push(info(
                    Code::StoreFetched,
                    format!(
                        "fetched {} file(s) attached to sha256:{sha256} in OCI store {location}",
                        fetched.files.len()
                    ),
                ));
                reasons.extend(
                    fetched.skipped.into_iter().map(|why| {
                        info(Code::StoreSkipped, format!("OCI store {location}: {why}"))
                    }),
                );
                files.extend(fetched.files);
            }
            Err(error) => reasons.push(info(Code::StoreUnavailable, error.to_string())),
        }
    }
    (files, reasons)
}

/// A statement verified for this artifact, with the policy signer that made it.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The policy signer's id.
    pub signer: String,
    pub bundle: PathBuf,
    pub statement: Option<Statement>,
}

/// Evaluates `evidence` against `policy`. `root` is the Sigstore trusted root
/// used for keyless signers.
pub fn evaluate(policy: &Policy, root: &TrustedRoot, evidence: &Evidence) -> Verdict {
    evaluate_with_attestations(policy, root, evidence).0
}

/// Like [`evaluate`], also returning the statements that verified for this
/// artifact (the launcher installs the lock they sign).
pub fn evaluate_with_attestations(
    policy: &Policy,
    root: &TrustedRoot,
    evidence: &Evidence,
) -> (Verdict, Vec<Attestation>) {
    let mut base = Reasons::default();
    policy_checks(policy, evidence, &mut base);
    let attestations = verify_bundles(policy, root, evidence, &mut base);

    let package = evidence.package;
    let rules: Vec<&PackageRule> = policy
        .packages
        .iter()
        .filter(|rule| rule.matches_name(package.ecosystem, &package.name))
        .collect();
    let mut outcome = None;
    for rule in &rules {
        let mut reasons = Reasons(base.0.clone());
        evaluate_rule(policy, rule, evidence, &attestations, &mut reasons);
        let allowed = !reasons.failed();
        if allowed {
            reasons.pass(
                Check::Package,
                Code::AllowedByPolicy,
                format!(
                    "allowed by [[packages]] rule {} (`{}`)",
                    rule.index + 1,
                    rule.name
                ),
            );
        }
        if allowed || outcome.is_none() {
            outcome = Some((allowed, reasons));
        }
        if allowed {
            break;
        }
    }
    let (allowed, reasons) = outcome.unwrap_or_else(|| {
        let mut reasons = base;
        reasons.fail(
            Check::Package,
            Code::NoMatchingRule,
            format!(
                "no [[packages]] rule names {} package `{}` (default deny)",
                package.ecosystem, package.name
            ),
        );
        (false, reasons)
    });
    let verdict = Verdict {
        schema_version: SCHEMA_VERSION,
        decision: if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        },
        subject: Some(package.purl.clone()),
        sha256: Some(evidence.digests.sha256.clone()),
        reasons: reasons.0,
    };
    (verdict, attestations)
}

fn policy_checks(policy: &Policy, evidence: &Evidence, reasons: &mut Reasons) {
    match policy.expires {
        Some(expires) if evidence.now >= expires => reasons.fail(
            Check::Expiry,
            Code::PolicyExpired,
            format!("policy `{}` expired at {expires}", policy.path.display()),
        ),
        Some(expires) => reasons.pass(
            Check::Expiry,
            Code::PolicyCurrent,
            format!("policy valid until {expires}"),
        ),
        None => reasons.pass(
            Check::Expiry,
            Code::PolicyCurrent,
            "policy has no expiry".to_owned(),
        ),
    }
    let check = evidence.version_check;
    if check.is_rollback() {
        reasons.fail(
            Check::Policy,
            Code::PolicyRollback,
            format!(
                "policy `{}` version {} is older than version {} already seen on this machine",
                policy.name,
                check.version,
                check.last_seen.unwrap_or_default()
            ),
        );
    } else {
        reasons.pass(
            Check::Policy,
            Code::PolicyVersionOk,
            format!("policy `{}` version {}", policy.name, check.version),
        );
    }
}

fn verify_bundles(
    policy: &Policy,
    root: &TrustedRoot,
    evidence: &Evidence,
    reasons: &mut Reasons,
) -> Vec<Attestation> {
    let mut attestations = Vec::new();
    if evidence.bundles.is_empty() {
        reasons.fail(
            Check::Signature,
            Code::Unsigned,
            format!(
                "no bundle found for `{}` (looked for ARTIFACT.sigstore.json, ARTIFACT.*.sigstore.json{})",
                evidence.artifact_path.display(),
                if policy.store_dir.is_some()
                    || policy.store_url.is_some()
                    || policy.store_oci.is_some()
                {
                    " and the policy's store"
                } else {
                    ""
                }
            ),
        );
        return attestations;
    }
    for path in &evidence.bundles {
        match verify_one(policy, root, evidence, path) {
            Ok(attestation) => {
                let predicate = attestation
                    .statement
                    .as_ref()
                    .map_or("?", |s| s.predicate_type.as_str());
                reasons.pass(
                    Check::Signature,
                    Code::SignatureVerified,
                    format!(
                        "`{}` verified: signer `{}`, predicate {predicate}",
                        path.display(),
                        attestation.signer
                    ),
                );
                attestations.push(attestation);
            }
            Err((code, message)) => reasons.info(Check::Signature, code, message),
        }
    }
    attestations
}

fn verify_one(
    policy: &Policy,
    root: &TrustedRoot,
    evidence: &Evidence,
    path: &Path,
) -> Result<Attestation, (Code, String)> {
    let shown = path.display();
    let bytes = fs_err::read(path).map_err(|e| (Code::BundleInvalid, e.to_string()))?;
    let raw: Value = serde_json::from_slice(&bytes)
        .map_err(|e| (Code::BundleInvalid, format!("`{shown}` is not JSON: {e}")))?;
    let material = &raw["verificationMaterial"];
    let keyless =
        material.get("certificate").is_some() || material.get("x509CertificateChain").is_some();
    if !keyless {
        let bundle = mcpin_attestation::Bundle::from_json(&bytes)
            .map_err(|e| (Code::BundleInvalid, format!("`{shown}`: {e}")))?;
        for signer in &policy.signers {
            let SignerKind::Key(key) = &signer.kind else {
                continue;
            };
            let Ok(verified) = crate::dsse::verify_bundle(&bundle, key) else {
                continue;
            };
            return match verified.subject_matching(evidence.digests, Some(&evidence.package.purl)) {
                Ok(_) => Ok(Attestation {
                    signer: signer.id.clone(),
                    bundle: path.to_owned(),
                    statement: Some(verified.statement().clone()),
                }),
                Err(e) => Err((
                    if e.code() == "digest-mismatch" {
                        Code::DigestMismatch
                    } else {
                        Code::SubjectMismatch
                    },
                    format!("`{shown}` is signed by `{}` but {e}", signer.id),
                )),
            };
        }
        let hint = bundle
            .verification_material
            .public_key
            .map(|hint| hint.hint)
            .unwrap_or_default();
        let named = policy.signers.iter().find(
            |signer| matches!(&signer.kind, SignerKind::Key(key) if key.id().as_str() == hint),
        );
        return Err(match named {
            Some(signer) => (
                Code::SignatureInvalid,
                format!(
                    "`{shown}` names the key of signer `{}` but its signature does not verify (altered bundle)",
                    signer.id
                ),
            ),
            None => (
                Code::SignerUntrusted,
                format!("`{shown}` is signed by key `{hint}`, which is not a policy signer"),
            ),
        });
    }
    let json = String::from_utf8_lossy(&bytes);
    let artifact = ArtifactRef::File(evidence.artifact_path.to_owned());
    let mut last = None;
    for signer in &policy.signers {
        let SignerKind::Sigstore {
            issuer,
            identity,
            repository,
            git_ref,
        } = &signer.kind
        else {
            continue;
        };
        let requirement = SignerRequirement::Identity {
            identity: identity.clone(),
            issuer: issuer.clone(),
        };
        match sigstore::verify_json(&shown.to_string(), &json, &artifact, &requirement, root) {
            Ok(verified) => {
                let claims = &verified.claims;
                let wrong = |want: &Option<String>, got: &Option<String>| {
                    want.as_ref().is_some_and(|want| got.as_ref() != Some(want))
                };
                if wrong(repository, &claims.repository) || wrong(git_ref, &claims.git_ref) {
                    last = Some((
                        Code::SignerUntrusted,
                        format!(
                            "`{shown}` was built from repository {:?} ref {:?}, not what signer `{}` requires",
                            claims.repository, claims.git_ref, signer.id
                        ),
                    ));
                    continue;
                }
                let statement = verified
                    .dsse_payload
                    .as_deref()
                    .and_then(|payload| serde_json::from_slice(payload).ok());
                return Ok(Attestation {
                    signer: signer.id.clone(),
                    bundle: path.to_owned(),
                    statement,
                });
            }
            Err(error) if error.code() == "sigstore-artifact-mismatch" => {
                last = Some((Code::SubjectMismatch, error.to_string()));
            }
            Err(error) if error.code() == "sigstore-identity-mismatch" => {}
            Err(error) => {
                last = Some((Code::BundleInvalid, error.to_string()));
            }
        }
    }
    Err(last.unwrap_or((
        Code::SignerUntrusted,
        format!("`{shown}` is a keyless bundle whose identity is not a policy signer"),
    )))
}

fn evaluate_rule(
    policy: &Policy,
    rule: &PackageRule,
    evidence: &Evidence,
    attestations: &[Attestation],
    reasons: &mut Reasons,
) {
    let package = evidence.package;
    reasons.pass(
        Check::Package,
        Code::PackageRuleMatched,
        format!(
            "[[packages]] rule {} (`{}`) names {}",
            rule.index + 1,
            rule.name,
            package.name
        ),
    );
    match &rule.version {
        Some(requirement) if requirement.matches(&package.version) => reasons.pass(
            Check::Version,
            Code::VersionAllowed,
            format!("version {} is allowed by the rule", package.version),
        ),
        Some(_) => reasons.fail(
            Check::Version,
            Code::VersionNotAllowed,
            format!(
                "version {} does not satisfy the rule's version requirement",
                package.version
            ),
        ),
        None => reasons.pass(
            Check::Version,
            Code::VersionAllowed,
            "the rule allows any version".to_owned(),
        ),
    }
    if !rule.digests.is_empty() {
        let digests = evidence.digests;
        let pinned = rule
            .digests
            .iter()
            .any(|(algorithm, hex)| match algorithm.as_str() {
                "sha256" => *hex == digests.sha256,
                _ => *hex == digests.sha512,
            });
        if pinned {
            reasons.pass(
                Check::Digest,
                Code::DigestPinned,
                format!("sha256:{} is pinned", digests.sha256),
            );
        } else {
            reasons.fail(
                Check::Digest,
                Code::DigestPinMismatch,
                format!(
                    "sha256:{} is not among the rule's {} pinned digest(s)",
                    digests.sha256,
                    rule.digests.len()
                ),
            );
        }
    }

    // Signers: package statements count for require-any; valid approvals too for require-all.
    let is_approval = |a: &Attestation| {
        a.statement
            .as_ref()
            .is_some_and(|s| s.predicate_type == APPROVAL_PREDICATE_TYPE)
    };
    let package_signers: BTreeSet<&str> = attestations
        .iter()
        .filter(|a| !is_approval(a))
        .map(|a| a.signer.as_str())
        .collect();
    let trusted_for_content: Vec<&Attestation> = attestations
        .iter()
        .filter(|a| !is_approval(a))
        .filter(|a| rule.require_any.contains(&a.signer) || rule.require_all.contains(&a.signer))
        .collect();
    let statement = trusted_for_content.iter().find_map(|a| {
        a.statement
            .as_ref()
            .filter(|s| s.predicate_type == PACKAGE_PREDICATE_TYPE)
            .map(|s| (a, s))
    });
    let predicate = match statement {
        Some((attestation, statement)) => {
            match serde_json::from_value::<PackagePredicate>(statement.predicate.clone()) {
                Ok(predicate) => {
                    let named = &predicate.package;
                    if named.name != package.name
                        || named.version != package.version
                        || named.ecosystem != package.ecosystem
                    {
                        reasons.fail(
                            Check::Signature,
                            Code::StatementPackageMismatch,
                            format!(
                                "`{}` names {} {}@{}, but the artifact is {} {}@{}",
                                attestation.bundle.display(),
                                named.ecosystem,
                                named.name,
                                named.version,
                                package.ecosystem,
                                package.name,
                                package.version
                            ),
                        );
                    }
                    Some((attestation, predicate))
                }
                Err(e) => {
                    reasons.fail(
                        Check::Signature,
                        Code::StatementMalformed,
                        format!(
                            "`{}`: the mcp-package predicate is malformed: {e}",
                            attestation.bundle.display()
                        ),
                    );
                    None
                }
            }
        }
        None => None,
    };

    let approvals = evaluate_approvals(
        policy,
        rule,
        evidence,
        attestations,
        predicate.as_ref().map(|(_, p)| p),
        reasons,
    );
    let mut all_signers = package_signers.clone();
    all_signers.extend(approvals.iter().map(String::as_str));

    let any_ok = rule.require_any.is_empty()
        || rule
            .require_any
            .iter()
            .any(|id| package_signers.contains(id.as_str()));
    let missing_all: Vec<&String> = rule
        .require_all
        .iter()
        .filter(|id| !all_signers.contains(id.as_str()))
        .collect();
    if !any_ok {
        reasons.fail(
            Check::Signer,
            Code::RequiredSignerMissing,
            format!(
                "none of the required signers [{}] signed the artifact",
                rule.require_any.join(", ")
            ),
        );
    }
    if !missing_all.is_empty() {
        reasons.fail(
            Check::Signer,
            Code::RequiredSignerMissing,
            format!(
                "required signer(s) {} did not sign",
                missing_all
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if any_ok && missing_all.is_empty() {
        reasons.pass(
            Check::Signer,
            Code::RequiredSignersSatisfied,
            format!(
                "signed by {}",
                all_signers
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }

    let tools = rule.tools.as_ref().unwrap_or(&policy.tools);
    let predicate = predicate.map(|(_, p)| p);
    evaluate_tools(rule, tools, predicate.as_ref(), reasons);
    evaluate_sbom(policy, predicate.as_ref(), evidence, attestations, reasons);
}

fn evaluate_tools(
    rule: &PackageRule,
    rules: &ToolRules,
    predicate: Option<&PackagePredicate>,
    reasons: &mut Reasons,
) {
    let Some(tools) = predicate.and_then(|p| p.tools.as_ref()) else {
        let needed =
            rules.require || rule.tools_digest.is_some() || rules.max_lint_severity.is_some();
        if needed {
            reasons.fail(
                Check::Tools,
                Code::ToolsMissing,
                "the policy requires signed tools; the package statement carries none".to_owned(),
            );
        } else {
            reasons.info(
                Check::Tools,
                Code::ToolsNotSigned,
                "the package statement carries no tools".to_owned(),
            );
        }
        return;
    };
    if let Err(error) = mcpin_tools::verify_section(tools) {
        reasons.fail(
            Check::Tools,
            Code::ToolsDigestInvalid,
            format!("the signed tools do not match their own digests: {error}"),
        );
        return;
    }
    let declared = &tools.digest;
    if let Some(pin) = &rule.tools_digest {
        if pin == declared {
            reasons.pass(
                Check::Tools,
                Code::ToolsDigestPinned,
                format!("tools digest {declared} is pinned"),
            );
        } else {
            reasons.fail(
                Check::Tools,
                Code::ToolsDigestDrift,
                format!("tools digest {declared} differs from the pinned {pin}"),
            );
        }
    }
    let list = &tools.payload.tools;
    let mut bad = false;
    for tool in list {
        let name = tool.name.as_str();
        let hint = |key: &str| {
            tool.annotations
                .as_ref()
                .and_then(|annotations| annotations.get(key))
                .and_then(Value::as_bool)
        };
        if rules.deny.iter().any(|d| d == name) {
            reasons.fail(
                Check::Tools,
                Code::ToolDenied,
                format!("tool `{name}` is denied"),
            );
            bad = true;
        }
        if let Some(allow) = &rules.allow
            && !allow.iter().any(|a| a == name)
        {
            reasons.fail(
                Check::Tools,
                Code::ToolNotAllowed,
                format!("tool `{name}` is not in the allow list"),
            );
            bad = true;
        }
        // MCP defaults: destructiveHint true unless readOnlyHint; openWorldHint true.
        let destructive =
            hint("readOnlyHint") != Some(true) && hint("destructiveHint") != Some(false);
        if rules.deny_destructive
            && destructive
            && !rules.allow_destructive.iter().any(|a| a == name)
        {
            reasons.fail(
                Check::Tools,
                Code::ToolDestructive,
                format!("tool `{name}` may be destructive (readOnlyHint/destructiveHint) and is not in allow-destructive"),
            );
            bad = true;
        }
        let open_world = hint("openWorldHint") != Some(false);
        if rules.deny_open_world && open_world && !rules.allow_open_world.iter().any(|a| a == name)
        {
            reasons.fail(
                Check::Tools,
                Code::ToolOpenWorld,
                format!("tool `{name}` reaches an open world (openWorldHint) and is not in allow-open-world"),
            );
            bad = true;
        }
    }
    if !bad {
        reasons.pass(
            Check::Tools,
            Code::ToolsAllowed,
            format!("{} tool(s) pass the tool rules", list.len()),
        );
    }
    if let Some(max) = rules.max_lint_severity {
        let report = mcpin_tools::lint(&tools.payload);
        let worse: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity > max)
            .collect();
        if worse.is_empty() {
            reasons.pass(
                Check::Lint,
                Code::LintWithinLimit,
                format!(
                    "{} lint finding(s) over the signed tools, none worse than {max}",
                    report.findings.len()
                ),
            );
        }
        for finding in worse {
            reasons.fail(
                Check::Lint,
                Code::LintSeverityExceeded,
                format!(
                    "{} ({}) at {}: {}",
                    finding.rule, finding.severity, finding.location, finding.excerpt
                ),
            );
        }
    }
}

fn evaluate_sbom(
    policy: &Policy,
    predicate: Option<&PackagePredicate>,
    evidence: &Evidence,
    attestations: &[Attestation],
    reasons: &mut Reasons,
) {
    let rules = &policy.sbom;
    let has_rules = rules.require
        || !rules.deny.is_empty()
        || rules.licenses_allow.is_some()
        || !rules.licenses_deny.is_empty()
        || rules.require_hashes;
    let Some(reference) = predicate.and_then(|p| p.sbom.as_ref()) else {
        if has_rules {
            reasons.fail(
                Check::Sbom,
                Code::SbomMissing,
                "the policy has SBOM rules; the package statement references no SBOM".to_owned(),
            );
        } else {
            reasons.info(
                Check::Sbom,
                Code::SbomNotSigned,
                "the package statement references no SBOM".to_owned(),
            );
        }
        return;
    };
    let want = reference.sha256.to_ascii_lowercase();
    let mut candidates: Vec<PathBuf> = evidence.sboms.clone();
    for attestation in attestations {
        if let Some(dir) = attestation.bundle.parent() {
            candidates.extend(read_dir_files(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }));
        }
    }
    let found = candidates
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".sigstore.json"))
        .find_map(|path| {
            let size = std::fs::metadata(path).ok()?.len();
            if size > MAX_SBOM_BYTES {
                return None;
            }
            let bytes = fs_err::read(path).ok()?;
            (hex::encode(Sha256::digest(&bytes)) == want).then_some((path.clone(), bytes))
        });
    let Some((path, bytes)) = found else {
        reasons.fail(
            Check::Sbom,
            Code::SbomMissing,
            format!("no SBOM with sha256:{want} beside the bundles or given with --sbom"),
        );
        return;
    };
    let sbom: Value = match serde_json::from_slice(&bytes) {
        Ok(sbom) => sbom,
        Err(e) => {
            reasons.fail(
                Check::Sbom,
                Code::SbomMalformed,
                format!("`{}` is not JSON: {e}", path.display()),
            );
            return;
        }
    };
    if sbom["bomFormat"] != "CycloneDX" {
        reasons.fail(
            Check::Sbom,
            Code::SbomMalformed,
            format!("`{}` is not a CycloneDX document", path.display()),
        );
        return;
    }
    let components = sbom["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let before = reasons.0.len();
    for component in components {
        let label = component["purl"]
            .as_str()
            .or(component["name"].as_str())
            .unwrap_or("?")
            .to_owned();
        if let Some(purl) = component["purl"]
            .as_str()
            .and_then(|p| p.parse::<packageurl::PackageUrl>().ok())
        {
            for denied in &rules.deny {
                let same = purl.ty() == denied.purl_type
                    && purl.namespace() == denied.namespace.as_deref()
                    && purl.name() == denied.name;
                let version_hit = match (&denied.versions, purl.version()) {
                    (None, _) => true,
                    (Some(range), Some(version)) => range.matches(version),
                    // A denied range and no version: cannot prove it is outside the range.
                    (Some(_), None) => true,
                };
                if same && version_hit {
                    reasons.fail(
                        Check::Sbom,
                        Code::SbomComponentDenied,
                        format!("component {label} is denied by `{}`", denied.source),
                    );
                }
            }
        }
        if rules.require_hashes && component["hashes"].as_array().is_none_or(Vec::is_empty) {
            reasons.fail(
                Check::Sbom,
                Code::SbomComponentUnhashed,
                format!("component {label} carries no hash"),
            );
        }
        if rules.licenses_allow.is_some() || !rules.licenses_deny.is_empty() {
            check_licenses(rules, component, &label, reasons);
        }
    }
    if !reasons.0[before..]
        .iter()
        .any(|r| r.outcome == Outcome::Fail)
    {
        reasons.pass(
            Check::Sbom,
            Code::SbomAllowed,
            format!(
                "SBOM `{}` ({} components) passes the SBOM rules",
                path.display(),
                components.len()
            ),
        );
    }
}

/// A component's licenses as one SPDX expression: several entries all apply (AND).
fn component_expression(component: &Value) -> Result<Option<String>, String> {
    let mut parts = Vec::new();
    for entry in component["licenses"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if let Some(expression) = entry["expression"].as_str() {
            parts.push(format!("({expression})"));
        } else if let Some(id) = entry["license"]["id"].as_str() {
            parts.push(id.to_owned());
        } else if let Some(name) = entry["license"]["name"].as_str() {
            return Err(format!("license `{name}` is not an SPDX id or expression"));
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join(" AND ")))
}

fn check_licenses(
    rules: &crate::policy::SbomRules,
    component: &Value,
    label: &str,
    reasons: &mut Reasons,
) {
    let expression = match component_expression(component) {
        Ok(Some(expression)) => expression,
        Ok(None) => {
            if rules.licenses_allow.is_some() {
                reasons.fail(
                    Check::Sbom,
                    Code::SbomLicenseNotAllowed,
                    format!("component {label} declares no license"),
                );
            }
            return;
        }
        Err(why) => {
            if rules.licenses_allow.is_some() {
                reasons.fail(
                    Check::Sbom,
                    Code::SbomLicenseNotAllowed,
                    format!("component {label}: {why}"),
                );
            }
            return;
        }
    };
    let parsed = match spdx::Expression::parse_mode(&expression, spdx::ParseMode::LAX) {
        Ok(parsed) => parsed,
        Err(e) => {
            reasons.fail(
                Check::Sbom,
                Code::SbomLicenseNotAllowed,
                format!("component {label}: license `{expression}` does not parse: {e}"),
            );
            return;
        }
    };
    let denied = |req: &spdx::LicenseReq| {
        req.license
            .id()
            .is_some_and(|id| rules.licenses_deny.contains(&id))
    };
    if !rules.licenses_deny.is_empty() && !parsed.evaluate(|req| !denied(req)) {
        reasons.fail(
            Check::Sbom,
            Code::SbomLicenseDenied,
            format!(
                "component {label}: `{expression}` cannot be satisfied without a denied license"
            ),
        );
        return;
    }
    if let Some(allowed) = &rules.licenses_allow {
        let ok = parsed.evaluate(|req| {
            !denied(req) && req.license.id().is_some_and(|id| allowed.contains(&id))
        });
        if !ok {
            reasons.fail(Check::Sbom, Code::SbomLicenseNotAllowed, format!("component {label}: `{expression}` cannot be satisfied with the allowed licenses"));
        }
    }
}

/// Checks approvals; returns the approver ids whose approval is valid.
fn evaluate_approvals(
    policy: &Policy,
    rule: &PackageRule,
    evidence: &Evidence,
    attestations: &[Attestation],
    predicate: Option<&PackagePredicate>,
    reasons: &mut Reasons,
) -> Vec<String> {
    let mut valid = Vec::new();
    let mut problems = Reasons::default();
    for attestation in attestations {
        let Some(statement) = attestation
            .statement
            .as_ref()
            .filter(|s| s.predicate_type == APPROVAL_PREDICATE_TYPE)
        else {
            continue;
        };
        if !policy.approvers.contains(&attestation.signer) {
            problems.info(
                Check::Approval,
                Code::SignerUntrusted,
                format!(
                    "approval `{}` is by `{}`, not an [approval] signer",
                    attestation.bundle.display(),
                    attestation.signer
                ),
            );
            continue;
        }
        let shown = attestation.bundle.display();
        let approval: ApprovalPredicate = match serde_json::from_value(statement.predicate.clone())
        {
            Ok(approval) => approval,
            Err(e) => {
                problems.fail(
                    Check::Approval,
                    Code::StatementMalformed,
                    format!("approval `{shown}` is malformed: {e}"),
                );
                continue;
            }
        };
        match crate::policy::parse_time(&approval.expires) {
            Ok(expires) if evidence.now < expires => {}
            Ok(expires) => {
                problems.fail(
                    Check::Approval,
                    Code::ApprovalExpired,
                    format!(
                        "approval `{shown}` by `{}` expired at {expires}",
                        attestation.signer
                    ),
                );
                continue;
            }
            Err(why) => {
                problems.fail(
                    Check::Approval,
                    Code::StatementMalformed,
                    format!("approval `{shown}`: expires: {why}"),
                );
                continue;
            }
        }
        let expected_tools = predicate
            .and_then(|p| p.tools.as_ref())
            .map(|tools| tools.digest.clone());
        let expected_lock = predicate
            .and_then(|p| p.lock.as_ref())
            .map(mcpin_attestation::Lock::digest);
        let expected_sbom = predicate
            .and_then(|p| p.sbom.as_ref())
            .map(|s| s.sha256.to_ascii_lowercase());
        let mut mismatched = Vec::new();
        if approval.tools_digest != expected_tools {
            mismatched.push(format!(
                "tools {:?} (package statement: {:?})",
                approval.tools_digest, expected_tools
            ));
        }
        if approval.lock_digest != expected_lock {
            mismatched.push(format!(
                "lock {:?} (package statement: {:?})",
                approval.lock_digest, expected_lock
            ));
        }
        if approval
            .sbom_sha256
            .as_ref()
            .map(|s| s.to_ascii_lowercase())
            != expected_sbom
        {
            mismatched.push(format!(
                "sbom {:?} (package statement: {:?})",
                approval.sbom_sha256, expected_sbom
            ));
        }
        if !mismatched.is_empty() {
            problems.fail(
                Check::Approval,
                Code::ApprovalDigestMismatch,
                format!(
                    "approval `{shown}` approves other content: {}",
                    mismatched.join("; ")
                ),
            );
            continue;
        }
        reasons.pass(
            Check::Approval,
            Code::ApprovalValid,
            format!(
                "approved by `{}` ({}) until {}",
                attestation.signer, approval.approver, approval.expires
            ),
        );
        valid.push(attestation.signer.clone());
    }
    let required = rule.require_approval
        || rule
            .require_all
            .iter()
            .any(|id| policy.approvers.contains(id));
    for mut problem in problems.0 {
        // Problems with approvals only decide when an approval is needed and none is valid.
        if !required || !valid.is_empty() {
            problem.outcome = Outcome::Info;
        }
        reasons.0.push(problem);
    }
    if rule.require_approval && valid.is_empty() && !reasons.failed_in(Check::Approval) {
        reasons.fail(
            Check::Approval,
            Code::ApprovalMissing,
            format!(
                "the rule requires an approval by one of [{}]; there is none",
                policy.approvers.join(", ")
            ),
        );
    }
    valid
}
