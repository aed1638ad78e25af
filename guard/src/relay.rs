//! The two directions of the proxy and the state they share: requests in flight, calls held
//! for a human, drifted tools, token buckets.
//!
//! Each direction runs on its own thread and handles its messages as they arrive; state is
//! taken under one lock, and every write happens after the lock is released, so a side that
//! stops reading blocks only the writes to it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::approval::{self, CommandAnswer, GUARD_PREFIX, INPUT_KEY};
use crate::audit::{
    Approval, CallResult, Decision, Drift, Event, Queue, ServerRef, StopRecord, ToolCall,
};
use crate::catalog::{Catalog, validate};
use crate::ratelimit::Bucket;
use crate::reason::Code;
use crate::wire::{self, Envelope, Line, LineReader, MAX_MESSAGE_BYTES, RequestId, WireError};
use crate::{Config, Stop};

use mcpin_verifier::policy::{DestructiveMode, OnDrift};

/// Client requests in flight at once; past that, requests are refused (memory stays bounded).
const MAX_IN_FLIGHT: usize = 4096;

/// The 2026-07-28 request `_meta` keys.
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_CLIENT: &str = "io.modelcontextprotocol/clientInfo";

/// JSON-RPC error codes the guard answers with.
const INVALID_PARAMS: i64 = -32602;
const INVALID_REQUEST: i64 = -32600;
/// Refused by the guard's policy (implementation-defined server error range).
const REFUSED: i64 = -32030;

/// The first protocol version without a handshake: requests carry their version in `_meta`.
fn is_modern(version: &str) -> bool {
    version >= "2026-07-28"
}

/// A request the client is waiting on.
enum Pending {
    Initialize,
    Discover,
    ToolsList,
    PromptsList,
    Call(Call),
    /// A call waiting for a human; the server has not seen it.
    Held,
    Other,
}

/// A call on its way, for its audit record.
#[derive(Clone)]
struct Call {
    tool: String,
    arguments_digest: String,
    arguments: Option<Value>,
    protocol: Option<String>,
    client: Option<String>,
    decision: Decision,
    reason: Code,
    message: String,
    sent: Instant,
}

/// A call held for a human, with the bytes to send the server once approved.
struct Held {
    client_id: RequestId,
    call: Call,
    line: Vec<u8>,
    via: &'static str,
}

/// A 2026 input-required question the guard asked: the retry must be the same call.
struct Asked {
    tool: String,
    arguments_digest: String,
    expires: Instant,
}

#[derive(Default)]
struct State {
    pending: HashMap<RequestId, Pending>,
    /// Requests from the server the client has not answered yet.
    server_requests: HashSet<RequestId>,
    /// The guard's own `elicitation/create` requests to the client (2025).
    elicitations: HashMap<RequestId, Held>,
    /// Calls held for `approval-command`, by client id.
    commands: HashMap<RequestId, Held>,
    /// The guard's own `requestState` tokens (2026).
    asked: HashMap<String, Asked>,
    /// Tools the server listed differently from their signature (`filter`): refused from then on.
    drifted: HashSet<String>,
    /// Prompts the server listed differently from their signature (`filter`): `prompts/get` of
    /// them is refused from then on.
    drifted_prompts: HashSet<String>,
    server_bucket: Option<Bucket>,
    tool_buckets: HashMap<String, Bucket>,
    client_name: Option<String>,
    protocol: Option<String>,
    /// The client declared elicitation in `initialize` (2025).
    elicitation: bool,
    next_id: u64,
}

/// What one message leads to, written after the state lock is released.
#[derive(Default)]
struct Out {
    /// Relay the message as it came, to the other side (it is not copied).
    pass: bool,
    to_client: Vec<Vec<u8>>,
    to_server: Vec<Vec<u8>>,
    stop: Option<(Code, String)>,
}

/// Where a message came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum From {
    Client,
    Server,
}

/// Read buffers grow to the largest message; past this they are given back after it.
const KEEP_BUFFER: usize = 1024 * 1024;

pub(crate) struct Relay {
    config: Config,
    catalog: Catalog,
    server: ServerRef,
    state: Mutex<State>,
    client_out: Mutex<Box<dyn Write + Send>>,
    server_in: Mutex<Option<Box<dyn Write + Send>>>,
    audit: Mutex<Option<Queue>>,
    stopped: Mutex<Option<Stop>>,
    stop_server: Box<dyn Fn() + Send + Sync>,
}

impl Relay {
    pub(crate) fn new(
        config: Config,
        client_out: Box<dyn Write + Send>,
        server_in: Box<dyn Write + Send>,
        audit: Queue,
        stop_server: Box<dyn Fn() + Send + Sync>,
    ) -> Relay {
        let catalog = Catalog::new(
            &config.tools,
            &config.runtime,
            config.llm_provider.as_deref(),
            &config.account,
        );
        let server = ServerRef {
            purl: config.server.purl.clone(),
            sha256: config.server.sha256.clone(),
            tools_digest: catalog.tools_digest.clone(),
        };
        let now = Instant::now();
        let state = State {
            server_bucket: config
                .runtime
                .rate_limit
                .map(|limit| Bucket::new(limit, now)),
            tool_buckets: config
                .runtime
                .tools
                .iter()
                .filter_map(|(name, rules)| {
                    rules
                        .rate_limit
                        .map(|limit| (name.clone(), Bucket::new(limit, now)))
                })
                .collect(),
            ..State::default()
        };
        Relay {
            config,
            catalog,
            server,
            state: Mutex::new(state),
            client_out: Mutex::new(client_out),
            server_in: Mutex::new(Some(server_in)),
            audit: Mutex::new(Some(audit)),
            stopped: Mutex::new(None),
            stop_server,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stopped(&self) -> Option<Stop> {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record(&self, event: Event) {
        if let Some(queue) = self
            .audit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            // A closed queue means the writer failed, which has already stopped the guard.
            let _ = queue.send(event);
        }
    }

    /// Stops the server (once): the reason is kept, recorded and printed.
    pub(crate) fn stop(&self, code: Code, message: String) {
        {
            let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
            if stopped.is_some() {
                return;
            }
            *stopped = Some(Stop {
                code,
                message: message.clone(),
            });
        }
        eprintln!("mcpin guard: stopping the server: {message} [{code}]");
        if code != Code::AuditFailed {
            self.record(Event::GuardStop(StopRecord {
                server: self.server.clone(),
                reason: code,
                message,
            }));
        }
        (self.stop_server)();
    }

    /// Writes `out` (after the state lock is gone), with `message` if it passes, and stops
    /// if `out` says so.
    fn deliver(&self, out: Out, message: &[u8], from: From) {
        let pass = out.pass.then_some(message);
        if self.stopped().is_none() {
            let passed = pass.filter(|_| from == From::Server);
            for line in out.to_client.iter().map(Vec::as_slice).chain(passed) {
                if let Err(error) = self.write_client(line) {
                    self.stop(
                        Code::StreamFailed,
                        format!("writing to the client: {error}"),
                    );
                    return;
                }
            }
            let passed = pass.filter(|_| from == From::Client);
            for line in out.to_server.iter().map(Vec::as_slice).chain(passed) {
                let mut server = self.server_in.lock().unwrap_or_else(|e| e.into_inner());
                let newline: &[u8] = if line.ends_with(b"\n") { b"" } else { b"\n" };
                if let Some(writer) = server.as_mut()
                    && let Err(error) = writer
                        .write_all(line)
                        .and_then(|()| writer.write_all(newline))
                        .and_then(|()| writer.flush())
                {
                    drop(server);
                    self.stop(
                        Code::StreamFailed,
                        format!("writing to the server: {error}"),
                    );
                    return;
                }
            }
        }
        if let Some((code, message)) = out.stop {
            self.stop(code, message);
        }
    }

    fn write_client(&self, line: &[u8]) -> io::Result<()> {
        let mut client = self.client_out.lock().unwrap_or_else(|e| e.into_inner());
        client.write_all(line)?;
        if !line.ends_with(b"\n") {
            client.write_all(b"\n")?;
        }
        client.flush()
    }

    // ----- client → server ---------------------------------------------------------------

    /// Reads the client until it closes its end (then closes the server's stdin) or the guard stops.
    pub(crate) fn client_loop(self: Arc<Self>, client_in: impl Read) {
        if self.pump(client_in, From::Client) {
            // The client is gone: the server sees EOF and may finish.
            self.server_in
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
        }
    }

    /// Reads one side message by message, each through its handler and on to the other side,
    /// until that side closes its end (true) or the guard stops (false).
    fn pump(self: &Arc<Self>, input: impl Read, from: From) -> bool {
        let side = match from {
            From::Client => "client",
            From::Server => "server",
        };
        let mut reader = LineReader::new(input, MAX_MESSAGE_BYTES);
        let mut buffer = Vec::new();
        loop {
            if self.stopped().is_some() {
                return false;
            }
            match reader.read(&mut buffer) {
                Ok(Line::Message) => {
                    let out = match from {
                        From::Client => self.on_client(&buffer),
                        From::Server => self.on_server(&buffer),
                    };
                    self.deliver(out, &buffer, from);
                    if buffer.capacity() > KEEP_BUFFER {
                        buffer = Vec::new();
                    }
                }
                Ok(Line::TooLarge) => {
                    self.stop(
                        Code::MessageTooLarge,
                        format!("the {side} sent a message over {MAX_MESSAGE_BYTES} bytes"),
                    );
                    return false;
                }
                Ok(Line::Eof) => return true,
                Err(error) => {
                    self.stop(Code::StreamFailed, format!("reading the {side}: {error}"));
                    return false;
                }
            }
        }
    }

    fn on_client(self: &Arc<Self>, line: &[u8]) -> Out {
        let mut out = Out::default();
        if line.iter().all(u8::is_ascii_whitespace) {
            return out;
        }
        if let Err(error) = wire::check(line) {
            if matches!(error, WireError::Batch) {
                out.to_client.push(error_line(
                    &Value::Null,
                    INVALID_REQUEST,
                    "mcpin guard: JSON-RPC batches are not supported".into(),
                    Code::InvalidRequest,
                    None,
                ));
                return out;
            }
            out.stop = Some((
                Code::MalformedJson,
                format!("the client sent a malformed message: {error}"),
            ));
            return out;
        }
        let envelope = match Envelope::parse(line) {
            Ok(envelope) => envelope,
            Err(error) => {
                out.stop = Some((
                    Code::MalformedJson,
                    format!("the client sent a malformed message: {error}"),
                ));
                return out;
            }
        };
        let mut state = self.state();
        match (&envelope.method, envelope.request_id()) {
            (Some(method), Some(Ok(id))) => {
                self.client_request(&mut state, method, id, &envelope, line, &mut out)
            }
            (Some(_), Some(Err(()))) => {
                let id = envelope.id.map(wire::value).unwrap_or(Value::Null);
                out.to_client.push(error_line(
                    &id,
                    INVALID_REQUEST,
                    "mcpin guard: a request id must be a string or an integer".into(),
                    Code::InvalidRequest,
                    None,
                ));
            }
            (Some(method), None) => {
                if matches!(method.as_ref(), "tools/call" | "tools/list") {
                    // Without an id nothing can answer or track it; never let it through unchecked.
                    eprintln!(
                        "mcpin guard: dropped a `{method}` without a request id from the client [invalid-request]"
                    );
                } else {
                    if method == "notifications/cancelled" {
                        self.cancelled(&mut state, envelope.params);
                    }
                    out.pass = true;
                }
            }
            (None, id) => {
                // A response: to one of the guard's questions, or to the server.
                let id = id.and_then(Result::ok);
                if let Some(id) = id.as_ref()
                    && let Some(held) = state.elicitations.remove(id)
                {
                    let answer = envelope.result.map(wire::value);
                    let outcome = if approval::approves(answer.as_ref()) {
                        Ok(Code::ApprovedByElicitation)
                    } else {
                        Err(Code::ApprovalDeclined)
                    };
                    self.resolve(&mut state, held, outcome, &mut out);
                } else {
                    if let Some(id) = id.as_ref() {
                        state.server_requests.remove(id);
                    }
                    out.pass = true;
                }
            }
        }
        out
    }

    fn client_request(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        id: RequestId,
        envelope: &Envelope,
        line: &[u8],
        out: &mut Out,
    ) {
        if state.pending.contains_key(&id) {
            out.to_client.push(error_line(
                &id.to_value(),
                INVALID_REQUEST,
                format!("mcpin guard: request id {id} is already in flight"),
                Code::DuplicateRequestId,
                None,
            ));
            return;
        }
        if state.pending.len() >= MAX_IN_FLIGHT {
            out.to_client.push(error_line(
                &id.to_value(),
                INVALID_REQUEST,
                format!("mcpin guard: more than {MAX_IN_FLIGHT} requests in flight"),
                Code::InvalidRequest,
                None,
            ));
            return;
        }
        // Only the request `_meta` is read of most requests: their params may be large.
        if let Some(name) = envelope
            .params
            .and_then(|params| serde_json::from_str::<MetaOnly>(params.get()).ok())
            .and_then(|params| params.meta)
            .and_then(|meta| {
                meta.get(META_CLIENT)?
                    .get("name")?
                    .as_str()
                    .map(str::to_owned)
            })
        {
            state.client_name = Some(name);
        }
        let params = || envelope.params.map(wire::value);
        let kind = match method {
            "initialize" => {
                if let Some(params) = &params() {
                    state.elicitation = params
                        .get("capabilities")
                        .and_then(|c| c.get("elicitation"))
                        .is_some_and(Value::is_object);
                    if let Some(name) = params
                        .get("clientInfo")
                        .and_then(|c| c.get("name"))
                        .and_then(Value::as_str)
                    {
                        state.client_name = Some(name.to_owned());
                    }
                }
                Pending::Initialize
            }
            "server/discover" => Pending::Discover,
            "tools/list" => Pending::ToolsList,
            "prompts/list" => Pending::PromptsList,
            "prompts/get" => {
                let name =
                    params().and_then(|p| p.get("name").and_then(Value::as_str).map(str::to_owned));
                if let Some(name) = name.filter(|name| state.drifted_prompts.contains(name)) {
                    let message = format!(
                        "prompt `{name}` was listed differently from its signed definition; it is refused"
                    );
                    eprintln!("mcpin guard: {message} [prompt-drifted]");
                    out.to_client.push(error_line(
                        &id.to_value(),
                        REFUSED,
                        format!("mcpin guard: {message}"),
                        Code::PromptDrifted,
                        None,
                    ));
                    return;
                }
                Pending::Other
            }
            "tools/call" => {
                return self.gate(state, id, params().unwrap_or(Value::Null), line, out);
            }
            _ => Pending::Other,
        };
        state.pending.insert(id, kind);
        out.pass = true;
    }

    fn cancelled(&self, state: &mut State, params: Option<&RawValue>) {
        let Some(id) = params
            .map(wire::value)
            .and_then(|p| p.get("requestId").and_then(RequestId::from_value))
        else {
            return;
        };
        // A call held for a human is dropped; its question is withdrawn with it.
        if matches!(state.pending.get(&id), Some(Pending::Held)) {
            state.pending.remove(&id);
            state.elicitations.retain(|_, held| held.client_id != id);
            state.commands.remove(&id);
        }
    }

    /// The call gate: a `tools/call` goes to the server, is held for a human, or is refused.
    fn gate(
        self: &Arc<Self>,
        state: &mut State,
        id: RequestId,
        mut params: Value,
        line: &[u8],
        out: &mut Out,
    ) {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        // Taken out (not copied: it may be most of a 16 MiB message), put back to ask.
        let arguments = params
            .as_object_mut()
            .and_then(|params| params.remove("arguments"))
            .unwrap_or_else(|| Value::Object(Map::new()));
        let meta = params.get("_meta");
        let protocol = meta
            .and_then(|m| m.get(META_VERSION))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| state.protocol.clone());
        let mut call = Call {
            tool: name.clone().unwrap_or_default(),
            arguments_digest: arguments_digest(&arguments),
            arguments: self
                .config
                .runtime
                .log_arguments
                .then(|| crate::redact::for_audit(&arguments)),
            protocol: protocol.clone(),
            client: state.client_name.clone(),
            decision: Decision::Allowed,
            reason: Code::ToolAllowed,
            message: String::new(),
            sent: Instant::now(),
        };
        let Some(name) = name else {
            call.message = "tools/call without a tool name".into();
            return self.refuse(call, &id, INVALID_PARAMS, Code::InvalidRequest, out);
        };
        let Some(tool) = self.catalog.tools.get(&name) else {
            call.message = format!("`{name}` is not a signed tool of {}", self.server.purl);
            return self.refuse(call, &id, INVALID_PARAMS, Code::ToolUnknown, out);
        };
        if state.drifted.contains(&name) {
            call.message = format!(
                "`{name}` was listed differently from its signed definition; its calls are refused"
            );
            return self.refuse(call, &id, REFUSED, Code::ToolDrifted, out);
        }
        if let Some((code, message)) = &tool.hidden {
            call.message = message.clone();
            return self.refuse(call, &id, REFUSED, *code, out);
        }
        let input = match &tool.input {
            Ok(input) => input,
            Err(error) => {
                call.message = format!("the signed inputSchema of `{name}` is unusable: {error}");
                return self.refuse(call, &id, REFUSED, Code::SchemaUnusable, out);
            }
        };
        if !arguments.is_object() {
            call.message = "arguments must be an object".into();
            return self.refuse(call, &id, INVALID_PARAMS, Code::ArgumentsInvalid, out);
        }
        if let Err(error) = validate(input, &arguments) {
            call.message = format!("arguments do not match the signed inputSchema: {error}");
            return self.refuse(call, &id, INVALID_PARAMS, Code::ArgumentsInvalid, out);
        }
        if let Some(limit) = self.rate_limited(state, &name) {
            call.decision = Decision::RateLimited;
            call.message = format!("rate limit {limit} reached");
            return self.refuse(call, &id, REFUSED, Code::RateLimited, out);
        }
        if !(tool.destructive && tool.mode == DestructiveMode::Ask) {
            self.take_tokens(state, &name);
            call.message = "signed tool, allowed by policy".into();
            state.pending.insert(id, Pending::Call(call));
            out.pass = true;
            return;
        }
        if let Some(object) = params.as_object_mut() {
            object.insert("arguments".to_owned(), arguments);
        }
        self.ask(state, id, params, call, line, out);
    }

    /// Destructive and `ask`: a 2026 retry carrying the answer, or a new question.
    fn ask(
        self: &Arc<Self>,
        state: &mut State,
        id: RequestId,
        params: Value,
        mut call: Call,
        line: &[u8],
        out: &mut Out,
    ) {
        let question = approval::question(&self.server.purl, &call.tool, &arguments_of(&params));
        let request_state = params.get("requestState").and_then(Value::as_str);
        if let Some(token) = request_state.filter(|s| s.starts_with(GUARD_PREFIX)) {
            let asked = state.asked.remove(token);
            let valid = asked.as_ref().is_some_and(|asked| {
                asked.tool == call.tool
                    && asked.arguments_digest == call.arguments_digest
                    && asked.expires > Instant::now()
            });
            if !valid {
                call.decision = Decision::Denied;
                call.message =
                    "the requestState was not issued by the guard for this call (or expired)"
                        .into();
                return self.refuse(call, &id, REFUSED, Code::ApprovalStateInvalid, out);
            }
            let answer = params
                .get("inputResponses")
                .and_then(|responses| responses.get(INPUT_KEY));
            let outcome = if approval::approves(answer) {
                Ok(Code::ApprovedByElicitation)
            } else {
                Err(Code::ApprovalDeclined)
            };
            // The server never sees the guard's question or answer.
            let mut stripped = params.clone();
            if let Some(object) = stripped.as_object_mut() {
                object.remove("requestState");
                if let Some(Value::Object(responses)) = object.get_mut("inputResponses") {
                    responses.remove(INPUT_KEY);
                    if responses.is_empty() {
                        object.remove("inputResponses");
                    }
                }
            }
            let message = json!({"jsonrpc": "2.0", "id": id.to_value(), "method": "tools/call", "params": stripped});
            state.pending.insert(id.clone(), Pending::Held);
            let held = Held {
                client_id: id,
                call,
                line: wire::line(&message),
                via: "input-required",
            };
            return self.resolve(state, held, outcome, out);
        }
        let modern = call.protocol.as_deref().is_some_and(is_modern);
        let meta = params.get("_meta");
        if modern {
            let can_elicit = meta
                .and_then(|m| m.get(META_CAPABILITIES))
                .and_then(|c| c.get("elicitation"))
                .is_some_and(Value::is_object);
            if can_elicit {
                let token = self.new_id(state);
                let now = Instant::now();
                state.asked.retain(|_, asked| asked.expires > now);
                state.asked.insert(
                    token.clone(),
                    Asked {
                        tool: call.tool.clone(),
                        arguments_digest: call.arguments_digest.clone(),
                        expires: now + self.config.runtime.approval_timeout,
                    },
                );
                let result = json!({
                    "resultType": "input_required",
                    "inputRequests": {INPUT_KEY: {"method": "elicitation/create", "params": approval::form(&question)}},
                    "requestState": token,
                });
                out.to_client.push(wire::line(
                    &json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result}),
                ));
                return;
            }
        } else if state.elicitation {
            let guard_id = RequestId::guard(&self.new_id(state));
            out.to_client.push(wire::line(&json!({
                "jsonrpc": "2.0", "id": guard_id.to_value(), "method": "elicitation/create",
                "params": approval::form(&question),
            })));
            state.pending.insert(id.clone(), Pending::Held);
            state.elicitations.insert(
                guard_id.clone(),
                Held {
                    client_id: id,
                    call,
                    line: line.to_vec(),
                    via: "elicitation",
                },
            );
            self.expire_later(guard_id);
            return;
        }
        if let Some(command) = self.config.runtime.approval_command.clone() {
            state.pending.insert(id.clone(), Pending::Held);
            state.commands.insert(
                id.clone(),
                Held {
                    client_id: id.clone(),
                    call,
                    line: line.to_vec(),
                    via: "command",
                },
            );
            let relay = Arc::clone(self);
            let timeout = self.config.runtime.approval_timeout;
            std::thread::spawn(move || {
                let answer = approval::run_command(&command, &question, timeout);
                let outcome = match &answer {
                    CommandAnswer::Approved => Ok(Code::ApprovedByCommand),
                    CommandAnswer::Declined(_) => Err(Code::ApprovalDeclined),
                    CommandAnswer::TimedOut => Err(Code::ApprovalTimeout),
                    CommandAnswer::Failed(why) => {
                        eprintln!("mcpin guard: approval-command failed: {why}");
                        Err(Code::ApprovalUnavailable)
                    }
                };
                let mut out = Out::default();
                {
                    let mut state = relay.state();
                    if let Some(held) = state.commands.remove(&id) {
                        relay.resolve(&mut state, held, outcome, &mut out);
                    }
                }
                relay.deliver(out, &[], From::Client);
            });
            return;
        }
        call.decision = Decision::Denied;
        call.message = "destructive tool under `ask`, and the client cannot elicit and no approval-command is set".into();
        self.record(Event::Approval(Approval {
            server: self.server.clone(),
            client: call.client.clone(),
            tool: call.tool.clone(),
            arguments_digest: call.arguments_digest.clone(),
            via: "none",
            outcome: Decision::Denied,
            reason: Code::ApprovalUnavailable,
            message: call.message.clone(),
        }));
        self.refuse(call, &id, REFUSED, Code::ApprovalUnavailable, out);
    }

    /// After `approval-timeout`, a question still open denies its call.
    fn expire_later(self: &Arc<Self>, guard_id: RequestId) {
        let relay = Arc::clone(self);
        let timeout = self.config.runtime.approval_timeout;
        std::thread::spawn(move || {
            std::thread::sleep(timeout);
            let mut out = Out::default();
            {
                let mut state = relay.state();
                if let Some(held) = state.elicitations.remove(&guard_id) {
                    relay.resolve(&mut state, held, Err(Code::ApprovalTimeout), &mut out);
                }
            }
            relay.deliver(out, &[], From::Client);
        });
    }

    /// A human's answer to a held call: send it to the server, or refuse it.
    fn resolve(&self, state: &mut State, held: Held, outcome: Result<Code, Code>, out: &mut Out) {
        let Held {
            client_id,
            mut call,
            line,
            via,
        } = held;
        if !matches!(state.pending.get(&client_id), Some(Pending::Held)) {
            // Cancelled meanwhile.
            return;
        }
        state.pending.remove(&client_id);
        let approved = outcome.is_ok();
        let reason = match outcome {
            Ok(code) | Err(code) => code,
        };
        call.message = match reason {
            Code::ApprovedByElicitation => "a human approved the call (elicitation)".to_owned(),
            Code::ApprovedByCommand => "approval-command approved the call".to_owned(),
            Code::ApprovalTimeout => "nobody answered within approval-timeout".to_owned(),
            Code::ApprovalUnavailable => "approval-command could not run".to_owned(),
            _ => "the human declined the call".to_owned(),
        };
        self.record(Event::Approval(Approval {
            server: self.server.clone(),
            client: call.client.clone(),
            tool: call.tool.clone(),
            arguments_digest: call.arguments_digest.clone(),
            via,
            outcome: if approved {
                Decision::Approved
            } else {
                Decision::Denied
            },
            reason,
            message: call.message.clone(),
        }));
        if !approved {
            call.decision = Decision::Denied;
            return self.refuse(call, &client_id, REFUSED, reason, out);
        }
        if let Some(limit) = self.rate_limited(state, &call.tool) {
            call.decision = Decision::RateLimited;
            call.message = format!("approved, but rate limit {limit} reached");
            return self.refuse(call, &client_id, REFUSED, Code::RateLimited, out);
        }
        self.take_tokens(state, &call.tool);
        call.decision = Decision::Approved;
        call.reason = reason;
        call.sent = Instant::now();
        state.pending.insert(client_id, Pending::Call(call));
        out.to_server.push(line);
    }

    fn rate_limited(&self, state: &mut State, tool: &str) -> Option<String> {
        let now = Instant::now();
        if let Some(bucket) = state.server_bucket.as_mut()
            && !bucket.ready(now)
        {
            return Some(format!("{} for the server", bucket.limit()));
        }
        if let Some(bucket) = state.tool_buckets.get_mut(tool)
            && !bucket.ready(now)
        {
            return Some(format!("{} for `{tool}`", bucket.limit()));
        }
        None
    }

    fn take_tokens(&self, state: &mut State, tool: &str) {
        if let Some(bucket) = state.server_bucket.as_mut() {
            bucket.take();
        }
        if let Some(bucket) = state.tool_buckets.get_mut(tool) {
            bucket.take();
        }
    }

    fn new_id(&self, state: &mut State) -> String {
        state.next_id += 1;
        format!("{GUARD_PREFIX}{}-{}", std::process::id(), state.next_id)
    }

    /// Answers the client with an error for `call` and records it.
    fn refuse(&self, mut call: Call, id: &RequestId, rpc_code: i64, reason: Code, out: &mut Out) {
        if call.decision == Decision::Allowed {
            call.decision = Decision::Refused;
        }
        call.reason = reason;
        let tool = (!call.tool.is_empty()).then(|| call.tool.clone());
        out.to_client.push(error_line(
            &id.to_value(),
            rpc_code,
            format!("mcpin guard: {}", call.message),
            reason,
            tool,
        ));
        self.record(Event::ToolCall(ToolCall {
            server: self.server.clone(),
            client: call.client,
            protocol: call.protocol,
            tool: call.tool,
            arguments_digest: call.arguments_digest,
            arguments: call.arguments,
            decision: call.decision,
            reason,
            message: call.message,
            latency_ms: None,
            result: None,
        }));
    }

    // ----- server → client ---------------------------------------------------------------

    /// Reads the server until its stdout closes or the guard stops.
    pub(crate) fn server_loop(self: &Arc<Self>, server_out: impl Read) {
        self.pump(server_out, From::Server);
    }

    fn on_server(self: &Arc<Self>, line: &[u8]) -> Out {
        let mut out = Out::default();
        if line.iter().all(u8::is_ascii_whitespace) {
            return out;
        }
        let envelope = match wire::check(line).and_then(|()| Envelope::parse(line)) {
            Ok(envelope) => envelope,
            Err(error) => {
                out.stop = Some((
                    Code::MalformedJson,
                    format!("the server sent a malformed message: {error}"),
                ));
                return out;
            }
        };
        let mut state = self.state();
        if envelope.method.is_some() {
            if let Some(Ok(id)) = envelope.request_id() {
                if id.as_str().is_some_and(|id| id.starts_with(GUARD_PREFIX)) {
                    out.to_server.push(error_line(
                        &id.to_value(),
                        INVALID_REQUEST,
                        format!("request ids starting with `{GUARD_PREFIX}` are reserved"),
                        Code::ServerProtocolViolation,
                        None,
                    ));
                    return out;
                }
                if state.server_requests.len() < MAX_IN_FLIGHT {
                    state.server_requests.insert(id);
                }
            }
            out.pass = true;
            return out;
        }
        let Some(Ok(id)) = envelope.request_id() else {
            if envelope.error.is_some() {
                out.pass = true;
            } else {
                eprintln!("mcpin guard: dropped a result without a request id from the server");
            }
            return out;
        };
        let Some(pending) = state.pending.remove(&id) else {
            eprintln!(
                "mcpin guard: dropped an answer to request {id}, which the client is not waiting for"
            );
            return out;
        };
        match pending {
            Pending::Initialize | Pending::Discover => {
                if let Some(result) = envelope.result {
                    let mut result = wire::value(result);
                    if let Some(version) = result.get("protocolVersion").and_then(Value::as_str) {
                        state.protocol = Some(version.to_owned());
                    }
                    if self.instructions_drift(&state, &id, &mut result, &mut out) {
                        return out;
                    }
                    if out.to_client.is_empty() {
                        out.pass = true;
                    }
                } else {
                    out.pass = true;
                }
            }
            Pending::ToolsList => match envelope.result {
                Some(result) => self.tools_page(&mut state, &id, wire::value(result), &mut out),
                None => out.pass = true,
            },
            Pending::PromptsList => match envelope.result {
                Some(result) => self.prompts_page(&mut state, &id, wire::value(result), &mut out),
                None => out.pass = true,
            },
            Pending::Call(call) => self.call_result(call, &id, &envelope, line, &mut out),
            Pending::Held => {
                // The server answered a call it never received: not possible from a real server.
                state.pending.insert(id.clone(), Pending::Held);
                eprintln!("mcpin guard: dropped an answer to held call {id} from the server");
            }
            Pending::Other => out.pass = true,
        }
        out
    }

    /// Compares the instructions in an `initialize` / `server/discover` result with the signed
    /// ones; returns true when the server is being stopped.
    fn instructions_drift(
        &self,
        state: &State,
        id: &RequestId,
        result: &mut Value,
        out: &mut Out,
    ) -> bool {
        let observed = result.get("instructions").and_then(Value::as_str);
        let signed = self.catalog.instructions.as_deref();
        if observed == signed || observed.is_none() {
            return false;
        }
        let action = self.config.runtime.on_drift;
        self.record(Event::ToolDrift(Drift {
            server: self.server.clone(),
            client: state.client_name.clone(),
            tool: None,
            prompt: None,
            reason: Code::InstructionsChanged,
            signed_digest: signed.map(|text| mcpin_tools::jcs_digest(&text)),
            observed_digest: mcpin_tools::jcs_digest(&observed),
            action: drift_action(action),
        }));
        let message = "the server's instructions differ from the signed instructions".to_owned();
        if action == OnDrift::Deny {
            out.to_client.push(error_line(
                &id.to_value(),
                REFUSED,
                format!("mcpin guard: {message}"),
                Code::DriftDenied,
                None,
            ));
            out.stop = Some((Code::DriftDenied, message));
            return true;
        }
        let object = result.as_object_mut().expect("results are objects");
        match signed {
            Some(signed) => object.insert("instructions".into(), Value::String(signed.to_owned())),
            None => object.remove("instructions"),
        };
        out.to_client.push(wire::line(
            &json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result}),
        ));
        false
    }

    /// One `tools/list` page: every tool must be its signed self.
    fn tools_page(&self, state: &mut State, id: &RequestId, mut result: Value, out: &mut Out) {
        let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
            out.to_client.push(error_line(
                &id.to_value(),
                REFUSED,
                "mcpin guard: the server's tools/list result has no tools array".into(),
                Code::ServerProtocolViolation,
                None,
            ));
            out.stop = Some((
                Code::ServerProtocolViolation,
                "the server's tools/list result has no tools array".into(),
            ));
            return;
        };
        let action = self.config.runtime.on_drift;
        let mut kept = Vec::with_capacity(tools.len());
        let mut drifted = Vec::new();
        for listed in tools.drain(..) {
            let name = listed
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let observed = serde_json::from_value::<mcpin_attestation::Tool>(listed.clone())
                .map(|tool| mcpin_tools::tool_digest(&tool))
                .unwrap_or_else(|_| mcpin_tools::jcs_digest(&listed));
            let signed = name.as_ref().and_then(|name| self.catalog.tools.get(name));
            match signed {
                Some(signed) if signed.digest == observed => {
                    let name = name.expect("a signed tool has a name");
                    if signed.hidden.is_none() && !state.drifted.contains(&name) {
                        kept.push(signed.json.clone());
                    }
                }
                _ => {
                    let name = name.unwrap_or_else(|| "(no name)".to_owned());
                    self.record(Event::ToolDrift(Drift {
                        server: self.server.clone(),
                        client: state.client_name.clone(),
                        tool: Some(name.clone()),
                        prompt: None,
                        reason: if signed.is_some() {
                            Code::ToolChanged
                        } else {
                            Code::ToolUnsigned
                        },
                        signed_digest: signed.map(|s| s.digest.clone()),
                        observed_digest: observed.clone(),
                        action: drift_action(action),
                    }));
                    eprintln!(
                        "mcpin guard: tool `{name}` differs from its signature (signed {}, listed {observed}) [{}]",
                        signed.map_or("nothing", |s| s.digest.as_str()),
                        if signed.is_some() {
                            "tool-changed"
                        } else {
                            "tool-unsigned"
                        },
                    );
                    drifted.push(name);
                }
            }
        }
        if !drifted.is_empty() && action == OnDrift::Deny {
            return drift_denied(id, "tools", &drifted, out);
        }
        state.drifted.extend(drifted);
        *tools = kept;
        out.to_client.push(wire::line(
            &json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result}),
        ));
    }

    /// One `prompts/list` page: every prompt must be as it was listed when the tools were
    /// captured and signed (prompt templates are text the model reads, like tool descriptions).
    fn prompts_page(&self, state: &mut State, id: &RequestId, mut result: Value, out: &mut Out) {
        let Some(prompts) = result.get_mut("prompts").and_then(Value::as_array_mut) else {
            let message = "the server's prompts/list result has no prompts array";
            out.to_client.push(error_line(
                &id.to_value(),
                REFUSED,
                format!("mcpin guard: {message}"),
                Code::ServerProtocolViolation,
                None,
            ));
            out.stop = Some((Code::ServerProtocolViolation, message.into()));
            return;
        };
        let action = self.config.runtime.on_drift;
        let mut drifted = Vec::new();
        prompts.retain(|listed| {
            let name = listed.get("name").and_then(Value::as_str).unwrap_or("(no name)");
            let observed = mcpin_tools::jcs_digest(listed);
            let signed = self.catalog.prompts.get(name);
            if signed == Some(&observed) {
                return !state.drifted_prompts.contains(name);
            }
            self.record(Event::ToolDrift(Drift {
                server: self.server.clone(),
                client: state.client_name.clone(),
                tool: None,
                prompt: Some(name.to_owned()),
                reason: if signed.is_some() {
                    Code::PromptChanged
                } else {
                    Code::PromptUnsigned
                },
                signed_digest: signed.cloned(),
                observed_digest: observed.clone(),
                action: drift_action(action),
            }));
            eprintln!(
                "mcpin guard: prompt `{name}` differs from its signature (signed {}, listed {observed}) [{}]",
                signed.map_or("nothing", String::as_str),
                if signed.is_some() {
                    "prompt-changed"
                } else {
                    "prompt-unsigned"
                },
            );
            drifted.push(name.to_owned());
            false
        });
        if !drifted.is_empty() && action == OnDrift::Deny {
            return drift_denied(id, "prompts", &drifted, out);
        }
        state.drifted_prompts.extend(drifted);
        out.to_client.push(wire::line(
            &json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result}),
        ));
    }

    /// The server's answer to a call: checked against the signed outputSchema (and the lint,
    /// under `scan-outputs`), recorded, and passed on or replaced.
    fn call_result(
        &self,
        call: Call,
        id: &RequestId,
        envelope: &Envelope,
        line: &[u8],
        out: &mut Out,
    ) {
        let latency_ms = Some(call.sent.elapsed().as_secs_f64() * 1000.0);
        let mut result = CallResult {
            is_error: true,
            size: line.len(),
            error_code: None,
            input_required: false,
            replaced: None,
        };
        let mut replaced = None;
        match (envelope.result, envelope.error) {
            (Some(raw), _) => {
                let view: ResultView = serde_json::from_str(raw.get()).unwrap_or_default();
                result.is_error = view.is_error == Some(true);
                if view.result_type.as_deref() == Some("input_required") {
                    result.input_required = true;
                    let claims_guard = view
                        .request_state
                        .as_deref()
                        .is_some_and(|s| s.starts_with(GUARD_PREFIX))
                        || view
                            .input_requests
                            .is_some_and(|r| r.get().contains(&format!("\"{INPUT_KEY}\"")));
                    if claims_guard {
                        result.replaced = Some(Code::ServerProtocolViolation);
                        replaced = Some(replacement(
                            id,
                            &view,
                            "the server's answer imitates the guard's approval question",
                        ));
                    }
                } else if let Some(problem) = self.check_result(&call.tool, &view) {
                    result.replaced = Some(problem.0);
                    replaced = Some(replacement(id, &view, &problem.1));
                    eprintln!(
                        "mcpin guard: withheld the result of `{}`: {} [{}]",
                        call.tool, problem.1, problem.0
                    );
                }
            }
            (None, Some(error)) => {
                result.error_code = wire::value(error).get("code").and_then(Value::as_i64);
            }
            (None, None) => {}
        }
        match replaced {
            Some(line) => out.to_client.push(line),
            None => out.pass = true,
        }
        self.record(Event::ToolCall(ToolCall {
            server: self.server.clone(),
            client: call.client,
            protocol: call.protocol,
            tool: call.tool,
            arguments_digest: call.arguments_digest,
            arguments: call.arguments,
            decision: call.decision,
            reason: result.replaced.unwrap_or(call.reason),
            message: call.message,
            latency_ms,
            result: Some(result),
        }));
    }

    fn check_result(&self, tool: &str, view: &ResultView) -> Option<(Code, String)> {
        let signed = self.catalog.tools.get(tool)?;
        if view.is_error != Some(true)
            && let Some(schema) = &signed.output
        {
            let structured = view.structured.map(wire::value);
            let verdict = match (schema, &structured) {
                (Err(error), _) => Err(format!("the signed outputSchema is unusable: {error}")),
                (Ok(_), None) => {
                    Err("no structuredContent, but the tool signs an outputSchema".to_owned())
                }
                (Ok(schema), Some(value)) => validate(schema, value).map_err(|error| {
                    format!("structuredContent does not match the signed outputSchema: {error}")
                }),
            };
            if let Err(message) = verdict {
                return Some((Code::OutputInvalid, message));
            }
        }
        if self.config.runtime.scan_outputs {
            let max = self.config.runtime.max_lint_severity;
            let mut findings = Vec::new();
            if let Some(content) = view.content
                && let Value::Array(items) = wire::value(content)
            {
                for (index, item) in items.iter().enumerate() {
                    if let Some(text) = item.get("text").and_then(Value::as_str) {
                        findings.extend(mcpin_tools::lint_text(
                            text,
                            &format!("/content/{index}/text"),
                        ));
                    }
                }
            }
            if let Some(structured) = view.structured {
                findings.extend(mcpin_tools::lint_text(
                    structured.get(),
                    "/structuredContent",
                ));
            }
            if let Some(worst) = findings
                .iter()
                .filter(|f| f.severity > max)
                .max_by_key(|f| f.severity)
            {
                return Some((
                    Code::OutputInjection,
                    format!(
                        "the result carries `{}` ({}) at {}, worse than {max}",
                        worst.rule, worst.severity, worst.location.pointer
                    ),
                ));
            }
        }
        None
    }

    /// The server is gone or stopped: calls still in flight are recorded without a result.
    pub(crate) fn finish(&self) {
        let mut state = self.state();
        let pending: Vec<(RequestId, Pending)> = state.pending.drain().collect();
        drop(state);
        for (_, pending) in pending {
            if let Pending::Call(call) = pending {
                self.record(Event::ToolCall(ToolCall {
                    server: self.server.clone(),
                    client: call.client,
                    protocol: call.protocol,
                    tool: call.tool,
                    arguments_digest: call.arguments_digest,
                    arguments: call.arguments,
                    decision: call.decision,
                    reason: call.reason,
                    message: "no answer: the server stopped first".to_owned(),
                    latency_ms: None,
                    result: None,
                }));
            }
        }
        // Closing the queue lets the writer flush and end.
        self.audit.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The request `_meta` of a message's params, without the rest.
#[derive(Deserialize)]
struct MetaOnly {
    #[serde(rename = "_meta", default)]
    meta: Option<Value>,
}

/// The parts of a `tools/call` result the guard checks.
#[derive(Default, Deserialize)]
struct ResultView<'a> {
    #[serde(rename = "isError", default)]
    is_error: Option<bool>,
    #[serde(rename = "structuredContent", default, borrow)]
    structured: Option<&'a RawValue>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(rename = "resultType", default, borrow)]
    result_type: Option<Cow<'a, str>>,
    #[serde(rename = "requestState", default, borrow)]
    request_state: Option<Cow<'a, str>>,
    #[serde(rename = "inputRequests", default, borrow)]
    input_requests: Option<&'a RawValue>,
}

/// `sha256:` over the arguments as compact JSON with every object's keys sorted, streamed
/// into the hash (RFC 8785 buffers whole objects, and arguments may be most of 16 MiB). For
/// strings and integers this is the RFC 8785 form.
fn arguments_digest(arguments: &Value) -> String {
    use sha2::{Digest, Sha256};
    struct Hasher(Sha256);
    impl Write for Hasher {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut hasher = Hasher(Sha256::new());
    // serde_json's maps are sorted by key (no `preserve_order` in this workspace).
    serde_json::to_writer(&mut hasher, arguments).expect("JSON values serialize");
    format!("sha256:{}", hex::encode(hasher.0.finalize()))
}

fn arguments_of(params: &Value) -> Value {
    params
        .get("arguments")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// `on-drift = "deny"`: the client gets an error for the list, and the server is stopped.
fn drift_denied(id: &RequestId, what: &str, names: &[String], out: &mut Out) {
    let message = format!(
        "the server listed {what} that differ from their signature: {}",
        names.join(", ")
    );
    out.to_client.push(error_line(
        &id.to_value(),
        REFUSED,
        format!("mcpin guard: {message}"),
        Code::DriftDenied,
        None,
    ));
    out.stop = Some((Code::DriftDenied, message));
}

fn drift_action(action: OnDrift) -> &'static str {
    match action {
        OnDrift::Deny => "deny",
        OnDrift::Filter => "filter",
    }
}

/// A tool result with `isError` in place of what the server returned (the model reads this).
fn replacement(id: &RequestId, view: &ResultView, why: &str) -> Vec<u8> {
    let mut result = json!({
        "content": [{"type": "text", "text": format!("mcpin guard withheld this result: {why}")}],
        "isError": true,
    });
    if view.result_type.is_some() {
        result["resultType"] = json!("complete");
    }
    wire::line(&json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result}))
}

/// A JSON-RPC error line; `data.reason` carries the stable code.
fn error_line(
    id: &Value,
    code: i64,
    message: String,
    reason: Code,
    tool: Option<String>,
) -> Vec<u8> {
    let mut data = json!({"reason": reason});
    if let Some(tool) = tool {
        data["tool"] = Value::String(tool);
    }
    wire::line(&json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": format!("{message} [{reason}]"), "data": data},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_digest_does_not_depend_on_key_order_or_spacing() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, "x"], "x": null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,"x"]},"b":1}"#).unwrap();
        assert_eq!(arguments_digest(&a), arguments_digest(&b));
        // For strings and integers it is the RFC 8785 digest.
        assert_eq!(arguments_digest(&a), mcpin_tools::jcs_digest(&a));
        assert_ne!(arguments_digest(&a), arguments_digest(&json!({"b": 2})));
    }
}
