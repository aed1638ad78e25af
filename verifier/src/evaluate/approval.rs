//! Enterprise approvals: signer, expiry, and the digests they name.

use mcpin_attestation::{APPROVAL_PREDICATE_TYPE, ApprovalPredicate, PackagePredicate};

use crate::policy::{PackageRule, Policy};
use crate::verdict::{Check, Code, Outcome, Reasons};

use super::{Attestation, Evidence};

/// Checks approvals; returns the approver ids whose approval is valid.
pub(super) fn evaluate_approvals(
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
                    attestation.origin, attestation.signer
                ),
            );
            continue;
        }
        let shown = &attestation.origin;
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
