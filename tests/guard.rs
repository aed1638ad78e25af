//! The runtime guard end to end: `mcpin run` launches signed servers from the loopback
//! registries and relays their stdio through the guard; the client on the other end is the
//! official MCP Python SDK (`tests/support/mcp_client.py`). Servers: the real
//! `@modelcontextprotocol/server-filesystem` (2025) and `mcp-server-time` (Python `MCPServer`,
//! 2026-07-28), and a dependency-free npm fixture whose tools change after the first call
//! (`tests/support/guard-fixture`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mcpin_tests::{artifact, env, mcpin, npm_pack, npm_publish, ok, sha256_of, stderr, stdout};
use serde_json::{Value, json};

const FILESYSTEM_TGZ: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";
const FILESYSTEM: &str = "@modelcontextprotocol/server-filesystem@2026.8.31";
const TIME_WHL: &str = "mcp_server_time-2026.10.19-py3-none-any.whl";

/// Keys, signed packages and bundle stores, made once per test binary.
struct World {
    dir: PathBuf,
    fixture: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        ok(
            &mcpin(&["keygen", "--out"])
                .arg(dir.join("publisher"))
                .output()
                .unwrap(),
            "mcpin keygen",
        );
        std::fs::create_dir_all(dir.join("capture-dir")).unwrap();
        // server-filesystem: its lock, and its tools as captured from the artifact.
        let filesystem = artifact(FILESYSTEM_TGZ);
        let fs_lock = lock(&dir, &filesystem, "filesystem.lock.json");
        let capture_dir = dir.join("capture-dir");
        let tools = capture(
            &dir,
            &filesystem,
            "filesystem.tools.json",
            &[capture_dir.as_os_str()],
        );
        sign(&dir, "true", &filesystem, Some(&fs_lock), &tools);
        // The rug pull: the same bytes, signed with one description that differs from what
        // the server really says.
        let rugpull = rug_pull(&dir, &tools, "read_text_file");
        sign(&dir, "rugpull", &filesystem, Some(&fs_lock), &rugpull);
        // mcp-server-time (MCPServer, 2026-07-28).
        let time = artifact(TIME_WHL);
        let time_lock = lock(&dir, &time, "time.lock.json");
        // Its descriptions name the local timezone: capture with the arguments it runs with.
        let time_tools = capture(
            &dir,
            &time,
            "time.tools.json",
            &[std::ffi::OsStr::new("--local-timezone=UTC")],
        );
        sign(&dir, "true", &time, Some(&time_lock), &time_tools);
        // The npm fixture, published to Verdaccio.
        let fixture = format!("mcpin-guard-fixture-{}", std::process::id());
        let tarball = fixture_tarball(&dir, &fixture);
        npm_publish(&dir, &tarball);
        let fixture_tools = capture(&dir, &tarball, "fixture.tools.json", &[]);
        sign(&dir, "true", &tarball, None, &fixture_tools);
        World { dir, fixture }
    })
}

fn lock(dir: &Path, artifact: &Path, out: &str) -> PathBuf {
    let path = dir.join(out);
    ok(
        &mcpin(&["lock"])
            .arg(artifact)
            .arg("--out")
            .arg(&path)
            .output()
            .unwrap(),
        "mcpin lock",
    );
    path
}

fn capture(dir: &Path, artifact: &Path, out: &str, args: &[&std::ffi::OsStr]) -> PathBuf {
    // `mcpin sign --capture` into a throwaway bundle, then the tools out of it.
    let scratch = dir.join(format!("{out}.bundle.json"));
    let mut command = mcpin(&["sign"]);
    command
        .arg(artifact)
        .arg("--key")
        .arg(dir.join("publisher.key"))
        .arg("--capture")
        .arg("--out")
        .arg(&scratch)
        .arg("--")
        .args(args);
    ok(&command.output().unwrap(), "mcpin sign --capture");
    let inspect = mcpin(&["inspect", "--json"])
        .arg(&scratch)
        .output()
        .unwrap();
    ok(&inspect, "mcpin inspect");
    let statement: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let path = dir.join(out);
    std::fs::write(
        &path,
        serde_json_canonicalizer::to_vec(&statement["predicate"]["tools"]).unwrap(),
    )
    .unwrap();
    path
}

/// The tools file with one tool's description changed, its digests recomputed.
fn rug_pull(dir: &Path, tools: &Path, tool: &str) -> PathBuf {
    let mut section = mcpin_tools::read_section(tools).unwrap();
    let target = section
        .payload
        .tools
        .iter_mut()
        .find(|t| t.name == tool)
        .unwrap();
    target.description = Some(format!(
        "{} (signed wording, not what the server says)",
        target.description.clone().unwrap_or_default()
    ));
    let section = mcpin_tools::seal(section.payload).unwrap();
    let path = dir.join("rugpull.tools.json");
    std::fs::write(&path, mcpin_tools::section_bytes(&section)).unwrap();
    path
}

fn sign(dir: &Path, store: &str, artifact: &Path, lock: Option<&Path>, tools: &Path) {
    let out = dir.join("bundles").join(store).join(sha256_of(artifact));
    std::fs::create_dir_all(&out).unwrap();
    let mut command = mcpin(&["sign"]);
    command
        .arg(artifact)
        .arg("--key")
        .arg(dir.join("publisher.key"))
        .arg("--tools")
        .arg(tools)
        .arg("--out")
        .arg(out.join("publisher.sigstore.json"));
    if let Some(lock) = lock {
        command.arg("--lock").arg(lock);
    }
    ok(&command.output().unwrap(), "mcpin sign");
}

fn fixture_tarball(dir: &Path, name: &str) -> PathBuf {
    let src = dir.join("fixture-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("package.json"),
        format!(
            r#"{{"name":"{name}","version":"1.0.0","license":"MIT","bin":{{"{name}":"server.js"}}}}"#
        ),
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("support/guard-fixture/server.js"),
        src.join("server.js"),
    )
    .unwrap();
    npm_pack(&src, dir)
}

/// A scratch HOME / XDG with the policy at the user location; `store` names the bundle store.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new(store: &str, runtime: &str) -> Sandbox {
        let w = world();
        let sandbox = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        let policy = format!(
            r#"version = 1
[[signers]]
id = "publisher"
public-key = "{key}"

[[packages]]
ecosystem = "npm"
name = "@modelcontextprotocol/server-filesystem"
require-any = ["publisher"]

[[packages]]
ecosystem = "pypi"
name = "mcp-server-time"
require-any = ["publisher"]

[[packages]]
ecosystem = "npm"
name = "mcpin-guard-fixture-*"
require-any = ["publisher"]

[launch]
launchers = ["npx", "uvx"]

[store]
dir = "{bundles}"

{runtime}"#,
            key = w.dir.join("publisher.pub").display(),
            bundles = w.dir.join("bundles").join(store).display(),
        );
        let path = sandbox.path("config/mcpin/policy.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, policy).unwrap();
        std::fs::create_dir_all(sandbox.path("data")).unwrap();
        std::fs::write(sandbox.path("data/hello.txt"), "hello").unwrap();
        sandbox
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn apply(&self, command: &mut Command) {
        command
            .current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_DATA_HOME", self.path("data-home"))
            // One store for the whole binary: dependencies are downloaded once.
            .env("MCPIN_STORE", world().dir.join("store"))
            .env("MCPIN_NPM_REGISTRY", env("MCPIN_TEST_NPM_REGISTRY"))
            .env("MCPIN_PYPI_INDEX", env("MCPIN_TEST_PYPI_INDEX"))
            .env_remove("MCPIN_LLM_PROVIDER")
            .env_remove("MCPIN_STATE_DIR");
    }

    /// The Python SDK client runs `steps` against `mcpin run [run_flags] -- argv`.
    fn client(
        &self,
        client_flags: &[&str],
        run_flags: &[&str],
        argv: &[&str],
        steps: Value,
    ) -> Session {
        self.client_with(client_flags, run_flags, argv, steps, |_| {})
    }

    fn client_with(
        &self,
        client_flags: &[&str],
        run_flags: &[&str],
        argv: &[&str],
        steps: Value,
        extra: impl FnOnce(&mut Command),
    ) -> Session {
        let mut command = Command::new(env("MCPIN_MCP_PYTHON"));
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("support/mcp_client.py"))
            .args(client_flags)
            .arg(steps.to_string())
            .arg("--")
            .arg(mcpin_tests::mcpin_bin())
            .arg("run")
            .args(run_flags)
            .arg("--")
            .args(argv);
        self.apply(&mut command);
        extra(&mut command);
        let output = command.output().unwrap();
        let lines: Vec<Value> = stdout(&output)
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|_| {
                    panic!("not JSON from the client: {line}\n{}", stderr(&output))
                })
            })
            .collect();
        Session {
            lines,
            stderr: stderr(&output),
        }
    }

    /// Every record of the audit log, through `mcpin audit show --json`.
    fn audit(&self) -> Vec<Value> {
        let mut command = mcpin(&["audit", "show", "--json"]);
        self.apply(&mut command);
        let output = command.output().unwrap();
        ok(&output, "mcpin audit show --json");
        let verify = {
            let mut command = mcpin(&["audit", "verify"]);
            self.apply(&mut command);
            command.output().unwrap()
        };
        ok(&verify, "mcpin audit verify");
        stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn events(&self, event: &str) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|r| r["event"] == event)
            .collect()
    }
}

/// What the client printed: one line per step after the first (`protocol`), then `elicited`.
struct Session {
    lines: Vec<Value>,
    stderr: String,
}

impl Session {
    fn step(&self, index: usize) -> &Value {
        self.lines
            .get(index + 1)
            .unwrap_or_else(|| panic!("no step {index}: {:?}\n{}", self.lines, self.stderr))
    }

    fn protocol(&self) -> &Value {
        &self.lines[0]["protocol"]
    }

    fn elicited(&self) -> Vec<String> {
        let last = self.lines.last().unwrap();
        serde_json::from_value(last["elicited"].clone())
            .unwrap_or_else(|_| panic!("no elicited line: {:?}\n{}", self.lines, self.stderr))
    }

    fn reason(&self, index: usize) -> &Value {
        let step = self.step(index);
        assert!(
            step.get("error").is_some(),
            "step {index} is not an error: {step}\n{}",
            self.stderr
        );
        &step["error"]["data"]["reason"]
    }

    fn text(&self, index: usize) -> String {
        let step = self.step(index);
        step["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("step {index} has no text: {step}\n{}", self.stderr))
            .to_owned()
    }

    fn tools(&self, index: usize) -> Vec<String> {
        let step = self.step(index);
        serde_json::from_value(step["tools"].clone())
            .unwrap_or_else(|_| panic!("step {index} lists no tools: {step}\n{}", self.stderr))
    }
}

fn list() -> Value {
    json!({"list": true})
}

fn call(name: &str, args: Value) -> Value {
    json!({"call": name, "args": args})
}

#[test]
fn filesystem_under_destructive_deny_reads_and_refuses_writes_and_bad_arguments() {
    let sandbox = Sandbox::new("true", "[runtime]\ndestructive = \"deny\"\n");
    let data = sandbox.path("data");
    let written = data.join("written.txt");
    let session = sandbox.client(
        &[],
        &[],
        &["npx", "-y", FILESYSTEM, data.to_str().unwrap()],
        json!([
            list(),
            call("read_text_file", json!({"path": data.join("hello.txt")})),
            call("write_file", json!({"path": written, "content": "pwned"})),
            call("read_text_file", json!({"path": 42})),
        ]),
    );
    let tools = session.tools(0);
    assert!(tools.contains(&"read_text_file".to_owned()), "{tools:?}");
    // write_file signs destructiveHint: true; edit_file and move_file have no readOnlyHint.
    assert!(!tools.contains(&"write_file".to_owned()), "{tools:?}");
    assert_eq!(session.text(1), "hello");
    assert_eq!(session.reason(2), "destructive-denied");
    assert!(!written.exists(), "the refused write reached the server");
    assert_eq!(session.reason(3), "arguments-invalid");
    let message = session.step(3)["error"]["message"].as_str().unwrap();
    assert!(message.contains("signed inputSchema"), "{message}");

    let calls = sandbox.events("tool-call");
    let summary: Vec<(String, String, String)> = calls
        .iter()
        .map(|r| {
            (
                r["tool"].as_str().unwrap().to_owned(),
                r["decision"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "read_text_file".into(),
                "allowed".into(),
                "tool-allowed".into()
            ),
            (
                "write_file".into(),
                "refused".into(),
                "destructive-denied".into()
            ),
            (
                "read_text_file".into(),
                "refused".into(),
                "arguments-invalid".into()
            ),
        ]
    );
    let read = &calls[0];
    assert_eq!(read["schema_version"], 1);
    assert!(
        read["server"]["purl"]
            .as_str()
            .unwrap()
            .starts_with("pkg:npm/%40modelcontextprotocol/server-filesystem@")
    );
    assert_eq!(read["server"]["sha256"].as_str().unwrap().len(), 64);
    assert!(
        read["arguments_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        read.get("arguments").is_none(),
        "arguments are not logged by default"
    );
    assert_eq!(read["result"]["is_error"], false);
    assert!(read["result"]["size"].as_u64().unwrap() > 0);
    assert!(read["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(read["client"], "mcp");
    assert!(calls[1]["latency_ms"].is_null());
    // The launch decision that started it names the guard.
    let launch = sandbox.events("launch");
    assert!(
        launch[0]["reasons"].to_string().contains("runtime-guard"),
        "{}",
        launch[0]
    );
}

#[test]
fn destructive_calls_under_ask_need_a_human_or_the_approval_command() {
    let sandbox = Sandbox::new(
        "true",
        "[runtime]\ndestructive = \"ask\"\nlog-arguments = true\napproval-command = [\"sh\", \"-c\", \"case \\\"$1\\\" in *approved.txt*) exit 0;; esac; exit 1\", \"approve\"]\n",
    );
    let data = sandbox.path("data");
    let argv = ["npx", "-y", FILESYSTEM, data.to_str().unwrap()];
    let write = |name: &str| {
        call(
            "write_file",
            json!({"path": data.join(name), "content": "x"}),
        )
    };
    // An elicitation-capable client: the human says yes, then no.
    let session = sandbox.client(
        &["--elicit", "yes,no", "--mode", "legacy"],
        &[],
        &argv,
        json!([write("yes.txt"), write("no.txt")]),
    );
    assert!(
        session.step(0).get("result").is_some(),
        "{}",
        session.step(0)
    );
    assert!(data.join("yes.txt").exists());
    assert_eq!(session.reason(1), "approval-declined");
    assert!(!data.join("no.txt").exists());
    let asked = session.elicited();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked[0].contains("write_file") && asked[0].contains("yes.txt"),
        "{asked:?}"
    );

    // A client without elicitation: the approval command decides (it approves one file name).
    let session = sandbox.client(
        &[],
        &[],
        &argv,
        json!([write("approved.txt"), write("other.txt")]),
    );
    assert!(
        session.step(0).get("result").is_some(),
        "{}",
        session.step(0)
    );
    assert!(data.join("approved.txt").exists());
    assert_eq!(session.reason(1), "approval-declined");
    assert!(!data.join("other.txt").exists());
    assert!(session.elicited().is_empty());

    let approvals = sandbox.events("approval");
    let seen: Vec<(&str, &str)> = approvals
        .iter()
        .map(|r| (r["via"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("elicitation", "approved"),
            ("elicitation", "denied"),
            ("command", "approved"),
            ("command", "denied")
        ]
    );
    let calls = sandbox.events("tool-call");
    let approved = calls.iter().find(|r| r["decision"] == "approved").unwrap();
    assert_eq!(approved["reason"], "approved-by-elicitation");
    assert_eq!(
        approved["arguments"]["content"], "x",
        "log-arguments puts them in the record"
    );
    // Without either, ask denies.
    let sandbox = Sandbox::new("true", "[runtime]\ndestructive = \"ask\"\n");
    let session = sandbox.client(&[], &[], &argv, json!([write("nobody.txt")]));
    assert_eq!(session.reason(0), "approval-unavailable");
    assert!(!data.join("nobody.txt").exists());
}

#[test]
fn a_rug_pull_is_stopped_under_deny_and_filtered_under_filter() {
    let data_arg = |s: &Sandbox| s.path("data").to_str().unwrap().to_owned();
    let sandbox = Sandbox::new("rugpull", "[runtime]\non-drift = \"deny\"\n");
    let data = data_arg(&sandbox);
    let session = sandbox.client(
        &[],
        &[],
        &["npx", "-y", FILESYSTEM, &data],
        json!([list(), call("list_allowed_directories", json!({}))]),
    );
    let first = session.step(0);
    assert_eq!(first["error"]["data"]["reason"], "drift-denied", "{first}");
    assert!(first["tools"].as_array().unwrap().is_empty(), "{first}");
    assert!(
        session.step(1).get("result").is_none(),
        "the stopped server answered"
    );
    let drift = sandbox.events("tool-drift");
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["tool"], "read_text_file");
    assert_eq!(drift[0]["reason"], "tool-changed");
    assert_eq!(drift[0]["action"], "deny");
    let (signed, observed) = (
        drift[0]["signed_digest"].as_str().unwrap(),
        drift[0]["observed_digest"].as_str().unwrap(),
    );
    assert!(signed.starts_with("sha256:") && observed.starts_with("sha256:") && signed != observed);
    let stop = sandbox.events("guard-stop");
    assert_eq!(stop[0]["reason"], "drift-denied");

    let sandbox = Sandbox::new("rugpull", "[runtime]\non-drift = \"filter\"\n");
    let session = sandbox.client(
        &[],
        &[],
        &["npx", "-y", FILESYSTEM, &data],
        json!([
            list(),
            call(
                "read_text_file",
                json!({"path": format!("{data}/hello.txt")})
            ),
            call("list_allowed_directories", json!({}))
        ]),
    );
    let tools = session.tools(0);
    assert!(!tools.contains(&"read_text_file".to_owned()), "{tools:?}");
    assert!(
        tools.contains(&"list_allowed_directories".to_owned()),
        "{tools:?}"
    );
    assert_eq!(session.reason(1), "tool-drifted");
    assert!(
        session.text(2).contains(&data),
        "the other tools still work"
    );
    assert_eq!(sandbox.events("tool-drift")[0]["action"], "filter");
}

#[test]
fn tools_that_change_after_the_first_call_are_caught_on_the_next_list() {
    let fixture = format!("{}@1.0.0", world().fixture);
    let argv = [
        "npx",
        "-y",
        &fixture,
        "--page-size",
        "2",
        "--change-after-first-call",
    ];
    let steps = json!([
        list(),
        call("echo", json!({"text": "one"})),
        list(),
        call("echo", json!({"text": "two"}))
    ]);
    let sandbox = Sandbox::new("true", "[runtime]\non-drift = \"filter\"\n");
    let session = sandbox.client(&[], &["--llm-provider", "local"], &argv, steps.clone());
    // Paginated (2025): three pages of at most two tools, every one checked.
    assert_eq!(session.step(0)["pages"], 3, "{}", session.step(0));
    assert!(session.tools(0).contains(&"echo".to_owned()));
    assert_eq!(session.text(1), "one");
    // After list_changed the client lists again: echo now differs from its signature.
    assert!(
        !session.tools(2).contains(&"echo".to_owned()),
        "{}",
        session.step(2)
    );
    assert_eq!(session.reason(3), "tool-drifted");
    assert_eq!(
        session.stderr.matches("fixture: call echo").count(),
        1,
        "{}",
        session.stderr
    );

    let sandbox = Sandbox::new("true", "[runtime]\non-drift = \"deny\"\n");
    let session = sandbox.client(&[], &[], &argv, steps);
    assert_eq!(session.text(1), "one");
    assert_eq!(session.step(2)["error"]["data"]["reason"], "drift-denied");
    assert_eq!(sandbox.events("tool-drift")[0]["tool"], "echo");
}

/// Prompt templates are model-facing text too: `prompts/list` must list the prompts as they were
/// captured and signed.
#[test]
fn a_changed_prompt_is_stopped_under_deny_and_hidden_under_filter() {
    let fixture = format!("{}@1.0.0", world().fixture);
    let steps = json!([
        {"prompts": true},
        {"prompt": "summarize", "args": {"text": "a b c"}},
        {"prompt": "greet", "args": {}},
    ]);
    // As signed: both prompts listed, and got.
    let sandbox = Sandbox::new("true", "[runtime]\non-drift = \"deny\"\n");
    let session = sandbox.client(&[], &[], &["npx", "-y", &fixture], steps.clone());
    assert_eq!(
        session.step(0)["prompts"],
        json!(["greet", "summarize"]),
        "{}",
        session.stderr
    );
    assert!(
        session.step(1)["result"]["messages"].is_array(),
        "{}",
        session.step(1)
    );
    assert!(sandbox.events("tool-drift").is_empty());

    let changed = ["npx", "-y", &fixture, "--change-prompt"];
    let session = sandbox.client(&[], &[], &changed, steps.clone());
    assert_eq!(
        session.step(0)["error"]["data"]["reason"],
        "drift-denied",
        "{}",
        session.step(0)
    );
    let drift = sandbox.events("tool-drift");
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["prompt"], "summarize");
    assert_eq!(drift[0]["reason"], "prompt-changed");
    assert_ne!(drift[0]["signed_digest"], drift[0]["observed_digest"]);
    let stops = sandbox.events("guard-stop");
    assert_eq!(stops.last().unwrap()["reason"], "drift-denied", "{stops:?}");
    assert!(
        !session.stderr.contains("fixture: prompt"),
        "{}",
        session.stderr
    );

    let sandbox = Sandbox::new("true", "[runtime]\non-drift = \"filter\"\n");
    let session = sandbox.client(&[], &[], &changed, steps);
    assert_eq!(
        session.step(0)["prompts"],
        json!(["greet"]),
        "{}",
        session.step(0)
    );
    assert_eq!(
        session.step(1)["error"]["data"]["reason"],
        "prompt-drifted",
        "{}",
        session.step(1)
    );
    assert!(
        session.step(2)["result"]["messages"].is_array(),
        "{}",
        session.step(2)
    );
    assert_eq!(
        session.stderr.matches("fixture: prompt").count(),
        1,
        "{}",
        session.stderr
    );
    assert_eq!(sandbox.events("tool-drift")[0]["action"], "filter");
}

/// `mcpin wrap` lints the servers of one config against each other with the tools the policy
/// verified for them: the fixture configured twice defines every tool twice.
#[test]
fn wrap_lints_the_servers_of_a_config_against_each_other() {
    let fixture = format!("{}@1.0.0", world().fixture);
    let sandbox = Sandbox::new("true", "");
    let config = sandbox.path("home/.cursor/mcp.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let entry = json!({"command": "npx", "args": ["-y", fixture]});
    std::fs::write(
        &config,
        json!({"mcpServers": {"first": entry, "second": entry}}).to_string(),
    )
    .unwrap();
    let mut command = mcpin(&["wrap", "cursor", "--dry-run", "--json"]);
    sandbox.apply(&mut command);
    let output = command.output().unwrap();
    ok(&output, "mcpin wrap cursor --dry-run");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let cross = report["files"][0]["cross"]
        .as_array()
        .unwrap_or_else(|| panic!("no cross findings: {report:#}"));
    let echo = cross
        .iter()
        .find(|f| f["tool"] == "echo")
        .unwrap_or_else(|| panic!("{cross:?}"));
    assert_eq!(echo["rule"], "duplicate-tool-name");
    assert_eq!(
        echo["servers"],
        json!(["mcpServers.first", "mcpServers.second"])
    );
    // People read the same findings under the file.
    let mut command = mcpin(&["wrap", "cursor", "--dry-run"]);
    sandbox.apply(&mut command);
    let output = command.output().unwrap();
    ok(&output, "mcpin wrap cursor --dry-run");
    assert!(
        stderr(&output).contains("lint across servers: tool `echo` is defined identically"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_rate_limit_of_three_per_minute_refuses_the_fourth_call() {
    let fixture = format!("{}@1.0.0", world().fixture);
    let sandbox = Sandbox::new("true", "[runtime.tools.echo]\nrate-limit = \"3/min\"\n");
    let echo = |text: &str| call("echo", json!({"text": text}));
    let session = sandbox.client(
        &[],
        &[],
        &["npx", "-y", &fixture],
        json!([
            echo("1"),
            echo("2"),
            echo("3"),
            echo("4"),
            call("delete_note", json!({"id": 1}))
        ]),
    );
    for step in 0..3 {
        assert_eq!(session.text(step), (step + 1).to_string());
    }
    assert_eq!(session.reason(3), "rate-limited");
    assert_eq!(
        session.text(4),
        "deleted note 1",
        "other tools have their own budget"
    );
    let decisions: Vec<Value> = sandbox
        .events("tool-call")
        .iter()
        .map(|r| r["decision"].clone())
        .collect();
    assert_eq!(
        decisions,
        [
            json!("allowed"),
            json!("allowed"),
            json!("allowed"),
            json!("rate-limited"),
            json!("allowed")
        ]
    );
}

#[test]
fn data_classes_hide_tools_from_providers_they_do_not_allow() {
    let fixture = format!("{}@1.0.0", world().fixture);
    let runtime = "[runtime.data-classes]\nrestricted = [\"local\"]\nweb = [\"local\", \"openai\"]\n[runtime.tool-classes]\n\"fetch_*\" = \"web\"\n";
    let sandbox = Sandbox::new("true", runtime);
    let steps = json!([
        list(),
        call("lookup_ssn", json!({"name": "x"})),
        call("fetch_page", json!({"url": "https://x.test"}))
    ]);
    let argv = ["npx", "-y", &fixture];
    // No provider declared: every classed tool is hidden and refused.
    let session = sandbox.client(&[], &[], &argv, steps.clone());
    let tools = session.tools(0);
    assert!(
        !tools.contains(&"lookup_ssn".to_owned()) && !tools.contains(&"fetch_page".to_owned()),
        "{tools:?}"
    );
    assert!(tools.contains(&"echo".to_owned()));
    assert_eq!(session.reason(1), "data-class-denied");
    assert_eq!(session.reason(2), "data-class-denied");
    // A cloud provider: the web tool only.
    let session = sandbox.client_with(&[], &[], &argv, steps.clone(), |c| {
        c.env("MCPIN_LLM_PROVIDER", "openai");
    });
    assert_eq!(session.reason(1), "data-class-denied");
    assert!(session.text(2).contains("Welcome"));
    assert_eq!(
        session.step(0)["meta"]["fetch_page"]["dev.mcpin/data-class"],
        "web"
    );
    // A local model: everything; the class travels in the tool's _meta.
    let session = sandbox.client(&[], &["--llm-provider", "local"], &argv, steps);
    assert_eq!(session.text(1), "078-05-1120");
    assert_eq!(
        session.step(0)["meta"]["lookup_ssn"]["dev.mcpin/data-class"],
        "restricted"
    );
}

#[test]
fn results_must_match_the_signed_output_schema_and_pass_the_scan() {
    let fixture = format!("{}@1.0.0", world().fixture);
    let sandbox = Sandbox::new("true", "[runtime]\nscan-outputs = true\n");
    let session = sandbox.client(
        &[],
        &[],
        &["npx", "-y", &fixture],
        json!([
            call("count_words", json!({"text": "a b c"})),
            call("fetch_page", json!({"url": "https://x.test"})),
            call("echo", json!({"text": "fine"})),
        ]),
    );
    // The injected page is withheld for its worst finding: sending a key file away.
    for (step, why) in [(0, "outputSchema"), (1, "secret-exfiltration")] {
        let result = &session.step(step)["result"];
        assert_eq!(result["isError"], true, "{result}");
        let text = session.text(step);
        assert!(
            text.starts_with("mcpin guard withheld this result") && text.contains(why),
            "{text}"
        );
    }
    assert_eq!(session.text(2), "fine");
    let reasons: Vec<Value> = sandbox
        .events("tool-call")
        .iter()
        .map(|r| r["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [
            json!("output-invalid"),
            json!("output-injection"),
            json!("tool-allowed")
        ]
    );
}

#[test]
fn the_2026_time_server_and_a_2025_client_both_pass_the_guard() {
    let sandbox = Sandbox::new("true", "");
    let argv = ["uvx", "mcp-server-time==2026.10.19", "--local-timezone=UTC"];
    let steps = json!([
        list(),
        call("get_current_time", json!({"timezone": "UTC"})),
        call("get_current_time", json!({}))
    ]);
    for mode in ["2026-07-28", "legacy"] {
        let session = sandbox.client(&["--mode", mode], &[], &argv, steps.clone());
        let expected = if mode == "legacy" { "2025-11-25" } else { mode };
        assert_eq!(session.protocol(), expected, "{:?}", session.lines);
        let mut tools = session.tools(0);
        tools.sort();
        assert_eq!(tools, ["convert_time", "get_current_time"]);
        assert!(session.text(1).contains("UTC"), "{}", session.step(1));
        assert_eq!(session.reason(2), "arguments-invalid");
    }
    let protocols: Vec<Value> = sandbox
        .events("tool-call")
        .iter()
        .map(|r| r["protocol"].clone())
        .collect();
    assert_eq!(protocols.len(), 4);
    assert_eq!(protocols[0], "2026-07-28");
}

#[test]
fn audit_show_filters_by_time_and_prints_people_a_line_per_record() {
    let fixture = format!("{}@1.0.0", world().fixture);
    let sandbox = Sandbox::new("true", "");
    sandbox.client(
        &[],
        &[],
        &["npx", "-y", &fixture],
        json!([call("echo", json!({"text": "x"}))]),
    );
    let show = |args: &[&str]| {
        let mut command = mcpin(&["audit", "show"]);
        command.args(args);
        sandbox.apply(&mut command);
        command.output().unwrap()
    };
    let human = show(&[]);
    ok(&human, "audit show");
    let text = stdout(&human);
    assert!(
        text.lines()
            .any(|l| l.contains("tool-call") && l.contains("allowed echo [tool-allowed]")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("launch") && l.contains("allow")),
        "{text}"
    );
    let future = show(&["--json", "--since", "2999-01-01"]);
    ok(&future, "audit show --since");
    assert!(stdout(&future).is_empty());
    let recent = show(&["--json", "--since", "1h"]);
    assert_eq!(stdout(&recent).lines().count(), 2, "{}", stdout(&recent));
    let bad = show(&["--since", "yesterday-ish"]);
    assert_eq!(bad.status.code(), Some(3), "{}", stderr(&bad));

    // --follow prints records appended after it started.
    let mut command = mcpin(&[
        "audit",
        "show",
        "--json",
        "--follow",
        "--since",
        "2999-01-01",
    ]);
    sandbox.apply(&mut command);
    let mut follow = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(follow.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        lines.lines().next().map(|line| line.unwrap())
    });
    let mut command = mcpin(&["audit", "show", "--json", "--follow"]);
    sandbox.apply(&mut command);
    let mut everything = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let all = std::io::BufReader::new(everything.stdout.take().unwrap());
    let counter = std::thread::spawn(move || {
        use std::io::BufRead;
        all.lines()
            .map(|line| serde_json::from_str::<Value>(&line.unwrap()).unwrap())
            .take_while(|record| record["tool"] != "delete_note")
            .count()
    });
    sandbox.client(
        &[],
        &[],
        &["npx", "-y", &fixture],
        json!([call("delete_note", json!({"id": 3}))]),
    );
    // The first follower filters everything out (--since in the future); the second sees the
    // two old records, the new launch record, and then the new call.
    assert_eq!(counter.join().unwrap(), 3);
    follow.kill().unwrap();
    everything.kill().unwrap();
    let _ = (follow.wait(), everything.wait());
    assert_eq!(reader.join().unwrap(), None);
}

/// The 2026 fixture (`MCPServer`) behind the guard via the `guarded_exec` example, with the
/// Python SDK client on the other side.
struct Guarded2026 {
    dir: tempfile::TempDir,
}

impl Guarded2026 {
    fn new(runtime: &str) -> Guarded2026 {
        let guarded = Guarded2026 {
            dir: tempfile::tempdir().unwrap(),
        };
        let tools = guarded.dir.path().join("tools.json");
        let output = mcpin(&["tools", "capture", "--out"])
            .arg(&tools)
            .arg("--")
            .arg(env("MCPIN_MCP_PYTHON"))
            .arg(fixture_2026())
            .output()
            .unwrap();
        ok(&output, "mcpin tools capture (2026 fixture)");
        std::fs::write(
            guarded.dir.path().join("policy.toml"),
            format!("version = 1\n{runtime}"),
        )
        .unwrap();
        guarded
    }

    fn client(&self, client_flags: &[&str], fixture_flags: &[&str], steps: Value) -> Session {
        let dir = self.dir.path();
        let mut command = Command::new(env("MCPIN_MCP_PYTHON"));
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("support/mcp_client.py"))
            .args(client_flags)
            .arg(steps.to_string())
            .arg("--")
            .arg(example("guarded_exec"))
            .arg(dir.join("tools.json"))
            .arg(dir.join("policy.toml"))
            .arg(dir.join("audit.jsonl"))
            .arg(env("MCPIN_MCP_PYTHON"))
            .arg(fixture_2026())
            .args(fixture_flags);
        let output = command.output().unwrap();
        let lines = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        Session {
            lines,
            stderr: stderr(&output),
        }
    }

    fn events(&self, event: &str) -> Vec<Value> {
        let log = self.dir.path().join("audit.jsonl");
        ok(
            &mcpin(&["audit", "verify"]).arg(&log).output().unwrap(),
            "audit verify",
        );
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|r| r["event"] == event)
            .collect()
    }
}

fn fixture_2026() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("support/guard_fixture_2026.py")
}

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} missing: build with `cargo build --all-targets`",
        path.display()
    );
    path
}

#[test]
fn a_2026_server_pages_through_the_guard_and_asks_with_an_input_required_round_trip() {
    let guarded = Guarded2026::new("[runtime]\ndestructive = \"ask\"\n");
    let session = guarded.client(
        &["--mode", "2026-07-28", "--elicit", "yes,no"],
        &[],
        json!([
            list(),
            call("delete_note", json!({"id": 1})),
            call("delete_note", json!({"id": 2})),
            call("lookup", json!({"key": "k"})),
        ]),
    );
    assert_eq!(session.protocol(), "2026-07-28");
    // One tool per page, each carrying ttlMs/cacheScope/resultType: every page checked.
    assert_eq!(session.step(0)["pages"], 3, "{}", session.step(0));
    assert_eq!(session.tools(0), ["echo", "delete_note", "lookup"]);
    assert_eq!(session.text(1), "deleted note 1");
    assert_eq!(session.reason(2), "approval-declined");
    assert_eq!(
        session.text(3),
        "value of k",
        "read-only tools are not asked about"
    );
    assert_eq!(session.elicited().len(), 2);
    assert_eq!(
        session.stderr.matches("fixture: call delete_note").count(),
        1,
        "{}",
        session.stderr
    );
    let approvals = guarded.events("approval");
    let seen: Vec<(&str, &str)> = approvals
        .iter()
        .map(|r| (r["via"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("input-required", "approved"), ("input-required", "denied")]
    );
    let calls = guarded.events("tool-call");
    assert_eq!(calls[0]["decision"], "approved");
    assert_eq!(calls[0]["protocol"], "2026-07-28");
}

#[test]
fn a_2026_list_change_over_subscriptions_listen_is_checked_on_the_next_list() {
    let guarded = Guarded2026::new("[runtime]\non-drift = \"filter\"\n");
    let session = guarded.client(
        &["--mode", "2026-07-28"],
        &["--change-after-first-call"],
        json!([
            list(),
            {"listen_call": "echo", "args": {"text": "one"}},
            list(),
            call("echo", json!({"text": "two"})),
        ]),
    );
    assert_eq!(
        session.step(1)["event"],
        "ToolsListChanged",
        "{:?}\n{}",
        session.lines,
        session.stderr
    );
    assert_eq!(session.text(1), "one");
    assert_eq!(
        session.tools(2),
        ["delete_note", "lookup"],
        "{}",
        session.step(2)
    );
    assert_eq!(session.reason(3), "tool-drifted");
    let drift = guarded.events("tool-drift");
    assert_eq!(drift[0]["tool"], "echo");
    assert_eq!(drift[0]["reason"], "tool-changed");
}
