//! The generated pages of `docs/`: in `docs/reference/` the command line from clap, the policy
//! file and the audit records from their JSON Schemas, and the verdict codes, launcher refusal
//! codes and exit codes from their enums; `docs/lint-rules.md` from the lint's rule tables. The test below fails when a committed page differs from what
//! the code generates; `MCPIN_UPDATE_DOCS=1` makes it rewrite the pages instead.

use std::fmt::Write;
use std::path::PathBuf;

use clap::CommandFactory;
use serde_json::Value;

use crate::args::Cli;
use crate::exit::ExitStatus;

/// The command that regenerates every page.
macro_rules! regenerate {
    () => {
        "MCPIN_UPDATE_DOCS=1 cargo test -p mcpin reference"
    };
}
const REGENERATE: &str = regenerate!();

const GENERATED: &str = concat!(
    "<!-- Generated from the code: do not edit. Regenerate with `",
    regenerate!(),
    "`. -->\n\n"
);

/// Every generated page: its path below `docs/` and its text.
fn pages() -> Vec<(&'static str, String)> {
    vec![
        ("reference/cli.md", cli()),
        ("reference/policy.md", policy()),
        ("reference/codes.md", codes()),
        ("reference/audit.md", audit()),
        (
            "lint-rules.md",
            format!("{GENERATED}{}", mcpin_tools::rules_markdown()),
        ),
    ]
}

/// Every command, with its arguments, options and help text.
fn cli() -> String {
    let options = clap_markdown::MarkdownOptions::new()
        .title("Command-line reference".to_owned())
        .show_footer(false);
    let markdown = clap_markdown::help_markdown_command_custom(&Cli::command(), &options);
    // The exit-code list of `mcpin --help` is aligned text; in Markdown, a list.
    let exit_codes: String = ExitStatus::ALL
        .iter()
        .map(|status| format!("\n* `{}` {}", *status as u8, status.summary()))
        .collect();
    let terminal = crate::exit::help();
    assert!(
        markdown.contains(&terminal),
        "the help text lists the exit codes"
    );
    let markdown = markdown.replace(&terminal, &format!("Exit codes:\n{exit_codes}"));
    format!("{GENERATED}{}\n", markdown.trim_end())
}

/// The policy file's keys, one table per TOML table, from `mcpin policy schema`.
fn policy() -> String {
    let schema = mcpin_verifier::policy::json_schema();
    let defs = &schema["$defs"];
    let mut page = String::from(GENERATED);
    page.push_str(
        "# Policy reference\n\n\
         The policy is a TOML file; `mcpin policy init` writes a commented starter and \
         `mcpin policy check FILE` validates one. Keys are kebab-case. Unknown keys, duplicate \
         keys and values of the wrong type are errors that name the line and column. \
         `mcpin policy schema` prints the same description as a JSON Schema for editors.\n\n",
    );
    page.push_str("## Top level\n\n");
    page.push_str(&keys_table(&schema, defs, ""));
    // Each table of the file, in the order the top level lists them.
    let mut sections = Vec::new();
    collect_sections(&schema, defs, "", &mut sections);
    for (header, object) in sections {
        write!(page, "\n## `{header}`\n\n").unwrap();
        if let Some(description) = object["description"].as_str() {
            write!(page, "{}\n\n", one_line(description)).unwrap();
        }
        page.push_str(&keys_table(object, defs, &header));
    }
    page.push_str("\n## Example\n\nWhat `mcpin policy init` writes:\n\n```toml\n");
    page.push_str(mcpin_verifier::policy::TEMPLATE.trim_end());
    page.push_str("\n```\n");
    page
}

/// The TOML tables below `object` (`[launch]`, `[[packages]]`, `[packages.tools]`, …)
/// with the schema object describing each, depth first.
fn collect_sections<'a>(
    object: &'a Value,
    defs: &'a Value,
    prefix: &str,
    sections: &mut Vec<(String, &'a Value)>,
) {
    for (key, property) in properties(object) {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let (target, array) = match table_of(property, defs) {
            Some(found) => found,
            None => continue,
        };
        let header = if array {
            format!("[[{path}]]")
        } else {
            format!("[{path}]")
        };
        sections.push((header, target));
        collect_sections(target, defs, &path, sections);
    }
}

/// The object schema a property holds as a TOML table, and whether it is an array of them.
fn table_of<'a>(property: &'a Value, defs: &'a Value) -> Option<(&'a Value, bool)> {
    if property["type"] == "array" || property["type"][0] == "array" {
        let items = resolve(&property["items"], defs);
        return (items["type"] == "object").then_some((items, true));
    }
    let target = resolve(property, defs);
    (target["type"] == "object").then_some((target, false))
}

/// Follows a `$ref`, or the one non-null branch of an `anyOf`.
fn resolve<'a>(schema: &'a Value, defs: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/");
        return &defs[name];
    }
    if let Some(branches) = schema["anyOf"].as_array() {
        let non_null: Vec<&Value> = branches.iter().filter(|b| b["type"] != "null").collect();
        if let [only] = non_null[..] {
            return resolve(only, defs);
        }
    }
    schema
}

fn properties(object: &Value) -> Vec<(String, &Value)> {
    let mut keys: Vec<(String, &Value)> = object["properties"]
        .as_object()
        .map(|map| map.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys
}

/// One row per key: its type, whether it is required or its default, and what it means.
fn keys_table(object: &Value, defs: &Value, section: &str) -> String {
    let required: Vec<&str> = object["required"]
        .as_array()
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut table = String::from("| key | type | default | meaning |\n|---|---|---|---|\n");
    for (key, property) in properties(object) {
        let Some(description) = property["description"].as_str().map(one_line) else {
            panic!(
                "policy key `{key}` in `{}` has no doc comment: document it in \
                 verifier/src/policy/file.rs, then run `{REGENERATE}`",
                if section.is_empty() {
                    "top level"
                } else {
                    section
                }
            );
        };
        let type_name = type_name(property, defs);
        let default = if required.contains(&key.as_str()) {
            "required".to_owned()
        } else {
            match property.get("default") {
                Some(Value::Null) => "none".to_owned(),
                Some(value) => format!("`{value}`"),
                // `#[serde(default)]` tables and lists have no default in the schema.
                None if type_name == "table" || type_name.starts_with("array") => {
                    "empty".to_owned()
                }
                None => "none".to_owned(),
            }
        };
        writeln!(
            table,
            "| `{key}` | {type_name} | {default} | {} |",
            description.replace('|', "\\|")
        )
        .unwrap();
    }
    table
}

/// A key's type in words: `string`, `array of string`, `table`, `one of "a", "b"`.
fn type_name(property: &Value, defs: &Value) -> String {
    let schema = resolve(property, defs);
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
        return format!("one of {}", values.join(", "));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let main = types
        .iter()
        .find(|t| **t != "null")
        .copied()
        .unwrap_or("any");
    match main {
        "array" => {
            let items = resolve(&schema["items"], defs);
            if items["type"] == "object" {
                "array of tables".to_owned()
            } else {
                format!("array of {}", type_name(&schema["items"], defs))
            }
        }
        "object" => "table".to_owned(),
        other => other.to_owned(),
    }
}

/// Doc comments wrap at 100 columns; a table cell is one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The verdict codes, the launcher refusal codes and the exit codes, one table each.
fn codes() -> String {
    let mut page = String::from(GENERATED);
    page.push_str(
        "# Codes\n\n\
         Every decision mcpin makes is a list of reasons, each with a stable kebab-case code. \
         Codes are never renamed; new ones are added.\n\n\
         ## Verdict codes\n\n\
         The reasons of a verdict (`mcpin verify --policy`, `mcpin run`, `mcpin wrap`), in \
         `reasons[].code` of `--json` output and of audit records. A verdict lists why something \
         passed as well as why it failed.\n\n\
         | code | meaning |\n|---|---|\n",
    );
    for code in mcpin_verifier::verdict::Code::ALL {
        writeln!(page, "| `{}` | {} |", code.as_str(), code.description()).unwrap();
    }
    page.push_str(
        "\n## Launcher refusal codes\n\n\
         `mcpin run` and `mcpin wrap` parse the launcher command line of an agent config \
         (`npx …`, `uvx …`, `docker run …`) before anything else, and refuse anything that \
         could fetch code from somewhere other than the registry artifact it names, or change \
         how that artifact is resolved. A refusal prints `mcpin: launch refused: <reason> \
         [<code>]` and is recorded in the audit log.\n\n\
         | code | refused because |\n|---|---|\n",
    );
    for code in mcpin_launcher::grammar::RefusalCode::ALL {
        writeln!(page, "| `{}` | {} |", code.code(), code.description()).unwrap();
    }
    page.push_str(
        "\n## Runtime guard codes\n\n\
         The runtime guard ([runtime-guard.md](../runtime-guard.md)): `reason` of its audit \
         records, `data.reason` of the JSON-RPC errors it answers the client with, and `[code]` \
         in its messages on stderr.\n\n\
         | code | meaning |\n|---|---|\n",
    );
    for code in mcpin_guard::Code::ALL {
        writeln!(page, "| `{}` | {} |", code.as_str(), code.description()).unwrap();
    }
    page.push_str(
        "\n## Fleet codes\n\n\
         `mcpin policy compile`, `mcpin policy publish` and `mcpin policy pull` (see \
         [the fleet guide](../guides/fleet.md)): `reason.code` of a `--json` refusal, and \
         `[code]` in the message on stderr.\n\n\
         | code | meaning |\n|---|---|\n",
    );
    for code in mcpin_fleet::Code::ALL {
        writeln!(page, "| `{}` | {} |", code.as_str(), code.description()).unwrap();
    }
    page.push_str(
        "\n## Exit codes\n\n\
         Every command maps its outcome onto these (`cli/src/exit.rs`). Human messages go to \
         stderr; stdout carries only a command's output. Under `mcpin run` an allowed server \
         replaces mcpin, so its exit code is the server's.\n\n\
         | code | meaning |\n|---|---|\n",
    );
    for status in ExitStatus::ALL {
        writeln!(page, "| {} | {} |", *status as u8, status.meaning()).unwrap();
    }
    page
}

/// The audit log's records, one table per event, from the JSON Schemas of the types that write
/// them.
fn audit() -> String {
    fn schema<T: schemars::JsonSchema>() -> Value {
        serde_json::to_value(schemars::schema_for!(T)).expect("a schema serializes")
    }
    let record = schema::<mcpin_launcher::audit::Record>();
    let launch = schema::<mcpin_launcher::audit::Decision>();
    let mut page = String::from(GENERATED);
    page.push_str(
        "# Audit records\n\n\
         The audit log (`mcpin audit show`, `mcpin audit verify`) is JSON Lines, one record per \
         line, hash-chained: each record's `prev` is the `sha256:` of the line before it. \
         `mcpin run` appends a `launch` record for every decision, and the runtime guard one \
         record for every tool call, drift, approval and stop. `mcpin audit show --json` prints \
         each record as written plus `\"schema_version\": 1`. Codes: [codes.md](codes.md).\n\n\
         ## Every record\n\n",
    );
    // The fields of a launch record that are not the decision's are every record's.
    let decision_fields: Vec<String> = properties(&launch).into_iter().map(|(k, _)| k).collect();
    let mut common = record.clone();
    if let Some(fields) = common["properties"].as_object_mut() {
        fields.retain(|name, _| !decision_fields.contains(name));
    }
    page.push_str(&fields_table(&common));
    page.push_str("\n## `\"event\": \"launch\"`\n\nA decision of `mcpin run`, allowed or refused (a refusal before the pipeline ran carries only `argv` and one reason).\n\n");
    page.push_str(&fields_table(&launch));
    for (event, what, fields) in [
        (
            "tool-call",
            "One `tools/call` through the runtime guard.",
            schema::<mcpin_guard::ToolCall>(),
        ),
        (
            "tool-drift",
            "A listed tool (or the server instructions) that differs from what was signed.",
            schema::<mcpin_guard::Drift>(),
        ),
        (
            "approval",
            "A destructive call put to a human, and the answer.",
            schema::<mcpin_guard::Approval>(),
        ),
        (
            "guard-stop",
            "The guard stopped the server.",
            schema::<mcpin_guard::StopRecord>(),
        ),
    ] {
        write!(page, "\n## `\"event\": \"{event}\"`\n\n{what}\n\n").unwrap();
        page.push_str(&fields_table(&fields));
    }
    page
}

/// One row per field of a record schema; nested objects as `outer.inner`, lists of objects as
/// `outer[].inner`.
fn fields_table(root: &Value) -> String {
    fn rows(object: &Value, defs: &Value, prefix: &str, table: &mut String) {
        for (key, property) in properties(object) {
            let path = format!("{prefix}{key}");
            let Some(description) = property["description"].as_str().map(one_line) else {
                panic!(
                    "audit field `{path}` has no doc comment: document it where the record is \
                     defined (launcher/src/audit.rs, guard/src/audit.rs), then run `{REGENERATE}`"
                );
            };
            let type_name = type_name(property, defs).replace("table", "object");
            writeln!(
                table,
                "| `{path}` | {type_name} | {} |",
                description.replace('|', "\\|")
            )
            .unwrap();
            match table_of(property, defs) {
                Some((inner, false)) if inner.get("properties").is_some() => {
                    rows(inner, defs, &format!("{path}."), table)
                }
                Some((inner, true)) => rows(inner, defs, &format!("{path}[]."), table),
                _ => {}
            }
        }
    }
    let mut table = String::from("| field | type | meaning |\n|---|---|---|\n");
    rows(root, &root["$defs"], "", &mut table);
    table
}

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

#[test]
fn reference_pages_are_current() {
    let update = std::env::var_os("MCPIN_UPDATE_DOCS").is_some_and(|v| !v.is_empty());
    let dir = docs_dir();
    let mut stale = Vec::new();
    for (name, generated) in pages() {
        let path = dir.join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == generated {
            continue;
        }
        if update {
            std::fs::create_dir_all(path.parent().expect("below docs/")).unwrap();
            std::fs::write(&path, generated).unwrap();
            eprintln!("wrote docs/{name}");
        } else {
            stale.push(format!("docs/{name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "{} out of date with the code: run `{REGENERATE}` and commit the result",
        stale.join(", ")
    );
}
