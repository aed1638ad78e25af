//! The signed tools as the guard holds them: digests to compare what the server lists with,
//! compiled schemas, and what the runtime policy makes of each tool (hidden, destructive mode,
//! data class).

use std::collections::{BTreeSet, HashMap};

use mcpin_attestation::{Tool, ToolsSection};
use mcpin_verifier::policy::{DestructiveMode, RuntimePolicy};
use serde_json::Value;

use crate::reason::Code;

/// The `_meta` key a data class travels in, both ways: the publisher declares it in the
/// signed tool, and the guard tells the client the class that applies.
pub const DATA_CLASS_META: &str = "dev.mcpin/data-class";

/// Who is asking: the OS account mcpin runs as (not `$USER`, which the agent config sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub groups: Vec<String>,
}

impl Account {
    /// The real uid's account name and the process's groups, through the system's user database.
    pub fn current() -> Account {
        use nix::unistd::{Group, User, getgroups, getuid};
        let uid = getuid();
        let user = User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| format!("uid:{uid}"), |user| user.name);
        let mut gids = getgroups().unwrap_or_default();
        gids.push(nix::unistd::getgid());
        let mut groups: Vec<String> = gids
            .into_iter()
            .filter_map(|gid| Group::from_gid(gid).ok().flatten().map(|group| group.name))
            .collect();
        groups.sort();
        groups.dedup();
        Account { user, groups }
    }
}

/// A JSON Schema validator, or why the signed schema cannot be used.
pub(crate) type Schema = Result<jsonschema::Validator, String>;

/// One signed tool.
pub(crate) struct SignedTool {
    pub digest: String,
    /// The signed tool as sent to the client (with the data class in `_meta`).
    pub json: Value,
    /// Set when the policy hides this tool: the code and message its calls are refused with.
    pub hidden: Option<(Code, String)>,
    pub destructive: bool,
    pub mode: DestructiveMode,
    pub input: Schema,
    pub output: Option<Schema>,
}

/// The signed set, evaluated against the runtime policy once.
pub(crate) struct Catalog {
    pub tools: HashMap<String, SignedTool>,
    /// Each signed prompt's digest (RFC 8785 JSON, as `prompts/list` listed it at capture), by
    /// name; empty when the server advertised no prompts then.
    pub prompts: HashMap<String, String>,
    pub instructions: Option<String>,
    pub tools_digest: String,
}

impl Catalog {
    pub(crate) fn new(
        section: &ToolsSection,
        policy: &RuntimePolicy,
        provider: Option<&str>,
        account: &Account,
    ) -> Catalog {
        let tools = section
            .payload
            .tools
            .iter()
            .map(|tool| {
                let digest = section
                    .tool_digests
                    .get(&tool.name)
                    .cloned()
                    .unwrap_or_else(|| mcpin_tools::tool_digest(tool));
                (
                    tool.name.clone(),
                    signed_tool(tool, digest, policy, provider, account),
                )
            })
            .collect();
        let prompts = section
            .payload
            .prompts
            .iter()
            .flatten()
            .filter_map(|prompt| {
                let name = prompt.get("name").and_then(Value::as_str)?;
                Some((name.to_owned(), mcpin_tools::jcs_digest(prompt)))
            })
            .collect();
        Catalog {
            tools,
            prompts,
            instructions: section.payload.instructions.clone(),
            tools_digest: section.digest.clone(),
        }
    }
}

fn signed_tool(
    tool: &Tool,
    digest: String,
    policy: &RuntimePolicy,
    provider: Option<&str>,
    account: &Account,
) -> SignedTool {
    let per_tool = policy.tools.get(&tool.name);
    let destructive = mcpin_tools::hints(tool).destructive;
    let mode = per_tool
        .and_then(|rules| rules.destructive)
        .unwrap_or(policy.destructive);
    let mut classes: BTreeSet<String> = policy
        .tool_classes
        .iter()
        .filter(|class| class.matches(&tool.name))
        .map(|class| class.class.clone())
        .collect();
    if let Some(declared) = tool
        .meta
        .as_ref()
        .and_then(|meta| meta.get(DATA_CLASS_META))
        .and_then(Value::as_str)
    {
        classes.insert(declared.to_owned());
    }
    let mut hidden = None;
    if destructive && mode == DestructiveMode::Deny {
        hidden = Some((
            Code::DestructiveDenied,
            format!(
                "`{}` may change or delete data (signed annotations) and [runtime] destructive = \"deny\"",
                tool.name
            ),
        ));
    }
    if hidden.is_none()
        && let Some(rules) = per_tool
        && (rules.users.is_some() || rules.groups.is_some())
    {
        let user_ok = rules
            .users
            .as_ref()
            .is_some_and(|users| users.contains(&account.user));
        let group_ok = rules
            .groups
            .as_ref()
            .is_some_and(|groups| groups.iter().any(|group| account.groups.contains(group)));
        if !user_ok && !group_ok {
            hidden = Some((
                Code::UserNotAllowed,
                format!(
                    "`{}` is limited to other accounts than `{}` ([runtime.tools] users/groups)",
                    tool.name, account.user
                ),
            ));
        }
    }
    if hidden.is_none() && !classes.is_empty() {
        // A provider must be allowed by every class that applies; an undefined class allows none.
        let allowed = |provider: &str| {
            classes.iter().all(|class| {
                policy
                    .data_classes
                    .get(class)
                    .is_some_and(|providers| providers.contains(provider))
            })
        };
        let names = classes.iter().cloned().collect::<Vec<_>>().join(", ");
        match provider {
            None => {
                hidden = Some((
                    Code::DataClassDenied,
                    format!(
                        "`{}` carries data class {names} and no LLM provider is declared (mcpin run --llm-provider)",
                        tool.name
                    ),
                ))
            }
            Some(provider) if !allowed(provider) => {
                hidden = Some((
                    Code::DataClassDenied,
                    format!(
                        "`{}` carries data class {names}, which LLM provider `{provider}` may not see",
                        tool.name
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    let mut json = serde_json::to_value(tool).expect("a tool serializes");
    if let Some(strictest) = strictest_class(&classes, policy) {
        let meta = json
            .as_object_mut()
            .expect("a tool is an object")
            .entry("_meta")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(DATA_CLASS_META.to_owned(), Value::String(strictest));
        }
    }
    SignedTool {
        digest,
        json,
        hidden,
        destructive,
        mode,
        input: compile(&tool.input_schema),
        output: tool.output_schema.as_ref().map(compile),
    }
}

/// The class that allows the fewest providers (an undefined class allows none).
fn strictest_class(classes: &BTreeSet<String>, policy: &RuntimePolicy) -> Option<String> {
    classes
        .iter()
        .min_by_key(|class| policy.data_classes.get(*class).map_or(0, BTreeSet::len))
        .cloned()
}

/// Compiles a signed schema: JSON Schema 2020-12 unless it names its dialect in `$schema`.
/// References resolve inside the schema only: nothing is fetched.
pub(crate) fn compile(schema: &Value) -> Schema {
    let mut options = jsonschema::options().offline();
    if schema.get("$schema").is_none() {
        options = options.with_draft(jsonschema::Draft::Draft202012);
    }
    options.build(schema).map_err(|error| error.to_string())
}

/// The first validation error, in words, with where it is.
pub(crate) fn validate(schema: &jsonschema::Validator, instance: &Value) -> Result<(), String> {
    schema.validate(instance).map_err(|error| {
        let path = error.instance_path().to_string();
        if path.is_empty() {
            error.to_string()
        } else {
            format!("{error} (at {path})")
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_resolve_locally_and_remote_ones_are_refused() {
        let local = compile(&json!({
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/path"}},
            "required": ["p"],
            "$defs": {"path": {"type": "string", "pattern": "^/tmp/"}}
        }))
        .unwrap();
        assert!(validate(&local, &json!({"p": "/tmp/x"})).is_ok());
        let error = validate(&local, &json!({"p": "/etc/passwd"})).unwrap_err();
        assert!(error.contains("/p"), "{error}");
        assert!(compile(&json!({"$ref": "https://example.com/schema.json"})).is_err());
        // draft-07 schemas (zod-to-json-schema) keep their dialect.
        let draft7 = compile(&json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": false
        }))
        .unwrap();
        assert!(validate(&draft7, &json!({"n": 1})).is_ok());
        assert!(validate(&draft7, &json!({"n": 1, "x": 2})).is_err());
    }
}
