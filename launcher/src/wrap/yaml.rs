//! YAML configs (goose `extensions`, Continue `mcpServers`), read with `yaml-edit` (a lossless
//! rowan tree with byte ranges) and edited by splicing only the changed scalars: comments,
//! anchors, quoting and untouched scalars such as `yes` or `1.10` stay exactly as written. A
//! replaced scalar keeps its quote style; a new one is plain where YAML would read it back as
//! the same string, else single-quoted.
//!
//! A key repeated in one mapping is refused anywhere in the file (YAML forbids it and parsers
//! disagree on which one counts). Entries built from anchors, aliases, merge keys (`<<`) or tags
//! are reported as unreadable instead of guessed at.

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use yaml_edit::{Document as YamlDocument, Mapping, Scalar, Sequence, YamlNode};

use super::edit::{SeqLayout, Splices, args_change, flow_separator, line_column};
use super::{DocError, Document, Edit, Entry, EntryKind, Format, is_remote_type};

struct Slot {
    name: String,
    /// The command scalar and its raw text (for its quote style).
    command: Range<usize>,
    command_raw: String,
    args: Option<Args>,
    /// Where a missing `args` goes and the text before the key (`\n    ` or `, `).
    insert_args_at: usize,
    insert_args_lead: String,
    /// The span that [`Slot::insert_args_at`] produced, when `args` is still exactly there.
    args_after_command: Option<Range<usize>>,
}

struct Args {
    values: Vec<String>,
    raw: Vec<String>,
    /// Each item's scalar (the layout's items start at a block item's `-`).
    scalars: Vec<Range<usize>>,
    layout: SeqLayout,
    range: Range<usize>,
}

pub(crate) struct YamlConfig {
    slots: Vec<Slot>,
    entries: Vec<Entry>,
}

fn span(node: &YamlNode) -> Range<usize> {
    let r = node.byte_range();
    r.start as usize..r.end as usize
}

fn scalar_span(scalar: &Scalar) -> Range<usize> {
    let r = scalar.byte_range();
    r.start as usize..r.end as usize
}

/// A key's text, decoded when it is a scalar.
fn key_text(node: &YamlNode) -> String {
    match node.as_scalar() {
        Some(scalar) => scalar.as_string(),
        None => node.to_string(),
    }
}

fn entry_value(mapping: &Mapping, key: &str) -> Option<(YamlNode, YamlNode)> {
    mapping.entries().find_map(|entry| {
        let k = entry.key_node()?;
        (key_text(&k) == key).then(|| entry.value_node().map(|v| (k, v)))?
    })
}

fn has_key(mapping: &Mapping, key: &str) -> bool {
    mapping
        .entries()
        .any(|entry| entry.key_node().is_some_and(|k| key_text(&k) == key))
}

/// A plain or quoted scalar whose bytes are where the tree says, with no anchor or tag.
fn plain_scalar<'n>(node: &'n YamlNode, text: &str) -> Option<&'n Scalar> {
    let scalar = node.as_scalar()?;
    let raw = scalar.value();
    let located = text.get(scalar_span(scalar)) == Some(raw.as_str());
    (located && !raw.starts_with(['&', '!', '*'])).then_some(scalar)
}

fn check_duplicates(node: &YamlNode, path: &str, text: &str) -> Result<(), DocError> {
    if let Some(mapping) = node.as_mapping() {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for entry in mapping.entries() {
            let Some(key) = entry.key_node() else {
                continue;
            };
            let name = key_text(&key);
            let start = span(&key).start;
            if let Some(first) = seen.insert(name.clone(), start) {
                let (line, column) = line_column(text, start);
                let (first_line, _) = line_column(text, first);
                let at = if path.is_empty() {
                    "the top level".to_owned()
                } else {
                    format!("`{path}`")
                };
                return Err(DocError::DuplicateKey(format!(
                    "key `{name}` appears twice in {at} (line {first_line}, and line {line} column {column}); \
                     parsers disagree on which one counts"
                )));
            }
            if let Some(value) = entry.value_node() {
                let child = if path.is_empty() {
                    name
                } else {
                    format!("{path}.{name}")
                };
                check_duplicates(&value, &child, text)?;
            }
        }
    } else if let Some(sequence) = node.as_sequence() {
        for (index, item) in sequence.values().enumerate() {
            check_duplicates(&item, &format!("{path}[{index}]"), text)?;
        }
    } else if let YamlNode::TaggedNode(tagged) = node {
        if let Some(mapping) = tagged.as_mapping() {
            check_duplicates(&YamlNode::Mapping(mapping), path, text)?;
        } else if let Some(sequence) = tagged.as_sequence() {
            check_duplicates(&YamlNode::Sequence(sequence), path, text)?;
        }
    }
    Ok(())
}

/// Where a block sequence item's `-` is, looking back from its value.
fn dash_before(text: &str, value_start: usize) -> Option<usize> {
    let before = text[..value_start].trim_end_matches([' ', '\t']);
    before.ends_with('-').then(|| before.len() - 1)
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// Where the line holding `at` ends (before its `\r\n` or `\n`).
fn line_end(text: &str, at: usize) -> usize {
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    if end > at && text[..end].ends_with('\r') {
        end - 1
    } else {
        end
    }
}

/// The file's line break: `\r\n` if it uses them, else `\n`.
fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

fn sequence_layout(text: &str, sequence: &Sequence, scalars: &[Range<usize>]) -> Option<SeqLayout> {
    let range = {
        let r = sequence.byte_range();
        r.start as usize..r.end as usize
    };
    if sequence.is_flow_style() {
        let open = range.start;
        return Some(SeqLayout {
            separator: flow_separator(text, open, scalars),
            items: scalars.to_vec(),
            prefix: "",
            empty_at: Some(open + 1),
            emptied: "",
        });
    }
    let mut items = Vec::new();
    for scalar in scalars {
        let dash = dash_before(text, scalar.start)?;
        items.push(dash..scalar.end);
    }
    let first = items.first()?.start;
    let indent = &text[line_start(text, first)..first];
    if !indent.chars().all(|c| c == ' ') {
        return None;
    }
    Some(SeqLayout {
        separator: format!("{}{indent}", newline(text)),
        items,
        prefix: "- ",
        empty_at: None,
        emptied: "[]",
    })
}

/// Reads one server entry. `None`: not a stdio launch.
fn server_entry(
    format: Format,
    name: String,
    holder: &Mapping,
    text: &str,
) -> Option<Result<(Slot, Entry), Entry>> {
    let unreadable = |problem: &str| {
        Some(Err(Entry {
            name: name.clone(),
            kind: EntryKind::Unreadable(problem.to_owned()),
        }))
    };
    if let Some((_, kind)) = entry_value(holder, "type")
        && let Some(kind) = kind.as_scalar()
        && is_remote_type(&kind.as_string())
    {
        return None;
    }
    let command_key = format.command_key();
    // A merge key can bring in a command (or change one) from elsewhere in the file.
    if has_key(holder, "<<") {
        return unreadable("the entry uses a merge key (`<<`)");
    }
    let (command_key_node, command_node) = match entry_value(holder, command_key) {
        Some(pair) => pair,
        None if has_key(holder, command_key) => {
            return unreadable(&format!("`{command_key}` has no value"));
        }
        None => return None,
    };
    let Some(command) = plain_scalar(&command_node, text) else {
        return unreadable(&format!(
            "`{command_key}` is not a plain string (an alias, tag, anchor or collection)"
        ));
    };
    let mut argv = vec![command.as_string()];
    let args = match entry_value(holder, "args") {
        None if has_key(holder, "args") => return unreadable("`args` has no value"),
        None => None,
        Some((args_key, node)) => {
            let Some(sequence) = node.as_sequence() else {
                return unreadable("`args` is not a sequence");
            };
            let mut values = Vec::new();
            let mut raw = Vec::new();
            let mut scalars = Vec::new();
            for item in sequence.values() {
                let Some(scalar) = plain_scalar(&item, text) else {
                    return unreadable("`args` holds an item that is not a plain string");
                };
                values.push(scalar.as_string());
                raw.push(scalar.value());
                scalars.push(scalar_span(scalar));
            }
            let Some(layout) = sequence_layout(text, sequence, &scalars) else {
                return unreadable("`args` is laid out in a way mcpin cannot edit safely");
            };
            argv.extend(values.iter().cloned());
            Some((args_key, span(&node), values, raw, scalars, layout))
        }
    };
    let mut env = BTreeMap::new();
    if let Some((_, vars)) = entry_value(holder, format.env_key()) {
        if let Some(vars) = vars.as_mapping() {
            for var in vars.entries() {
                let (Some(key), value) = (var.key_node(), var.value_node()) else {
                    continue;
                };
                let value = value
                    .map(|v| {
                        v.as_scalar()
                            .map_or_else(|| v.to_string(), Scalar::as_string)
                    })
                    .unwrap_or_default();
                env.insert(key_text(&key), value);
            }
        } else if !vars.as_scalar().is_some_and(|s| s.as_string().is_empty()) {
            return unreadable(&format!("`{}` is not a mapping", format.env_key()));
        }
    }
    // goose passes the variables named in `env_keys` from its secret store.
    if format == Format::Goose
        && let Some((_, keys)) = entry_value(holder, "env_keys")
        && let Some(keys) = keys.as_sequence()
    {
        for key in keys.values() {
            if let Some(key) = key.as_scalar() {
                env.entry(key.as_string()).or_default();
            }
        }
    }
    let command_span = scalar_span(command);
    let (insert_args_at, insert_args_lead) = if holder.is_flow_style() {
        (command_span.end, ", ".to_owned())
    } else {
        let key_start = span(&command_key_node).start;
        let column = text[line_start(text, key_start)..key_start].chars().count();
        (
            line_end(text, command_span.end),
            format!("{}{}", newline(text), " ".repeat(column)),
        )
    };
    let args_after_command = args.as_ref().and_then(|(args_key, args_span, ..)| {
        let key_start = span(args_key).start;
        let lead_ok = text
            .get(insert_args_at..key_start)
            .is_some_and(|lead| lead == insert_args_lead);
        let rest = &text[args_span.end..line_end(text, args_span.end)];
        let flow = text[args_span.clone()].starts_with('[');
        (lead_ok && flow && (holder.is_flow_style() || rest.trim().is_empty()))
            .then_some(insert_args_at..args_span.end)
    });
    let slot = Slot {
        name: name.clone(),
        command: command_span,
        command_raw: command.value(),
        insert_args_at,
        insert_args_lead,
        args_after_command,
        args: args.map(|(_, range, values, raw, scalars, layout)| Args {
            values,
            raw,
            scalars,
            layout,
            range,
        }),
    };
    let entry = Entry {
        name,
        kind: EntryKind::Launch {
            argv,
            env,
            has_args: slot.args.is_some(),
        },
    };
    Some(Ok((slot, entry)))
}

impl YamlConfig {
    pub(crate) fn parse(format: Format, text: &str) -> Result<YamlConfig, DocError> {
        let document =
            YamlDocument::from_str(text).map_err(|error| DocError::Parse(error.to_string()))?;
        if document.to_string() != text {
            return Err(DocError::Parse(
                "the YAML parser did not read the file back as written".into(),
            ));
        }
        let mut config = YamlConfig {
            slots: Vec::new(),
            entries: Vec::new(),
        };
        let Some(top) = document.as_mapping() else {
            if text.trim().is_empty()
                || document
                    .as_scalar()
                    .is_some_and(|s| s.as_string().is_empty())
            {
                return Ok(config);
            }
            return Err(DocError::Shape("the top level is not a mapping".into()));
        };
        check_duplicates(&YamlNode::Mapping(top.clone()), "", text)?;
        let mut found = Vec::new();
        match format {
            Format::Goose => match entry_value(&top, "extensions") {
                None => {}
                Some((_, extensions)) => {
                    let Some(extensions) = extensions.as_mapping() else {
                        if extensions
                            .as_scalar()
                            .is_some_and(|s| s.as_string().is_empty())
                        {
                            return Ok(config);
                        }
                        return Err(DocError::Shape("`extensions` is not a mapping".into()));
                    };
                    for entry in extensions.entries() {
                        let Some(key) = entry.key_node() else {
                            continue;
                        };
                        let label = format!("extensions.{}", key_text(&key));
                        let Some(value) = entry.value_node() else {
                            continue;
                        };
                        match value.as_mapping() {
                            Some(holder) => found.extend(server_entry(format, label, holder, text)),
                            None => found.push(Err(Entry {
                                name: label,
                                kind: EntryKind::Unreadable("the entry is not a mapping".into()),
                            })),
                        }
                    }
                }
            },
            Format::ContinueYaml => match entry_value(&top, "mcpServers") {
                None => {}
                Some((_, servers)) => {
                    let Some(servers) = servers.as_sequence() else {
                        if servers
                            .as_scalar()
                            .is_some_and(|s| s.as_string().is_empty())
                        {
                            return Ok(config);
                        }
                        return Err(DocError::Shape("`mcpServers` is not a list".into()));
                    };
                    let items: Vec<YamlNode> = servers.values().collect();
                    let names: Vec<Option<String>> = items
                        .iter()
                        .map(|item| {
                            let holder = item.as_mapping()?;
                            let (_, name) = entry_value(holder, "name")?;
                            Some(name.as_scalar()?.as_string())
                        })
                        .collect();
                    for (index, item) in items.iter().enumerate() {
                        // `mcpServers[name]`, or the index when the name is missing or repeated.
                        let label = match &names[index] {
                            Some(name)
                                if names.iter().filter(|n| n.as_ref() == Some(name)).count()
                                    == 1 =>
                            {
                                format!("mcpServers[{name}]")
                            }
                            _ => format!("mcpServers[#{index}]"),
                        };
                        match item.as_mapping() {
                            Some(holder) => found.extend(server_entry(format, label, holder, text)),
                            None => found.push(Err(Entry {
                                name: label,
                                kind: EntryKind::Unreadable("the entry is not a mapping".into()),
                            })),
                        }
                    }
                }
            },
            other => {
                return Err(DocError::Shape(format!(
                    "{other:?} configs are JSON, not YAML"
                )));
            }
        }
        for item in found {
            match item {
                Ok((slot, entry)) => {
                    config.slots.push(slot);
                    config.entries.push(entry);
                }
                Err(entry) => config.entries.push(entry),
            }
        }
        Ok(config)
    }
}

/// A string YAML reads back as the same string when written plain, in block and flow context.
pub(crate) fn plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let lower = value.to_ascii_lowercase();
    let special = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    let numeric = first.is_ascii_digit()
        && value
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "._:+-xXoO".contains(c));
    (first.is_ascii_alphanumeric() || "/._".contains(first))
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=+@:%^".contains(c))
        && !value.ends_with(':')
        && !special.contains(&lower.as_str())
        && !numeric
        && value.parse::<f64>().is_err()
}

fn single_quoted(value: &str) -> Option<String> {
    (!value.chars().any(char::is_control)).then(|| format!("'{}'", value.replace('\'', "''")))
}

/// JSON's string syntax is valid YAML double-quoted syntax.
fn double_quoted(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

/// A new scalar: plain when safe, else single-quoted, else double-quoted.
fn encode_new(value: &str) -> String {
    if plain_safe(value) {
        value.to_owned()
    } else {
        single_quoted(value).unwrap_or_else(|| double_quoted(value))
    }
}

/// A replacement for the scalar written as `raw`, in the same quote style.
fn encode_like(raw: &str, value: &str) -> String {
    if raw.starts_with('"') || raw.starts_with(['|', '>']) {
        double_quoted(value)
    } else if raw.starts_with('\'') {
        single_quoted(value).unwrap_or_else(|| double_quoted(value))
    } else {
        encode_new(value)
    }
}

impl Document for YamlConfig {
    fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn apply(&self, text: &str, edits: &[Edit]) -> Result<String, String> {
        let mut splices = Splices::default();
        for edit in edits {
            let slot = self
                .slots
                .iter()
                .find(|s| s.name == edit.name)
                .ok_or_else(|| format!("entry `{}` is not a launch mcpin can edit", edit.name))?;
            splices.replace(
                slot.command.clone(),
                encode_like(&slot.command_raw, &edit.argv[0]),
            );
            let new_args = &edit.argv[1..];
            match &slot.args {
                Some(args) if new_args.is_empty() && edit.drop_args => {
                    match &slot.args_after_command {
                        Some(span) => splices.replace(span.clone(), ""),
                        None => splices.replace(args.range.clone(), "[]"),
                    }
                }
                Some(args) => {
                    let change = args_change(&args.values, new_args);
                    args.layout.remove_front(change.remove_front, &mut splices);
                    let inserted: Vec<String> =
                        change.insert_front.iter().map(|v| encode_new(v)).collect();
                    args.layout.insert_front(&inserted, &mut splices)?;
                    for (index, value) in change.replace {
                        splices.replace(
                            args.scalars[index].clone(),
                            encode_like(&args.raw[index], value),
                        );
                    }
                }
                None if new_args.is_empty() => {}
                None => {
                    let values: Vec<String> = new_args.iter().map(|v| encode_new(v)).collect();
                    splices.insert(
                        slot.insert_args_at,
                        format!("{}args: [{}]", slot.insert_args_lead, values.join(", ")),
                    );
                }
            }
        }
        splices.apply(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(name: &str, argv: &[&str]) -> Edit {
        Edit {
            name: name.into(),
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            drop_args: false,
        }
    }

    fn kinds(config: &YamlConfig) -> Vec<(String, String)> {
        config
            .entries()
            .iter()
            .map(|e| match &e.kind {
                EntryKind::Launch { argv, .. } => (e.name.clone(), argv.join(" ")),
                EntryKind::Unreadable(problem) => {
                    (e.name.clone(), format!("unreadable: {problem}"))
                }
            })
            .collect()
    }

    #[test]
    fn a_replaced_scalar_keeps_its_quote_style() {
        let text = "mcpServers:\n  - name: m\n    command: npx\n    args:\n      - \"-y\"\n      - \"@scope/x@1.x\"\n      - 'y'\n";
        let config = YamlConfig::parse(Format::ContinueYaml, text).unwrap();
        let out = config
            .apply(
                text,
                &[edit(
                    "mcpServers[m]",
                    &[
                        "/opt/mcpin",
                        "run",
                        "--",
                        "npx",
                        "-y",
                        "@scope/x@1.2.3",
                        "it's",
                    ],
                )],
            )
            .unwrap();
        assert_eq!(
            out,
            "mcpServers:\n  - name: m\n    command: /opt/mcpin\n    args:\n      - run\n      - '--'\n      - npx\n      - \"-y\"\n      - \"@scope/x@1.2.3\"\n      - 'it''s'\n"
        );
    }

    #[test]
    fn goose_entries_env_and_flow_sequences() {
        let text = "extensions:\n  a:\n    type: stdio\n    cmd: uvx   # c\n    args: [t==1, \"--x\"]\n    envs: {TZ: UTC}\n    env_keys: [TOKEN]\n  b:\n    type: builtin\n  r:\n    type: sse\n    uri: http://x\n";
        let config = YamlConfig::parse(Format::Goose, text).unwrap();
        let EntryKind::Launch { env, .. } = &config.entries()[0].kind else {
            panic!()
        };
        assert_eq!(env.keys().collect::<Vec<_>>(), ["TOKEN", "TZ"]);
        let out = config
            .apply(
                text,
                &[edit(
                    "extensions.a",
                    &["/m", "run", "--", "uvx", "t==1", "--x"],
                )],
            )
            .unwrap();
        assert!(
            out.contains("cmd: /m   # c\n    args: [run, '--', uvx, t==1, \"--x\"]\n"),
            "{out}"
        );
    }

    #[test]
    fn missing_args_are_added_after_the_command_line_and_removed_again() {
        let text = "extensions:\n  a:\n    cmd: npx # the launcher\n    enabled: true\n";
        let config = YamlConfig::parse(Format::Goose, text).unwrap();
        let wrapped = config
            .apply(text, &[edit("extensions.a", &["/m", "run", "--", "npx"])])
            .unwrap();
        assert_eq!(
            wrapped,
            "extensions:\n  a:\n    cmd: /m # the launcher\n    args: [run, '--', npx]\n    enabled: true\n"
        );
        let config = YamlConfig::parse(Format::Goose, &wrapped).unwrap();
        let mut back = edit("extensions.a", &["npx"]);
        back.drop_args = true;
        assert_eq!(config.apply(&wrapped, &[back]).unwrap(), text);
    }

    #[test]
    fn crlf_files_get_crlf_lines() {
        let text = "extensions:\r\n  a:\r\n    cmd: npx\r\n    args:\r\n      - -y\r\n  b:\r\n    cmd: uvx\r\n";
        let config = YamlConfig::parse(Format::Goose, text).unwrap();
        let wrapped = config
            .apply(
                text,
                &[
                    edit("extensions.a", &["/m", "run", "--", "npx", "-y"]),
                    edit("extensions.b", &["/m", "run", "--", "uvx"]),
                ],
            )
            .unwrap();
        assert_eq!(
            wrapped,
            "extensions:\r\n  a:\r\n    cmd: /m\r\n    args:\r\n      - run\r\n      - '--'\r\n      - npx\r\n      - -y\r\n  b:\r\n    cmd: /m\r\n    args: [run, '--', uvx]\r\n"
        );
        let config = YamlConfig::parse(Format::Goose, &wrapped).unwrap();
        let mut back = edit("extensions.b", &["uvx"]);
        back.drop_args = true;
        let restored = config
            .apply(&wrapped, &[edit("extensions.a", &["npx", "-y"]), back])
            .unwrap();
        assert_eq!(restored, text);
    }

    #[test]
    fn aliases_merge_keys_and_tags_are_unreadable() {
        let text = "base: &b\n  command: npx\nmcpServers:\n  - name: merged\n    <<: *b\n  - name: aliased\n    command: npx\n    args: *list\n  - name: tagged\n    command: !!str npx\n  - name: ok\n    command: npx\nlist: &list [a]\n";
        let config = YamlConfig::parse(Format::ContinueYaml, text).unwrap();
        let got = kinds(&config);
        assert_eq!(got[3], ("mcpServers[ok]".to_owned(), "npx".to_owned()));
        for (name, kind) in &got[..3] {
            assert!(kind.starts_with("unreadable"), "{name}: {kind}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        for text in [
            "extensions:\n  a:\n    cmd: node\n    cmd: npx\n",
            "extensions: {}\nextensions: {}\n",
            "mcpServers:\n  - name: a\n    command: npx\n    args: [x]\n    \"args\": [y]\n",
        ] {
            let format = if text.contains("mcpServers") {
                Format::ContinueYaml
            } else {
                Format::Goose
            };
            assert!(
                matches!(
                    YamlConfig::parse(format, text),
                    Err(DocError::DuplicateKey(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn plain_scalars_only_where_yaml_reads_them_back() {
        for plain in [
            "run",
            "npx",
            "/usr/bin/mcpin",
            "mcp-server-time==2026.10.19",
            "a@1.0.0",
        ] {
            assert_eq!(encode_new(plain), plain);
        }
        for quoted in [
            "--", "-y", "@s/x@1", "yes", "1.10", "10", "", "a: b", "${X}", "a,b", "#x",
        ] {
            assert!(encode_new(quoted).starts_with('\''), "{quoted}");
        }
        assert_eq!(encode_new("a\nb"), "\"a\\nb\"");
    }
}
