//! Tool rules over the signed tools payload, and the lint.

use mcpin_attestation::PackagePredicate;

use crate::policy::{PackageRule, ToolRules};
use crate::verdict::{Check, Code, Reasons};

pub(super) fn evaluate_tools(
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
        let hints = mcpin_tools::hints(tool);
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
        if rules.deny_destructive
            && hints.destructive
            && !rules.allow_destructive.iter().any(|a| a == name)
        {
            reasons.fail(
                Check::Tools,
                Code::ToolDestructive,
                format!("tool `{name}` may be destructive (readOnlyHint/destructiveHint) and is not in allow-destructive"),
            );
            bad = true;
        }
        if rules.deny_open_world
            && hints.open_world
            && !rules.allow_open_world.iter().any(|a| a == name)
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
