//! SBOM rules: denied components, licenses (SPDX expressions), hashes.

use std::path::{Path, PathBuf};

use mcpin_attestation::PackagePredicate;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::policy::Policy;
use crate::verdict::{Check, Code, Outcome, Reasons};

use super::bundles::read_dir_files;
use super::{Attestation, Evidence};

/// Upper bound on an SBOM read from disk.
const MAX_SBOM_BYTES: u64 = 32 * 1024 * 1024;

pub(super) fn evaluate_sbom(
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
