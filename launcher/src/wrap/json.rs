//! JSON and JSONC configs, read with `jsonc-parser`'s AST (byte ranges for every node) and
//! edited by splicing only the changed literals, so comments, trailing commas, key order,
//! indentation and the final newline stay as written.
//!
//! The parser accepts what the clients accept: JSON plus comments and trailing commas, nothing
//! looser (no missing commas, single quotes, bare keys or hex numbers). A key that appears twice
//! in one object is refused anywhere in the file: `jsonc-parser` would keep the first and
//! `JSON.parse` the last, so mcpin and the agent could read different servers.

use std::collections::BTreeMap;
use std::ops::Range;

use jsonc_parser::ast::{Array, Object, ObjectProp, ObjectPropName, Value};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions, parse_to_ast};

use super::edit::{SeqLayout, Splices, args_change, flow_separator, line_column};
use super::{DocError, Document, Edit, Entry, EntryKind, Format, is_remote_type};

/// Where one server entry's command and arguments are in the text.
struct Slot {
    name: String,
    /// The command's string literal.
    command: Range<usize>,
    args: Option<Args>,
    /// End of the command value, where a missing `args` goes, and the white space before it.
    insert_args_at: usize,
    insert_args_space: String,
    /// From the end of the command value to the end of the `args` value, when `args` directly
    /// follows the command (so wrap added it and unwrap can take it away again).
    args_after_command: Option<Range<usize>>,
}

struct Args {
    values: Vec<String>,
    layout: SeqLayout,
    /// The whole array, for emptying it when `args` cannot be removed.
    range: Range<usize>,
}

pub(crate) struct JsonDocument {
    slots: Vec<Slot>,
    entries: Vec<Entry>,
    /// The file is JSONC (comments or trailing commas), not strict JSON.
    pub(crate) not_strict: bool,
}

fn parse_options(jsonc: bool) -> ParseOptions {
    ParseOptions {
        allow_comments: jsonc,
        allow_trailing_commas: jsonc,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

fn range(node: &impl Ranged) -> Range<usize> {
    let r = node.range();
    r.start..r.end
}

fn prop_name(prop: &ObjectProp<'_>) -> String {
    match &prop.name {
        ObjectPropName::String(s) => s.value.to_string(),
        ObjectPropName::Word(w) => w.value.to_owned(),
    }
}

fn get<'o, 'a>(object: &'o Object<'a>, key: &str) -> Option<&'o ObjectProp<'a>> {
    object.properties.iter().find(|p| prop_name(p) == key)
}

fn segment(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        key.to_owned()
    } else {
        format!("[{}]", serde_json::Value::String(key.to_owned()))
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        segment(key)
    } else {
        format!("{prefix}.{}", segment(key))
    }
}

/// Refuses a key repeated in one object, anywhere.
fn check_duplicates(value: &Value<'_>, path: &str, text: &str) -> Result<(), DocError> {
    match value {
        Value::Object(object) => {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            for prop in &object.properties {
                let name = prop_name(prop);
                let start = prop.range.start;
                if let Some(first) = seen.insert(name.clone(), start) {
                    let (line, column) = line_column(text, start);
                    let (first_line, _) = line_column(text, first);
                    let at = if path.is_empty() {
                        "the top level"
                    } else {
                        path
                    };
                    return Err(DocError::DuplicateKey(format!(
                        "key `{name}` appears twice in {at} (line {first_line}, and line {line} column {column}); \
                         parsers disagree on which one counts"
                    )));
                }
                check_duplicates(&prop.value, &join(path, &name), text)?;
            }
        }
        Value::Array(array) => {
            for (index, element) in array.elements.iter().enumerate() {
                check_duplicates(element, &format!("{path}[{index}]"), text)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn string_of(value: &Value<'_>) -> Option<String> {
    match value {
        Value::StringLit(s) => Some(s.value.to_string()),
        _ => None,
    }
}

fn array_layout(text: &str, array: &Array<'_>) -> SeqLayout {
    let items: Vec<Range<usize>> = array.elements.iter().map(range).collect();
    let open = array.range.start;
    SeqLayout {
        separator: flow_separator(text, open, &items),
        items,
        prefix: "",
        empty_at: Some(open + 1),
        emptied: "",
    }
}

/// The white space right before `at`, when it breaks the line; else one space.
fn space_before(text: &str, at: usize) -> String {
    let before = &text[..at];
    let trimmed = before.trim_end_matches([' ', '\t', '\n', '\r']);
    let space = &before[trimmed.len()..];
    if space.contains('\n') {
        space.to_owned()
    } else {
        " ".to_owned()
    }
}

/// Reads one server entry. `None`: not a stdio launch (a remote entry, an extension).
fn server_entry(
    format: Format,
    name: String,
    value: &Value<'_>,
    text: &str,
) -> Option<Result<(Slot, Entry), Entry>> {
    let unreadable = |problem: &str| {
        Some(Err(Entry {
            name: name.clone(),
            kind: EntryKind::Unreadable(problem.to_owned()),
        }))
    };
    let Value::Object(server) = value else {
        return unreadable("the entry is not an object");
    };
    if let Some(kind) = get(server, "type").and_then(|p| string_of(&p.value))
        && is_remote_type(&kind)
    {
        return None;
    }
    let command_prop = get(server, format.command_key())?;
    // Zed's older form nests the launch: `"command": {"path", "args", "env"}`.
    let (holder, command_prop) = match &command_prop.value {
        Value::StringLit(_) => (server, command_prop),
        Value::Object(inner) => match get(inner, "path") {
            Some(path) => (inner, path),
            None => return unreadable("`command` has no `path`"),
        },
        _ => return unreadable("`command` is not a string"),
    };
    let Value::StringLit(command) = &command_prop.value else {
        return unreadable("the command is not a string");
    };
    let mut argv = vec![command.value.to_string()];
    let props = &holder.properties;
    let command_index = props
        .iter()
        .position(|p| std::ptr::eq(p, command_prop))
        .expect("the command is one of its holder's properties");
    let args = match props.iter().position(|p| prop_name(p) == "args") {
        None => None,
        Some(index) => {
            let Value::Array(array) = &props[index].value else {
                return unreadable("`args` is not an array");
            };
            let Some(values) = array
                .elements
                .iter()
                .map(string_of)
                .collect::<Option<Vec<_>>>()
            else {
                return unreadable("`args` holds a value that is not a string");
            };
            argv.extend(values.iter().cloned());
            Some((index, array, values))
        }
    };
    let mut env = BTreeMap::new();
    if let Some(prop) = get(holder, format.env_key()) {
        let Value::Object(vars) = &prop.value else {
            return unreadable("`env` is not an object");
        };
        for var in &vars.properties {
            let value = string_of(&var.value).unwrap_or_else(|| text[range(&var.value)].to_owned());
            env.insert(prop_name(var), value);
        }
    }
    let command_end = command_prop.value.range().end;
    let args_after_command = args.as_ref().and_then(|(index, array, _)| {
        // `args` may come first; only right after the command can it be what wrap added.
        let follows = *index == command_index + 1
            && text[command_end..props[*index].range.start]
                .strip_prefix(',')
                .is_some_and(|rest| rest.chars().all(char::is_whitespace));
        follows.then_some(command_end..array.range.end)
    });
    let slot = Slot {
        name: name.clone(),
        command: range(command),
        insert_args_at: command_end,
        insert_args_space: space_before(text, command_prop.range.start),
        args_after_command,
        args: args.map(|(_, array, values)| Args {
            values,
            layout: array_layout(text, array),
            range: range(array),
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

impl JsonDocument {
    /// Parses `text`; `stem` names a Continue single-server block (its file name).
    pub(crate) fn parse(format: Format, text: &str, stem: &str) -> Result<JsonDocument, DocError> {
        let collect = CollectOptions::default();
        let parsed = parse_to_ast(text, &collect, &parse_options(true))
            .map_err(|error| DocError::Parse(error.to_string()))?;
        let not_strict = parse_to_ast(text, &collect, &parse_options(false)).is_err();
        let mut document = JsonDocument {
            slots: Vec::new(),
            entries: Vec::new(),
            not_strict,
        };
        let Some(root) = parsed.value else {
            // Only white space and comments: no servers.
            return Ok(document);
        };
        check_duplicates(&root, "", text)?;
        let Value::Object(top) = &root else {
            return Err(DocError::Shape("the top level is not an object".into()));
        };
        let mut found = Vec::new();
        let single = format == Format::ContinueJson
            && get(top, "mcpServers").is_none()
            && get(top, "projects").is_none();
        if single {
            found.extend(server_entry(format, stem.to_owned(), &root, text));
        }
        for path in format.json_server_maps().iter().filter(|_| !single) {
            let mut maps = vec![(String::new(), top)];
            for key in path.iter() {
                let mut next = Vec::new();
                for (prefix, object) in maps {
                    let props: Vec<&ObjectProp<'_>> = if *key == "*" {
                        object.properties.iter().collect()
                    } else {
                        get(object, key).into_iter().collect()
                    };
                    for prop in props {
                        let label = join(&prefix, &prop_name(prop));
                        match &prop.value {
                            Value::Object(child) => next.push((label, child)),
                            // `projects.<dir>` that is not an object holds no servers.
                            _ if *key == "*" => {}
                            Value::NullKeyword(_) => {}
                            _ => {
                                return Err(DocError::Shape(format!("`{label}` is not an object")));
                            }
                        }
                    }
                }
                maps = next;
            }
            for (prefix, servers) in maps {
                for prop in &servers.properties {
                    let label = join(&prefix, &prop_name(prop));
                    found.extend(server_entry(format, label, &prop.value, text));
                }
            }
        }
        for item in found {
            match item {
                Ok((slot, entry)) => {
                    document.slots.push(slot);
                    document.entries.push(entry);
                }
                Err(entry) => document.entries.push(entry),
            }
        }
        Ok(document)
    }
}

fn encode(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

impl Document for JsonDocument {
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
            splices.replace(slot.command.clone(), encode(&edit.argv[0]));
            let new_args = &edit.argv[1..];
            match &slot.args {
                Some(args) if new_args.is_empty() && edit.drop_args => {
                    match &slot.args_after_command {
                        Some(span) => splices.replace(span.start..span.end, ""),
                        None => splices.replace(args.range.clone(), "[]"),
                    }
                }
                Some(args) => {
                    let change = args_change(&args.values, new_args);
                    args.layout.remove_front(change.remove_front, &mut splices);
                    let inserted: Vec<String> =
                        change.insert_front.iter().map(|v| encode(v)).collect();
                    args.layout.insert_front(&inserted, &mut splices)?;
                    for (index, value) in change.replace {
                        splices.replace(args.layout.items[index].clone(), encode(value));
                    }
                }
                None if new_args.is_empty() => {}
                None => {
                    let values: Vec<String> = new_args.iter().map(|v| encode(v)).collect();
                    splices.insert(
                        slot.insert_args_at,
                        format!(
                            ",{}\"args\": [{}]",
                            slot.insert_args_space,
                            values.join(", ")
                        ),
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

    fn launches(format: Format, text: &str) -> Vec<(String, Vec<String>)> {
        JsonDocument::parse(format, text, "stem")
            .unwrap()
            .entries()
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Launch { argv, .. } => Some((e.name.clone(), argv.clone())),
                EntryKind::Unreadable(_) => None,
            })
            .collect()
    }

    fn edit(name: &str, argv: &[&str]) -> Edit {
        Edit {
            name: name.into(),
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            drop_args: false,
        }
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
            launches(Format::ClaudeCode, text),
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
    "old": {"source": "custom", "command": {"path": "uvx", "args": ["t==1"], "env": {"A": "1"}}},
    "ext": {"source": "extension", "settings": {}},
  },
}"#;
        let document = JsonDocument::parse(Format::Zed, text, "").unwrap();
        assert_eq!(document.entries().len(), 2);
        let EntryKind::Launch { env, .. } = &document.entries()[1].kind else {
            panic!()
        };
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        let out = document
            .apply(
                text,
                &[
                    edit(
                        "context_servers.new",
                        &["/m", "run", "--", "npx", "-y", "a@1.0.0"],
                    ),
                    edit("context_servers.old", &["/m", "run", "--", "uvx", "t==1"]),
                ],
            )
            .unwrap();
        assert!(out.contains(r#""new": {"command": "/m", "args": ["run", "--", "npx", "-y", "a@1.0.0"], "env": {}},"#), "{out}");
        assert!(
            out.contains(r#""command": {"path": "/m", "args": ["run", "--", "uvx", "t==1"], "env": {"A": "1"}}"#),
            "{out}"
        );
        assert!(
            out.contains("// Zed settings") && out.contains("},\n}"),
            "{out}"
        );
    }

    #[test]
    fn missing_args_are_added_and_taken_away_again() {
        let text = "{\"mcpServers\": {\n  \"a\": {\n    \"command\": \"npx\"\n  }\n}}\n";
        let document = JsonDocument::parse(Format::McpServers, text, "").unwrap();
        let wrapped = document
            .apply(text, &[edit("mcpServers.a", &["/m", "run", "--", "npx"])])
            .unwrap();
        assert_eq!(
            wrapped,
            "{\"mcpServers\": {\n  \"a\": {\n    \"command\": \"/m\",\n    \"args\": [\"run\", \"--\", \"npx\"]\n  }\n}}\n"
        );
        let document = JsonDocument::parse(Format::McpServers, &wrapped, "").unwrap();
        let mut back = edit("mcpServers.a", &["npx"]);
        back.drop_args = true;
        assert_eq!(document.apply(&wrapped, &[back]).unwrap(), text);
    }

    #[test]
    fn docker_args_keep_single_spaces() {
        let text = r#"{"mcpServers": {"d": {"command": "docker", "args": ["run", "-i", "--rm", "img:1"]}}}"#;
        let document = JsonDocument::parse(Format::McpServers, text, "").unwrap();
        let out = document
            .apply(
                text,
                &[edit(
                    "mcpServers.d",
                    &[
                        "/m",
                        "run",
                        "--",
                        "docker",
                        "run",
                        "-i",
                        "--rm",
                        "img:1@sha256:ab",
                    ],
                )],
            )
            .unwrap();
        assert_eq!(
            out,
            r#"{"mcpServers": {"d": {"command": "/m", "args": ["run", "--", "docker", "run", "-i", "--rm", "img:1@sha256:ab"]}}}"#
        );
    }

    #[test]
    fn unreadable_entries_are_reported_not_skipped() {
        let text = r#"{"mcpServers": {
            "num": {"command": "npx", "args": ["-y", 1]},
            "obj": {"command": ["npx"]},
            "env": {"command": "npx", "env": ["X"]},
            "str": "npx -y x",
            "remote": {"type": "sse", "url": "http://x"},
            "url": {"serverUrl": "http://x"}
        }}"#;
        let document = JsonDocument::parse(Format::McpServers, text, "").unwrap();
        let problems: Vec<(&str, &str)> = document
            .entries()
            .iter()
            .map(|e| match &e.kind {
                EntryKind::Unreadable(problem) => (e.name.as_str(), problem.as_str()),
                EntryKind::Launch { .. } => (e.name.as_str(), "launch"),
            })
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "mcpServers.num",
                    "`args` holds a value that is not a string"
                ),
                ("mcpServers.obj", "`command` is not a string"),
                ("mcpServers.env", "`env` is not an object"),
                ("mcpServers.str", "the entry is not an object"),
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for text in [
            r#"{"mcpServers": {"a": {"command": "node", "command": "npx"}}}"#,
            r#"{"mcpServers": {"a": {"command": "npx"}}, "mcpServers": {}}"#,
            r#"{"x": [{"deep": {"k": 1, "k": 2}}]}"#,
            // Escapes decode to the same key.
            r#"{"mcpServers": {"a": {"command": "npx", "comm\u0061nd": "node"}}}"#,
        ] {
            match JsonDocument::parse(Format::McpServers, text, "") {
                Err(DocError::DuplicateKey(message)) => {
                    assert!(message.contains("appears twice"), "{message}")
                }
                Err(other) => panic!("{text}: {other:?}"),
                Ok(_) => panic!("{text}: accepted"),
            }
        }
    }

    #[test]
    fn only_comments_and_trailing_commas_are_lenient() {
        assert!(
            JsonDocument::parse(Format::VsCode, "{\"servers\": {},} // c\n", "")
                .unwrap()
                .not_strict
        );
        assert!(
            !JsonDocument::parse(Format::VsCode, "{\"servers\": {}}\n", "")
                .unwrap()
                .not_strict
        );
        for text in [
            r#"{"servers": {} "x": 1}"#,
            "{'servers': {}}",
            "{servers: {}}",
            r#"{"n": 0x10}"#,
        ] {
            assert!(
                matches!(
                    JsonDocument::parse(Format::VsCode, text, ""),
                    Err(DocError::Parse(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn continue_single_server_block_is_named_after_the_file() {
        let text = r#"{"command": "npx", "args": ["-y", "a@1.0.0"]}"#;
        assert_eq!(
            launches(Format::ContinueJson, text),
            vec![(
                "stem".to_owned(),
                vec!["npx".into(), "-y".into(), "a@1.0.0".into()]
            )]
        );
        let many = r#"{"mcpServers": {"x": {"command": "uvx", "args": ["t==1"]}}}"#;
        assert_eq!(launches(Format::ContinueJson, many)[0].0, "mcpServers.x");
    }
}
