//! `docs/lint-rules.md`, generated from [`RULES`] and [`CROSS_RULES`] so that
//! it cannot drift (a unit test fails when the file is stale).

#[cfg(test)]
use mcpin_attestation::ToolsPayload;
#[cfg(test)]
use serde_json::json;

use super::{Class, Example, ExampleAt, RULES, push_visible};
use crate::cross::CROSS_RULES;

/// The tools payload an example is linted in: one tool, the example in its place.
#[cfg(test)]
pub(crate) fn example_payload(example: &Example) -> ToolsPayload {
    let property = |field: &str| json!({"type": "object", "properties": {"value": {"type": "string", field: example.text}}});
    let (name, description, schema) = match example.at {
        ExampleAt::Description => ("example_tool", example.text, json!({"type": "object"})),
        ExampleAt::ToolName => (example.text, "An example tool.", json!({"type": "object"})),
        ExampleAt::ParamName => (
            "example_tool",
            "An example tool.",
            json!({"type": "object", "properties": {example.text: {"type": "string"}}}),
        ),
        ExampleAt::ParamDescription => {
            ("example_tool", "An example tool.", property("description"))
        }
        ExampleAt::ParamDefault => ("example_tool", "An example tool.", property("default")),
    };
    serde_json::from_value(json!({
        "protocolVersion": "2025-11-25",
        "serverInfo": {"name": "example", "version": "1.0.0"},
        "capabilities": {"tools": {}},
        "tools": [{"name": name, "description": description, "inputSchema": schema}],
    }))
    .expect("an example payload is valid")
}

fn place(at: ExampleAt) -> &'static str {
    match at {
        ExampleAt::Description => "tool description",
        ExampleAt::ToolName => "tool name",
        ExampleAt::ParamName => "parameter name",
        ExampleAt::ParamDescription => "parameter description",
        ExampleAt::ParamDefault => "parameter default",
    }
}

/// An example as Markdown: invisible characters made visible, long text cut.
fn shown(example: &Example) -> String {
    let mut text = String::new();
    for c in example.text.chars().take(160) {
        push_visible(&mut text, c);
    }
    if example.text.chars().count() > 160 {
        text.push_str(&format!("… ({} characters)", example.text.chars().count()));
    }
    let fence = if text.contains('`') { "``" } else { "`" };
    format!("{}: {fence} {text} {fence}", place(example.at))
}

const CLASSES: [Class; 10] = [
    Class::HiddenText,
    Class::ModelDirectives,
    Class::OtherTools,
    Class::Preference,
    Class::ContextAndSecrets,
    Class::Concealment,
    Class::Exfiltration,
    Class::SchemaInstructions,
    Class::Names,
    Class::Informational,
];

/// The whole of `docs/lint-rules.md` (generated with the reference pages, `cli/src/reference.rs`),
/// from [`RULES`] and [`CROSS_RULES`].
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "# `mcpin tools lint` rules\n\n\
         `mcpin tools lint` reads every string an MCP server shows the model about its tools: tool\n\
         names, titles and descriptions, input and output schemas (nested descriptions, titles,\n\
         defaults, enum and const values, examples, `$defs`, property names), annotations, `_meta`,\n\
         unknown fields, prompts, resources and the server instructions. It is deterministic and\n\
         offline. Each rule reports at most once per string.\n\n\
         Phrase rules read each string *folded*: look-alike letters from Cyrillic, Greek and other\n\
         scripts and full-width or mathematical forms are mapped to ASCII (UTS #39 skeletons),\n\
         zero-width, tag, bidi and variation-selector characters are dropped, and whitespace runs\n\
         (line breaks included) become one space. They also read every hidden payload decoded from\n\
         the string: tag characters, and base64 or hex that decodes to readable text. So\n\
         `ign\\u043ere`, `ｉｇｎｏｒｅ`, `Ignore\\u200b previous` and a base64 sentence are all\n\
         read as what the model reads.\n\n\
         Severities: **critical** and **high** are attacks or their unmistakable means, **medium**\n\
         is a strong signal a reviewer should look at, **low** is informational (the default\n\
         `--fail-on medium` passes it). Some rules grade their findings (the rule's severity is\n\
         the highest they report). Policies cap what they accept with `max-lint-severity`.\n\n\
         Examples below are checked by the unit tests: each rule must fire on both examples and\n\
         must not fire on its near miss.\n\n\
         | rule | severity | class |\n|---|---|---|\n",
    );
    for class in CLASSES {
        for rule in RULES.iter().filter(|rule| rule.class == class) {
            out.push_str(&format!(
                "| [`{}`](#{}) | {} | {} |\n",
                rule.id,
                rule.id,
                rule.severity,
                class.title()
            ));
        }
    }
    for rule in CROSS_RULES {
        out.push_str(&format!(
            "| [`{}`](#{}) | {} | Across servers |\n",
            rule.id, rule.id, rule.severity
        ));
    }
    for class in CLASSES {
        out.push_str(&format!("\n## {}\n", class.title()));
        for rule in RULES.iter().filter(|rule| rule.class == class) {
            out.push_str(&format!(
                "\n### `{}`\n\n**{}** — {}.\n\n{}\n\nFires on:\n- {}\n- {}\n\nDoes not fire on:\n- {}\n",
                rule.id,
                rule.severity,
                rule.description,
                rule.rationale,
                shown(&rule.fires[0]),
                shown(&rule.fires[1]),
                shown(&rule.near_miss),
            ));
        }
    }
    out.push_str(
        "\n## Across servers\n\n\
         `mcpin_tools::cross_server` reads the tools payloads of every server of one agent\n\
         configuration together. `mcpin tools lint` runs it when given several payloads, and\n\
         `mcpin wrap` on the servers of each config file that the policy allows with signed tools\n\
         (reported per file, `cross` in `--json`). Each rule is tested firing and not firing in\n\
         `mcp-tools/src/cross.rs`.\n",
    );
    for rule in CROSS_RULES {
        out.push_str(&format!(
            "\n### `{}`\n\n**{}** — {}.\n\n{}\n",
            rule.id, rule.severity, rule.description, rule.rationale
        ));
    }
    out
}
