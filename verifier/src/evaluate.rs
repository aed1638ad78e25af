//! The judge: a policy and gathered evidence in, a [`Verdict`] and (on allow) a
//! [`VerifiedPackage`] out. Nothing here reads a file or the network: every byte it looks at
//! is in the [`Evidence`], gathered beforehand.

use std::collections::BTreeSet;

use jiff::Timestamp;
use mcpin_artifact::Identified;
use mcpin_attestation::{
    APPROVAL_PREDICATE_TYPE, Ecosystem, PACKAGE_PREDICATE_TYPE, PackagePredicate, Statement,
};
use mcpin_registry_client::attestations::provenance::RegistryProvenance;
use mcpin_registry_client::attestations::{AttestationFile, Note};

use crate::gate::LoadedPolicy;
use crate::policy::{PackageRule, Policy, VersionCheck};
use crate::verdict::{Check, Code, Decision, Reason, Reasons, SCHEMA_VERSION, Verdict};
use crate::verified::VerifiedPackage;

mod approval;
mod bundles;
mod sbom;
mod tools;

pub use sbom::component_findings;

use approval::evaluate_approvals;
use bundles::verify_bundles;
use sbom::evaluate_sbom;
use tools::evaluate_tools;

/// Everything the judge looks at besides the policy, gathered beforehand.
#[derive(Debug)]
pub struct Evidence<'a> {
    /// How the artifact is named in messages (a path, or a purl).
    pub artifact: &'a str,
    /// The artifact's identity, digests and metadata, read from its bytes.
    pub identified: &'a Identified,
    /// Set for a launch: what the command line asked for. The artifact must be exactly that
    /// package, and a package that declares dependencies must carry a signed lock (the
    /// launcher installs nothing else).
    pub requested: Option<&'a Requested>,
    /// Bundles and SBOMs, in memory.
    pub files: &'a [AttestationFile],
    /// What happened while gathering them (stores fetched or unavailable).
    pub notes: &'a [Note],
    /// What the registry published about how the artifact was built (npm attestations, PyPI
    /// PEP 740), when it was asked: its attestations count for the policy's Sigstore signers.
    pub provenance: Option<&'a RegistryProvenance>,
    pub now: Timestamp,
}

/// The package a launch asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// The exact version (npm, PyPI) or manifest digest (OCI) that must be judged: the one the
    /// command line names, or the one a floating spec was resolved to.
    pub version: String,
}

/// A statement verified for this artifact, with the policy signer that made it.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The policy signer's id.
    pub signer: String,
    /// Where the bundle came from.
    pub origin: String,
    pub statement: Option<Statement>,
    /// Keyless bundles: the certificate's issuer and CI claims.
    pub keyless: Option<(String, crate::sigstore::WorkflowClaims)>,
}

/// The judge's answer.
#[derive(Debug)]
pub struct Judgement {
    pub verdict: Verdict,
    verified: Option<VerifiedPackage>,
}

impl Judgement {
    /// The verified package: present exactly when the verdict allows.
    pub fn verified(&self) -> Option<&VerifiedPackage> {
        self.verified.as_ref()
    }

    /// The verdict, and the verified package when it allows.
    pub fn into_parts(self) -> (Verdict, Option<VerifiedPackage>) {
        (self.verdict, self.verified)
    }
}

/// What the statements by a rule's required signers say about the package.
struct Content {
    predicate: Option<PackagePredicate>,
    signers: BTreeSet<String>,
}

/// The bundles of `evidence` (and the registry's provenance in it) that verify for its
/// artifact, each with the policy signer that made it, and the reasons saying why each other
/// bundle did not count: the judge's own signature step, for `mcpin review`. Pure: no I/O.
pub fn verify_signatures(
    policy: &Policy,
    root: &crate::sigstore::TrustedRoot,
    evidence: &Evidence,
) -> (Vec<Attestation>, Vec<Reason>) {
    let mut reasons = Reasons(Vec::new());
    let attestations = verify_bundles(policy, root, evidence, &mut reasons);
    (attestations, reasons.0)
}

/// Judges `evidence` against the loaded policy. Pure: no I/O.
pub fn judge(loaded: &LoadedPolicy, evidence: &Evidence) -> Judgement {
    let policy = &loaded.policy;
    let package = &evidence.identified.package;
    let mut base = Reasons(vec![loaded.signature.clone()]);
    policy_checks(
        policy,
        loaded.version_check,
        loaded.refreshed,
        evidence.now,
        &mut base,
    );
    if let Some(requested) = evidence.requested {
        request_check(requested, evidence.identified, &mut base);
    }
    let attestations = verify_bundles(policy, &loaded.root, evidence, &mut base);

    let rules: Vec<PackageRule> = match policy.packages.matching(package.ecosystem, &package.name) {
        Ok(rules) => rules,
        Err(error) => {
            // Written by mcpin from a validated policy and damaged since: nothing is allowed.
            base.fail(
                Check::Policy,
                Code::PolicyRulesUnreadable,
                error.to_string(),
            );
            Vec::new()
        }
    };
    let mut outcome = None;
    for rule in &rules {
        let mut reasons = Reasons(base.0.clone());
        let content = evaluate_rule(policy, rule, evidence, &attestations, &mut reasons);
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
            outcome = Some((allowed.then_some((rule, content)), reasons));
        }
        if allowed {
            break;
        }
    }
    let (allowed, mut reasons) = outcome.unwrap_or_else(|| {
        let mut reasons = base;
        reasons.fail(
            Check::Package,
            Code::NoMatchingRule,
            format!(
                "no [[packages]] rule names {} package `{}` (default deny)",
                package.ecosystem, package.name
            ),
        );
        (None, reasons)
    });
    reasons.0.extend(evidence.notes.iter().map(note_reason));
    let verdict = Verdict {
        schema_version: SCHEMA_VERSION,
        decision: if allowed.is_some() {
            Decision::Allow
        } else {
            Decision::Deny
        },
        subject: Some(package.purl.clone()),
        sha256: Some(evidence.identified.digests.sha256.clone()),
        reasons: reasons.0,
    };
    let verified = allowed.map(|(rule, content)| {
        let predicate = content.predicate;
        VerifiedPackage {
            package: package.clone(),
            digests: evidence.identified.digests.clone(),
            lock: predicate.as_ref().and_then(|p| p.lock.clone()),
            tools: predicate.as_ref().and_then(|p| p.tools.clone()),
            sbom: predicate.as_ref().and_then(|p| p.sbom.clone()),
            signers: content.signers.into_iter().collect(),
            rule: rule.index,
            sandbox: policy.sandbox_for(rule),
        }
    });
    Judgement { verdict, verified }
}

fn note_reason(note: &Note) -> Reason {
    let (code, message) = match note {
        Note::Fetched(message) => (Code::StoreFetched, message),
        Note::Unavailable(message) => (Code::StoreUnavailable, message),
        Note::Skipped(message) => (Code::StoreSkipped, message),
    };
    Reason {
        check: Check::Signature,
        code,
        outcome: crate::verdict::Outcome::Info,
        message: message.clone(),
    }
}

/// The identified artifact must be exactly the package the launch asked for: a registry that
/// answers a request with another (even another allowed) artifact is refused.
fn request_check(requested: &Requested, identified: &Identified, reasons: &mut Reasons) {
    let package = &identified.package;
    let same_name = match requested.ecosystem {
        Ecosystem::Pypi => {
            mcpin_attestation::normalize_pypi_name(&requested.name)
                == mcpin_attestation::normalize_pypi_name(&package.name)
        }
        _ => requested.name == package.name,
    };
    if requested.ecosystem == package.ecosystem && same_name && requested.version == package.version
    {
        reasons.pass(
            Check::Package,
            Code::ArtifactMatchesRequest,
            format!(
                "the artifact is {} {}@{}, as requested",
                package.ecosystem, package.name, package.version
            ),
        );
    } else {
        reasons.fail(
            Check::Package,
            Code::ArtifactMismatch,
            format!(
                "the launch asked for {} {}@{} but the registry delivered {} {}@{}",
                requested.ecosystem,
                requested.name,
                requested.version,
                package.ecosystem,
                package.name,
                package.version
            ),
        );
    }
}

fn policy_checks(
    policy: &Policy,
    check: VersionCheck,
    refreshed: Option<Timestamp>,
    now: Timestamp,
    reasons: &mut Reasons,
) {
    if let Some(max_age) = &policy.max_age {
        freshness_check(policy, max_age, refreshed, now, reasons);
    }
    match policy.expires {
        Some(expires) if now >= expires => reasons.fail(
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
    if !check.tracked {
        reasons.info(
            Check::Policy,
            Code::PolicyVersionUntracked,
            format!(
                "policy `{}` version {} is unsigned, so rollback protection does not apply to it",
                policy.name, check.version
            ),
        );
    } else if check.is_rollback() {
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

/// TUF's freeze-attack defence: a policy with `max-age` allows nothing once its last
/// successful pull is older than that, or when no pull of it is recorded.
fn freshness_check(
    policy: &Policy,
    max_age: &crate::policy::MaxAge,
    refreshed: Option<Timestamp>,
    now: Timestamp,
    reasons: &mut Reasons,
) {
    let Some(pulled_at) = refreshed else {
        reasons.fail(
            Check::Expiry,
            Code::PolicyStale,
            format!(
                "policy `{}` sets max-age {} and this machine has no record of a successful `mcpin policy pull` of it",
                policy.name, max_age.text
            ),
        );
        return;
    };
    let age = now.duration_since(pulled_at);
    let shown = std::time::Duration::try_from(age)
        .map(|age| {
            humantime::format_duration(std::time::Duration::from_secs(age.as_secs())).to_string()
        })
        .unwrap_or_else(|_| "a negative time".to_owned());
    if age > max_age.duration {
        reasons.fail(
            Check::Expiry,
            Code::PolicyStale,
            format!(
                "policy `{}` was last pulled at {pulled_at}, {shown} ago, longer than its max-age {}: the policy server may be unreachable or withheld (a freeze attack); run `mcpin policy pull`",
                policy.name, max_age.text
            ),
        );
    } else {
        reasons.pass(
            Check::Expiry,
            Code::PolicyFresh,
            format!(
                "policy `{}` was pulled {shown} ago (max-age {})",
                policy.name, max_age.text
            ),
        );
    }
}

fn evaluate_rule(
    policy: &Policy,
    rule: &PackageRule,
    evidence: &Evidence,
    attestations: &[Attestation],
    reasons: &mut Reasons,
) -> Content {
    let package = &evidence.identified.package;
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
        let digests = &evidence.identified.digests;
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
    // What the package is (tools, lock, SBOM) comes only from the signers this rule requires.
    let required = |a: &&Attestation| {
        rule.require_any.contains(&a.signer) || rule.require_all.contains(&a.signer)
    };
    let predicate = content_predicate(
        attestations
            .iter()
            .filter(|a| !is_approval(a))
            .filter(required),
        package,
        reasons,
    );
    if let Some(requested) = evidence.requested {
        lock_checks(predicate.as_ref(), evidence.identified, requested, reasons);
    }

    let approvals = evaluate_approvals(
        policy,
        rule,
        evidence,
        attestations,
        predicate.as_ref(),
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
                "none of the required signers [{}] signed the artifact{}",
                rule.require_any.join(", "),
                provenance_hint(
                    policy,
                    evidence,
                    rule.require_any.iter().map(String::as_str)
                )
            ),
        );
    }
    if !missing_all.is_empty() {
        reasons.fail(
            Check::Signer,
            Code::RequiredSignerMissing,
            format!(
                "required signer(s) {} did not sign{}",
                missing_all
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                provenance_hint(policy, evidence, missing_all.iter().map(|s| s.as_str()))
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
    evaluate_tools(rule, tools, predicate.as_ref(), reasons);
    evaluate_sbom(policy, predicate.as_ref(), evidence, reasons);
    Content {
        predicate,
        signers: all_signers.into_iter().map(str::to_owned).collect(),
    }
}

/// Where a missing signer is a Sigstore identity and the registry's provenance was asked, a
/// pointer to the provenance reasons that say why it did not count.
fn provenance_hint<'a>(
    policy: &Policy,
    evidence: &Evidence,
    missing: impl Iterator<Item = &'a str>,
) -> &'static str {
    let sigstore = |id: &str| {
        policy
            .signer(id)
            .is_some_and(|signer| matches!(signer.kind, crate::policy::SignerKind::Sigstore { .. }))
    };
    match evidence.provenance {
        Some(_) if missing.into_iter().any(sigstore) => {
            " (the registry provenance did not satisfy it: see the provenance-* reasons)"
        }
        _ => "",
    }
}

/// The one mcp-package predicate the required signers' statements agree on. Each must name
/// this package; statements that sign different tools, locks or SBOMs for the same artifact
/// are a conflict, never a choice.
fn content_predicate<'a>(
    statements: impl Iterator<Item = &'a Attestation>,
    package: &mcpin_attestation::PackageInfo,
    reasons: &mut Reasons,
) -> Option<PackagePredicate> {
    let mut agreed: Option<(&Attestation, PackagePredicate)> = None;
    for attestation in statements {
        let Some(statement) = attestation
            .statement
            .as_ref()
            .filter(|s| s.predicate_type == PACKAGE_PREDICATE_TYPE)
        else {
            continue;
        };
        let predicate =
            match serde_json::from_value::<PackagePredicate>(statement.predicate.clone()) {
                Ok(predicate) => predicate,
                Err(e) => {
                    reasons.fail(
                        Check::Signature,
                        Code::StatementMalformed,
                        format!(
                            "`{}`: the mcp-package predicate is malformed: {e}",
                            attestation.origin
                        ),
                    );
                    continue;
                }
            };
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
                    attestation.origin,
                    named.ecosystem,
                    named.name,
                    named.version,
                    package.ecosystem,
                    package.name,
                    package.version
                ),
            );
            continue;
        }
        match &agreed {
            None => agreed = Some((attestation, predicate)),
            Some((first, chosen)) => {
                if (&chosen.tools, &chosen.lock, &chosen.sbom)
                    != (&predicate.tools, &predicate.lock, &predicate.sbom)
                {
                    reasons.fail(
                        Check::Signature,
                        Code::StatementConflict,
                        format!(
                            "`{}` (signer `{}`) and `{}` (signer `{}`) sign different tools, lock or SBOM for this artifact",
                            first.origin, first.signer, attestation.origin, attestation.signer
                        ),
                    );
                }
            }
        }
    }
    agreed.map(|(_, predicate)| predicate)
}

/// For a launch: the lock the launcher will install must exist when the package has
/// dependencies, and must be a lock of this package.
fn lock_checks(
    predicate: Option<&PackagePredicate>,
    identified: &Identified,
    requested: &Requested,
    reasons: &mut Reasons,
) {
    let package = &identified.package;
    if requested.ecosystem == Ecosystem::Oci {
        return; // an image carries its own filesystem
    }
    match predicate.and_then(|p| p.lock.as_ref()) {
        None if declares_dependencies(identified) => reasons.fail(
            Check::Lock,
            Code::LockRequired,
            format!(
                "{} declares dependencies but the required signers' statement carries no lock (sign with `mcpin sign --lock`)",
                package.purl
            ),
        ),
        None => reasons.pass(
            Check::Lock,
            Code::LockNotNeeded,
            format!("{} declares no dependencies", package.purl),
        ),
        Some(lock) if lock.root.name != package.name || lock.root.version != package.version => {
            reasons.fail(
                Check::Lock,
                Code::LockMismatch,
                format!(
                    "the signed lock is for {}@{}, not {}",
                    lock.root.name, lock.root.version, package.purl
                ),
            )
        }
        Some(lock) => reasons.pass(
            Check::Lock,
            Code::LockSigned,
            format!("the signed lock {} will be installed", lock.digest()),
        ),
    }
}

/// Whether the package's own metadata declares run-time dependencies. Unreadable metadata
/// cannot prove there are none.
fn declares_dependencies(identified: &Identified) -> bool {
    let bytes = &identified.metadata.bytes;
    if identified.metadata.path.ends_with("package.json") {
        let json: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        return ["dependencies", "optionalDependencies", "peerDependencies"]
            .iter()
            .any(|key| json[key].as_object().is_some_and(|deps| !deps.is_empty()))
            || !json.is_object();
    }
    String::from_utf8_lossy(bytes).lines().any(|line| {
        line.strip_prefix("Requires-Dist:")
            .is_some_and(|req| !req.contains("extra =="))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        Policy::parse(std::path::Path::new("/nonexistent/policy.toml"), text).unwrap()
    }

    fn stale_or_fresh(
        policy: &Policy,
        refreshed: Option<Timestamp>,
        now: &str,
    ) -> Vec<(Code, bool)> {
        let mut reasons = Reasons::default();
        policy_checks(
            policy,
            VersionCheck::untracked(policy.version),
            refreshed,
            now.parse().unwrap(),
            &mut reasons,
        );
        reasons
            .0
            .iter()
            .filter(|r| matches!(r.code, Code::PolicyStale | Code::PolicyFresh))
            .map(|r| (r.code, r.outcome == crate::verdict::Outcome::Fail))
            .collect()
    }

    #[test]
    fn max_age_denies_a_policy_not_pulled_recently_or_never() {
        let aged = policy("version = 1\nmax-age = \"7d\"\n");
        let pulled: Timestamp = "2026-09-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            stale_or_fresh(&aged, Some(pulled), "2026-09-07T23:59:59Z"),
            [(Code::PolicyFresh, false)]
        );
        assert_eq!(
            stale_or_fresh(&aged, Some(pulled), "2026-09-08T00:00:01Z"),
            [(Code::PolicyStale, true)]
        );
        assert_eq!(
            stale_or_fresh(&aged, None, "2026-09-01T00:00:00Z"),
            [(Code::PolicyStale, true)]
        );
        // Without max-age, nothing is said about freshness.
        let unaged = policy("version = 1\n");
        assert_eq!(stale_or_fresh(&unaged, None, "2030-01-01T00:00:00Z"), []);
    }
}
