//! A minimal MCP client over stdio: newline-delimited JSON-RPC 2.0, enough to
//! read what a server says about itself (`initialize`, `tools/list`,
//! `prompts/list`, `resources/list`) and shut it down cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use serde_json::{Map, Value, json};

/// The protocol version offered in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Protocol versions accepted in the server's `initialize` answer. Every one of
/// them has `tools/list` with `nextCursor` pagination as read here.
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 4] =
    ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// How long to wait for the server, and how much to read from it.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    /// Per step: each request's answer must arrive within this time.
    pub step_timeout: Duration,
    /// Longest accepted message (one line on stdout), in bytes.
    pub max_message_bytes: usize,
    /// After closing stdin, and again after SIGTERM, wait this long for the server to exit.
    pub shutdown_grace: Duration,
    /// Stop after this many `tools/list` (or prompts/resources) pages: a server
    /// that hands out cursors forever must not keep us here.
    pub max_pages: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            step_timeout: Duration::from_secs(30),
            max_message_bytes: 16 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(2),
            max_pages: 1000,
        }
    }
}

/// Why talking to a server failed. Each message names the protocol step.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot start the MCP server `{program}`: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error("timed out after {}s waiting for the server's answer to `{step}`", after.as_secs_f64())]
    Timeout { step: String, after: Duration },
    #[error("the server closed its stdout before answering `{step}`{}", exit_note(.exit))]
    Closed { step: String, exit: Option<String> },
    #[error(
        "the server wrote something that is not JSON-RPC on stdout while we waited for `{step}`: {excerpt:?} ({reason})"
    )]
    NotJson {
        step: String,
        excerpt: String,
        reason: String,
    },
    #[error(
        "a message from the server exceeds {limit} bytes while we waited for `{step}` (the limit on one message)"
    )]
    TooLarge { step: String, limit: usize },
    #[error("the server answered `{step}` with error {code}: {message}")]
    ServerError {
        step: String,
        code: i64,
        message: String,
    },
    #[error("the server's answer to `{step}` is malformed: {detail}")]
    Malformed { step: String, detail: String },
    #[error(
        "the server chose protocol version `{0}`, which this client does not speak (it offered {PROTOCOL_VERSION}; accepted: {SUPPORTED_PROTOCOL_VERSIONS:?})"
    )]
    UnsupportedProtocol(String),
    #[error("more than {0} pages of `{1}`: the server keeps returning a nextCursor")]
    TooManyPages(usize, String),
    #[error("writing `{step}` to the server's stdin: {error}")]
    Write { step: String, error: std::io::Error },
    #[error("reading the server's stdout: {0}")]
    Read(std::io::Error),
}

fn exit_note(exit: &Option<String>) -> String {
    exit.as_ref()
        .map(|status| format!(" (it {status})"))
        .unwrap_or_default()
}

/// What the server told us, verbatim (neither sorted nor canonicalized).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerDescription {
    /// The `initialize` result.
    pub initialize: Map<String, Value>,
    /// Every tool of every `tools/list` page, in the order received.
    pub tools: Vec<Value>,
    /// Every prompt, if the server advertises the `prompts` capability.
    pub prompts: Option<Vec<Value>>,
    /// Every resource, if the server advertises the `resources` capability.
    pub resources: Option<Vec<Value>>,
}

/// Starts `command` as an MCP server over stdio (in its own process group,
/// stderr passed through to ours), reads its description, and shuts it down.
///
/// The server is always shut down, also when reading fails: close stdin, wait
/// [`ClientOptions::shutdown_grace`], SIGTERM the process group, wait again,
/// SIGKILL the group; then SIGKILL whatever of the group outlived the server.
pub fn describe_server(
    mut command: Command,
    options: &ClientOptions,
) -> Result<ServerDescription, ClientError> {
    use std::os::unix::process::CommandExt;

    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|error| ClientError::Spawn { program, error })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stdin = child.stdin.take().expect("stdin is piped");
    let messages = spawn_reader(stdout, options.max_message_bytes);
    let mut session = Session {
        stdin: Some(stdin),
        messages,
        next_id: 1,
        options: *options,
    };
    let result = session.describe();
    drop(session.stdin.take());
    let exit = shutdown(&mut child, options.shutdown_grace);
    result.map_err(|error| match error {
        ClientError::Closed { step, .. } => ClientError::Closed { step, exit },
        other => other,
    })
}

/// One line read from the server, or why reading stopped.
enum Line {
    Text(Vec<u8>),
    TooLarge,
    Eof,
    Error(std::io::Error),
}

/// Reads stdout on its own thread so that waiting can time out.
fn spawn_reader(stdout: impl Read + Send + 'static, max: usize) -> Receiver<Line> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            // Read at most one byte past the limit to tell "too large" from "exactly max".
            let read = (&mut reader)
                .take(max as u64 + 1)
                .read_until(b'\n', &mut line);
            let message = match read {
                Ok(0) => Line::Eof,
                Ok(_) if line.last() != Some(&b'\n') && line.len() > max => Line::TooLarge,
                Ok(_) => Line::Text(line),
                Err(error) => Line::Error(error),
            };
            let stop = !matches!(message, Line::Text(_));
            if sender.send(message).is_err() || stop {
                return;
            }
        }
    });
    receiver
}

struct Session {
    stdin: Option<ChildStdin>,
    messages: Receiver<Line>,
    next_id: u64,
    options: ClientOptions,
}

impl Session {
    fn describe(&mut self) -> Result<ServerDescription, ClientError> {
        let initialize = self.request(
            "initialize",
            "initialize",
            json!({
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mcpin", "version": env!("CARGO_PKG_VERSION")},
            }),
        )?;
        let Value::Object(initialize) = initialize else {
            return Err(malformed("initialize", "the result is not an object"));
        };
        let version = initialize
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("initialize", "no protocolVersion string"))?;
        if !SUPPORTED_PROTOCOL_VERSIONS.contains(&version) {
            return Err(ClientError::UnsupportedProtocol(version.to_owned()));
        }
        let capabilities = match initialize.get("capabilities") {
            Some(Value::Object(capabilities)) => capabilities.clone(),
            _ => return Err(malformed("initialize", "no capabilities object")),
        };
        self.notify("notifications/initialized")?;

        let tools = self.list_all("tools/list", "tools")?;
        let prompts = match capabilities.contains_key("prompts") {
            true => Some(self.list_all("prompts/list", "prompts")?),
            false => None,
        };
        let resources = match capabilities.contains_key("resources") {
            true => Some(self.list_all("resources/list", "resources")?),
            false => None,
        };
        Ok(ServerDescription {
            initialize,
            tools,
            prompts,
            resources,
        })
    }

    /// Calls a `*/list` method page by page, following `nextCursor`.
    fn list_all(&mut self, method: &str, key: &str) -> Result<Vec<Value>, ClientError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 1..=self.options.max_pages {
            let step = match page {
                1 => method.to_owned(),
                _ => format!("{method} (page {page})"),
            };
            let params = match &cursor {
                Some(cursor) => json!({ "cursor": cursor }),
                None => json!({}),
            };
            let result = self.request(&step, method, params)?;
            match result.get(key) {
                Some(Value::Array(page_items)) => items.extend(page_items.iter().cloned()),
                _ => return Err(malformed(&step, &format!("no `{key}` array in the result"))),
            }
            cursor = match result.get("nextCursor") {
                None | Some(Value::Null) => return Ok(items),
                Some(Value::String(next)) => Some(next.clone()),
                Some(_) => return Err(malformed(&step, "nextCursor is not a string")),
            };
        }
        Err(ClientError::TooManyPages(
            self.options.max_pages,
            method.to_owned(),
        ))
    }

    fn send(&mut self, step: &str, message: &Value) -> Result<(), ClientError> {
        let mut line = serde_json::to_vec(message).expect("a JSON value serializes");
        line.push(b'\n');
        let stdin = self
            .stdin
            .as_mut()
            .expect("stdin is open during the session");
        stdin
            .write_all(&line)
            .and_then(|()| stdin.flush())
            .map_err(|error| ClientError::Write {
                step: step.to_owned(),
                error,
            })
    }

    fn notify(&mut self, method: &str) -> Result<(), ClientError> {
        self.send(method, &json!({"jsonrpc": "2.0", "method": method}))
    }

    /// Sends a request and waits for its answer, serving the server's own
    /// requests and skipping its notifications meanwhile.
    fn request(&mut self, step: &str, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            step,
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )?;
        let deadline = Instant::now() + self.options.step_timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = match self.messages.recv_timeout(remaining) {
                Ok(Line::Text(line)) => line,
                Ok(Line::TooLarge) => {
                    return Err(ClientError::TooLarge {
                        step: step.to_owned(),
                        limit: self.options.max_message_bytes,
                    });
                }
                Ok(Line::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    return Err(ClientError::Closed {
                        step: step.to_owned(),
                        exit: None,
                    });
                }
                Ok(Line::Error(error)) => return Err(ClientError::Read(error)),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(ClientError::Timeout {
                        step: step.to_owned(),
                        after: self.options.step_timeout,
                    });
                }
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let message: Value = serde_json::from_slice(&line)
                .map_err(|error| not_json(step, &line, &error.to_string()))?;
            // JSON-RPC batches (allowed by 2025-03-26) are handled message by message.
            let batch = match message {
                Value::Array(batch) => batch,
                single => vec![single],
            };
            let mut answer = None;
            for message in batch {
                if let Some(result) = self.handle(step, id, message, &line)? {
                    answer = Some(result);
                }
            }
            if let Some(result) = answer {
                return Ok(result);
            }
        }
    }

    /// Handles one message while waiting for response `id`: returns its result
    /// if this is that response.
    fn handle(
        &mut self,
        step: &str,
        id: u64,
        message: Value,
        line: &[u8],
    ) -> Result<Option<Value>, ClientError> {
        let Value::Object(message) = message else {
            return Err(not_json(step, line, "a message is not a JSON object"));
        };
        if let Some(method) = message.get("method").and_then(Value::as_str) {
            match message.get("id") {
                // A notification (logging, list_changed, progress…): nothing to do.
                None => {}
                Some(request_id) => {
                    let reply = match method {
                        "ping" => json!({"jsonrpc": "2.0", "id": request_id, "result": {}}),
                        "roots/list" => {
                            json!({"jsonrpc": "2.0", "id": request_id, "result": {"roots": []}})
                        }
                        _ => json!({"jsonrpc": "2.0", "id": request_id, "error": {
                            "code": -32601, "message": format!("method not found: {method}")}}),
                    };
                    self.send(step, &reply)?;
                }
            }
            return Ok(None);
        }
        if message.get("id").and_then(Value::as_u64) != Some(id) {
            // An answer to nothing we are waiting for: not ours to act on.
            return Ok(None);
        }
        if let Some(error) = message.get("error") {
            return Err(ClientError::ServerError {
                step: step.to_owned(),
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)")
                    .to_owned(),
            });
        }
        match message.get("result") {
            Some(result @ Value::Object(_)) => Ok(Some(result.clone())),
            _ => Err(malformed(
                step,
                "the response has neither an object result nor an error",
            )),
        }
    }
}

fn malformed(step: &str, detail: &str) -> ClientError {
    ClientError::Malformed {
        step: step.to_owned(),
        detail: detail.to_owned(),
    }
}

fn not_json(step: &str, line: &[u8], reason: &str) -> ClientError {
    let text = String::from_utf8_lossy(line);
    let mut excerpt: String = text.trim_end().chars().take(120).collect();
    if text.trim_end().chars().count() > 120 {
        excerpt.push('…');
    }
    ClientError::NotJson {
        step: step.to_owned(),
        excerpt,
        reason: reason.to_owned(),
    }
}

/// Stops the server the way the MCP spec asks (stdin already closed): wait,
/// SIGTERM, wait, SIGKILL — each signal to the whole process group — then
/// SIGKILL the group once more for children that outlived the server, and
/// reap it. Returns how the server ended, for error messages.
fn shutdown(child: &mut Child, grace: Duration) -> Option<String> {
    let pid = Pid::from_child(child);
    let mut exited = wait_exit(pid, grace);
    if !exited {
        signal_group(pid, Signal::TERM);
        exited = wait_exit(pid, grace);
    }
    if !exited {
        signal_group(pid, Signal::KILL);
    }
    // The unreaped leader keeps the group id from being reused until `wait` below.
    signal_group(pid, Signal::KILL);
    child.wait().ok().map(|status| status.to_string())
}

/// Waits up to `grace` for `pid` to exit, without reaping it.
fn wait_exit(pid: Pid, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    loop {
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        match rustix::process::waitid(WaitId::Pid(pid), options) {
            Ok(Some(_)) => return true,
            Ok(None) => {}
            // Already reaped or not our child: nothing left to wait for.
            Err(_) => return true,
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal_group(pid: Pid, signal: Signal) {
    // ESRCH (the group is already gone) is the outcome we want.
    let _ = rustix::process::kill_process_group(pid, signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python(script: &str) -> Command {
        let mut command = Command::new("python3");
        command.args(["-c", script]);
        command
    }

    fn quick() -> ClientOptions {
        ClientOptions {
            step_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_millis(200),
            ..ClientOptions::default()
        }
    }

    #[test]
    fn a_message_over_the_limit_is_refused() {
        let options = ClientOptions {
            max_message_bytes: 1000,
            ..quick()
        };
        // The client stops reading after the oversize line: the server may see EPIPE.
        let script = "import sys\nsys.stdin.readline()\ntry:\n    print('x' * 5000, flush=True)\n    sys.stdin.read()\nexcept BrokenPipeError:\n    pass";
        let error = describe_server(python(script), &options).unwrap_err();
        assert!(
            matches!(&error, ClientError::TooLarge { step, limit: 1000 } if step == "initialize"),
            "{error}"
        );
    }

    #[test]
    fn a_server_that_exits_is_reported_with_its_status() {
        let error = describe_server(python("import sys; sys.exit(7)"), &quick()).unwrap_err();
        match error {
            ClientError::Closed { step, exit } => {
                assert_eq!(step, "initialize");
                assert!(exit.unwrap().contains('7'));
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn an_unknown_protocol_version_is_refused() {
        let script = r#"import sys, json
request = json.loads(sys.stdin.readline())
print(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {
    "protocolVersion": "1999-01-01", "capabilities": {}, "serverInfo": {"name": "x", "version": "1"}}}), flush=True)
sys.stdin.read()"#;
        let error = describe_server(python(script), &quick()).unwrap_err();
        assert!(
            matches!(&error, ClientError::UnsupportedProtocol(v) if v == "1999-01-01"),
            "{error}"
        );
    }
}
