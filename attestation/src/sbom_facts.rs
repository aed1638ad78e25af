//! Reading an untrusted CycloneDX JSON document for policy decisions.
//!
//! The document is parsed as raw JSON (never through a lossy model that drops
//! fields it does not know), under a size cap and a nesting-depth cap, and
//! every field read is type-checked: a field of the wrong type is an error
//! naming its JSON path, not a silently missing fact.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// Largest SBOM accepted, in bytes.
pub const MAX_SBOM_BYTES: usize = 32 * 1024 * 1024;
/// Deepest nesting of arrays and objects accepted.
pub const MAX_SBOM_DEPTH: usize = 64;

/// Why an SBOM was refused.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("SBOM is larger than the {MAX_SBOM_BYTES}-byte limit")]
    TooLarge,
    #[error("SBOM nests arrays/objects deeper than {MAX_SBOM_DEPTH} levels")]
    TooDeep,
    #[error("SBOM is not valid JSON: {0}")]
    Json(String),
    #[error("SBOM is not a CycloneDX document: {0}")]
    NotCycloneDx(String),
    #[error("SBOM field `{path}` is malformed: {why}")]
    Field { path: String, why: &'static str },
}

/// What an SBOM says, for review and policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomFacts {
    pub spec_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// `metadata.component`: what the document describes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<ComponentFacts>,
    /// `metadata.properties` (for mcpin SBOMs: `mcpin:lock:digest`, `mcpin:tools:digest`).
    pub properties: BTreeMap<String, String>,
    /// Every component, nested ones included, in document order.
    pub components: Vec<ComponentFacts>,
    /// Every service, with its nested services (MCP tools) flattened in order.
    pub services: Vec<ServiceFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentFacts {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// The licenses as one expression: SPDX ids and expressions as written,
    /// named licenses by their name; several are joined with ` AND `.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Algorithm (`SHA-256`, `SHA-512`, …) → lowercase hex.
    pub hashes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceFacts {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Name of the enclosing service (for an MCP tool, the server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub properties: BTreeMap<String, String>,
}

impl SbomFacts {
    /// Reads an untrusted CycloneDX JSON document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, FactsError> {
        if bytes.len() > MAX_SBOM_BYTES {
            return Err(FactsError::TooLarge);
        }
        check_depth(bytes)?;
        let document: Value =
            serde_json::from_slice(bytes).map_err(|error| FactsError::Json(error.to_string()))?;
        let root = document
            .as_object()
            .ok_or_else(|| FactsError::NotCycloneDx("the top level is not an object".into()))?;
        if root.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
            return Err(FactsError::NotCycloneDx(
                "`bomFormat` is not \"CycloneDX\"".into(),
            ));
        }
        let spec_version = string(root, "specVersion", "specVersion")?
            .ok_or_else(|| FactsError::NotCycloneDx("no `specVersion`".into()))?;
        let mut subject = None;
        let mut properties = BTreeMap::new();
        if let Some(metadata) = root.get("metadata") {
            let metadata = object(metadata, "metadata")?;
            if let Some(component) = metadata.get("component") {
                subject = Some(component_facts(component, "metadata.component")?);
            }
            if let Some(list) = metadata.get("properties") {
                properties = property_map(list, "metadata.properties")?;
            }
        }
        let mut components = Vec::new();
        if let Some(list) = root.get("components") {
            collect_components(list, "components", &mut components)?;
        }
        let mut services = Vec::new();
        if let Some(list) = root.get("services") {
            collect_services(list, "services", None, &mut services)?;
        }
        Ok(SbomFacts {
            spec_version,
            serial_number: string(root, "serialNumber", "serialNumber")?,
            subject,
            properties,
            components,
            services,
        })
    }
}

impl SbomFacts {
    /// Services nested in another service: for mcpin SBOMs, the MCP tools.
    pub fn tools(&self) -> impl Iterator<Item = &ServiceFacts> {
        self.services
            .iter()
            .filter(|service| service.parent.is_some())
    }
}

/// Rejects documents nested deeper than [`MAX_SBOM_DEPTH`] before parsing,
/// so a hostile document costs one linear scan.
fn check_depth(bytes: &[u8]) -> Result<(), FactsError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_SBOM_DEPTH {
                    return Err(FactsError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, FactsError> {
    value.as_object().ok_or_else(|| FactsError::Field {
        path: path.to_owned(),
        why: "not an object",
    })
}

fn array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, FactsError> {
    value.as_array().ok_or_else(|| FactsError::Field {
        path: path.to_owned(),
        why: "not an array",
    })
}

/// An optional string field; present with another type is an error.
fn string(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, FactsError> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(FactsError::Field {
            path: path.to_owned(),
            why: "not a string",
        }),
    }
}

fn collect_components(
    list: &Value,
    path: &str,
    out: &mut Vec<ComponentFacts>,
) -> Result<(), FactsError> {
    for (index, component) in array(list, path)?.iter().enumerate() {
        let path = format!("{path}[{index}]");
        out.push(component_facts(component, &path)?);
        if let Some(nested) = component.get("components") {
            collect_components(nested, &format!("{path}.components"), out)?;
        }
    }
    Ok(())
}

fn component_facts(value: &Value, path: &str) -> Result<ComponentFacts, FactsError> {
    let component = object(value, path)?;
    let name = string(component, "name", &format!("{path}.name"))?.ok_or(FactsError::Field {
        path: format!("{path}.name"),
        why: "missing",
    })?;
    let mut hashes = BTreeMap::new();
    if let Some(list) = component.get("hashes") {
        for (index, hash) in array(list, &format!("{path}.hashes"))?.iter().enumerate() {
            let hash_path = format!("{path}.hashes[{index}]");
            let hash = object(hash, &hash_path)?;
            let field = |key: &str| {
                string(hash, key, &format!("{hash_path}.{key}"))?.ok_or(FactsError::Field {
                    path: format!("{hash_path}.{key}"),
                    why: "missing",
                })
            };
            hashes.insert(field("alg")?, field("content")?.to_ascii_lowercase());
        }
    }
    Ok(ComponentFacts {
        name,
        group: string(component, "group", &format!("{path}.group"))?,
        version: string(component, "version", &format!("{path}.version"))?,
        purl: string(component, "purl", &format!("{path}.purl"))?,
        license: match component.get("licenses") {
            None => None,
            Some(list) => license_expression(list, &format!("{path}.licenses"))?,
        },
        hashes,
    })
}

/// CycloneDX `licenses`: `[{"license": {"id"|"name"}}, …]` or `[{"expression"}]`.
fn license_expression(list: &Value, path: &str) -> Result<Option<String>, FactsError> {
    let mut parts = Vec::new();
    for (index, choice) in array(list, path)?.iter().enumerate() {
        let choice_path = format!("{path}[{index}]");
        let choice = object(choice, &choice_path)?;
        if let Some(expression) =
            string(choice, "expression", &format!("{choice_path}.expression"))?
        {
            parts.push(expression);
        } else if let Some(license) = choice.get("license") {
            let license_path = format!("{choice_path}.license");
            let license = object(license, &license_path)?;
            let text = match string(license, "id", &format!("{license_path}.id"))? {
                Some(id) => id,
                None => string(license, "name", &format!("{license_path}.name"))?.ok_or(
                    FactsError::Field {
                        path: license_path,
                        why: "neither `id` nor `name`",
                    },
                )?,
            };
            parts.push(text);
        } else {
            return Err(FactsError::Field {
                path: choice_path,
                why: "neither `license` nor `expression`",
            });
        }
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(
            parts
                .iter()
                .map(|part| format!("({part})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    })
}

/// CycloneDX `properties`: `[{"name", "value"}, …]`. A name may repeat only
/// with the same value: two different claims under one name are ambiguous.
fn property_map(list: &Value, path: &str) -> Result<BTreeMap<String, String>, FactsError> {
    let mut properties = BTreeMap::new();
    for (index, property) in array(list, path)?.iter().enumerate() {
        let property_path = format!("{path}[{index}]");
        let property = object(property, &property_path)?;
        if let Some(key) = string(property, "name", &format!("{property_path}.name"))? {
            let value =
                string(property, "value", &format!("{property_path}.value"))?.unwrap_or_default();
            if properties.get(&key).is_some_and(|first| *first != value) {
                return Err(FactsError::Field {
                    path: property_path,
                    why: "repeats a property name with a different value",
                });
            }
            properties.insert(key, value);
        }
    }
    Ok(properties)
}

fn collect_services(
    list: &Value,
    path: &str,
    parent: Option<&str>,
    out: &mut Vec<ServiceFacts>,
) -> Result<(), FactsError> {
    for (index, service) in array(list, path)?.iter().enumerate() {
        let path = format!("{path}[{index}]");
        let object = object(service, &path)?;
        let name = string(object, "name", &format!("{path}.name"))?.ok_or(FactsError::Field {
            path: format!("{path}.name"),
            why: "missing",
        })?;
        let properties = match object.get("properties") {
            Some(list) => property_map(list, &format!("{path}.properties"))?,
            None => BTreeMap::new(),
        };
        out.push(ServiceFacts {
            name: name.clone(),
            description: string(object, "description", &format!("{path}.description"))?,
            parent: parent.map(str::to_owned),
            properties,
        });
        if let Some(nested) = object.get("services") {
            collect_services(nested, &format!("{path}.services"), Some(&name), out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_components_licenses_and_nested_services() {
        let facts = SbomFacts::from_json(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5",
            "metadata":{"component":{"type":"application","name":"srv","purl":"pkg:npm/srv@1"}},
            "components":[{"type":"library","name":"a","purl":"pkg:npm/a@1",
              "licenses":[{"license":{"id":"MIT"}},{"expression":"Apache-2.0 OR BSD-3-Clause"}],
              "hashes":[{"alg":"SHA-512","content":"AB"}]}],
            "services":[{"name":"srv","services":[{"name":"read","description":"Reads.\nFiles.",
              "properties":[{"name":"mcpin:tool:annotation:readOnlyHint","value":"true"}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            facts.subject.as_ref().unwrap().purl.as_deref(),
            Some("pkg:npm/srv@1")
        );
        assert_eq!(
            facts.components[0].license.as_deref(),
            Some("(MIT) AND (Apache-2.0 OR BSD-3-Clause)")
        );
        assert_eq!(facts.components[0].hashes["SHA-512"], "ab");
        assert_eq!(facts.services[1].parent.as_deref(), Some("srv"));
        assert_eq!(
            facts
                .tools()
                .map(|tool| tool.name.as_str())
                .collect::<Vec<_>>(),
            ["read"]
        );
        assert_eq!(
            facts.services[1].description.as_deref(),
            Some("Reads.\nFiles.")
        );
        assert_eq!(
            facts.services[1].properties["mcpin:tool:annotation:readOnlyHint"],
            "true"
        );
    }

    #[test]
    fn hostile_or_wrong_documents_are_refused() {
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_SBOM_DEPTH + 1),
            "]".repeat(MAX_SBOM_DEPTH + 1)
        );
        assert!(matches!(
            SbomFacts::from_json(deep.as_bytes()),
            Err(FactsError::TooDeep)
        ));
        // Brackets inside strings do not count.
        let in_string = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","x":"{}"}}"#,
            "[".repeat(100)
        );
        assert!(SbomFacts::from_json(in_string.as_bytes()).is_ok());
        assert!(matches!(
            SbomFacts::from_json(b"{\"bomFormat\":"),
            Err(FactsError::Json(_))
        ));
        assert!(matches!(
            SbomFacts::from_json(br#"{"bomFormat":"SPDX","specVersion":"1.5"}"#),
            Err(FactsError::NotCycloneDx(_))
        ));
        let wrong_type = SbomFacts::from_json(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"a","purl":7}]}"#,
        );
        assert!(
            matches!(wrong_type, Err(FactsError::Field { ref path, .. }) if path == "components[0].purl")
        );
        let conflicting = SbomFacts::from_json(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"properties":[
              {"name":"mcpin:lock:digest","value":"sha256:aa"},{"name":"mcpin:lock:digest","value":"sha256:bb"}]}}"#,
        );
        assert!(
            matches!(conflicting, Err(FactsError::Field { ref path, .. }) if path == "metadata.properties[1]")
        );
        let big = vec![b' '; MAX_SBOM_BYTES + 1];
        assert!(matches!(
            SbomFacts::from_json(&big),
            Err(FactsError::TooLarge)
        ));
    }
}
