//! JSON and JSONC configs, edited in place on `jsonc-parser`'s concrete syntax tree: comments,
//! trailing commas, key order, indentation and the final newline are kept.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstArray, CstInputValue, CstNode, CstObject, CstRootNode};

use super::{Client, Document, Edit, Entry};

/// One server entry: the object holding the command (`command` or, in Zed's older form,
/// `command: {path, args}`) and the key names used.
struct Slot {
    name: String,
    holder: CstObject,
    command_key: &'static str,
}

pub(crate) struct JsonDocument {
    root: CstRootNode,
    slots: Vec<Slot>,
}

fn segment(key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        key.to_owned()
    } else {
        format!("[{}]", serde_json::Value::String(key.to_owned()))
    }
}

fn string_value(node: Option<CstNode>) -> Option<String> {
    node?.as_string_lit()?.decoded_value().ok()
}

fn string_elements(array: &CstArray) -> Option<Vec<String>> {
    array
        .elements()
        .into_iter()
        .map(|e| string_value(Some(e)))
        .collect()
}

impl JsonDocument {
    pub(crate) fn parse(client: Client, text: &str) -> Result<JsonDocument, String> {
        let root = CstRootNode::parse(text, &ParseOptions::default())
            .map_err(|error| error.to_string())?;
        let top = root
            .object_value()
            .ok_or("the top level is not an object")?;
        let mut slots = Vec::new();
        for path in client.json_server_maps() {
            let mut maps = vec![(String::new(), top.clone())];
            for key in path.iter() {
                let mut next = Vec::new();
                for (prefix, object) in maps {
                    let props = if *key == "*" {
                        object.properties()
                    } else {
                        object.get(key).into_iter().collect()
                    };
                    for prop in props {
                        let Some(name) = prop.decoded_name() else {
                            continue;
                        };
                        let label = if prefix.is_empty() {
                            segment(&name)
                        } else {
                            format!("{prefix}.{}", segment(&name))
                        };
                        match prop.object_value() {
                            Some(child) => next.push((label, child)),
                            None if *key != "*" => {
                                return Err(format!("`{label}` is not an object"));
                            }
                            None => {}
                        }
                    }
                }
                maps = next;
            }
            for (prefix, servers) in maps {
                for prop in servers.properties() {
                    let Some(name) = prop.decoded_name() else {
                        continue;
                    };
                    let Some(server) = prop.object_value() else {
                        continue;
                    };
                    let label = format!("{prefix}.{}", segment(&name));
                    if let Some(kind) = string_value(server.get("type").and_then(|p| p.value()))
                        && kind != "stdio"
                    {
                        continue;
                    }
                    match server.get("command") {
                        Some(command) if command.object_value().is_some() => slots.push(Slot {
                            name: label,
                            holder: command.object_value().expect("checked"),
                            command_key: "path",
                        }),
                        Some(_) => slots.push(Slot {
                            name: label,
                            holder: server,
                            command_key: "command",
                        }),
                        None => {}
                    }
                }
            }
        }
        Ok(JsonDocument { root, slots })
    }

    fn argv(slot: &Slot) -> Option<Vec<String>> {
        let command = string_value(slot.holder.get(slot.command_key).and_then(|p| p.value()))?;
        let mut argv = vec![command];
        match slot.holder.get("args") {
            None => {}
            Some(prop) => argv.extend(string_elements(&prop.array_value()?)?),
        }
        Some(argv)
    }
}

impl Document for JsonDocument {
    fn entries(&self) -> Result<Vec<Entry>, String> {
        // Entries whose command or args are not plain strings are not launches we can read;
        // they are left alone (and so not wrapped).
        Ok(self
            .slots
            .iter()
            .filter_map(|slot| {
                Self::argv(slot).map(|argv| Entry {
                    name: slot.name.clone(),
                    argv,
                })
            })
            .collect())
    }

    fn apply(&mut self, edits: &[Edit]) -> Result<String, String> {
        for edit in edits {
            let slot = self
                .slots
                .iter()
                .find(|s| s.name == edit.name)
                .ok_or_else(|| format!("entry `{}` vanished while editing", edit.name))?;
            let command_prop = slot
                .holder
                .get(slot.command_key)
                .ok_or("command vanished")?;
            command_prop.set_value(CstInputValue::String(edit.argv[0].clone()));
            let new_args = &edit.argv[1..];
            match slot.holder.get("args").and_then(|p| p.array_value()) {
                Some(array) => edit_array(&array, new_args)?,
                None if new_args.is_empty() => {}
                None => {
                    let index = command_prop.property_index() + 1;
                    let values = new_args
                        .iter()
                        .cloned()
                        .map(CstInputValue::String)
                        .collect();
                    slot.holder
                        .insert(index, "args", CstInputValue::Array(values));
                }
            }
        }
        Ok(self.root.to_string())
    }
}

/// Turns the `args` array's string elements into `new`, touching as few elements as possible:
/// the common prefix and suffix stay as written (with their comments). New elements are
/// inserted back to front at the start of the changed run, which keeps `jsonc-parser`'s
/// spacing tidy. When
/// elements must go, values shift forward and the surplus is removed from the end (removing
/// a leading element leaves a stray space).
fn edit_array(array: &CstArray, new: &[String]) -> Result<(), String> {
    let old = string_elements(array).ok_or("args holds a non-string")?;
    let (prefix, suffix) = super::common_ends(&old, new);
    let old_middle = prefix..old.len() - suffix;
    let new_middle = &new[prefix..new.len() - suffix];
    let elements = array.elements();
    if old_middle.len() > new_middle.len() {
        for (element, (old_value, value)) in elements.iter().zip(old.iter().zip(new)) {
            if old_value != value {
                let literal = element.as_string_lit().ok_or("args holds a non-string")?;
                literal.replace_with(CstInputValue::String(value.clone()));
            }
        }
        for element in elements[new.len()..].iter().rev() {
            element.clone().remove();
        }
        return Ok(());
    }
    // Insert what is new at the front of the middle (back to front, at one index), then
    // overwrite the old middle elements with the rest.
    let extra = new_middle.len() - old_middle.len();
    for value in new_middle[..extra].iter().rev() {
        array.insert(prefix, CstInputValue::String(value.clone()));
    }
    for (element, value) in elements[old_middle.clone()]
        .iter()
        .zip(&new_middle[extra..])
    {
        if string_value(Some(element.clone())).as_deref() != Some(value.as_str()) {
            let literal = element.as_string_lit().ok_or("args holds a non-string")?;
            literal.replace_with(CstInputValue::String(value.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_argv(client: Client, text: &str) -> Vec<(String, Vec<String>)> {
        JsonDocument::parse(client, text)
            .unwrap()
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.argv))
            .collect()
    }

    #[test]
    fn claude_code_user_and_project_scopes() {
        let text = r#"{
  "numStartups": 3,
  "mcpServers": {"fs": {"type": "stdio", "command": "npx", "args": ["-y", "a@1.0.0"]}},
  "projects": {
    "/home/me/repo": {"mcpServers": {"time": {"command": "uvx", "args": ["t==1"]}}, "history": []},
    "/home/me/other": {"allowedTools": []}
  }
}"#;
        assert_eq!(
            names_and_argv(Client::ClaudeCode, text),
            vec![
                (
                    "mcpServers.fs".to_owned(),
                    vec!["npx".into(), "-y".into(), "a@1.0.0".into()]
                ),
                (
                    r#"projects.["/home/me/repo"].mcpServers.time"#.to_owned(),
                    vec!["uvx".into(), "t==1".into()]
                ),
            ]
        );
    }

    #[test]
    fn zed_context_servers_both_forms() {
        let text = r#"{
  // Zed settings
  "theme": "One Dark",
  "context_servers": {
    "new": {"command": "npx", "args": ["-y", "a@1.0.0"], "env": {}},
    "old": {"source": "custom", "command": {"path": "uvx", "args": ["t==1"], "env": {}}},
    "ext": {"source": "extension", "settings": {}},
  },
}"#;
        let mut document = JsonDocument::parse(Client::Zed, text).unwrap();
        let entries = document.entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].argv, ["uvx", "t==1"]);
        let edits = vec![
            Edit {
                name: "context_servers.new".into(),
                argv: vec![
                    "/m".into(),
                    "run".into(),
                    "--".into(),
                    "npx".into(),
                    "-y".into(),
                    "a@1.0.0".into(),
                ],
            },
            Edit {
                name: "context_servers.old".into(),
                argv: vec![
                    "/m".into(),
                    "run".into(),
                    "--".into(),
                    "uvx".into(),
                    "t==1".into(),
                ],
            },
        ];
        let out = document.apply(&edits).unwrap();
        assert!(out.contains(r#""new": {"command": "/m", "args": ["run", "--", "npx", "-y", "a@1.0.0"], "env": {}},"#), "{out}");
        assert!(
            out.contains(
                r#""command": {"path": "/m", "args": ["run", "--", "uvx", "t==1"], "env": {}}"#
            ),
            "{out}"
        );
        assert!(
            out.contains("// Zed settings") && out.contains("},\n}"),
            "{out}"
        );
    }

    #[test]
    fn args_are_added_when_missing_and_non_string_args_are_left_alone() {
        let text =
            r#"{"mcpServers": {"a": {"command": "npx"}, "b": {"command": "npx", "args": [1]}}}"#;
        let mut document = JsonDocument::parse(Client::Cursor, text).unwrap();
        let entries = document.entries().unwrap();
        assert_eq!(entries.len(), 1, "b's args are not all strings");
        let out = document
            .apply(&[Edit {
                name: "mcpServers.a".into(),
                argv: vec!["/m".into(), "run".into(), "--".into(), "npx".into()],
            }])
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            value["mcpServers"]["a"]["args"],
            serde_json::json!(["run", "--", "npx"])
        );
    }
}
