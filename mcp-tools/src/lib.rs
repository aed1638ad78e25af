//! What an MCP server says about its tools, pinned, compared and checked.
//!
//! - [`describe_server`]: a minimal MCP stdio client that starts a server,
//!   reads `initialize`, every page of `tools/list` (and prompts and resources
//!   when advertised), and shuts it down (the whole process group).
//! - [`build_section`] / [`read_section`]: the canonical tools payload
//!   ([`mcpin_attestation::ToolsSection`]: RFC 8785, tools sorted by name, one
//!   digest over the payload and one per tool), built from a server's answers
//!   or read back with every digest recomputed.
//! - [`capture_artifact`]: capture from an npm tarball or wheel, installed into
//!   a scratch directory with install scripts disabled.
//! - [`check_pinned`]: does an observed payload equal the signed one.
//! - [`diff()`]: added, removed and changed tools, field by field.
//! - [`lint()`]: deterministic tool-poisoning rules ([`RULES`]); [`lint_text`] applies the
//!   rules that read any string to a tool's result; [`cross_server`]: checks across the
//!   servers of one configuration ([`CROSS_RULES`]).
//! - [`hints`]: a tool's annotations with the MCP defaults applied.
//!
//! It does not sign or verify signatures (`mcpin-verifier` does), call tools,
//! or speak MCP over HTTP.

mod canonical;
mod client;
mod cross;
mod diff;
mod lint;
mod scratch;

pub use canonical::{
    PayloadError, build_section, canonical_bytes, jcs_digest, parse_section, read_section, seal,
    section_bytes, tool_digest, verify_section,
};
pub use client::{
    ClientError, ClientOptions, PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, ServerDescription,
    describe_server,
};
pub use cross::{CROSS_RULES, CrossFinding, CrossRule, Server, cross_server};
pub use diff::{JsonChange, TextChange, TextRun, ToolChange, ToolsDiff, diff};
pub use lint::{
    Class, Example, ExampleAt, Finding, Hit, JSON_SCHEMA_VERSION, LintReport, LintedFile, Location,
    Matcher, Place, RULES, Rule, Scope, Severity, Site, highest_severity, json_report, lint,
    lint_text, render_text, rules_markdown, sarif,
};
pub use scratch::{ArtifactServer, Isolation, ScratchError, capture_artifact, confine};

use mcpin_attestation::ToolsSection;

/// Why an observed tools payload is not the signed one. [`code`](Self::code) is stable.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("tools-missing: the signed statement has no tools section to compare the tools with")]
    Missing,
    #[error("tools-malformed: the signed tools section does not check: {0}")]
    SignedMalformed(PayloadError),
    #[error(
        "tools-mismatch: the tools ({observed}) differ from the signed tools ({signed}): {summary}"
    )]
    Mismatch {
        signed: String,
        observed: String,
        summary: String,
    },
}

impl PinError {
    /// The stable, kebab-case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            PinError::Missing => "tools-missing",
            PinError::SignedMalformed(_) => "tools-malformed",
            PinError::Mismatch { .. } => "tools-mismatch",
        }
    }
}

/// Checks that `observed` (already read with its digests checked) is exactly
/// the `signed` tools section.
pub fn check_pinned(
    signed: Option<&ToolsSection>,
    observed: &ToolsSection,
) -> Result<(), PinError> {
    let signed = signed.ok_or(PinError::Missing)?;
    verify_section(signed).map_err(PinError::SignedMalformed)?;
    if signed.digest == observed.digest {
        return Ok(());
    }
    Err(PinError::Mismatch {
        signed: signed.digest.clone(),
        observed: observed.digest.clone(),
        summary: diff(signed, observed).summary(),
    })
}

/// What a tool's annotations say, with the MCP defaults applied: `readOnlyHint` false,
/// `destructiveHint` true (meaningful only when not read-only), `openWorldHint` true. Applied
/// to signed tools, this is what policy acts on (launch rules and the runtime guard alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolHints {
    pub read_only: bool,
    pub destructive: bool,
    pub open_world: bool,
}

/// The [`ToolHints`] of `tool`. A hint that is not a boolean counts as absent.
pub fn hints(tool: &mcpin_attestation::Tool) -> ToolHints {
    let hint = |key: &str| {
        tool.annotations
            .as_ref()
            .and_then(|annotations| annotations.get(key))
            .and_then(serde_json::Value::as_bool)
    };
    let read_only = hint("readOnlyHint") == Some(true);
    ToolHints {
        read_only,
        destructive: !read_only && hint("destructiveHint") != Some(false),
        open_world: hint("openWorldHint") != Some(false),
    }
}

/// RFC 6901 escaping of one JSON pointer token (`~` → `~0`, `/` → `~1`).
fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
