//! SBOM rules: denied components, licenses (SPDX expressions), hashes. The SBOM is the one
//! whose sha256 the required signers' statement signs, found among the gathered files and read
//! with the shared CycloneDX reader ([`SbomFacts`]), nested components included.

use mcpin_attestation::PackagePredicate;
use mcpin_attestation::sbom_facts::{ComponentFacts, SbomFacts};
use mcpin_registry_client::attestations::FileKind;
use sha2::{Digest, Sha256};

use crate::policy::Policy;
use crate::verdict::{Check, Code, Outcome, Reasons};

use super::Evidence;

pub(super) fn evaluate_sbom(
    policy: &Policy,
    predicate: Option<&PackagePredicate>,
    evidence: &Evidence,
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
    let found = evidence
        .files
        .iter()
        .filter(|file| file.kind == FileKind::Sbom)
        .find(|file| hex::encode(Sha256::digest(&file.bytes)) == want);
    let Some(file) = found else {
        reasons.fail(
            Check::Sbom,
            Code::SbomMissing,
            format!("no SBOM with sha256:{want} beside the bundles, in the policy's store, or given with --sbom"),
        );
        return;
    };
    let sbom = match SbomFacts::from_json(&file.bytes) {
        Ok(sbom) => sbom,
        Err(e) => {
            reasons.fail(
                Check::Sbom,
                Code::SbomMalformed,
                format!("`{}`: {e}", file.origin),
            );
            return;
        }
    };
    let before = reasons.0.len();
    reasons.0.extend(component_findings(rules, &sbom));
    if !reasons.0[before..]
        .iter()
        .any(|r| r.outcome == Outcome::Fail)
    {
        reasons.pass(
            Check::Sbom,
            Code::SbomAllowed,
            format!(
                "SBOM `{}` ({} components) passes the SBOM rules",
                file.origin,
                sbom.components.len()
            ),
        );
    }
}

/// The SBOM rules over each component of `sbom` (nested ones included): denied components,
/// licenses, hashes. Each finding is a failed reason.
pub fn component_findings(
    rules: &crate::policy::SbomRules,
    sbom: &SbomFacts,
) -> Vec<crate::verdict::Reason> {
    let mut findings = Reasons(Vec::new());
    let reasons = &mut findings;
    for component in &sbom.components {
        let label = component
            .purl
            .clone()
            .unwrap_or_else(|| component.name.clone());
        if let Some(purl) = component
            .purl
            .as_deref()
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
        if rules.require_hashes && component.hashes.is_empty() {
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
    findings.0
}

fn check_licenses(
    rules: &crate::policy::SbomRules,
    component: &ComponentFacts,
    label: &str,
    reasons: &mut Reasons,
) {
    let Some(expression) = &component.license else {
        if rules.licenses_allow.is_some() {
            reasons.fail(
                Check::Sbom,
                Code::SbomLicenseNotAllowed,
                format!("component {label} declares no license"),
            );
        }
        return;
    };
    let parsed = match spdx::Expression::parse_mode(expression, spdx::ParseMode::LAX) {
        Ok(parsed) => parsed,
        Err(e) => {
            // A license named rather than given as an SPDX id cannot be one of the denied
            // ids; it can only fail an allow list.
            if rules.licenses_allow.is_some() {
                reasons.fail(
                    Check::Sbom,
                    Code::SbomLicenseNotAllowed,
                    format!(
                        "component {label}: license `{expression}` is not an SPDX expression: {e}"
                    ),
                );
            }
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
