//! The runtime guard: what was signed is what the agent sees while the server runs.
//!
//! [`run`] sits between an MCP client and a server as a stdio proxy (newline-delimited
//! JSON-RPC, both protocol eras: the 2025 `initialize` handshake and the stateless
//! 2026-07-28 protocol). It
//! - lets every `tools/list` page through only as the signed tools (compared by the per-tool
//!   digest `mcpin tools` signs; `ttlMs`, `cacheScope`, `resultType` and result `_meta` are
//!   per-response and pass as they are), and the instructions only as signed. A changed or
//!   unsigned tool stops the server (`on-drift = "deny"`) or is hidden and refused (`filter`);
//! - gates every `tools/call`: unknown, drifted and policy-hidden tools (destructive under
//!   `deny`, users/groups, data classes) are refused before the server sees them; arguments
//!   must validate against the signed `inputSchema`; token buckets per server and per tool;
//!   destructive tools under `ask` wait for a human (2025 elicitation request, 2026
//!   input-required round trip, or `approval-command`);
//! - checks results: `structuredContent` against the signed `outputSchema`, and with
//!   `scan-outputs` the text against the lint's injection rules;
//! - records every call, drift, approval and stop through an [`AuditSink`];
//! - fails closed: malformed JSON (duplicate keys included), batches from the server, or a
//!   message over [`MAX_MESSAGE_BYTES`] stop the server. Memory is bounded by the largest
//!   message: lines are streamed, never a whole session.
//!
//! What it does not do: start or signal processes (the caller passes the server's streams and
//! a function that stops it, see `mcpin-launcher`'s `exec`), load policy or verify signatures
//! (it takes the verified tools and the validated `[runtime]` policy), or speak MCP over HTTP.
//! Methods it does not know pass through untouched.

mod approval;
mod audit;
mod catalog;
mod ratelimit;
mod reason;
mod redact;
mod relay;
mod wire;

use std::io::{Read, Write};
use std::sync::Arc;

pub use audit::{
    Approval, AuditSink, CallResult, Decision, Drift, Event, ServerRef, StopRecord, ToolCall,
};
pub use catalog::{Account, DATA_CLASS_META};
use mcpin_attestation::ToolsSection;
use mcpin_verifier::policy::RuntimePolicy;
pub use reason::Code;
pub use wire::MAX_MESSAGE_BYTES;

/// The verified server the guard stands in front of.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    pub purl: String,
    /// sha256 of the verified artifact, lowercase hex.
    pub sha256: String,
}

/// Everything the guard decides with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The signed tools (from the verified package statement).
    pub tools: ToolsSection,
    /// `[runtime]` of the policy the launch was allowed under.
    pub runtime: RuntimePolicy,
    /// `mcpin run --llm-provider` / `MCPIN_LLM_PROVIDER`.
    pub llm_provider: Option<String>,
    /// The OS account `users` / `groups` are matched against.
    pub account: Account,
    pub server: ServerIdentity,
}

/// The four byte streams: the client's side (our stdin/stdout) and the server's.
pub struct Streams {
    pub client_in: Box<dyn Read + Send>,
    pub client_out: Box<dyn Write + Send>,
    pub server_in: Box<dyn Write + Send>,
    pub server_out: Box<dyn Read + Send>,
}

/// Why the guard stopped the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub code: Code,
    pub message: String,
}

/// How a guarded session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The server closed its stdout (it exited, or the client closed and it finished).
    ServerClosed,
    /// The guard stopped the server.
    Stopped(Stop),
}

/// Relays `streams` until the server's stdout closes or the guard stops the server
/// (`stop_server` is called once then; it should end the server and its children). Records go
/// to `audit` from a thread of their own; they are all written when this returns.
pub fn run(
    config: Config,
    streams: Streams,
    audit: Box<dyn AuditSink>,
    stop_server: Box<dyn Fn() + Send + Sync>,
) -> Ended {
    let Streams {
        client_in,
        client_out,
        server_in,
        server_out,
    } = streams;
    let (queue, events) = std::sync::mpsc::channel();
    let relay = Arc::new(relay::Relay::new(
        config,
        client_out,
        server_in,
        queue,
        stop_server,
    ));
    let writer = {
        let relay = Arc::clone(&relay);
        std::thread::spawn(move || {
            audit::writer(audit, events, |error| {
                relay.stop(
                    Code::AuditFailed,
                    format!("the audit log cannot be written: {error}"),
                )
            })
        })
    };
    {
        let relay = Arc::clone(&relay);
        // Not joined: it may be blocked reading a client that never closes its end.
        std::thread::spawn(move || relay.client_loop(client_in));
    }
    relay.server_loop(server_out);
    relay.finish();
    let _ = writer.join();
    match relay.stopped() {
        Some(stop) => Ended::Stopped(stop),
        None => Ended::ServerClosed,
    }
}
