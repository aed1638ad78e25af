//! Each compiled file checked against its client's documented schema before it is written. The
//! rules are written from the clients' documentation (cited at each check), not from what
//! [`super`] happens to produce, and a file that breaks one is refused: a malformed allowlist
//! is either ignored by its client or, worse, read differently than meant.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use yaml_edit::{Document as YamlDocument, YamlNode};

use super::Format;

/// A compiled file that does not have its client's documented shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("compiled file `{file}` breaks its client's schema: {message}")]
pub struct SchemaError {
    /// The output file (set by the caller).
    pub file: String,
    pub message: String,
}

fn fail<T>(message: impl Into<String>) -> Result<T, SchemaError> {
    Err(SchemaError {
        file: String::new(),
        message: message.into(),
    })
}

/// Checks `bytes` against the documented schema of `format`.
pub fn check(format: Format, bytes: &[u8]) -> Result<(), SchemaError> {
    if format == Format::GooseAllowlist {
        return goose_allowlist(bytes);
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(error) => return fail(format!("not JSON: {error}")),
    };
    match format {
        Format::ClaudeManagedMcp => mcp_servers(&value, Client::ClaudeCode),
        Format::ClaudeManagedSettings => managed_settings(&value, Client::ClaudeCode),
        Format::CopilotManagedSettings => managed_settings(&value, Client::Copilot),
        Format::WindsurfWhitelist => windsurf_whitelist(&value),
        Format::McpServersConfig => mcp_servers(&value, Client::Other),
        Format::GooseAllowlist => unreachable!("checked above"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    ClaudeCode,
    Copilot,
    Other,
}

fn object<'v>(value: &'v Value, what: &str) -> Result<&'v Map<String, Value>, SchemaError> {
    match value.as_object() {
        Some(map) => Ok(map),
        None => fail(format!("{what} must be an object")),
    }
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), SchemaError> {
    match map.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => fail(format!(
            "{what}: `{key}` is not a documented key (expected {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn strings<'v>(value: &'v Value, what: &str) -> Result<Vec<&'v str>, SchemaError> {
    let Some(items) = value.as_array() else {
        return fail(format!("{what} must be an array of strings"));
    };
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(text) => Ok(text),
            None => fail(format!("{what}: `{item}` is not a string")),
        })
        .collect()
}

/// A stdio server map: `{"mcpServers": {NAME: {"command", "args", "env"}}}`.
///
/// Claude Code `managed-mcp.json` has the format of `.mcp.json` (code.claude.com/docs/en/managed-mcp,
/// "Exclusive control with managed-mcp.json"; the stdio entry `{"type": "stdio", "command",
/// "args", "env"}` from code.claude.com/docs/en/mcp). Cursor (`~/.cursor/mcp.json`) and Claude
/// Desktop (`claude_desktop_config.json`) take `mcpServers{command, args, env}`
/// (../shared/CLIENTS.md, "Where agents keep their MCP server configs").
fn mcp_servers(value: &Value, client: Client) -> Result<(), SchemaError> {
    let top = object(value, "the document")?;
    only_keys(top, &["mcpServers"], "the document")?;
    let Some(servers) = top.get("mcpServers") else {
        return fail("`mcpServers` is missing");
    };
    let servers = object(servers, "`mcpServers`")?;
    for (name, entry) in servers {
        let what = format!("mcpServers.{name}");
        if name.is_empty() {
            return fail("a server name is empty");
        }
        let entry = object(entry, &what)?;
        let keys: &[&str] = match client {
            Client::ClaudeCode => &["type", "command", "args", "env"],
            _ => &["command", "args", "env"],
        };
        only_keys(entry, keys, &what)?;
        if let Some(kind) = entry.get("type")
            && kind.as_str() != Some("stdio")
        {
            return fail(format!(
                "{what}.type must be \"stdio\" for a command server"
            ));
        }
        match entry.get("command").and_then(Value::as_str) {
            Some(command) if !command.is_empty() => {}
            _ => return fail(format!("{what}.command must be a non-empty string")),
        }
        if let Some(args) = entry.get("args") {
            strings(args, &format!("{what}.args"))?;
        }
        if let Some(env) = entry.get("env") {
            for (key, value) in object(env, &format!("{what}.env"))? {
                if !value.is_string() {
                    return fail(format!("{what}.env.{key} must be a string"));
                }
            }
        }
    }
    Ok(())
}

/// `allowedMcpServers` / `deniedMcpServers` entries: objects with exactly one matcher.
///
/// Claude Code (code.claude.com/docs/en/managed-mcp, "Policy-based control with allowlists and
/// denylists"): `serverName` (in `allowedMcpServers` only letters, digits, `-` and `_`),
/// `serverCommand` (string array, the exact command and every argument) or `serverUrl`
/// (string), "either … not both"; `allowManagedMcpServersOnly` is a boolean.
///
/// Copilot, read by VS Code and Copilot CLI (docs.github.com/en/copilot/reference/
/// enterprise-administrators/enterprise-managed-settings, "allowedMcpServers"): "Each entry must
/// contain exactly one matcher property", `serverName`, `serverUrl` or `serverCommand`; there is
/// no `allowManagedMcpServersOnly` (allowlists from several sources intersect).
fn managed_settings(value: &Value, client: Client) -> Result<(), SchemaError> {
    let top = object(value, "the document")?;
    let keys: &[&str] = match client {
        Client::ClaudeCode => &[
            "allowedMcpServers",
            "deniedMcpServers",
            "allowManagedMcpServersOnly",
        ],
        _ => &["allowedMcpServers", "deniedMcpServers"],
    };
    only_keys(top, keys, "the document")?;
    if let Some(flag) = top.get("allowManagedMcpServersOnly")
        && !flag.is_boolean()
    {
        return fail("`allowManagedMcpServersOnly` must be a boolean");
    }
    for list in ["allowedMcpServers", "deniedMcpServers"] {
        let Some(entries) = top.get(list) else {
            continue;
        };
        let Some(entries) = entries.as_array() else {
            return fail(format!("`{list}` must be an array"));
        };
        for (index, entry) in entries.iter().enumerate() {
            let what = format!("{list}[{index}]");
            let entry = object(entry, &what)?;
            only_keys(entry, &["serverName", "serverCommand", "serverUrl"], &what)?;
            if entry.len() != 1 {
                return fail(format!(
                    "{what} must hold exactly one of serverName, serverCommand, serverUrl"
                ));
            }
            if let Some(command) = entry.get("serverCommand") {
                let command = strings(command, &format!("{what}.serverCommand"))?;
                if command.first().is_none_or(|c| c.is_empty()) {
                    return fail(format!(
                        "{what}.serverCommand must start with a non-empty command"
                    ));
                }
            }
            if let Some(name) = entry.get("serverName") {
                let Some(name) = name.as_str().filter(|n| !n.is_empty()) else {
                    return fail(format!("{what}.serverName must be a non-empty string"));
                };
                let plain = name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if client == Client::ClaudeCode && list == "allowedMcpServers" && !plain {
                    return fail(format!(
                        "{what}.serverName: only letters, digits, `-` and `_` in allowedMcpServers"
                    ));
                }
            }
            if let Some(url) = entry.get("serverUrl")
                && !url.is_string()
            {
                return fail(format!("{what}.serverUrl must be a string"));
            }
        }
    }
    Ok(())
}

/// Windsurf team whitelist entries, as entered in the admin portal: a Server ID and a Server
/// Config (JSON) with `command` and `args` patterns (docs.windsurf.com/windsurf/cascade/mcp,
/// "Admin Controls (Teams & Enterprises)": every pattern is anchored as `^(?:pattern)$`, the
/// command must match, each argument is matched against its own pattern, the number of
/// arguments must be equal). Every pattern must be a regular expression; `mcpin policy compile`
/// writes only escaped literals, so each pattern must also match its own unescaped text.
fn windsurf_whitelist(value: &Value) -> Result<(), SchemaError> {
    let Some(entries) = value.as_array() else {
        return fail("the document must be an array of whitelist entries");
    };
    let mut ids = BTreeSet::new();
    for (index, entry) in entries.iter().enumerate() {
        let what = format!("[{index}]");
        let entry = object(entry, &what)?;
        only_keys(entry, &["serverId", "serverConfig"], &what)?;
        let Some(id) = entry.get("serverId").and_then(Value::as_str) else {
            return fail(format!("{what}.serverId must be a string"));
        };
        if id.is_empty() || !ids.insert(id) {
            return fail(format!("{what}.serverId `{id}` is empty or repeated"));
        }
        let Some(config) = entry.get("serverConfig") else {
            return fail(format!("{what}.serverConfig is missing"));
        };
        let config = object(config, &format!("{what}.serverConfig"))?;
        only_keys(
            config,
            &["command", "args", "env"],
            &format!("{what}.serverConfig"),
        )?;
        let Some(command) = config.get("command").and_then(Value::as_str) else {
            return fail(format!("{what}.serverConfig.command must be a string"));
        };
        let args = match config.get("args") {
            Some(args) => strings(args, &format!("{what}.serverConfig.args"))?,
            None => Vec::new(),
        };
        for pattern in std::iter::once(command).chain(args) {
            literal_pattern(pattern, &what)?;
        }
    }
    Ok(())
}

/// `pattern` compiles, anchored, and matches the literal text it escapes.
fn literal_pattern(pattern: &str, what: &str) -> Result<(), SchemaError> {
    let anchored = format!("^(?:{pattern})$");
    let regex = match regex::Regex::new(&anchored) {
        Ok(regex) => regex,
        Err(error) => {
            return fail(format!(
                "{what}: `{pattern}` is not a regular expression: {error}"
            ));
        }
    };
    let mut literal = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        literal.push(if c == '\\' {
            chars.next().unwrap_or('\\')
        } else {
            c
        });
    }
    if !regex.is_match(&literal) || super::regex_literal(&literal) != pattern {
        return fail(format!(
            "{what}: `{pattern}` is not an escaped literal (it would match other strings)"
        ));
    }
    Ok(())
}

/// goose's allowlist: `extensions:` a list of `{id, command}` (goose
/// `documentation/docs/guides/allowlist.md`, "The allowlist must be a YAML file with the
/// following structure"; the `AllowedExtensions { extensions: Vec<{id: String, command:
/// String}> }` serde types in goose's `crates/goose-server/src/routes/extension.rs`).
fn goose_allowlist(bytes: &[u8]) -> Result<(), SchemaError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return fail("not UTF-8");
    };
    let document: YamlDocument = match text.parse() {
        Ok(document) => document,
        Err(error) => return fail(format!("not YAML: {error}")),
    };
    let Some(top) = document.as_mapping() else {
        return fail("the top level must be a mapping");
    };
    let mut top_keys = Vec::new();
    let mut extensions = None;
    for entry in top.entries() {
        let key = entry
            .key_node()
            .and_then(|k| k.as_scalar().map(|s| s.as_string()))
            .unwrap_or_default();
        if key == "extensions" {
            extensions = entry.value_node();
        }
        top_keys.push(key);
    }
    if top_keys != ["extensions"] {
        return fail(format!(
            "the top level must hold exactly `extensions`, not {top_keys:?}"
        ));
    }
    let Some(sequence) = extensions.as_ref().and_then(YamlNode::as_sequence) else {
        return fail("`extensions` must be a list");
    };
    let mut ids = BTreeSet::new();
    for (index, item) in sequence.values().enumerate() {
        let what = format!("extensions[{index}]");
        let Some(mapping) = item.as_mapping() else {
            return fail(format!("{what} must be a mapping"));
        };
        let mut fields = Vec::new();
        for entry in mapping.entries() {
            let key = entry
                .key_node()
                .and_then(|k| k.as_scalar().map(|s| s.as_string()))
                .unwrap_or_default();
            let value = entry
                .value_node()
                .and_then(|v| v.as_scalar().map(|s| s.as_string()));
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                return fail(format!("{what}.{key} must be a non-empty string"));
            };
            fields.push((key, value));
        }
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        if keys != ["id", "command"] {
            return fail(format!("{what} must hold `id` and `command`, not {keys:?}"));
        }
        if !ids.insert(fields[0].1.clone()) {
            return fail(format!("{what}.id `{}` is repeated", fields[0].1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(format: Format, text: &str) -> Result<(), SchemaError> {
        check(format, text.as_bytes())
    }

    #[test]
    fn claude_managed_settings_rules() {
        let ok = r#"{"allowManagedMcpServersOnly": true,
            "allowedMcpServers": [{"serverCommand": ["/usr/bin/mcpin", "run", "--", "npx", "-y", "a@1.0.0"]}],
            "deniedMcpServers": [{"serverCommand": ["npx", "-y", "a@1.0.0"]}]}"#;
        json(Format::ClaudeManagedSettings, ok).unwrap();
        for bad in [
            // two matchers in one entry ("either … not both")
            r#"{"allowedMcpServers": [{"serverName": "a", "serverCommand": ["x"]}]}"#,
            // no matcher
            r#"{"allowedMcpServers": [{}]}"#,
            // a matcher that does not exist
            r#"{"allowedMcpServers": [{"command": ["x"]}]}"#,
            // not an array of strings
            r#"{"allowedMcpServers": [{"serverCommand": "npx -y a"}]}"#,
            r#"{"allowedMcpServers": [{"serverCommand": ["npx", 1]}]}"#,
            r#"{"allowedMcpServers": [{"serverCommand": []}]}"#,
            r#"{"allowedMcpServers": [{"serverName": "has space"}]}"#,
            r#"{"allowManagedMcpServersOnly": "true"}"#,
            r#"{"allowedMcpServers": {"serverCommand": ["x"]}}"#,
            r#"{"allowedMcpServer": []}"#,
            r#"[1]"#,
            "{",
        ] {
            assert!(json(Format::ClaudeManagedSettings, bad).is_err(), "{bad}");
        }
        // Denylists take any non-empty server name.
        json(
            Format::ClaudeManagedSettings,
            r#"{"deniedMcpServers": [{"serverName": "claude.ai Slack"}]}"#,
        )
        .unwrap();
    }

    #[test]
    fn copilot_managed_settings_have_no_managed_only_switch() {
        let ok = r#"{"allowedMcpServers": [{"serverCommand": ["/m", "run", "--", "npx", "a@1.0.0"]}], "deniedMcpServers": []}"#;
        json(Format::CopilotManagedSettings, ok).unwrap();
        assert!(
            json(
                Format::CopilotManagedSettings,
                r#"{"allowManagedMcpServersOnly": true, "allowedMcpServers": []}"#
            )
            .is_err()
        );
        assert!(
            json(
                Format::CopilotManagedSettings,
                r#"{"deniedMcpServers": [{"serverUrl": "https://x/*", "serverName": "x"}]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn mcp_server_maps() {
        let ok = r#"{"mcpServers": {"fs": {"type": "stdio", "command": "/m", "args": ["run", "--", "npx"], "env": {"A": "1"}}}}"#;
        json(Format::ClaudeManagedMcp, ok).unwrap();
        // Cursor and Claude Desktop entries document no `type`.
        assert!(json(Format::McpServersConfig, ok).is_err());
        for bad in [
            r#"{"mcpServers": {"fs": {"type": "http", "command": "/m"}}}"#,
            r#"{"mcpServers": {"fs": {"args": ["x"]}}}"#,
            r#"{"mcpServers": {"fs": {"command": ""}}}"#,
            r#"{"mcpServers": {"fs": {"command": "/m", "args": "run"}}}"#,
            r#"{"mcpServers": {"fs": {"command": "/m", "env": {"A": 1}}}}"#,
            r#"{"mcpServers": {"fs": {"command": "/m", "cwd": "/"}}}"#,
            r#"{"servers": {}}"#,
            r#"{"mcpServers": []}"#,
        ] {
            assert!(json(Format::ClaudeManagedMcp, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn windsurf_patterns_must_be_escaped_literals() {
        let ok = r#"[{"serverId": "fs", "serverConfig": {"command": "/usr/bin/mcpin", "args": ["run", "--", "npx", "-y", "a@1\\.0\\.0"]}}]"#;
        json(Format::WindsurfWhitelist, ok).unwrap();
        for bad in [
            // `.` unescaped matches any character: `a@1x0x0` would pass
            r#"[{"serverId": "fs", "serverConfig": {"command": "/m", "args": ["a@1.0.0"]}}]"#,
            r#"[{"serverId": "fs", "serverConfig": {"command": "/m", "args": [".*"]}}]"#,
            r#"[{"serverId": "fs", "serverConfig": {"command": "(", "args": []}}]"#,
            r#"[{"serverId": "fs", "serverConfig": {"args": []}}]"#,
            r#"[{"serverId": "fs"}]"#,
            r#"[{"serverId": "fs", "serverConfig": {"command": "/m"}}, {"serverId": "fs", "serverConfig": {"command": "/m"}}]"#,
            r#"{"serverId": "fs"}"#,
        ] {
            assert!(json(Format::WindsurfWhitelist, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn goose_allowlist_shape() {
        let ok =
            "extensions:\n  - id: \"fs\"\n    command: \"/usr/bin/mcpin run -- npx -y a@1.0.0\"\n";
        check(Format::GooseAllowlist, ok.as_bytes()).unwrap();
        for bad in [
            "extensions:\n  - id: fs\n",
            "extensions:\n  - command: x\n",
            "extensions:\n  - id: fs\n    command: x\n    cmd: y\n",
            "extensions:\n  - id: fs\n    command: x\n  - id: fs\n    command: y\n",
            "extension:\n  - id: fs\n    command: x\n",
            "extensions: {id: fs}\n",
            "- id: fs\n",
        ] {
            assert!(
                check(Format::GooseAllowlist, bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }
}
