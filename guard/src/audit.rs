//! The records the guard writes (tool calls, drift, approvals, stops) and the thread that
//! hands them to the audit log in batches, so that no call waits for a disk sync.

use std::sync::mpsc::{Receiver, Sender};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::reason::Code;

/// Where records go: the hash-chained audit log (`mcpin-launcher`'s `AuditLog`) in `mcpin run`.
pub trait AuditSink: Send + 'static {
    /// Appends the records (JSON objects, each with an `event` key) in order, durably. An
    /// error stops the guard: calls are never left unrecorded.
    fn append(&mut self, records: &[Value]) -> Result<(), String>;
}

/// The server the records are about.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServerRef {
    /// The verified artifact's package URL.
    pub purl: String,
    /// sha256 of the verified artifact, lowercase hex.
    pub sha256: String,
    /// The signed tools payload digest.
    pub tools_digest: String,
}

/// What happened to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Allowed,
    Approved,
    Refused,
    Denied,
    RateLimited,
}

/// What came back from the server for a call that reached it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallResult {
    /// `isError` of the result, or true for a JSON-RPC error.
    pub is_error: bool,
    /// Bytes of the server's answer.
    pub size: usize,
    /// The JSON-RPC error code, when the server answered with an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    /// `input_required` (2026): the call is not finished, the client retries it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub input_required: bool,
    /// Set when the guard replaced the result (`output-invalid`, `output-injection`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub replaced: Option<Code>,
}

/// One `tools/call`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ToolCall {
    /// The server called.
    pub server: ServerRef,
    /// `clientInfo.name` from `initialize` or the 2026 request `_meta`.
    pub client: Option<String>,
    /// The protocol version the call was made under.
    pub protocol: Option<String>,
    /// The tool called.
    pub tool: String,
    /// `sha256:` over the arguments as compact JSON with object keys sorted.
    pub arguments_digest: String,
    /// The arguments, redacted and size-capped (`log-arguments = true` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// What happened to the call.
    pub decision: Decision,
    /// The guard code behind the decision.
    #[schemars(with = "String")]
    pub reason: Code,
    /// The reason in words.
    pub message: String,
    /// From the call leaving the guard to its answer, in milliseconds (calls that reached the server).
    pub latency_ms: Option<f64>,
    /// What came back; absent when the server never answered.
    pub result: Option<CallResult>,
}

/// A listed tool (or the instructions) that differs from what was signed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Drift {
    /// The server whose list drifted.
    pub server: ServerRef,
    /// The client's name, when known.
    pub client: Option<String>,
    /// The tool name; absent for the instructions and prompts.
    pub tool: Option<String>,
    /// The prompt name, for a prompt that drifted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `tool-changed`, `tool-unsigned`, `instructions-changed`, `prompt-changed` or
    /// `prompt-unsigned`.
    #[schemars(with = "String")]
    pub reason: Code,
    /// The signed digest (absent for a tool that is not signed).
    pub signed_digest: Option<String>,
    /// The digest of what the server listed.
    pub observed_digest: String,
    /// `deny` (the server is stopped) or `filter` (hidden, calls refused).
    pub action: &'static str,
}

/// A question put to a human about a destructive call, and the answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Approval {
    /// The server whose tool was to be called.
    pub server: ServerRef,
    /// The client's name, when known.
    pub client: Option<String>,
    /// The destructive tool.
    pub tool: String,
    /// As in `tool-call`.
    pub arguments_digest: String,
    /// `elicitation` (2025 request), `input-required` (2026 round trip), `command`, or `none`.
    pub via: &'static str,
    /// `approved` or `denied`.
    pub outcome: Decision,
    /// The guard code: `approved-by-elicitation`, `approved-by-command`, `approval-declined`,
    /// `approval-timeout`, `approval-unavailable`.
    #[schemars(with = "String")]
    pub reason: Code,
    /// The answer in words.
    pub message: String,
}

/// The guard stopped the server.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StopRecord {
    /// The server stopped.
    pub server: ServerRef,
    /// Why (a guard code).
    #[schemars(with = "String")]
    pub reason: Code,
    /// Why, in words.
    pub message: String,
}

/// Every kind of record, tagged with `event`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    ToolCall(ToolCall),
    ToolDrift(Drift),
    Approval(Approval),
    GuardStop(StopRecord),
}

/// Drains `events` into `sink` in batches until every sender is gone; calls `failed` once
/// with the error if an append fails (and then drops further events: the guard is stopping).
pub(crate) fn writer(
    mut sink: Box<dyn AuditSink>,
    events: Receiver<Event>,
    failed: impl Fn(String),
) {
    let mut broken = false;
    while let Ok(first) = events.recv() {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match events.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        if broken {
            continue;
        }
        let records: Vec<Value> = batch
            .iter()
            .map(|event| serde_json::to_value(event).expect("records serialize"))
            .collect();
        if let Err(error) = sink.append(&records) {
            broken = true;
            failed(error);
        }
    }
}

/// Sends records to the writer thread.
pub(crate) type Queue = Sender<Event>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_call_record_has_the_documented_fields() {
        let record = serde_json::to_value(Event::ToolCall(ToolCall {
            server: ServerRef {
                purl: "pkg:npm/x@1".into(),
                sha256: "ab".into(),
                tools_digest: "sha256:cd".into(),
            },
            client: Some("claude".into()),
            protocol: Some("2025-11-25".into()),
            tool: "write_file".into(),
            arguments_digest: "sha256:ef".into(),
            arguments: None,
            decision: Decision::RateLimited,
            reason: Code::RateLimited,
            message: "m".into(),
            latency_ms: None,
            result: None,
        }))
        .unwrap();
        assert_eq!(record["event"], "tool-call");
        assert_eq!(record["decision"], "rate-limited");
        assert_eq!(record["reason"], "rate-limited");
        assert!(record.get("arguments").is_none());
        let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "arguments_digest",
                "client",
                "decision",
                "event",
                "latency_ms",
                "message",
                "protocol",
                "reason",
                "result",
                "server",
                "tool"
            ]
        );
    }
}
