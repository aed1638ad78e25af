//! Comparing two tools payloads: tools added, removed and changed field by
//! field, plus changes to what the server says about itself.

use std::collections::BTreeMap;
use std::fmt::Write;

use mcpin_attestation::{Tool, ToolsSection};
use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::canonical::tool_digest;
use crate::pointer_token;

/// Everything that differs between two payloads. Empty lists mean "no change there".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolsDiff {
    pub old_digest: String,
    pub new_digest: String,
    /// The server's instructions, if they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<TextChange>,
    /// Other changes outside the tools (protocolVersion, serverInfo,
    /// capabilities, prompts, resources); pointers into the payload.
    pub server: Vec<JsonChange>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ToolChange>,
}

impl ToolsDiff {
    /// True when both payloads are the same (their digests are equal).
    pub fn is_identical(&self) -> bool {
        self.old_digest == self.new_digest
    }

    /// One line naming what changed, for error messages.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let list = |names: &mut dyn Iterator<Item = &str>| names.collect::<Vec<_>>().join(", ");
        if !self.changed.is_empty() {
            parts.push(format!(
                "changed: {}",
                list(&mut self.changed.iter().map(|c| c.name.as_str()))
            ));
        }
        if !self.added.is_empty() {
            parts.push(format!(
                "added: {}",
                list(&mut self.added.iter().map(String::as_str))
            ));
        }
        if !self.removed.is_empty() {
            parts.push(format!(
                "removed: {}",
                list(&mut self.removed.iter().map(String::as_str))
            ));
        }
        if self.instructions.is_some() {
            parts.push("instructions changed".to_owned());
        }
        if !self.server.is_empty() {
            parts.push(format!(
                "server fields changed: {}",
                list(&mut self.server.iter().map(|c| c.pointer.as_str()))
            ));
        }
        parts.join("; ")
    }

    /// The report for people: what `mcpin tools diff` prints.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.is_identical() {
            let _ = writeln!(out, "identical: {}", self.old_digest);
            return out;
        }
        let _ = writeln!(
            out,
            "tools payload changed: {} -> {}",
            self.old_digest, self.new_digest
        );
        if let Some(change) = &self.instructions {
            let _ = writeln!(
                out,
                "~ server instructions:\n    {}",
                change.render_inline()
            );
        }
        for change in &self.server {
            let _ = writeln!(out, "~ server {change}");
        }
        for name in &self.added {
            let _ = writeln!(out, "+ added tool `{name}`");
        }
        for name in &self.removed {
            let _ = writeln!(out, "- removed tool `{name}`");
        }
        for tool in &self.changed {
            let _ = writeln!(
                out,
                "~ changed tool `{}` ({} -> {})",
                tool.name, tool.old_digest, tool.new_digest
            );
            for (field, change) in [("title", &tool.title), ("description", &tool.description)] {
                if let Some(change) = change {
                    let _ = writeln!(out, "    {field}: {}", change.render_inline());
                }
            }
            for change in &tool.fields {
                let _ = writeln!(out, "    {change}");
            }
        }
        out
    }
}

/// How one tool changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolChange {
    pub name: String,
    pub old_digest: String,
    pub new_digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<TextChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<TextChange>,
    /// Changes in inputSchema, outputSchema, annotations, `_meta` and any other
    /// field, as pointers into the tool object.
    pub fields: Vec<JsonChange>,
}

/// A changed text, with a word-level diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextChange {
    pub old: Option<String>,
    pub new: Option<String>,
    /// The new text as runs of `equal`, `delete` and `insert`.
    pub inline: Vec<TextRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextRun {
    pub op: &'static str,
    pub text: String,
}

impl TextChange {
    fn new(old: Option<&str>, new: Option<&str>) -> Option<TextChange> {
        if old == new {
            return None;
        }
        let diff = TextDiff::from_words(old.unwrap_or(""), new.unwrap_or(""));
        let mut inline: Vec<TextRun> = Vec::new();
        for change in diff.iter_all_changes() {
            let op = match change.tag() {
                ChangeTag::Equal => "equal",
                ChangeTag::Delete => "delete",
                ChangeTag::Insert => "insert",
            };
            match inline.last_mut() {
                Some(last) if last.op == op => last.text.push_str(change.value()),
                _ => inline.push(TextRun {
                    op,
                    text: change.value().to_owned(),
                }),
            }
        }
        Some(TextChange {
            old: old.map(str::to_owned),
            new: new.map(str::to_owned),
            inline,
        })
    }

    /// wdiff style: `[-removed-]{+added+}`; absent text shown as `(absent)`.
    pub fn render_inline(&self) -> String {
        match (&self.old, &self.new) {
            (None, Some(new)) => return format!("(absent) -> {new:?}"),
            (Some(old), None) => return format!("{old:?} -> (absent)"),
            _ => {}
        }
        let mut out = String::new();
        for run in &self.inline {
            let text = run.text.replace('\n', "\\n");
            match run.op {
                "delete" => write!(out, "[-{text}-]"),
                "insert" => write!(out, "{{+{text}+}}"),
                _ => write!(out, "{text}"),
            }
            .expect("writing to a String");
        }
        out
    }
}

/// A value that changed at a JSON pointer (`None`: absent on that side).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonChange {
    pub pointer: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl std::fmt::Display for JsonChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |value: &Option<Value>| match value {
            Some(value) => value.to_string(),
            None => "(absent)".to_owned(),
        };
        write!(
            f,
            "{}: {} -> {}",
            self.pointer,
            show(&self.old),
            show(&self.new)
        )
    }
}

/// Compares `old` with `new`.
pub fn diff(old: &ToolsSection, new: &ToolsSection) -> ToolsDiff {
    let (old_payload, new_payload) = (&old.payload, &new.payload);
    let mut server = Vec::new();
    let pairs = [
        (
            "/protocolVersion",
            Some(Value::String(old_payload.protocol_version.clone())),
            Some(Value::String(new_payload.protocol_version.clone())),
        ),
        (
            "/serverInfo",
            Some(old_payload.server_info.clone()),
            Some(new_payload.server_info.clone()),
        ),
        (
            "/capabilities",
            Some(old_payload.capabilities.clone()),
            Some(new_payload.capabilities.clone()),
        ),
        (
            "/prompts",
            old_payload.prompts.clone().map(Value::Array),
            new_payload.prompts.clone().map(Value::Array),
        ),
        (
            "/resources",
            old_payload.resources.clone().map(Value::Array),
            new_payload.resources.clone().map(Value::Array),
        ),
    ];
    for (pointer, old_value, new_value) in pairs {
        json_diff(pointer, old_value.as_ref(), new_value.as_ref(), &mut server);
    }

    let old_tools: BTreeMap<&str, &Tool> = old_payload
        .tools
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let new_tools: BTreeMap<&str, &Tool> = new_payload
        .tools
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let added = new_tools
        .keys()
        .filter(|name| !old_tools.contains_key(*name))
        .map(|name| (*name).to_owned())
        .collect();
    let removed = old_tools
        .keys()
        .filter(|name| !new_tools.contains_key(*name))
        .map(|name| (*name).to_owned())
        .collect();
    let changed = old_tools
        .iter()
        .filter_map(|(name, old_tool)| {
            new_tools
                .get(name)
                .and_then(|new_tool| tool_change(old_tool, new_tool))
        })
        .collect();

    ToolsDiff {
        old_digest: old.digest.clone(),
        new_digest: new.digest.clone(),
        instructions: TextChange::new(
            old_payload.instructions.as_deref(),
            new_payload.instructions.as_deref(),
        ),
        server,
        added,
        removed,
        changed,
    }
}

fn tool_change(old: &Tool, new: &Tool) -> Option<ToolChange> {
    if old == new {
        return None;
    }
    let as_map = |tool: &Tool| match serde_json::to_value(tool).expect("a tool serializes") {
        Value::Object(mut map) => {
            // Compared as text above.
            for key in ["name", "title", "description"] {
                map.remove(key);
            }
            Value::Object(map)
        }
        _ => unreachable!("a tool serializes to an object"),
    };
    let mut fields = Vec::new();
    json_diff("", Some(&as_map(old)), Some(&as_map(new)), &mut fields);
    Some(ToolChange {
        name: old.name.clone(),
        old_digest: tool_digest(old),
        new_digest: tool_digest(new),
        title: TextChange::new(old.title.as_deref(), new.title.as_deref()),
        description: TextChange::new(old.description.as_deref(), new.description.as_deref()),
        fields,
    })
}

/// Appends the leaf-level differences between `old` and `new` at `pointer`.
fn json_diff(pointer: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<JsonChange>) {
    match (old, new) {
        (Some(Value::Object(old)), Some(Value::Object(new))) => {
            let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                let child = format!("{pointer}/{}", pointer_token(key));
                json_diff(&child, old.get(key), new.get(key), out);
            }
        }
        (Some(Value::Array(old)), Some(Value::Array(new))) => {
            for index in 0..old.len().max(new.len()) {
                json_diff(
                    &format!("{pointer}/{index}"),
                    old.get(index),
                    new.get(index),
                    out,
                );
            }
        }
        (old, new) if old != new => out.push(JsonChange {
            pointer: pointer.to_owned(),
            old: old.cloned(),
            new: new.cloned(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use mcpin_attestation::ToolsPayload;
    use serde_json::json;

    use super::*;
    use crate::seal;

    fn section(version: &str, tools: &[(&str, &str)]) -> ToolsSection {
        let tools = tools
            .iter()
            .map(|(name, description)| {
                serde_json::from_value(json!({
                    "name": name, "description": description,
                    "inputSchema": {"type": "object", "properties": {"a/b": {"type": "string"}}},
                }))
                .unwrap()
            })
            .collect();
        seal(ToolsPayload {
            protocol_version: "2025-11-25".into(),
            server_info: json!({"name": "s", "version": version}),
            capabilities: json!({"tools": {}}),
            instructions: None,
            tools,
            prompts: None,
            resources: None,
        })
        .unwrap()
    }

    #[test]
    fn added_removed_changed_and_server_fields() {
        let old = section("1", &[("a", "Reads."), ("b", "Writes.")]);
        let new = section("2", &[("b", "Writes files."), ("c", "New.")]);
        let diff = diff(&old, &new);
        assert!(!diff.is_identical());
        assert_eq!(diff.added, ["c"]);
        assert_eq!(diff.removed, ["a"]);
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(
            diff.changed[0]
                .description
                .as_ref()
                .unwrap()
                .render_inline(),
            "[-Writes.-]{+Writes files.+}"
        );
        assert_eq!(
            diff.server,
            [JsonChange {
                pointer: "/serverInfo/version".into(),
                old: Some(json!("1")),
                new: Some(json!("2")),
            }]
        );
        assert_eq!(
            diff.summary(),
            "changed: b; added: c; removed: a; server fields changed: /serverInfo/version"
        );
        assert!(super::diff(&old, &old).is_identical());
    }

    #[test]
    fn schema_pointers_escape_slashes() {
        let mut out = Vec::new();
        json_diff(
            "",
            Some(&json!({"a/b": {"t": 1}})),
            Some(&json!({"a/b": {"t": 2}})),
            &mut out,
        );
        assert_eq!(out[0].pointer, "/a~1b/t");
    }
}
