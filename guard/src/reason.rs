//! Stable, kebab-case reason codes: in audit records, in the `data.reason` of the JSON-RPC
//! errors the guard answers with, and on stderr. Listed in the generated codes reference.

use serde::Serialize;

mcpin_verifier::stable_codes! {
    /// Why the guard decided what it did.
    pub enum Code {
    ToolAllowed = "tool-allowed": "the tool is signed, unchanged, and the policy allows the call",
    ApprovedByElicitation = "approved-by-elicitation": "a human approved the call through MCP elicitation (2025 request or 2026 input round trip)",
    ApprovedByCommand = "approved-by-command": "`approval-command` exited 0",
    ToolUnknown = "tool-unknown": "the tool is not in the signed set",
    ToolDrifted = "tool-drifted": "the server listed the tool differently from its signature (`on-drift = \"filter\"`)",
    DestructiveDenied = "destructive-denied": "destructive per its signed annotations, and `destructive = \"deny\"`",
    UserNotAllowed = "user-not-allowed": "`[runtime.tools.\"NAME\"] users/groups` do not name the account",
    DataClassDenied = "data-class-denied": "the tool's data class does not allow the declared LLM provider (or none is declared)",
    SchemaUnusable = "schema-unusable": "the signed `inputSchema` cannot be compiled, so no call can be checked",
    ArgumentsInvalid = "arguments-invalid": "the arguments do not validate against the signed `inputSchema`",
    RateLimited = "rate-limited": "a token bucket (server or tool) is empty",
    ApprovalDeclined = "approval-declined": "the human declined (or dismissed) the question",
    ApprovalUnavailable = "approval-unavailable": "`destructive = \"ask\"`, and neither elicitation nor `approval-command` is available",
    ApprovalTimeout = "approval-timeout": "nobody answered within `approval-timeout`",
    ApprovalStateInvalid = "approval-state-invalid": "a 2026 retry carried a `requestState` the guard did not issue for this call",
    DuplicateRequestId = "duplicate-request-id": "the client reused the id of a request still in flight",
    InvalidRequest = "invalid-request": "a request the guard cannot route (no usable id, a batch)",
    OutputInvalid = "output-invalid": "`structuredContent` does not validate against the signed `outputSchema`",
    OutputInjection = "output-injection": "`scan-outputs`: the result carries a lint finding worse than allowed",
    ServerProtocolViolation = "server-protocol-violation": "the server answered with something only the guard may send",
    ToolChanged = "tool-changed": "a listed tool differs from its signed definition",
    ToolUnsigned = "tool-unsigned": "a listed tool is not in the signed set",
    InstructionsChanged = "instructions-changed": "the server's instructions differ from the signed ones",
    PromptChanged = "prompt-changed": "a listed prompt differs from its signed definition",
    PromptUnsigned = "prompt-unsigned": "a listed prompt is not in the signed set",
    PromptDrifted = "prompt-drifted": "`prompts/get` of a prompt the server listed differently from its signature (`on-drift = \"filter\"`)",
    DriftDenied = "drift-denied": "`on-drift = \"deny\"` and the server listed a changed or unsigned tool or prompt, or changed instructions",
    MalformedJson = "malformed-json": "a message that is not one strict JSON object (also: duplicate keys, batches from the server)",
    MessageTooLarge = "message-too-large": "a message over 16 MiB",
    AuditFailed = "audit-failed": "the audit log could not be written",
    StreamFailed = "stream-failed": "reading or writing a stream failed",
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_serialize_as_written() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "duplicate code {text}");
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert_eq!(serde_json::to_value(code).unwrap(), text);
        }
    }
}
