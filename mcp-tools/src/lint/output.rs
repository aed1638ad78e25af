//! Reports for people, as JSON and as SARIF, over one payload or several (with
//! the cross-server findings).

use serde_json::{Value, json};

use super::{LintReport, RULES, Severity};
use crate::cross::{CROSS_RULES, CrossFinding};

/// The schema version of [`json_report`]'s output.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// One linted payload and the name of its file.
#[derive(Debug, Clone, Copy)]
pub struct LintedFile<'a> {
    pub file: &'a str,
    pub report: &'a LintReport,
}

/// The highest severity of all findings, cross-server ones included.
pub fn highest_severity(files: &[LintedFile<'_>], cross: &[CrossFinding]) -> Option<Severity> {
    let own = files.iter().filter_map(|file| file.report.highest());
    own.chain(cross.iter().map(|f| f.severity)).max()
}

/// The report for people: one block per finding. With several files each
/// location names its file.
pub fn render_text(files: &[LintedFile<'_>], cross: &[CrossFinding]) -> String {
    let mut out = String::new();
    let mut count = 0;
    for file in files {
        for finding in &file.report.findings {
            let at = if files.len() > 1 {
                format!(" in {}", file.file)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{}[{}] {}{at}\n    {}\n",
                finding.severity, finding.rule, finding.location, finding.excerpt
            ));
            count += 1;
        }
    }
    for finding in cross {
        out.push_str(&format!(
            "{}[{}] servers {}\n    {}\n",
            finding.severity,
            finding.rule,
            finding.servers.join(", "),
            finding.message
        ));
        count += 1;
    }
    match highest_severity(files, cross) {
        None => out.push_str("no findings\n"),
        Some(highest) => out.push_str(&format!("{count} finding(s), highest severity {highest}\n")),
    }
    out
}

/// The report as JSON: `{"schema_version", "findings": [{"file", "rule", "severity", "location", "excerpt"}], "cross_server": [...]}`.
pub fn json_report(files: &[LintedFile<'_>], cross: &[CrossFinding]) -> Value {
    let findings: Vec<Value> = files
        .iter()
        .flat_map(|file| {
            file.report.findings.iter().map(|finding| {
                let mut value = serde_json::to_value(finding).expect("a finding serializes");
                value["file"] = json!(file.file);
                value
            })
        })
        .collect();
    json!({"schema_version": JSON_SCHEMA_VERSION, "findings": findings, "cross_server": cross})
}

/// The findings as a SARIF 2.1.0 log. Severity maps to `level` (critical and
/// high: error, medium: warning, low: note) and to `properties.security-severity`.
pub fn sarif(files: &[LintedFile<'_>], cross: &[CrossFinding]) -> Value {
    let rule = |id: &str, severity: Severity, description: &str| {
        json!({
            "id": id,
            "shortDescription": {"text": description},
            "defaultConfiguration": {"level": sarif_level(severity)},
            "properties": {
                "security-severity": security_severity(severity),
                "tags": ["security", "mcp-tool-poisoning"],
            },
        })
    };
    let mut rules: Vec<Value> = RULES
        .iter()
        .map(|r| rule(r.id, r.severity, r.description))
        .collect();
    rules.extend(
        CROSS_RULES
            .iter()
            .map(|r| rule(r.id, r.severity, r.description)),
    );
    let index_of = |id: &str| {
        RULES
            .iter()
            .map(|r| r.id)
            .chain(CROSS_RULES.iter().map(|r| r.id))
            .position(|rule| rule == id)
    };
    let mut results: Vec<Value> = Vec::new();
    for file in files {
        for finding in &file.report.findings {
            let qualified = match &finding.location.tool {
                Some(tool) => format!("tools/{tool}{}", finding.location.pointer),
                None => format!("payload{}", finding.location.pointer),
            };
            results.push(json!({
                "ruleId": finding.rule,
                "ruleIndex": index_of(finding.rule),
                "level": sarif_level(finding.severity),
                "message": {"text": format!("{}: {}", finding.location, finding.excerpt)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": file.file}},
                    "logicalLocations": [{
                        "name": finding.location.tool.clone().unwrap_or_else(|| "server".to_owned()),
                        "fullyQualifiedName": qualified,
                        "kind": "member",
                    }],
                }],
            }));
        }
    }
    for finding in cross {
        let locations: Vec<Value> = finding
            .servers
            .iter()
            .map(|server| json!({"physicalLocation": {"artifactLocation": {"uri": server}}}))
            .collect();
        results.push(json!({
            "ruleId": finding.rule,
            "ruleIndex": index_of(finding.rule),
            "level": sarif_level(finding.severity),
            "message": {"text": finding.message},
            "locations": locations,
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "mcpin",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/mcpin/mcpin",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub code scanning's numeric severity scale (critical ≥ 9, high ≥ 7, medium ≥ 4).
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
    }
}
