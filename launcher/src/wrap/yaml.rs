//! YAML configs (goose `extensions`, Continue `mcpServers`), edited in place with `yaml-edit`,
//! a lossless (rowan) YAML editor: comments, anchors, quoting and untouched scalars such as
//! `yes` or `1.10` stay exactly as written; new strings are quoted where YAML would retype them.

use std::str::FromStr;

use yaml_edit::{Document as YamlDocument, Mapping, Sequence};

use super::{Client, Document, Edit, Entry};

struct Slot {
    name: String,
    holder: Mapping,
    command_key: &'static str,
}

pub(crate) struct YamlConfig {
    document: YamlDocument,
    slots: Vec<Slot>,
}

fn scalar(holder: &Mapping, key: &str) -> Option<String> {
    holder.get(key)?.as_scalar().map(|s| s.as_string())
}

fn sequence_strings(sequence: &Sequence) -> Option<Vec<String>> {
    sequence
        .values()
        .map(|v| v.as_scalar().map(|s| s.as_string()))
        .collect()
}

fn is_stdio(holder: &Mapping) -> bool {
    scalar(holder, "type").is_none_or(|kind| kind == "stdio")
}

impl YamlConfig {
    pub(crate) fn parse(client: Client, text: &str) -> Result<YamlConfig, String> {
        let document = YamlDocument::from_str(text).map_err(|error| error.to_string())?;
        let top = document
            .as_mapping()
            .ok_or("the top level is not a mapping")?;
        let mut slots = Vec::new();
        match client {
            Client::Goose => {
                if let Some(extensions) = top.get_mapping("extensions") {
                    for key in extensions.keys() {
                        let Some(name) = key.as_scalar().map(|s| s.as_string()) else {
                            continue;
                        };
                        let Some(holder) = extensions.get_mapping(name.as_str()) else {
                            continue;
                        };
                        if is_stdio(&holder) && holder.contains_key("cmd") {
                            slots.push(Slot {
                                name: format!("extensions.{name}"),
                                holder,
                                command_key: "cmd",
                            });
                        }
                    }
                }
            }
            Client::Continue => {
                if let Some(servers) = top.get_sequence("mcpServers") {
                    for (index, item) in servers.values().enumerate() {
                        let Some(holder) = item.as_mapping().cloned() else {
                            continue;
                        };
                        let label = scalar(&holder, "name").unwrap_or_else(|| index.to_string());
                        if is_stdio(&holder) && holder.contains_key("command") {
                            slots.push(Slot {
                                name: format!("mcpServers[{label}]"),
                                holder,
                                command_key: "command",
                            });
                        }
                    }
                }
            }
            other => return Err(format!("{} configs are JSON, not YAML", other.name())),
        }
        Ok(YamlConfig { document, slots })
    }

    fn argv(slot: &Slot) -> Option<Vec<String>> {
        let mut argv = vec![scalar(&slot.holder, slot.command_key)?];
        if slot.holder.contains_key("args") {
            argv.extend(sequence_strings(&slot.holder.get_sequence("args")?)?);
        }
        Some(argv)
    }
}

impl Document for YamlConfig {
    fn entries(&self) -> Result<Vec<Entry>, String> {
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
            slot.holder.set(slot.command_key, edit.argv[0].as_str());
            let new_args = &edit.argv[1..];
            match slot.holder.get_sequence("args") {
                Some(sequence) => edit_sequence(&sequence, new_args)?,
                None if new_args.is_empty() => {}
                None => {
                    let values: Vec<yaml_edit::YamlValue> = new_args
                        .iter()
                        .map(|a| yaml_edit::YamlValue::from(a.as_str()))
                        .collect();
                    slot.holder.insert_after(slot.command_key, "args", values);
                }
            }
        }
        Ok(self.document.to_string())
    }
}

/// Keeps the common prefix and suffix as written; inserts or removes at the start of the
/// changed run and overwrites only elements whose value changes.
fn edit_sequence(sequence: &Sequence, new: &[String]) -> Result<(), String> {
    let old = sequence_strings(sequence).ok_or("args holds a non-scalar")?;
    let (prefix, suffix) = super::common_ends(&old, new);
    let old_len = old.len() - suffix - prefix;
    let new_middle = &new[prefix..new.len() - suffix];
    // Removing or inserting at the start of the changed run leaves the remaining elements
    // (and their quoting) as written.
    for _ in new_middle.len()..old_len {
        sequence.remove(prefix);
    }
    let kept = old_len.min(new_middle.len());
    let extra = new_middle.len() - kept;
    for value in new_middle[..extra].iter().rev() {
        sequence.insert(prefix, value.as_str());
    }
    let kept_old = &old[prefix + (old_len - kept)..prefix + old_len];
    for (offset, (old_value, value)) in kept_old.iter().zip(&new_middle[extra..]).enumerate() {
        if old_value != value {
            sequence.set(prefix + extra + offset, value.as_str());
        }
    }
    Ok(())
}
