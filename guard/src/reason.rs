//! Stable, kebab-case reason codes: in audit records, in the `data.reason` of the JSON-RPC
//! errors the guard answers with, and on stderr.

use serde::Serialize;

/// Why the guard decided what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    // A call went to the server.
    /// The tool is signed, unchanged, and the policy allows the call.
    ToolAllowed,
    /// A human approved the call through MCP elicitation (2025 request or 2026 input round trip).
    ApprovedByElicitation,
    /// `approval-command` exited 0.
    ApprovedByCommand,
    // A call was refused before the server saw it.
    /// The tool is not in the signed set.
    ToolUnknown,
    /// The server listed the tool differently from its signature (`on-drift = "filter"`).
    ToolDrifted,
    /// Destructive per its signed annotations, and `destructive = "deny"`.
    DestructiveDenied,
    /// `[runtime.tools."NAME"] users/groups` do not name the account.
    UserNotAllowed,
    /// The tool's data class does not allow the declared LLM provider (or none is declared).
    DataClassDenied,
    /// The signed `inputSchema` cannot be compiled, so no call can be checked.
    SchemaUnusable,
    /// The arguments do not validate against the signed `inputSchema`.
    ArgumentsInvalid,
    /// A token bucket (server or tool) is empty.
    RateLimited,
    /// The human declined (or dismissed) the question.
    ApprovalDeclined,
    /// `destructive = "ask"`, and neither elicitation nor `approval-command` is available.
    ApprovalUnavailable,
    /// Nobody answered within `approval-timeout`.
    ApprovalTimeout,
    /// A 2026 retry carried a `requestState` the guard did not issue for this call.
    ApprovalStateInvalid,
    /// The client reused the id of a request still in flight.
    DuplicateRequestId,
    /// A request the guard cannot route (no usable id, a batch).
    InvalidRequest,
    // A result was replaced.
    /// `structuredContent` does not validate against the signed `outputSchema`.
    OutputInvalid,
    /// `scan-outputs`: the result carries a lint finding worse than allowed.
    OutputInjection,
    /// The server answered with something only the guard may send.
    ServerProtocolViolation,
    // Drift.
    /// A listed tool differs from its signed definition.
    ToolChanged,
    /// A listed tool is not in the signed set.
    ToolUnsigned,
    /// The server's instructions differ from the signed ones.
    InstructionsChanged,
    /// A listed prompt differs from its signed definition.
    PromptChanged,
    /// A listed prompt is not in the signed set.
    PromptUnsigned,
    /// `prompts/get` of a prompt the server listed differently from its signature
    /// (`on-drift = "filter"`).
    PromptDrifted,
    // The guard stopped the server.
    /// `on-drift = "deny"` and the server listed a changed or unsigned tool or prompt, or
    /// changed instructions.
    DriftDenied,
    /// A message that is not one strict JSON object (also: duplicate keys, batches from the server).
    MalformedJson,
    /// A message over 16 MiB.
    MessageTooLarge,
    /// The audit log could not be written.
    AuditFailed,
    /// Reading or writing a stream failed.
    StreamFailed,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ToolAllowed => "tool-allowed",
            Code::ApprovedByElicitation => "approved-by-elicitation",
            Code::ApprovedByCommand => "approved-by-command",
            Code::ToolUnknown => "tool-unknown",
            Code::ToolDrifted => "tool-drifted",
            Code::DestructiveDenied => "destructive-denied",
            Code::UserNotAllowed => "user-not-allowed",
            Code::DataClassDenied => "data-class-denied",
            Code::SchemaUnusable => "schema-unusable",
            Code::ArgumentsInvalid => "arguments-invalid",
            Code::RateLimited => "rate-limited",
            Code::ApprovalDeclined => "approval-declined",
            Code::ApprovalUnavailable => "approval-unavailable",
            Code::ApprovalTimeout => "approval-timeout",
            Code::ApprovalStateInvalid => "approval-state-invalid",
            Code::DuplicateRequestId => "duplicate-request-id",
            Code::InvalidRequest => "invalid-request",
            Code::OutputInvalid => "output-invalid",
            Code::OutputInjection => "output-injection",
            Code::ServerProtocolViolation => "server-protocol-violation",
            Code::ToolChanged => "tool-changed",
            Code::ToolUnsigned => "tool-unsigned",
            Code::InstructionsChanged => "instructions-changed",
            Code::PromptChanged => "prompt-changed",
            Code::PromptUnsigned => "prompt-unsigned",
            Code::PromptDrifted => "prompt-drifted",
            Code::DriftDenied => "drift-denied",
            Code::MalformedJson => "malformed-json",
            Code::MessageTooLarge => "message-too-large",
            Code::AuditFailed => "audit-failed",
            Code::StreamFailed => "stream-failed",
        }
    }

    /// Every code, for documentation and the uniqueness test.
    pub const ALL: [Code; 31] = [
        Code::ToolAllowed,
        Code::ApprovedByElicitation,
        Code::ApprovedByCommand,
        Code::ToolUnknown,
        Code::ToolDrifted,
        Code::DestructiveDenied,
        Code::UserNotAllowed,
        Code::DataClassDenied,
        Code::SchemaUnusable,
        Code::ArgumentsInvalid,
        Code::RateLimited,
        Code::ApprovalDeclined,
        Code::ApprovalUnavailable,
        Code::ApprovalTimeout,
        Code::ApprovalStateInvalid,
        Code::DuplicateRequestId,
        Code::InvalidRequest,
        Code::OutputInvalid,
        Code::OutputInjection,
        Code::ServerProtocolViolation,
        Code::ToolChanged,
        Code::ToolUnsigned,
        Code::InstructionsChanged,
        Code::PromptChanged,
        Code::PromptUnsigned,
        Code::PromptDrifted,
        Code::DriftDenied,
        Code::MalformedJson,
        Code::MessageTooLarge,
        Code::AuditFailed,
        Code::StreamFailed,
    ];
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
