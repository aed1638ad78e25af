//! The canonical tools payload: building it from what a server said,
//! serializing it (RFC 8785), and checking its digests when reading it back.

use std::collections::BTreeSet;
use std::path::Path;

use mcpin_attestation::{Tool, ToolsPayload, ToolsSection};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::client::ServerDescription;

/// Why a tools payload cannot be built or read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("reading tools payload `{path}`: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("not a tools payload: {0}")]
    Json(serde_json::Error),
    #[error("the server's tool #{index} is malformed: {error}")]
    BadTool {
        index: usize,
        error: serde_json::Error,
    },
    #[error("the server's initialize result lacks a valid {0}")]
    MissingField(&'static str),
    #[error("two tools are named `{0}`; tool names must be unique")]
    DuplicateTool(String),
    #[error("tools are not sorted by name: `{0}` comes before `{1}`")]
    NotSorted(String, String),
    #[error("payload digest mismatch: the file says {recorded}, the payload hashes to {actual}")]
    DigestMismatch { recorded: String, actual: String },
    #[error("tool `{tool}` digest mismatch: the file says {recorded}, the tool hashes to {actual}")]
    ToolDigestMismatch {
        tool: String,
        recorded: String,
        actual: String,
    },
    #[error("toolDigests names {0}, which is not a tool of the payload")]
    ExtraToolDigest(String),
    #[error("toolDigests has no entry for tool `{0}`")]
    MissingToolDigest(String),
}

/// `sha256:<lowercase hex>` over the RFC 8785 (JCS) form of `value`.
pub fn jcs_digest(value: &impl serde::Serialize) -> String {
    let bytes = canonical_bytes(value);
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// RFC 8785 (JCS) serialization.
pub fn canonical_bytes(value: &impl serde::Serialize) -> Vec<u8> {
    // Our types hold only strings, maps and finite JSON numbers: JCS cannot fail on them.
    serde_json_canonicalizer::to_vec(value).expect("JSON values canonicalize")
}

/// The digest of one tool: over its [`Tool::DIGESTED_FIELDS`].
pub fn tool_digest(tool: &Tool) -> String {
    jcs_digest(&tool.digested_view())
}

/// Builds the canonical section from a server's answers: tools sorted by name
/// (names must be unique), prompts by name, resources by URI; digests computed.
pub fn build_section(server: &ServerDescription) -> Result<ToolsSection, PayloadError> {
    let init = &server.initialize;
    let protocol_version = init
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or(PayloadError::MissingField("protocolVersion"))?
        .to_owned();
    let server_info = init
        .get("serverInfo")
        .filter(|info| info.is_object())
        .ok_or(PayloadError::MissingField("serverInfo object"))?
        .clone();
    let capabilities = init
        .get("capabilities")
        .ok_or(PayloadError::MissingField("capabilities"))?
        .clone();
    let instructions = match init.get("instructions") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(PayloadError::MissingField("instructions string")),
    };
    let mut tools = server
        .tools
        .iter()
        .enumerate()
        .map(|(index, tool)| {
            serde_json::from_value::<Tool>(tool.clone())
                .map_err(|error| PayloadError::BadTool { index, error })
        })
        .collect::<Result<Vec<_>, _>>()?;
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let sort_by = |items: &Option<Vec<Value>>, key: &str| {
        items.clone().map(|mut items| {
            items.sort_by(|a, b| {
                let key_of = |v: &Value| v.get(key).and_then(Value::as_str).map(str::to_owned);
                key_of(a).cmp(&key_of(b))
            });
            items
        })
    };
    let payload = ToolsPayload {
        protocol_version,
        server_info,
        capabilities,
        instructions,
        tools,
        prompts: sort_by(&server.prompts, "name"),
        resources: sort_by(&server.resources, "uri"),
    };
    seal(payload)
}

/// Computes the digests of a payload whose tools are sorted and uniquely named.
pub fn seal(payload: ToolsPayload) -> Result<ToolsSection, PayloadError> {
    check_tool_order(&payload)?;
    let tool_digests = payload
        .tools
        .iter()
        .map(|tool| (tool.name.clone(), tool_digest(tool)))
        .collect();
    Ok(ToolsSection {
        digest: jcs_digest(&payload),
        payload,
        tool_digests,
    })
}

fn check_tool_order(payload: &ToolsPayload) -> Result<(), PayloadError> {
    for pair in payload.tools.windows(2) {
        match pair[0].name.cmp(&pair[1].name) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => {
                return Err(PayloadError::DuplicateTool(pair[0].name.clone()));
            }
            std::cmp::Ordering::Greater => {
                return Err(PayloadError::NotSorted(
                    pair[0].name.clone(),
                    pair[1].name.clone(),
                ));
            }
        }
    }
    Ok(())
}

/// Checks that a section's digests are what its payload hashes to, that tools
/// are sorted and unique, and that `toolDigests` names exactly the tools.
pub fn verify_section(section: &ToolsSection) -> Result<(), PayloadError> {
    check_tool_order(&section.payload)?;
    let actual = jcs_digest(&section.payload);
    if actual != section.digest {
        return Err(PayloadError::DigestMismatch {
            recorded: section.digest.clone(),
            actual,
        });
    }
    let names: BTreeSet<&str> = section
        .payload
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    if let Some(extra) = section
        .tool_digests
        .keys()
        .find(|name| !names.contains(name.as_str()))
    {
        return Err(PayloadError::ExtraToolDigest(extra.clone()));
    }
    for tool in &section.payload.tools {
        let recorded = section
            .tool_digests
            .get(&tool.name)
            .ok_or_else(|| PayloadError::MissingToolDigest(tool.name.clone()))?;
        let actual = tool_digest(tool);
        if *recorded != actual {
            return Err(PayloadError::ToolDigestMismatch {
                tool: tool.name.clone(),
                recorded: recorded.clone(),
                actual,
            });
        }
    }
    Ok(())
}

/// Parses a tools section and checks its digests ([`verify_section`]).
pub fn parse_section(bytes: &[u8]) -> Result<ToolsSection, PayloadError> {
    let section: ToolsSection = serde_json::from_slice(bytes).map_err(PayloadError::Json)?;
    verify_section(&section)?;
    Ok(section)
}

/// Reads and checks a tools file written by `mcpin tools capture`.
pub fn read_section(path: &Path) -> Result<ToolsSection, PayloadError> {
    let bytes = std::fs::read(path).map_err(|error| PayloadError::Io {
        path: path.display().to_string(),
        error,
    })?;
    parse_section(&bytes)
}

/// The file form of a section: its RFC 8785 bytes.
pub fn section_bytes(section: &ToolsSection) -> Vec<u8> {
    canonical_bytes(section)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn description(tools: Vec<Value>) -> ServerDescription {
        let Value::Object(initialize) = json!({
            "protocolVersion": "2025-11-25",
            "serverInfo": {"name": "t", "version": "1"},
            "capabilities": {"tools": {}},
        }) else {
            unreachable!()
        };
        ServerDescription {
            initialize,
            tools,
            prompts: None,
            resources: Some(vec![
                json!({"uri": "b://2", "name": "b"}),
                json!({"uri": "a://1", "name": "a"}),
            ]),
        }
    }

    fn tool(name: &str) -> Value {
        json!({"name": name, "description": "d", "inputSchema": {"type": "object"}, "icons": [{"src": "x"}]})
    }

    #[test]
    fn jcs_digest_is_over_rfc8785_bytes() {
        // RFC 8785 sorts keys and drops whitespace.
        let value = json!({"b": 1, "a": [true, null, "é"]});
        assert_eq!(
            canonical_bytes(&value),
            "{\"a\":[true,null,\"é\"],\"b\":1}".as_bytes()
        );
        assert_eq!(
            jcs_digest(&value),
            format!(
                "sha256:{}",
                hex::encode(Sha256::digest("{\"a\":[true,null,\"é\"],\"b\":1}"))
            )
        );
    }

    #[test]
    fn build_sorts_tools_and_resources_and_digests_recompute() {
        let section = build_section(&description(vec![tool("zeta"), tool("alpha")])).unwrap();
        let names: Vec<&str> = section
            .payload
            .tools
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["alpha", "zeta"]);
        let uris: Vec<&Value> = section
            .payload
            .resources
            .as_ref()
            .unwrap()
            .iter()
            .map(|r| &r["uri"])
            .collect();
        assert_eq!(uris, [&json!("a://1"), &json!("b://2")]);
        assert_eq!(section.digest, jcs_digest(&section.payload));
        verify_section(&section).unwrap();
        // The file form reads back to the same section.
        assert_eq!(parse_section(&section_bytes(&section)).unwrap(), section);
        // Unknown tool fields are kept verbatim.
        assert_eq!(
            section.payload.tools[0].extra["icons"],
            json!([{"src": "x"}])
        );
    }

    #[test]
    fn tool_digest_covers_exactly_the_digested_fields() {
        let section = build_section(&description(vec![tool("a")])).unwrap();
        let base = &section.payload.tools[0];
        let mut extra = base.clone();
        extra.extra.insert("icons".into(), json!([]));
        assert_eq!(
            tool_digest(&extra),
            tool_digest(base),
            "icons are not digested per tool"
        );
        let mut annotated = base.clone();
        annotated.annotations = Some(json!({"readOnlyHint": true}));
        assert_ne!(
            tool_digest(&annotated),
            tool_digest(base),
            "annotations are digested"
        );
        let mut meta = base.clone();
        meta.meta = Some(json!({"k": 1}));
        assert_ne!(tool_digest(&meta), tool_digest(base), "_meta is digested");
        // The view holds the name and exactly the fields present.
        let Value::Object(view) = base.digested_view() else {
            unreachable!()
        };
        let keys: Vec<&String> = view.keys().collect();
        assert_eq!(keys, ["description", "inputSchema", "name"]);
    }

    #[test]
    fn tampering_is_rejected_with_the_reason() {
        let section = build_section(&description(vec![tool("a"), tool("b")])).unwrap();
        let mut payload = section.clone();
        payload.payload.tools[0].description = Some("changed".into());
        assert!(matches!(
            verify_section(&payload),
            Err(PayloadError::DigestMismatch { .. })
        ));

        let mut digests = section.clone();
        digests
            .tool_digests
            .insert("a".into(), section.tool_digests["b"].clone());
        // Same tools, so the payload digest still matches: the per-tool check catches it.
        assert!(matches!(
            verify_section(&digests),
            Err(PayloadError::ToolDigestMismatch { tool, .. }) if tool == "a"
        ));

        let mut extra = section.clone();
        extra
            .tool_digests
            .insert("ghost".into(), "sha256:00".into());
        assert!(
            matches!(verify_section(&extra), Err(PayloadError::ExtraToolDigest(name)) if name == "ghost")
        );

        let mut missing = section.clone();
        missing.tool_digests.remove("b");
        assert!(
            matches!(verify_section(&missing), Err(PayloadError::MissingToolDigest(name)) if name == "b")
        );

        let mut unsorted = section.clone();
        unsorted.payload.tools.swap(0, 1);
        assert!(matches!(
            verify_section(&unsorted),
            Err(PayloadError::NotSorted(..))
        ));
    }

    #[test]
    fn duplicate_and_malformed_tools_are_refused() {
        assert!(matches!(
            build_section(&description(vec![tool("a"), tool("a")])),
            Err(PayloadError::DuplicateTool(name)) if name == "a"
        ));
        assert!(matches!(
            build_section(&description(vec![json!({"name": "x"})])),
            Err(PayloadError::BadTool { index: 0, .. })
        ));
        assert!(matches!(
            parse_section(br#"{"digest":"x","payload":{},"toolDigests":{}}"#),
            Err(PayloadError::Json(_))
        ));
    }
}
