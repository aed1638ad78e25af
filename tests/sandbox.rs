//! `[sandbox]` end to end (issue 16): real servers launched through `mcpin run`, signed and
//! served by the loopback registries, confined by Landlock on this kernel.
//!
//! - server-filesystem through the real MCP client (the Python SDK): a file in the granted
//!   directory reads; a file the server's own allowlist accepts but the sandbox does not grant
//!   (directly, and through a symlink that leaves the granted directory) fails with the EACCES
//!   the kernel returned, which the server reports;
//! - mcp-server-fetch (PyPI) fetching from a loopback HTTP server: refused with
//!   `network = "none"`, served with `["tcp:<port>"]`;
//! - writes: `$HOME` refused, `${TMP}` works and is gone after the server exits;
//! - `enforce` on a kernel without Landlock (the debug-build ABI hook) refuses to launch;
//! - directory arguments that would grant `/` or the home directory are refused;
//! - `mcpin sandbox explain`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mcpin_tests::{artifact, env, mcpin, npm_pack, npm_publish, ok, sha256_of, stderr, stdout};
use serde_json::Value;

const FILESYSTEM: &str = "@modelcontextprotocol/server-filesystem@2026.8.31";
const FILESYSTEM_TGZ: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";
const FETCH_WHL: &str = "mcp_server_fetch-2026.10.24-py3-none-any.whl";

/// Signed packages and a publisher key, made once per test binary.
struct World {
    dir: PathBuf,
    /// The probe fixture's package name (published to Verdaccio by this binary).
    fixture: String,
}

fn sign(world_dir: &Path, artifact: &Path, lock: Option<&Path>) {
    let dir = world_dir.join("bundles").join(sha256_of(artifact));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = mcpin(&["sign"]);
    command
        .arg(artifact)
        .arg("--key")
        .arg(world_dir.join("publisher.key"))
        .arg("--out")
        .arg(dir.join("publisher.sigstore.json"));
    if let Some(lock) = lock {
        command.arg("--lock").arg(lock);
    }
    ok(&command.output().unwrap(), "mcpin sign");
}

fn lock(world_dir: &Path, artifact: &Path, out: &str) -> PathBuf {
    let path = world_dir.join(out);
    let output = mcpin(&["lock"])
        .arg(artifact)
        .arg("--out")
        .arg(&path)
        .output()
        .unwrap();
    ok(&output, "mcpin lock");
    path
}

/// A tiny npm package whose bin probes what it may do: `write` tries `$HOME` and `$TMPDIR`,
/// prints the outcome, and stays until stdin closes.
fn probe_tarball(dir: &Path, name: &str) -> PathBuf {
    let src = dir.join("probe-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("package.json"),
        format!(
            r#"{{"name":"{name}","version":"1.0.0","license":"MIT","bin":{{"{name}":"probe.js"}}}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("probe.js"),
        r#"#!/usr/bin/env node
const fs = require('fs'), os = require('os'), path = require('path');
const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code || String(e); } };
const homefile = path.join(os.homedir(), 'mcpin-sandbox-probe-' + process.pid);
const result = {
  homefile,
  home: attempt(() => fs.writeFileSync(homefile, 'x')),
  tmp: attempt(() => fs.writeFileSync(path.join(os.tmpdir(), 'sandbox-probe'), 'x')),
  tmpdir: os.tmpdir(),
};
process.stdout.write(JSON.stringify(result) + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
"#,
    )
    .unwrap();
    npm_pack(&src, dir)
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let output = mcpin(&["keygen", "--out"])
            .arg(dir.join("publisher"))
            .output()
            .unwrap();
        ok(&output, "mcpin keygen");
        let filesystem = artifact(FILESYSTEM_TGZ);
        let fs_lock = lock(&dir, &filesystem, "filesystem.lock.json");
        sign(&dir, &filesystem, Some(&fs_lock));
        // mcp-server-fetch: its wheel is served by the loopback pypiserver, its dependencies
        // come from PyPI as the signed lock names them.
        let fetch = artifact(FETCH_WHL);
        std::fs::copy(
            &fetch,
            Path::new(&env("MCPIN_TEST_PYPI_DIR")).join(FETCH_WHL),
        )
        .unwrap();
        let fetch_lock = lock(&dir, &fetch, "fetch.lock.json");
        sign(&dir, &fetch, Some(&fetch_lock));
        // The same tarball signed with its tools (captured by `mcpin sign --capture`) in a
        // second bundle store: a launch through it runs behind the runtime guard.
        let scratch = dir.join("capture.sigstore.json");
        let output = mcpin(&["sign"])
            .arg(&filesystem)
            .arg("--key")
            .arg(dir.join("publisher.key"))
            .arg("--capture")
            .arg("--out")
            .arg(&scratch)
            .arg("--")
            .arg(&dir)
            .output()
            .unwrap();
        ok(&output, "mcpin sign --capture");
        let inspect = mcpin(&["inspect", "--json"])
            .arg(&scratch)
            .output()
            .unwrap();
        ok(&inspect, "mcpin inspect");
        let statement: Value = serde_json::from_slice(&inspect.stdout).unwrap();
        let tools = dir.join("filesystem.tools.json");
        std::fs::write(
            &tools,
            serde_json_canonicalizer::to_vec(&statement["predicate"]["tools"]).unwrap(),
        )
        .unwrap();
        let guarded = dir.join("bundles-guarded").join(sha256_of(&filesystem));
        std::fs::create_dir_all(&guarded).unwrap();
        let output = mcpin(&["sign"])
            .arg(&filesystem)
            .arg("--key")
            .arg(dir.join("publisher.key"))
            .arg("--lock")
            .arg(&fs_lock)
            .arg("--tools")
            .arg(&tools)
            .arg("--out")
            .arg(guarded.join("publisher.sigstore.json"))
            .output()
            .unwrap();
        ok(&output, "mcpin sign --tools");
        let fixture = format!("mcpin-sandbox-probe-{}", std::process::id());
        let tarball = probe_tarball(&dir, &fixture);
        npm_publish(&dir, &tarball);
        sign(&dir, &tarball, None);
        World { dir, fixture }
    })
}

/// A scratch HOME / XDG / store with a policy allowing the three packages; `extra` is appended.
struct Home {
    dir: tempfile::TempDir,
    /// The bundle store's directory name in the world's directory.
    store: String,
}

impl Home {
    fn new(extra: &str) -> Home {
        Home::with_store("bundles", extra)
    }

    /// A home whose policy reads bundles from `store` in the world's directory.
    fn with_store(store: &str, extra: &str) -> Home {
        let home = Home {
            dir: tempfile::tempdir().unwrap(),
            store: store.to_owned(),
        };
        home.set_policy(extra);
        std::fs::create_dir_all(home.path("home")).unwrap();
        home
    }

    fn set_policy(&self, extra: &str) {
        let w = world();
        let policy = format!(
            r#"version = 1
[[signers]]
id = "publisher"
public-key = "{key}"

[[packages]]
ecosystem = "npm"
name = "@modelcontextprotocol/server-filesystem"
version = "2026.8.31"
require-any = ["publisher"]

[[packages]]
ecosystem = "pypi"
name = "mcp-server-fetch"
require-any = ["publisher"]

[[packages]]
ecosystem = "npm"
name = "mcpin-sandbox-probe-*"
require-any = ["publisher"]

[store]
dir = "{bundles}"

[launch]
launchers = ["npx", "uvx"]

{extra}"#,
            key = w.dir.join("publisher.pub").display(),
            bundles = w.dir.join(&self.store).display(),
        );
        let path = self.path("config/mcpin/policy.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, policy).unwrap();
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The environment an agent would start the shim with (plus the test registries).
    fn apply(&self, command: &mut Command) {
        command
            .current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_DATA_HOME", self.path("data-home"))
            .env("MCPIN_NPM_REGISTRY", env("MCPIN_TEST_NPM_REGISTRY"))
            .env("MCPIN_PYPI_INDEX", env("MCPIN_TEST_PYPI_INDEX"))
            .env_remove("MCPIN_STORE")
            .env_remove("MCPIN_STATE_DIR")
            .env_remove("MCPIN_TEST_LANDLOCK_ABI");
    }

    fn run_command(&self, argv: &[&str]) -> Command {
        let mut command = mcpin(&["run", "--"]);
        command.args(argv);
        self.apply(&mut command);
        command
    }

    fn run(&self, argv: &[&str]) -> Output {
        self.run_command(argv)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The real MCP client (Python SDK) running `steps` against `mcpin run -- ARGV`: one JSON
    /// value per line it prints.
    fn client(&self, steps: &Value, argv: &[&str]) -> Vec<Value> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/mcp_client.py");
        let mut command = Command::new(env("MCPIN_MCP_PYTHON"));
        command
            .arg(script)
            .arg(steps.to_string())
            .arg("--")
            .arg(mcpin_tests::mcpin_bin())
            .args(["run", "--"])
            .args(argv);
        self.apply(&mut command);
        let output = command.output().unwrap();
        ok(&output, "the MCP client");
        stdout(&output)
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|_| {
                    panic!("not JSON from the client: {line}\n{}", stderr(&output))
                })
            })
            .collect()
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("state/mcpin/audit.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn refused(output: &Output, code: &str) -> String {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    assert!(output.stdout.is_empty(), "{}", stdout(output));
    let message = stderr(output);
    assert!(message.contains(&format!("[{code}]")), "{message}");
    message
}

/// The text of a tools/call answer (content, or the error the server reported).
fn call_text(step: &Value) -> String {
    if let Some(error) = step.get("error") {
        return error.to_string();
    }
    step["result"]["content"]
        .as_array()
        .unwrap_or_else(|| panic!("no content in {step}"))
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_error(step: &Value) -> bool {
    step.get("error").is_some() || step["result"]["isError"] == true
}

const ENFORCE_ARGS: &str = r#"[sandbox]
mode = "enforce"
fs-from-args = "read-write"
"#;

#[test]
fn server_filesystem_reads_its_granted_directory_and_gets_eacces_elsewhere() {
    let home = Home::new(ENFORCE_ARGS);
    let granted = home.path("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::write(granted.join("inside.txt"), "inside the grant").unwrap();
    // A second directory the server is told about with a relative path: the server's own
    // allowlist accepts it, the sandbox never grants relative arguments.
    let other = home.path("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("secret.txt"), "the secret").unwrap();
    std::os::unix::fs::symlink(other.join("secret.txt"), granted.join("escape")).unwrap();
    let granted = std::fs::canonicalize(&granted).unwrap();
    let steps = serde_json::json!([
        {"call": "read_text_file", "args": {"path": granted.join("inside.txt")}},
        {"call": "read_text_file", "args": {"path": home.path("other/secret.txt")}},
        {"call": "read_text_file", "args": {"path": granted.join("escape")}},
    ]);
    let argv = ["npx", "-y", FILESYSTEM, granted.to_str().unwrap(), "other"];

    // Control: without the sandbox, the server's own allowlist lets both reads through.
    let open = Home::new("");
    std::fs::create_dir_all(open.path("granted")).unwrap();
    std::fs::create_dir_all(open.path("other")).unwrap();
    std::fs::write(open.path("other/secret.txt"), "the secret").unwrap();
    let open_steps = serde_json::json!([
        {"call": "read_text_file", "args": {"path": open.path("other/secret.txt")}},
    ]);
    let open_granted = open.path("granted");
    let control = open.client(
        &open_steps,
        &[
            "npx",
            "-y",
            FILESYSTEM,
            open_granted.to_str().unwrap(),
            "other",
        ],
    );
    assert_eq!(call_text(&control[1]), "the secret", "{control:?}");

    let answers = home.client(&steps, &argv);
    assert_eq!(call_text(&answers[1]), "inside the grant", "{answers:?}");
    for (step, what) in [
        (&answers[2], "direct"),
        (&answers[3], "through the symlink"),
    ] {
        assert!(is_error(step), "{what}: {step}");
        let text = call_text(step);
        assert!(text.contains("EACCES"), "{what}: {text}");
        assert!(!text.contains("the secret"), "{what}: {text}");
    }

    let record = home.audit().pop().unwrap();
    assert_eq!(record["verdict"], "allow", "{record}");
    let sandbox = &record["sandbox"];
    assert_eq!(sandbox["mode"], "enforce", "{record}");
    assert_eq!(sandbox["enforcement"], "landlock", "{record}");
    assert_eq!(sandbox["connect"], "none", "{record}");
    let write = sandbox["write"].as_array().unwrap();
    let arg_grant = write
        .iter()
        .find(|g| g["path"] == granted.to_str().unwrap())
        .unwrap_or_else(|| panic!("the argument is not granted: {sandbox}"));
    assert_eq!(
        arg_grant["from"],
        format!("fs-from-args: argument 1 `{}`", granted.display())
    );
    // ${INSTALL} and ${RUNTIME} are expanded to real paths.
    let read: Vec<&str> = sandbox["read"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["path"].as_str().unwrap())
        .collect();
    assert!(read.iter().any(|p| p.contains("/installs/v1/")), "{read:?}");
    assert!(
        read.iter().any(|p| Path::new(p)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("node"))),
        "{read:?}"
    );
    assert!(
        record["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "sandbox-enforced"),
        "{record}"
    );
}

#[test]
fn directory_arguments_that_would_grant_too_much_are_refused() {
    let home = Home::new(ENFORCE_ARGS);
    for (arg, needle) in [
        ("/", "the whole file system"),
        ("/etc", "overlaps the system"),
    ] {
        let output = home.run(&["npx", "-y", FILESYSTEM, arg]);
        let message = refused(&output, "sandbox-arg-denied");
        assert!(message.contains(needle), "{message}");
    }
    // The home directory of the account (password database), whatever HOME says.
    let account_home = mcpin_launcher::locate::Account::current().home.unwrap();
    let output = home.run(&["npx", "-y", FILESYSTEM, account_home.to_str().unwrap()]);
    let message = refused(&output, "sandbox-arg-denied");
    assert!(message.contains("home directory"), "{message}");
    // mcpin's own store.
    std::fs::create_dir_all(home.path("data-home/mcpin/store")).unwrap();
    let store = home.path("data-home/mcpin/store");
    let output = home.run(&["npx", "-y", FILESYSTEM, store.to_str().unwrap()]);
    let message = refused(&output, "sandbox-arg-denied");
    assert!(message.contains("mcpin's own"), "{message}");
    let denied = home.audit().pop().unwrap();
    assert_eq!(denied["verdict"], "deny");
    assert_eq!(denied["reasons"][0]["code"], "sandbox-arg-denied");
}

/// Starts the probe under `mcpin run`, reads its report, and returns it with the child (its
/// stdin still open, so the server is still running).
fn start_probe(home: &Home) -> (Value, std::process::Child) {
    let w = world();
    let package = format!("{}@1.0.0", w.fixture);
    let mut child = home
        .run_command(&["npx", "-y", &package])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.is_empty() {
        let output = child.wait_with_output().unwrap();
        panic!("the probe wrote nothing: {}", stderr(&output));
    }
    (serde_json::from_str(&line).unwrap(), child)
}

#[test]
fn writes_reach_only_the_private_tmp_which_is_gone_after_exit() {
    let home = Home::new("[sandbox]\nmode = \"enforce\"\n");
    let (report, mut child) = start_probe(&home);
    assert_eq!(report["home"], "EACCES", "{report}");
    assert_eq!(report["tmp"], "ok", "{report}");
    let tmp = PathBuf::from(report["tmpdir"].as_str().unwrap());
    assert!(
        tmp.to_str().unwrap().starts_with("/tmp/mcpin-sandbox-"),
        "{report}"
    );
    assert!(tmp.join("sandbox-probe").is_file());
    // HOME is the account's home directory (password database), whatever the caller says.
    let homefile = PathBuf::from(report["homefile"].as_str().unwrap());
    assert!(!homefile.exists());
    let record = home.audit().pop().unwrap();
    assert_eq!(record["sandbox"]["tmp"], tmp.to_str().unwrap(), "{record}");

    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmp.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!tmp.exists(), "{} outlived the server", tmp.display());

    // Control: without the sandbox the same server writes into HOME.
    let open = Home::new("");
    let (report, mut child) = start_probe(&open);
    assert_eq!(report["home"], "ok", "{report}");
    drop(child.stdin.take());
    child.wait().unwrap();
    let homefile = PathBuf::from(report["homefile"].as_str().unwrap());
    assert!(homefile.is_file(), "{report}");
    std::fs::remove_file(homefile).unwrap();
}

#[test]
fn enforce_refuses_a_kernel_without_landlock_and_best_effort_warns() {
    let home = Home::new("[sandbox]\nmode = \"enforce\"\n");
    let w = world();
    let package = format!("{}@1.0.0", w.fixture);
    let output = home
        .run_command(&["npx", "-y", &package])
        .env("MCPIN_TEST_LANDLOCK_ABI", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let message = refused(&output, "sandbox-unsupported");
    assert!(message.contains("needs Landlock ABI 6"), "{message}");
    assert!(message.contains("has ABI 0"), "{message}");
    let denied = home.audit().pop().unwrap();
    assert_eq!(denied["verdict"], "deny", "{denied}");
    assert_eq!(denied["reasons"][0]["code"], "sandbox-unsupported");

    home.set_policy("[sandbox]\nmode = \"best-effort\"\n");
    let mut child = home
        .run_command(&["npx", "-y", &package])
        .env("MCPIN_TEST_LANDLOCK_ABI", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let output = child.wait_with_output().unwrap();
    ok(&output, "best-effort launch");
    let report: Value = serde_json::from_str(stdout(&output).lines().next().unwrap()).unwrap();
    // Nothing is enforced without Landlock: the warning says so.
    assert_eq!(report["home"], "ok", "{report}");
    std::fs::remove_file(report["homefile"].as_str().unwrap()).unwrap();
    let record = home.audit().pop().unwrap();
    assert_eq!(record["sandbox"]["enforcement"], "none", "{record}");
    let warning = record["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "sandbox-warning")
        .unwrap_or_else(|| panic!("no warning: {record}"));
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("nothing is restricted"),
        "{warning}"
    );
}

/// A loopback HTTP server that answers every GET with `body`; returns its port.
fn http_server(body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn mcp_server_fetch_reaches_only_the_ports_the_policy_allows() {
    let port = http_server("hello from loopback");
    let url = format!("http://127.0.0.1:{port}/page.txt");
    let steps = serde_json::json!([
        {"call": "fetch", "args": {"url": url, "raw": true}},
    ]);
    // The server's own guard against private addresses is off: here only the sandbox decides.
    let argv = [
        "uvx",
        "mcp-server-fetch==2026.10.24",
        "--ignore-robots-txt",
        "--allow-private-ips",
    ];

    let none = Home::new("[sandbox]\nmode = \"enforce\"\nnetwork = \"none\"\n");
    let answers = none.client(&steps, &argv);
    assert!(is_error(&answers[1]), "{answers:?}");
    assert!(
        !call_text(&answers[1]).contains("hello from loopback"),
        "{answers:?}"
    );

    let allowed = Home::new(&format!(
        "[sandbox]\nmode = \"enforce\"\nnetwork = [\"tcp:{port}\"]\n"
    ));
    let answers = allowed.client(&steps, &argv);
    assert!(
        call_text(&answers[1]).contains("hello from loopback"),
        "{answers:?}"
    );
    let record = allowed.audit().pop().unwrap();
    assert_eq!(
        record["sandbox"]["connect"],
        serde_json::json!([format!("tcp:{port}")]),
        "{record}"
    );
}

#[test]
fn sandbox_explain_prints_the_grants() {
    let home = Home::new(ENFORCE_ARGS);
    let data = home.path("data");
    std::fs::create_dir_all(&data).unwrap();
    let data = std::fs::canonicalize(&data).unwrap();
    let mut command = mcpin(&["sandbox", "explain", "--json", "--"]);
    command.args(["npx", "-y", FILESYSTEM, data.to_str().unwrap()]);
    home.apply(&mut command);
    let output = command.output().unwrap();
    ok(&output, "mcpin sandbox explain --json");
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["allowed"], true, "{report}");
    let write = report["sandbox"]["write"].as_array().unwrap();
    assert!(write.iter().any(|g| g["path"] == "${TMP}"), "{report}");
    assert!(
        write.iter().any(|g| g["path"] == data.to_str().unwrap()),
        "{report}"
    );

    let mut command = mcpin(&["sandbox", "explain", &format!("npm:{FILESYSTEM}")]);
    home.apply(&mut command);
    let output = command.output().unwrap();
    ok(&output, "mcpin sandbox explain SPEC");
    let text = stdout(&output);
    assert!(
        text.contains("mode enforce, enforced by landlock"),
        "{text}"
    );
    assert!(text.contains("fs-read: ${RUNTIME}"), "{text}");
    assert!(text.contains("tcp connect: none"), "{text}");

    let mut command = mcpin(&["sandbox", "explain", "--", "npx", "-y", FILESYSTEM, "/"]);
    home.apply(&mut command);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("[sandbox-arg-denied]"));
}

/// A server whose signed statement carries tools runs behind the runtime guard, which stays its
/// parent: it is spawned through the trampoline, sandboxed, while the guard (unrestricted) keeps
/// writing its audit events; the private directory goes when the server exits.
#[test]
fn a_guarded_server_is_sandboxed_through_the_trampoline() {
    let home = Home::with_store("bundles-guarded", ENFORCE_ARGS);
    let granted = home.path("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::write(granted.join("inside.txt"), "inside the grant").unwrap();
    std::fs::create_dir_all(home.path("other")).unwrap();
    std::fs::write(home.path("other/secret.txt"), "the secret").unwrap();
    let granted = std::fs::canonicalize(&granted).unwrap();
    let steps = serde_json::json!([
        {"call": "read_text_file", "args": {"path": granted.join("inside.txt")}},
        {"call": "read_text_file", "args": {"path": home.path("other/secret.txt")}},
    ]);
    let answers = home.client(
        &steps,
        &["npx", "-y", FILESYSTEM, granted.to_str().unwrap(), "other"],
    );
    assert_eq!(call_text(&answers[1]), "inside the grant", "{answers:?}");
    assert!(is_error(&answers[2]), "{answers:?}");
    assert!(call_text(&answers[2]).contains("EACCES"), "{answers:?}");

    let records = home.audit();
    let launch = records
        .iter()
        .find(|r| r["verdict"] == "allow")
        .unwrap_or_else(|| panic!("no allowed launch: {records:?}"));
    assert!(
        launch["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "runtime-guard"),
        "{launch}"
    );
    assert_eq!(launch["sandbox"]["enforcement"], "landlock", "{launch}");
    // The guard wrote its own events after the server was sandboxed.
    let calls = records.iter().filter(|r| r["event"] == "tool-call").count();
    assert_eq!(calls, 2, "{records:?}");
    let tmp = PathBuf::from(launch["sandbox"]["tmp"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmp.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!tmp.exists(), "{} outlived the server", tmp.display());
}
