//! `mcpin run` end to end with real servers: the root packages come from the loopback
//! registries (Verdaccio for npm, pypiserver for PyPI), their dependencies from the public
//! npm registry and PyPI exactly as the signed lock (`mcpin lock` + `mcpin sign --lock`)
//! names them. Covers: wrapped Claude Desktop and VS Code configs launching through the shim
//! with the MCP capture client on the other end, warm launches with the registry gone,
//! refusals (policy, bytes replaced in the registry after signing, a changed installed file),
//! environment injection, exit codes and signals, and 20 concurrent first launches.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use mcpin_tests::{artifact, mcpin, stderr, stdout};
use serde_json::Value;

const FILESYSTEM: &str = "@modelcontextprotocol/server-filesystem@2026.8.31";
const FILESYSTEM_TGZ: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";
const TIME_WHL: &str = "mcp_server_time-2026.10.19-py3-none-any.whl";
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcpin-test","version":"1"}}}"#;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the suite with tests/run"))
}

fn ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// Signed packages, a publisher key and a bundle store, made once per test binary.
struct World {
    dir: PathBuf,
    /// Name of the fixture package published into Verdaccio by this test binary.
    fixture: String,
    /// A signed fixture no policy rule names.
    unlisted: String,
}

/// A tiny npm server published to Verdaccio under `name`: `exit N`, `sleep`, `env`, or MCP
/// `initialize` on stdin.
fn fixture_tarball(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let src = dir.join(format!("src-{name}"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("package.json"),
        format!(r#"{{"name":"{name}","version":"1.0.0","license":"MIT","bin":{{"{name}":"fixture.js"}}}}"#),
    )
    .unwrap();
    std::fs::write(
        src.join("fixture.js"),
        format!(
            "#!/usr/bin/env node\n// {extra}\nconst [mode, arg] = process.argv.slice(2);\n\
             if (mode === 'exit') process.exit(Number(arg));\n\
             if (mode === 'sleep') {{ process.stdout.write('ready ' + process.pid + '\\n'); setInterval(() => {{}}, 1000); }}\n\
             if (mode === 'env') process.stdout.write(JSON.stringify({{NODE_OPTIONS: process.env.NODE_OPTIONS || null, LD_PRELOAD: process.env.LD_PRELOAD || null, KEEP: process.env.KEEP || null}}));\n"
        ),
    )
    .unwrap();
    let output = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(dir)
        .current_dir(&src)
        .output()
        .unwrap();
    ok(&output, "npm pack");
    dir.join(stdout(&output).trim())
}

fn npm_publish(dir: &Path, tarball: &Path) {
    let registry = env("MCPIN_TEST_NPM_REGISTRY");
    let npmrc = dir.join("publish.npmrc");
    let host = registry.trim_start_matches("http:");
    std::fs::write(
        &npmrc,
        format!("{host}:_authToken={}\n", env("MCPIN_TEST_NPM_TOKEN")),
    )
    .unwrap();
    let output = Command::new("npm")
        .arg("publish")
        .arg(tarball)
        .args(["--registry", &registry, "--userconfig"])
        .arg(&npmrc)
        .output()
        .unwrap();
    ok(&output, "npm publish");
}

fn sign(world_dir: &Path, artifact: &Path, lock: Option<&Path>) {
    let sha = sha256_of(artifact);
    let dir = world_dir.join("bundles").join(&sha);
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
        let time = artifact(TIME_WHL);
        let time_lock = lock(&dir, &time, "time.lock.json");
        sign(&dir, &time, Some(&time_lock));
        let fixture = format!("mcpin-run-fixture-{}", std::process::id());
        let tarball = fixture_tarball(&dir, &fixture, "signed");
        npm_publish(&dir, &tarball);
        sign(&dir, &tarball, None);
        // Signed by the same publisher, but no policy rule names it.
        let unlisted = format!("mcpin-unlisted-fixture-{}", std::process::id());
        let tarball = fixture_tarball(&dir, &unlisted, "signed, not allowed");
        npm_publish(&dir, &tarball);
        sign(&dir, &tarball, None);
        World {
            dir,
            fixture,
            unlisted,
        }
    })
}

/// The policy: the publisher key, the three packages, the bundle store; `extra` is appended.
fn policy(dir: &Path, extra: &str) -> String {
    let w = world();
    let text = format!(
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
name = "mcp-server-time"
version = "==2026.10.19"
require-any = ["publisher"]

[[packages]]
ecosystem = "npm"
name = "mcpin-run-fixture-*"
require-any = ["publisher"]

[store]
dir = "{bundles}"

{extra}"#,
        key = w.dir.join("publisher.pub").display(),
        bundles = w.dir.join("bundles").display(),
    );
    let _ = dir;
    text
}

const LAUNCH_NPX_UVX: &str = "[launch]\nlaunchers = [\"npx\", \"uvx\"]\n";

/// A scratch HOME / XDG / store, with the policy at the user location.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new(policy_extra: &str) -> Sandbox {
        let sandbox = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        let policy_path = sandbox.path("config/mcpin/policy.toml");
        std::fs::create_dir_all(policy_path.parent().unwrap()).unwrap();
        std::fs::write(&policy_path, policy(sandbox.dir.path(), policy_extra)).unwrap();
        std::fs::create_dir_all(sandbox.path("data")).unwrap();
        std::fs::write(sandbox.path("data/hello.txt"), "hello").unwrap();
        sandbox
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
            .env_remove("MCPIN_STATE_DIR");
    }

    fn run_command(&self, argv: &[&str]) -> Command {
        let mut command = mcpin(&["run", "--"]);
        command.args(argv);
        self.apply(&mut command);
        command
    }

    /// `mcpin run -- ARGV` with `stdin` as input.
    fn run(&self, argv: &[&str], stdin: &str) -> Output {
        let mut child = self
            .run_command(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn installs(&self) -> Vec<PathBuf> {
        let dir = self.path("data-home/mcpin/store/installs/v1");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.is_dir() && p.file_name().unwrap().len() == 64)
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("state/mcpin/audit.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// The first line the server wrote: its answer to `initialize`.
fn initialized(output: &Output) -> Value {
    ok(output, "mcpin run");
    let text = stdout(output);
    let first = text.lines().next().unwrap_or_default();
    let answer: Value = serde_json::from_str(first)
        .unwrap_or_else(|_| panic!("not JSON-RPC on stdout: {text:?}\n{}", stderr(output)));
    assert_eq!(answer["id"], 1, "{answer}");
    assert!(
        answer["result"]["serverInfo"]["name"].is_string(),
        "{answer}"
    );
    answer
}

fn refused(output: &Output, code: &str) -> String {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    assert!(
        output.stdout.is_empty(),
        "a refused launch wrote to stdout: {}",
        stdout(output)
    );
    let message = stderr(output);
    assert!(message.contains(&format!("[{code}]")), "{message}");
    message
}

fn tool_names(payload: &[u8]) -> Vec<String> {
    let json: Value = serde_json::from_slice(payload).unwrap();
    json["payload"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {json}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `mcpin wrap --config FILE --client CLIENT`, then each wrapped entry's new argv.
fn wrap(sandbox: &Sandbox, config: &Path, client: &str) -> Vec<Vec<String>> {
    let mut command = mcpin(&["wrap", "--json", "--client", client, "--config"]);
    command.arg(config);
    sandbox.apply(&mut command);
    let output = command.output().unwrap();
    ok(&output, "mcpin wrap");
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let file = &report["files"][0];
    assert_eq!(file["status"], "wrapped", "{file}");
    assert_eq!(file["written"], true, "{file}");
    // The gate fetched and judged every server at wrap time.
    let servers = file["servers"].as_array().unwrap();
    for server in servers {
        assert_eq!(server["verdict"]["outcome"], "allow", "{server}");
    }
    servers
        .iter()
        .map(|server| {
            server["new_argv"]
                .as_array()
                .unwrap_or_else(|| panic!("no new_argv in {server}"))
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

fn capture_through(sandbox: &Sandbox, argv: &[String]) -> Vec<u8> {
    let out = sandbox.path("tools.json");
    let mut command = mcpin(&["tools", "capture", "--timeout", "120", "--out"]);
    command.arg(&out).arg("--").args(argv);
    sandbox.apply(&mut command);
    let output = command.output().unwrap();
    ok(&output, &format!("mcpin tools capture -- {argv:?}"));
    std::fs::read(&out).unwrap()
}

#[test]
fn wrapped_claude_desktop_and_vscode_configs_launch_verified_servers() {
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let data = sandbox.path("data");
    let claude = sandbox.path("claude_desktop_config.json");
    std::fs::write(
        &claude,
        serde_json::to_string_pretty(&serde_json::json!({
            "mcpServers": {
                "filesystem": { "command": "npx", "args": ["-y", FILESYSTEM, data] },
                "time": { "command": "uvx", "args": ["mcp-server-time==2026.10.19", "--local-timezone=UTC"] }
            }
        }))
        .unwrap(),
    )
    .unwrap();
    let vscode = sandbox.path("mcp.json");
    std::fs::write(
        &vscode,
        format!(
            "{{\n  // JSONC, as VS Code writes it\n  \"servers\": {{\n    \"time\": {{ \"type\": \"stdio\", \"command\": \"uvx\", \"args\": [\"mcp-server-time==2026.10.19\", \"--local-timezone=UTC\",], }},\n    \"filesystem\": {{ \"type\": \"stdio\", \"command\": \"npx\", \"args\": [\"-y\", \"{FILESYSTEM}\", \"{}\"], }},\n  }},\n}}\n",
            data.display()
        ),
    )
    .unwrap();
    for (config, client) in [(&claude, "claude-desktop"), (&vscode, "vscode")] {
        let argvs = wrap(&sandbox, config, client);
        assert_eq!(argvs.len(), 2, "{argvs:?}");
        for argv in argvs {
            assert_eq!(argv[1..3], ["run", "--"], "{argv:?}");
            let tools = tool_names(&capture_through(&sandbox, &argv));
            let expected = if argv.iter().any(|a| a == "uvx") {
                "get_current_time"
            } else {
                "read_text_file"
            };
            assert!(
                tools.iter().any(|t| t == expected),
                "{expected} not in {tools:?}"
            );
        }
    }
    // --strict: a config naming a signed package the policy does not allow is not written.
    let denied = sandbox.path("denied.json");
    let original = format!(
        r#"{{"mcpServers": {{"unlisted": {{"command": "npx", "args": ["-y", "{}@1.0.0", "exit", "0"]}}}}}}"#,
        world().unlisted
    );
    std::fs::write(&denied, &original).unwrap();
    let mut command = mcpin(&[
        "wrap",
        "--strict",
        "--json",
        "--client",
        "claude-desktop",
        "--config",
    ]);
    command.arg(&denied);
    sandbox.apply(&mut command);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&denied).unwrap(), original);
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["files"][0]["status"], "refused", "{report}");
    let verdict = &report["files"][0]["servers"][0]["verdict"];
    assert_eq!(verdict["outcome"], "deny", "{report}");
    assert!(
        verdict.to_string().contains("no-matching-rule"),
        "{verdict}"
    );

    // One install per server, each recorded as an allow with its signer in the audit log.
    assert_eq!(sandbox.installs().len(), 2);
    let allows: Vec<Value> = sandbox
        .audit()
        .into_iter()
        .filter(|r| r["verdict"] == "allow")
        .collect();
    assert_eq!(allows.len(), 4);
    for record in &allows {
        assert_eq!(record["signers"], serde_json::json!(["publisher"]));
        assert_eq!(
            record["artifact"]["digests"]["sha256"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
        assert!(
            record["policy"]["digest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
    }
}

/// A Python forwarder in front of Verdaccio: the launch resolves through it, then it is killed.
fn forwarder() -> (Child, String) {
    let registry = env("MCPIN_TEST_NPM_REGISTRY");
    let port = registry
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/tcp_forward.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(["127.0.0.1", &port])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, format!("http://127.0.0.1:{}/", line.trim()))
}

#[test]
fn a_warm_launch_needs_no_network_and_a_changed_installed_file_is_refused() {
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let (mut proxy, url) = forwarder();
    let data = sandbox.path("data");
    let argv = ["npx", "-y", FILESYSTEM, data.to_str().unwrap()];
    let launch = |stdin: &str| {
        let mut command = sandbox.run_command(&argv);
        command.env("MCPIN_NPM_REGISTRY", &url);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    initialized(&launch(&format!("{INITIALIZE}\n")));
    proxy.kill().unwrap();
    proxy.wait().unwrap();
    // The registry is gone: the store's refs and the recorded install carry the launch.
    initialized(&launch(&format!("{INITIALIZE}\n")));

    let [install] = &sandbox.installs()[..] else {
        panic!("expected one install: {:?}", sandbox.installs())
    };
    let file = install.join("pkg/node_modules/zod/package.json");
    let mut perms = std::fs::metadata(&file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&file, perms).unwrap();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push(' ');
    std::fs::write(&file, text).unwrap();
    let message = refused(&launch(&format!("{INITIALIZE}\n")), "install-tampered");
    assert!(
        message.contains("pkg/node_modules/zod/package.json"),
        "{message}"
    );
    let last = sandbox.audit().pop().unwrap();
    assert_eq!(last["verdict"], "deny");
    assert_eq!(last["reasons"][0]["code"], "install-tampered");
}

#[test]
fn a_package_the_policy_does_not_allow_is_refused() {
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    // Verdaccio serves it and the publisher signed it, but no rule names it.
    let unlisted = format!("{}@1.0.0", world().unlisted);
    let output = sandbox.run(&["npx", "-y", &unlisted, "exit", "0"], "");
    let message = refused(&output, "no-matching-rule");
    assert!(message.contains(&world().unlisted), "{message}");
    assert!(message.contains("signature-verified"), "{message}");
    // A launcher the policy does not list.
    let sandbox = Sandbox::new("[launch]\nlaunchers = [\"uvx\"]\n");
    let fixture = format!("{}@1.0.0", world().fixture);
    refused(
        &sandbox.run(&["npx", "-y", &fixture, "exit", "0"], ""),
        "launcher-not-allowed",
    );
    assert!(sandbox.installs().is_empty());
}

/// Verdaccio's storage directory (beside its log).
fn verdaccio_storage() -> PathBuf {
    PathBuf::from(env("MCPIN_TEST_VERDACCIO_LOG"))
        .parent()
        .unwrap()
        .join("storage")
}

#[test]
fn bytes_replaced_in_the_registry_after_signing_are_refused() {
    let w = world();
    let work = tempfile::tempdir().unwrap();
    let name = format!("{}-toctou", w.fixture);
    let signed = fixture_tarball(work.path(), &name, "signed");
    npm_publish(work.path(), &signed);
    sign(&w.dir, &signed, None);
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let spec = format!("{name}@1.0.0");
    let output = sandbox.run(&["npx", "-y", &spec, "exit", "0"], "");
    ok(&output, "the signed bytes launch");

    // Replace tarball and metadata in the registry, as a registry compromise would.
    let evil_dir = work.path().join("evil");
    std::fs::create_dir_all(&evil_dir).unwrap();
    let evil = fixture_tarball(&evil_dir, &name, "replaced after signing");
    let storage = verdaccio_storage().join(&name);
    let tgz = storage.join(format!("{name}-1.0.0.tgz"));
    std::fs::copy(&evil, &tgz).unwrap();
    let bytes = std::fs::read(&evil).unwrap();
    let integrity = {
        use base64::Engine as _;
        use sha2::Digest;
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&bytes))
        )
    };
    let shasum = {
        let output = Command::new("sha1sum").arg(&evil).output().unwrap();
        stdout(&output)[..40].to_owned()
    };
    let meta_path = storage.join("package.json");
    let mut meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["versions"]["1.0.0"]["dist"]["integrity"] = integrity.into();
    meta["versions"]["1.0.0"]["dist"]["shasum"] = shasum.into();
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();

    // A machine that has not cached the package gets the new bytes, and refuses them.
    let fresh = Sandbox::new(LAUNCH_NPX_UVX);
    refused(
        &fresh.run(&["npx", "-y", &spec, "exit", "0"], ""),
        "unsigned",
    );
    assert!(fresh.installs().is_empty());
    let record = fresh.audit().pop().unwrap();
    assert_eq!(record["verdict"], "deny");
    assert_eq!(record["artifact"]["digests"]["sha256"], sha256_of(&evil));
}

#[test]
fn injected_environment_is_stripped_or_refused() {
    let w = world();
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let fixture = format!("{}@1.0.0", w.fixture);
    let payload = sandbox.path("payload.js");
    let marker = sandbox.path("marker");
    std::fs::write(
        &payload,
        "require('fs').appendFileSync(process.env.MARKER_PATH, 'pwned:' + process.pid + '\\n');\n",
    )
    .unwrap();
    let node_options = format!("--require {}", payload.display());
    // Control: the payload runs when NODE_OPTIONS reaches node.
    let control = Command::new("node")
        .args(["-e", "0"])
        .env("NODE_OPTIONS", &node_options)
        .env("MARKER_PATH", &marker)
        .output()
        .unwrap();
    ok(&control, "node control");
    assert!(
        std::fs::read_to_string(&marker)
            .unwrap()
            .starts_with("pwned")
    );
    std::fs::remove_file(&marker).unwrap();

    let output = sandbox
        .run_command(&["npx", "-y", &fixture, "env"])
        .env("NODE_OPTIONS", &node_options)
        .env("MARKER_PATH", &marker)
        .env("KEEP", "kept")
        .output()
        .unwrap();
    ok(&output, "mcpin run with NODE_OPTIONS");
    let seen: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(seen["NODE_OPTIONS"], Value::Null);
    assert_eq!(seen["KEEP"], "kept");
    assert!(!marker.exists(), "the NODE_OPTIONS payload ran");

    // PYTHONPATH with a sitecustomize.py: stripped, and the server runs with -I anyway.
    let site = sandbox.path("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("sitecustomize.py"),
        "import os\nopen(os.environ['MARKER_PATH'], 'a').write('pwned\\n')\n",
    )
    .unwrap();
    let control = Command::new("python3")
        .args(["-c", "0"])
        .env("PYTHONPATH", &site)
        .env("MARKER_PATH", &marker)
        .output()
        .unwrap();
    ok(&control, "python control");
    assert!(
        marker.exists(),
        "control: sitecustomize runs under PYTHONPATH"
    );
    std::fs::remove_file(&marker).unwrap();
    let output = sandbox
        .run_command(&["uvx", "mcp-server-time==2026.10.19", "--local-timezone=UTC"])
        .env("PYTHONPATH", &site)
        .env("MARKER_PATH", &marker)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{INITIALIZE}\n").as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    initialized(&output);
    assert!(!marker.exists(), "the sitecustomize payload ran");

    // LD_PRELOAD: stripped from the server by default (the dynamic linker still applies it to
    // the shim itself before main), and refused outright by a policy that denies it.
    let source = sandbox.path("payload.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n#include <stdlib.h>\n\
         __attribute__((constructor)) static void payload(void) {\n\
           char comm[64] = {0}; FILE *c = fopen(\"/proc/self/comm\", \"r\");\n\
           if (c) { if (!fgets(comm, sizeof comm, c)) comm[0] = 0; fclose(c); }\n\
           const char *p = getenv(\"MARKER_PATH\"); if (p) { FILE *f = fopen(p, \"a\"); if (f) { fputs(comm, f); fclose(f); } }\n\
         }\n",
    )
    .unwrap();
    let library = sandbox.path("payload.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .output()
        .unwrap();
    ok(&cc, "cc payload.so");
    let output = sandbox
        .run_command(&["npx", "-y", &fixture, "env"])
        .env("LD_PRELOAD", &library)
        .env("MARKER_PATH", &marker)
        .output()
        .unwrap();
    ok(&output, "mcpin run with LD_PRELOAD");
    let seen: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(seen["LD_PRELOAD"], Value::Null);
    let ran_in = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(
        !ran_in.contains("node"),
        "the payload ran in the server: {ran_in:?}"
    );
    assert_eq!(ran_in, "mcpin\n", "the payload ran in the shim only");

    let strict = Sandbox::new(&format!("{LAUNCH_NPX_UVX}env-deny = [\"LD_PRELOAD\"]\n"));
    let output = strict
        .run_command(&["npx", "-y", &fixture, "env"])
        .env("LD_PRELOAD", "/nonexistent/payload.so")
        .output()
        .unwrap();
    refused(&output, "env-denied");
}

#[test]
fn exit_codes_and_sigterm_pass_through() {
    let w = world();
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let fixture = format!("{}@1.0.0", w.fixture);
    for code in [0, 7, 42] {
        let output = sandbox.run(&["npx", "-y", &fixture, "exit", &code.to_string()], "");
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    }
    let mut child = sandbox
        .run_command(&["npx", "-y", &fixture, "sleep"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server_pid: u32 = line.trim().strip_prefix("ready ").unwrap().parse().unwrap();
    // The shim execs the interpreter: the agent's child is the server itself.
    assert_eq!(server_pid, child.id());
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "{status:?}");
    let install = sandbox.installs().pop().unwrap();
    let leftovers: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(install.to_str().unwrap()))
        .collect();
    assert!(leftovers.is_empty(), "orphaned: {leftovers:?}");
}

#[test]
fn twenty_concurrent_first_launches_all_succeed() {
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let data = sandbox.path("data");
    let children: Vec<Child> = (0..20)
        .map(|_| {
            let mut child = sandbox
                .run_command(&["npx", "-y", FILESYSTEM, data.to_str().unwrap()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{INITIALIZE}\n").as_bytes())
                .unwrap();
            child
        })
        .collect();
    for child in children {
        initialized(&child.wait_with_output().unwrap());
    }
    assert_eq!(sandbox.installs().len(), 1);
    let allows = sandbox
        .audit()
        .iter()
        .filter(|r| r["verdict"] == "allow")
        .count();
    assert_eq!(allows, 20);
}

#[test]
fn the_policy_must_be_signed_current_and_not_rolled_back() {
    let w = world();
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let fixture = format!("{}@1.0.0", w.fixture);
    let policy_path = sandbox.path("config/mcpin/policy.toml");
    let root_key = w.dir.join("publisher.pub");
    let launch = || {
        sandbox
            .run_command(&["npx", "-y", &fixture, "exit", "0"])
            .env("MCPIN_POLICY_ROOT_KEY", &root_key)
            .output()
            .unwrap()
    };
    // A policy-root key is configured: an unsigned policy allows nothing.
    refused(&launch(), "policy-unsigned");
    let sign = |what: &str| {
        let mut command = mcpin(&["policy", "sign", "--key"]);
        command.arg(w.dir.join("publisher.key")).arg(&policy_path);
        ok(&command.output().unwrap(), what);
    };
    sign("mcpin policy sign");
    ok(&launch(), "launch under the signed policy");
    // Edited after signing.
    let text = std::fs::read_to_string(&policy_path).unwrap();
    std::fs::write(&policy_path, text.replacen("version = 1", "version = 2", 1)).unwrap();
    refused(&launch(), "policy-signature-invalid");
    sign("re-sign version 2");
    ok(&launch(), "launch under version 2");
    // Rolled back to version 1 (validly signed): refused.
    std::fs::write(&policy_path, &text).unwrap();
    sign("re-sign version 1");
    refused(&launch(), "policy-rollback");
    // Expired.
    std::fs::write(
        &policy_path,
        text.replacen("version = 1", "version = 3\nexpires = \"2020-01-01\"", 1),
    )
    .unwrap();
    sign("sign an expired policy");
    refused(&launch(), "policy-expired");
}

/// A docker launch is parsed and checked against the launch rules before any registry is
/// asked: a tag is refused (`mcpin wrap` pins), so are forbidden flags and a policy without
/// docker. The verified path to the real docker client is in `tests/oci.rs`.
#[test]
fn docker_launches_are_refused_before_any_registry_is_asked() {
    let sandbox = Sandbox::new("[launch]\nlaunchers = [\"docker\"]\n");
    let digest = format!("sha256:{}", "a".repeat(64));
    let pinned = format!("mcp/time@{digest}");
    refused(
        &sandbox.run(&["docker", "run", "-i", "--rm", "mcp/time:latest"], ""),
        "docker-unpinned",
    );
    refused(
        &sandbox.run(&["docker", "run", "-i", "--privileged", &pinned], ""),
        "docker-privileged",
    );
    // The launch rules come first: a policy without docker in `launchers` refuses it.
    let npx_only = Sandbox::new(LAUNCH_NPX_UVX);
    refused(
        &npx_only.run(&["docker", "run", "-i", "--rm", &pinned], ""),
        "launcher-not-allowed",
    );
}

/// Issue 10, item 4: the lock installed comes only from the signers the matched rule
/// requires. Another signer the policy trusts (for other packages) signs the fixture with a
/// lock that adds a dependency from a host it controls; before, that lock was installed (here:
/// the install failed fetching it), now it is not considered at all.
#[test]
fn a_lock_signed_by_a_signer_the_rule_does_not_require_is_never_installed() {
    let w = world();
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let output = mcpin(&["keygen", "--out"])
        .arg(sandbox.path("other"))
        .output()
        .unwrap();
    ok(&output, "mcpin keygen");
    let tarball = fixture_tarball(&sandbox.path("repack"), &w.fixture, "signed");
    // `npm pack` is deterministic for the same files: these are the published bytes.
    let evil_lock = sandbox.path("evil.lock.json");
    std::fs::write(
        &evil_lock,
        serde_json::json!({
            "lockVersion": 1,
            "root": { "name": w.fixture, "version": "1.0.0" },
            "ecosystem": "npm",
            "packages": [{
                "path": "node_modules/evil",
                "name": "evil",
                "version": "1.0.0",
                "resolved": "http://127.0.0.1:9/evil-1.0.0.tgz",
                "integrity": format!("sha512-{}", "A".repeat(86) + "=="),
            }],
        })
        .to_string(),
    )
    .unwrap();
    let bundles = w.dir.join("bundles").join(sha256_of(&tarball));
    assert!(
        bundles.is_dir(),
        "the repacked fixture differs from the published one"
    );
    let other_bundle = sandbox.path("other.sigstore.json");
    let mut command = mcpin(&["sign"]);
    command
        .arg(&tarball)
        .arg("--key")
        .arg(sandbox.path("other.key"))
        .arg("--lock")
        .arg(&evil_lock)
        .arg("--out")
        .arg(&other_bundle);
    ok(&command.output().unwrap(), "mcpin sign by the other signer");
    // The other signer's bundle lives in a store of its own, also read by the policy.
    let store = sandbox.path("other-store").join(sha256_of(&tarball));
    std::fs::create_dir_all(&store).unwrap();
    std::fs::copy(&other_bundle, store.join("other.sigstore.json")).unwrap();
    let policy_path = sandbox.path("config/mcpin/policy.toml");
    let text = std::fs::read_to_string(&policy_path).unwrap().replace(
        &format!("dir = \"{}\"", w.dir.join("bundles").display()),
        &format!("dir = \"{}\"", sandbox.path("other-store").display()),
    );
    // Both bundles in one store: copy the publisher's too.
    for entry in std::fs::read_dir(&bundles).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), store.join(entry.file_name())).unwrap();
    }
    std::fs::write(
        &policy_path,
        format!(
            "{text}\n[[signers]]\nid = \"other\"\npublic-key = \"{}\"\n",
            sandbox.path("other.pub").display()
        ),
    )
    .unwrap();
    let output = sandbox.run(
        &["npx", "-y", &format!("{}@1.0.0", w.fixture), "exit", "0"],
        "",
    );
    ok(
        &output,
        "launch with a foreign lock beside the required signer's statement",
    );
    let record = sandbox.audit().pop().unwrap();
    let codes: Vec<&str> = record["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"lock-not-needed"), "{record}");
    let installs = sandbox.installs();
    assert_eq!(installs.len(), 1, "{installs:?}");
    assert!(!installs[0].join("pkg/node_modules").exists());
}

/// Issue 10, item 8: a registry that answers a request for one package with the bytes of
/// another (signed and allowed) package. The bytes match the registry's own integrity claim,
/// so only the identity check catches it: `artifact-mismatch`, nothing launched.
#[test]
fn a_registry_answering_with_another_allowed_artifact_is_refused() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let w = world();
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let root = sandbox.path("lying/root");
    let tarball = fixture_tarball(&sandbox.path("repack"), &w.fixture, "signed");
    let bytes = std::fs::read(&tarball).unwrap();
    std::fs::create_dir_all(root.join("@modelcontextprotocol")).unwrap();
    std::fs::write(root.join("fixture.tgz"), &bytes).unwrap();
    let (_server, base, _log) = mcpin_tests::fixture_server(&root, &[]);
    let requested = "@modelcontextprotocol/server-memory";
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&bytes))
    );
    std::fs::write(
        root.join(requested),
        serde_json::json!({
            "name": requested,
            "dist-tags": { "latest": "2026.8.31" },
            "versions": { "2026.8.31": { "name": requested, "version": "2026.8.31",
                "dist": { "tarball": format!("{base}fixture.tgz"), "integrity": integrity } } },
        })
        .to_string(),
    )
    .unwrap();
    let output = sandbox
        .run_command(&["npx", "-y", &format!("{requested}@2026.8.31")])
        .env("MCPIN_NPM_REGISTRY", &base)
        .output()
        .unwrap();
    let message = refused(&output, "artifact-mismatch");
    assert!(message.contains(requested), "{message}");
    assert!(sandbox.installs().is_empty());
}

/// `unshare --mount` then `sh -c SCRIPT`, with `$1`… = `args`: a private mount namespace in
/// which the test's system directory is bind-mounted on `/etc/mcpin`, so the real, fixed
/// system-config path is used without touching the host's.
fn in_system_namespace(system_dir: &Path, script: &str, args: &[&str]) -> Command {
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount --bind \"$0\" /etc/mcpin || exit 97\n{script}"
        ))
        .arg(system_dir)
        .args(args);
    command
}

/// Issue 10, system mode (items 12 and 13): a root-owned `/etc/mcpin/config.toml` pins the
/// policy, the state, the store and the audit log. A privileged `mcpin install` fills the
/// root-owned store; the user's `mcpin run` reads it, cannot swap the policy, state dir or
/// store by flag or variable, and cannot change an installed file. Run for real as an
/// unprivileged account.
#[test]
fn system_mode_pins_the_trust_settings_for_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    let w = world();
    let user = env("MCPIN_TEST_USER");
    assert!(
        rustix::process::geteuid().is_root(),
        "the system-mode test creates a mount namespace and runs mcpin as `{user}`: run it as root"
    );
    let (uid, gid) = {
        let id = |flag: &str| {
            let output = Command::new("id").arg(flag).arg(&user).output().unwrap();
            ok(&output, "id");
            stdout(&output).trim().to_owned()
        };
        (id("-u"), id("-g"))
    };
    // The host needs the mount point; an empty /etc/mcpin is per-user mode.
    let created_mount_point = !Path::new("/etc/mcpin").exists();
    if created_mount_point {
        std::fs::create_dir("/etc/mcpin").unwrap();
    }
    let system = tempfile::tempdir().unwrap();
    let dir = system.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, mode) in [
        ("bundles", 0o755),
        ("store", 0o755),
        ("state", 0o755),
        ("audit", 0o1733),
    ] {
        std::fs::create_dir(dir.join(name)).unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let copy_tree = |from: &Path, to: &Path| {
        let output = Command::new("cp")
            .arg("-r")
            .arg(from)
            .arg(to)
            .output()
            .unwrap();
        ok(&output, "cp -r");
    };
    for entry in std::fs::read_dir(w.dir.join("bundles")).unwrap() {
        copy_tree(&entry.unwrap().path(), &dir.join("bundles"));
    }
    let output = Command::new("chmod")
        .args(["-R", "go+rX"])
        .arg(dir.join("bundles"))
        .output()
        .unwrap();
    ok(&output, "chmod");
    std::fs::copy(w.dir.join("publisher.pub"), dir.join("publisher.pub")).unwrap();
    let policy = format!(
        "version = 1\n[[signers]]\nid = \"publisher\"\npublic-key = \"/etc/mcpin/publisher.pub\"\n\n\
         [[packages]]\necosystem = \"npm\"\nname = \"mcpin-run-fixture-*\"\nrequire-any = [\"publisher\"]\n\n\
         [store]\ndir = \"/etc/mcpin/bundles\"\n\n{LAUNCH_NPX_UVX}"
    );
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "policy = \"/etc/mcpin/policy.toml\"\nstate-dir = \"/etc/mcpin/state\"\n\
         store = \"/etc/mcpin/store\"\naudit-log = \"/etc/mcpin/audit/{uid}.jsonl\"\n",
    )
    .unwrap();
    let mcpin_bin = mcpin_tests::mcpin_bin();
    let fixture = format!("{}@1.0.0", w.fixture);
    let registry = env("MCPIN_TEST_NPM_REGISTRY");
    let as_user = |extra_env: &[(&str, &str)], args: &[&str]| {
        let mut command = in_system_namespace(
            dir,
            "uid=$1 gid=$2 bin=$3; shift 3; exec setpriv --reuid=\"$uid\" --regid=\"$gid\" --clear-groups \"$bin\" \"$@\"",
            &[&uid, &gid, mcpin_bin.to_str().unwrap()],
        );
        command.args(args);
        command
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", "/nonexistent")
            .env("MCPIN_NPM_REGISTRY", &registry)
            .envs(extra_env.iter().copied())
            .current_dir("/");
        command.output().unwrap()
    };
    let run_argv = ["run", "--", "npx", "-y", &fixture, "exit", "0"];

    // Before the administrator installs it, a user's launch is refused: the user cannot
    // write the root-owned store.
    let output = as_user(&[], &run_argv);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("[not-installed]"),
        "{}",
        stderr(&output)
    );

    // The privileged step.
    let output = in_system_namespace(
        dir,
        "bin=$1; shift; exec \"$bin\" \"$@\"",
        &[mcpin_bin.to_str().unwrap()],
    )
    .args(["install", "--", "npx", "-y", &fixture])
    .env_clear()
    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
    .env("HOME", "/root")
    .env("MCPIN_NPM_REGISTRY", &registry)
    .output()
    .unwrap();
    ok(&output, "sudo mcpin install");

    // Now the user's launch runs, from the root-owned install, offline.
    let output = as_user(&[], &run_argv);
    ok(&output, "mcpin run as the unprivileged user");
    let audit = std::fs::read_to_string(dir.join(format!("audit/{uid}.jsonl"))).unwrap();
    assert!(audit.contains("\"allow\""), "{audit}");

    // Flags and variables that would change a pinned setting: usage error, nothing launched.
    for (flag_env, args) in [
        (
            vec![],
            vec![
                "run",
                "--policy",
                "/tmp/evil.toml",
                "--",
                "npx",
                "-y",
                &fixture,
            ],
        ),
        (
            vec![],
            vec![
                "run",
                "--state-dir",
                "/tmp/fresh",
                "--",
                "npx",
                "-y",
                &fixture,
            ],
        ),
        (
            vec![],
            vec!["run", "--store", "/tmp/store", "--", "npx", "-y", &fixture],
        ),
        (
            vec![("MCPIN_STATE_DIR", "/tmp/fresh")],
            vec!["run", "--", "npx", "-y", &fixture],
        ),
        (
            vec![("MCPIN_STORE", "/tmp/store")],
            vec!["run", "--", "npx", "-y", &fixture],
        ),
    ] {
        let output = as_user(&flag_env, &args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("system mode"),
            "{}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty());
    }

    // The user cannot change an installed file: the tree is root's.
    let installs = dir.join("store/installs/v1");
    let tree = std::fs::read_dir(&installs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.file_name().unwrap().len() == 64)
        .expect("an installed tree");
    let victim = tree.join("pkg/fixture.js");
    let output = in_system_namespace(
        dir,
        "uid=$1 gid=$2 file=$3; exec setpriv --reuid=\"$uid\" --regid=\"$gid\" --clear-groups sh -c 'echo evil >> \"$0\"' \"$file\"",
        &[&uid, &gid, victim.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(
        !output.status.success(),
        "the user wrote into the system install"
    );
    assert!(!std::fs::read_to_string(&victim).unwrap().contains("evil"));

    // A config anyone may write is refused outright, not ignored.
    std::fs::set_permissions(
        dir.join("config.toml"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let output = as_user(&[], &run_argv);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("chmod go-w"),
        "{}",
        stderr(&output)
    );

    if created_mount_point {
        let _ = std::fs::remove_dir("/etc/mcpin");
    }
}
