//! `[runtime]`: what the runtime guard enforces while a server runs (the file shape, with
//! spans and JSON Schema, and its validated form). The guard itself is `mcpin-guard`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::Checker;
use super::file::{LintSeverity, SeverityName};

/// `[runtime]` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RuntimeFile {
    /// Keep the server as a child and relay its stdio through the guard. Default: on when
    /// the signed statement carries tools; `false` execs the server as before.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub guard: Option<Spanned<bool>>,
    /// What a tool that differs from its signed definition (or is not signed) does:
    /// `deny` stops the server, `filter` hides the tool and refuses its calls.
    #[serde(default)]
    pub on_drift: Option<OnDrift>,
    /// Tools that are destructive per their signed annotations (MCP defaults apply):
    /// `allow`, `ask` a human, or `deny` (hidden and refused).
    #[serde(default)]
    pub destructive: Option<DestructiveMode>,
    /// For `ask` when the client cannot elicit: this command, with the question appended as
    /// the last argument; exit status 0 approves.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub approval_command: Option<Spanned<Vec<String>>>,
    /// How long a question waits for a human before the call is denied (`90s`, `5m`).
    /// Default 5m.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub approval_timeout: Option<Spanned<String>>,
    /// Calls to the whole server: `N/s`, `N/min`, `N/h` or `N/day` (a token bucket).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub rate_limit: Option<Spanned<String>>,
    /// Put the (size-capped, secret-redacted) arguments into each tool-call audit record.
    #[serde(default)]
    pub log_arguments: bool,
    /// Pass the text of every tool result through the lint's injection rules.
    #[serde(default)]
    pub scan_outputs: bool,
    /// The worst lint finding a result may contain under `scan-outputs` (low, medium, high,
    /// critical); a worse one replaces the result with an error. Default: medium.
    #[serde(default)]
    #[schemars(with = "Option<SeverityName>")]
    pub max_lint_severity: Option<LintSeverity>,
    /// Data class → the LLM providers allowed to see tools of that class.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<String>>")]
    pub data_classes: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    /// Tool-name glob → data class. A class the publisher declared in the signed tool's
    /// `_meta` (`dev.mcpin/data-class`) applies too; a provider must be allowed by every class.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub tool_classes: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Per tool name: rate limit, destructive mode and who may call it.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RuntimeToolFile>")]
    pub tools: BTreeMap<Spanned<String>, RuntimeToolFile>,
}

/// `[runtime.tools."NAME"]` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RuntimeToolFile {
    /// Calls to this tool: `N/s`, `N/min`, `N/h` or `N/day`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub rate_limit: Option<Spanned<String>>,
    /// Replaces `[runtime] destructive` for this tool (it applies to any tool named here).
    #[serde(default)]
    pub destructive: Option<DestructiveMode>,
    /// Only these OS accounts may call the tool (with `groups`: either matches).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub users: Option<Vec<Spanned<String>>>,
    /// Only members of these OS groups may call the tool (with `users`: either matches).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub groups: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnDrift {
    #[default]
    Deny,
    Filter,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DestructiveMode {
    #[default]
    Allow,
    Ask,
    Deny,
}

/// A token bucket: at most `count` calls in a burst, refilled at `count` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            _ => "day",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("`{text}` is not a rate: write N/s, N/min, N/h or N/day");
        let (count, unit) = text.split_once('/').ok_or_else(expected)?;
        let count: u32 = count.trim().parse().map_err(|_| expected())?;
        let seconds = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(expected()),
        };
        if count == 0 {
            return Err(format!(
                "`{text}`: a rate of 0 allows nothing; deny the tool instead"
            ));
        }
        Ok(RateLimit {
            count,
            per: Duration::from_secs(seconds),
        })
    }
}

/// The validated `[runtime]` section.
#[derive(Debug, Clone)]
pub struct RuntimePolicy {
    /// `None`: the default (on when the signed statement carries tools).
    pub guard: Option<bool>,
    pub on_drift: OnDrift,
    pub destructive: DestructiveMode,
    pub approval_command: Option<Vec<String>>,
    pub approval_timeout: Duration,
    pub rate_limit: Option<RateLimit>,
    pub log_arguments: bool,
    pub scan_outputs: bool,
    pub max_lint_severity: LintSeverity,
    /// Class → allowed providers.
    pub data_classes: BTreeMap<String, BTreeSet<String>>,
    pub tool_classes: Vec<ToolClass>,
    pub tools: BTreeMap<String, RuntimeTool>,
}

impl Default for RuntimePolicy {
    /// What a policy without `[runtime]` means.
    fn default() -> Self {
        RuntimePolicy {
            guard: None,
            on_drift: OnDrift::Deny,
            destructive: DestructiveMode::Allow,
            approval_command: None,
            approval_timeout: DEFAULT_APPROVAL_TIMEOUT,
            rate_limit: None,
            log_arguments: false,
            scan_outputs: false,
            max_lint_severity: LintSeverity::Medium,
            data_classes: BTreeMap::new(),
            tool_classes: Vec::new(),
            tools: BTreeMap::new(),
        }
    }
}

/// Tools whose name matches `pattern` belong to `class`.
#[derive(Debug, Clone)]
pub struct ToolClass {
    pub pattern: String,
    matcher: globset::GlobMatcher,
    pub class: String,
}

impl ToolClass {
    pub fn matches(&self, tool: &str) -> bool {
        self.matcher.is_match(tool)
    }
}

/// `[runtime.tools."NAME"]`, validated.
#[derive(Debug, Clone, Default)]
pub struct RuntimeTool {
    pub rate_limit: Option<RateLimit>,
    pub destructive: Option<DestructiveMode>,
    pub users: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
}

/// The approval timeout when the policy sets none.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn runtime_policy(file: &RuntimeFile, check: &mut Checker) -> RuntimePolicy {
    let rate = |check: &mut Checker, value: &Option<Spanned<String>>| {
        value.as_ref().and_then(|text| {
            text.get_ref()
                .parse::<RateLimit>()
                .map_err(|why| check.error(text.span(), why))
                .ok()
        })
    };
    let rate_limit = rate(check, &file.rate_limit);
    let approval_command = file.approval_command.as_ref().and_then(|command| {
        let argv = command.get_ref();
        if argv.is_empty() || argv[0].trim().is_empty() {
            check.error(
                command.span(),
                "approval-command needs a program to run (its first element)",
            );
            return None;
        }
        Some(argv.clone())
    });
    let approval_timeout = match &file.approval_timeout {
        None => DEFAULT_APPROVAL_TIMEOUT,
        Some(text) => match text.get_ref().parse::<jiff::SignedDuration>() {
            Ok(duration) if duration.is_positive() => duration.unsigned_abs(),
            _ => {
                check.error(
                    text.span(),
                    format!(
                        "`{}` is not a positive duration (write e.g. `90s` or `5m`)",
                        text.get_ref()
                    ),
                );
                DEFAULT_APPROVAL_TIMEOUT
            }
        },
    };
    let mut data_classes = BTreeMap::new();
    for (class, providers) in &file.data_classes {
        let mut set = BTreeSet::new();
        for provider in providers {
            if provider.get_ref().trim().is_empty() {
                check.error(provider.span(), "an empty provider name");
            } else if !set.insert(provider.get_ref().clone()) {
                check.error(
                    provider.span(),
                    format!("provider `{}` is listed twice", provider.get_ref()),
                );
            }
        }
        data_classes.insert(class.get_ref().clone(), set);
    }
    let mut tool_classes = Vec::new();
    for (pattern, class) in &file.tool_classes {
        if !data_classes.contains_key(class.get_ref()) {
            check.error(
                class.span(),
                format!(
                    "no data class `{}` in [runtime.data-classes]",
                    class.get_ref()
                ),
            );
            continue;
        }
        match globset::GlobBuilder::new(pattern.get_ref())
            .literal_separator(true)
            .build()
        {
            Ok(glob) => tool_classes.push(ToolClass {
                pattern: pattern.get_ref().clone(),
                matcher: glob.compile_matcher(),
                class: class.get_ref().clone(),
            }),
            Err(error) => check.error(pattern.span(), format!("invalid tool-name glob: {error}")),
        }
    }
    let names = |check: &mut Checker,
                 tool: &Spanned<String>,
                 list: &Option<Vec<Spanned<String>>>,
                 what: &str| {
        list.as_ref().map(|list| {
            if list.is_empty() {
                // An empty list would read as "nobody" to some and "everybody" to others.
                check.error(
                    tool.span(),
                    format!("an empty `{what}` list: remove it, or deny the tool"),
                );
            }
            list.iter()
                .filter_map(|name| {
                    if name.get_ref().trim().is_empty() {
                        check.error(name.span(), format!("an empty {what} name"));
                        None
                    } else {
                        Some(name.get_ref().clone())
                    }
                })
                .collect::<Vec<_>>()
        })
    };
    let mut tools = BTreeMap::new();
    for (name, tool) in &file.tools {
        let users = names(check, name, &tool.users, "users");
        let groups = names(check, name, &tool.groups, "groups");
        tools.insert(
            name.get_ref().clone(),
            RuntimeTool {
                rate_limit: rate(check, &tool.rate_limit),
                destructive: tool.destructive,
                users,
                groups,
            },
        );
    }
    RuntimePolicy {
        guard: file.guard.as_ref().map(|guard| *guard.get_ref()),
        on_drift: file.on_drift.unwrap_or_default(),
        destructive: file.destructive.unwrap_or_default(),
        approval_command,
        approval_timeout,
        rate_limit,
        log_arguments: file.log_arguments,
        scan_outputs: file.scan_outputs,
        max_lint_severity: file.max_lint_severity.unwrap_or(LintSeverity::Medium),
        data_classes,
        tool_classes,
        tools,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::policy::{Policy, PolicyError};

    fn parse(runtime: &str) -> Result<Policy, PolicyError> {
        Policy::parse(Path::new("policy.toml"), &format!("version = 1\n{runtime}"))
    }

    fn errors(runtime: &str) -> Vec<(usize, String)> {
        match parse(runtime) {
            Err(PolicyError::Invalid { diagnostics, .. }) => diagnostics
                .into_iter()
                .map(|d| (d.line, d.message))
                .collect(),
            other => panic!("expected diagnostics, got {other:?}"),
        }
    }

    #[test]
    fn the_issue_example_parses() {
        let policy = parse(
            r#"[runtime]
guard = true
on-drift = "filter"
destructive = "ask"
approval-command = ["zenity", "--question", "--text"]
rate-limit = "120/min"
log-arguments = true
[runtime.tools."write_file"]
rate-limit = "5/min"
destructive = "deny"
users = ["alice"]
[runtime.data-classes]
restricted = ["local"]
[runtime.tool-classes]
"lookup_*" = "restricted"
"#,
        )
        .unwrap();
        let runtime = &policy.runtime;
        assert_eq!(runtime.guard, Some(true));
        assert_eq!(runtime.on_drift, OnDrift::Filter);
        assert_eq!(runtime.destructive, DestructiveMode::Ask);
        assert_eq!(
            runtime.rate_limit,
            Some(RateLimit {
                count: 120,
                per: Duration::from_secs(60)
            })
        );
        assert_eq!(runtime.approval_timeout, DEFAULT_APPROVAL_TIMEOUT);
        let write = &runtime.tools["write_file"];
        assert_eq!(write.destructive, Some(DestructiveMode::Deny));
        assert_eq!(write.rate_limit.unwrap().count, 5);
        assert_eq!(write.users.as_deref(), Some(&["alice".to_owned()][..]));
        assert!(runtime.tool_classes[0].matches("lookup_ssn"));
        assert!(!runtime.tool_classes[0].matches("write_file"));
        assert_eq!(runtime.max_lint_severity, LintSeverity::Medium);
    }

    #[test]
    fn defaults_keep_todays_behaviour_with_drift_denied() {
        let policy = parse("").unwrap();
        assert_eq!(policy.runtime.guard, None);
        assert_eq!(policy.runtime.on_drift, OnDrift::Deny);
        assert_eq!(policy.runtime.destructive, DestructiveMode::Allow);
        assert!(policy.runtime.rate_limit.is_none());
    }

    #[test]
    fn mistakes_point_at_their_line() {
        let found = errors(
            "[runtime]\nrate-limit = \"5 per minute\"\napproval-command = []\napproval-timeout = \"-3s\"\n[runtime.tool-classes]\n\"a*\" = \"secret\"\n[runtime.tools.x]\nrate-limit = \"0/s\"\n",
        );
        let lines: Vec<usize> = found.iter().map(|(line, _)| *line).collect();
        // Line 1 is `version = 1`.
        assert_eq!(lines, [3, 4, 5, 7, 9], "{found:?}");
        assert!(found[3].1.contains("no data class `secret`"), "{found:?}");
        let found = errors("[runtime]\non-drift = \"warn\"\n");
        assert_eq!(found[0].0, 3, "{found:?}");
        let found = errors("[runtime]\nguard = true\nunknown = 1\n");
        assert_eq!(found[0].0, 4, "{found:?}");
        let found = errors("[runtime.tools.x]\nusers = []\n");
        assert!(found[0].1.contains("empty `users` list"), "{found:?}");
    }

    #[test]
    fn rates_parse_in_every_unit() {
        for (text, count, seconds) in [
            ("3/min", 3, 60),
            ("10/s", 10, 1),
            ("1/hour", 1, 3600),
            ("100/day", 100, 86_400),
        ] {
            let rate: RateLimit = text.parse().unwrap();
            assert_eq!((rate.count, rate.per.as_secs()), (count, seconds), "{text}");
        }
        assert!("3".parse::<RateLimit>().is_err());
        assert!("x/min".parse::<RateLimit>().is_err());
        assert!("3/week".parse::<RateLimit>().is_err());
    }
}
