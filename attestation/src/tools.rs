//! The canonical tools payload: what an MCP server told a client about itself
//! and its tools, with the digests that pin it.
//!
//! Wire format (fixed; `mcpin tools capture` writes exactly this, RFC 8785
//! canonical JSON, and the package predicate embeds it as `tools`):
//!
//! ```json
//! {"digest":"sha256:<hex>",
//!  "payload":{"protocolVersion":"…","serverInfo":{…},"capabilities":{…},
//!             "instructions":"…",            // only if the server sent some
//!             "tools":[…],                   // every page, sorted by name
//!             "prompts":[…],"resources":[…]},// only if advertised
//!  "toolDigests":{"<tool name>":"sha256:<hex>",…}}
//! ```
//!
//! `digest` is sha256 over the RFC 8785 form of `payload`; each tool digest is
//! sha256 over the RFC 8785 form of that tool restricted to
//! [`Tool::DIGESTED_FIELDS`]. Computing and checking the digests is
//! `mcpin-tools`' job; this module only holds the types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A captured tools payload with its digests (the `tools` section of the predicate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolsSection {
    /// `sha256:<lowercase hex>` over the RFC 8785 form of [`payload`](Self::payload).
    pub digest: String,
    pub payload: ToolsPayload,
    /// Tool name → `sha256:<lowercase hex>` over the tool's digested fields.
    pub tool_digests: BTreeMap<String, String>,
}

/// What the server said in `initialize`, `tools/list`, `prompts/list` and `resources/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolsPayload {
    /// The protocol version the server answered with.
    pub protocol_version: String,
    /// The server's `Implementation` object (`name`, `version`, …), verbatim.
    pub server_info: Value,
    /// The server's capabilities, verbatim.
    pub capabilities: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Every tool from every `tools/list` page, sorted by name.
    pub tools: Vec<Tool>,
    /// Every prompt, sorted by name; present only if the server advertises prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Vec<Value>>,
    /// Every resource, sorted by URI; present only if the server advertises resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<Value>>,
}

/// One tool as the server describes it. Fields outside the MCP `Tool` core
/// (e.g. `icons`, `execution`) are kept verbatim in [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Tool {
    /// The fields a per-tool digest covers: what a model reads and what policy acts on.
    pub const DIGESTED_FIELDS: [&'static str; 7] = [
        "name",
        "title",
        "description",
        "inputSchema",
        "outputSchema",
        "annotations",
        "_meta",
    ];

    /// The tool as JSON restricted to [`DIGESTED_FIELDS`](Self::DIGESTED_FIELDS).
    pub fn digested_view(&self) -> Value {
        let mut view = Map::new();
        view.insert("name".into(), Value::String(self.name.clone()));
        let optional = [
            ("title", self.title.clone().map(Value::String)),
            ("description", self.description.clone().map(Value::String)),
            ("inputSchema", Some(self.input_schema.clone())),
            ("outputSchema", self.output_schema.clone()),
            ("annotations", self.annotations.clone()),
            ("_meta", self.meta.clone()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                view.insert(key.into(), value);
            }
        }
        Value::Object(view)
    }
}
