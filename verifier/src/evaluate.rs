//! Evaluating an artifact and its bundles against a [`Policy`] into a [`Verdict`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use mcpin_artifact::Digests;
use mcpin_attestation::{
    APPROVAL_PREDICATE_TYPE, PACKAGE_PREDICATE_TYPE, PackageInfo, PackagePredicate, Statement,
};

use crate::policy::{PackageRule, Policy, VersionCheck};
use crate::sigstore::TrustedRoot;
use crate::verdict::{Check, Code, Decision, Reasons, SCHEMA_VERSION, Verdict};

mod approval;
mod bundles;
mod sbom;
mod tools;

use approval::evaluate_approvals;
use bundles::verify_bundles;
pub use bundles::{discover_bundles, fetch_store, sbom_beside};
use sbom::evaluate_sbom;
use tools::evaluate_tools;

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
