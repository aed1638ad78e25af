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

use mcpin_tests::{artifact, env, mcpin, npm_pack, npm_publish, ok, sha256_of, stderr, stdout};
use serde_json::Value;

const FILESYSTEM: &str = "@modelcontextprotocol/server-filesystem@2026.8.31";
const FILESYSTEM_TGZ: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";
const TIME_WHL: &str = "mcp_server_time-2026.10.19-py3-none-any.whl";
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcpin-test","version":"1"}}}"#;

/// Signed packages, a publisher key and a bundle store, made once per test binary.
struct World {
    dir: PathBuf,
    /// Name of the fixture package published into Verdaccio by this test binary.
    fixture: String,
    /// A signed fixture no policy rule names.
    unlisted: String,
}

/// A tiny npm server published to Verdaccio under `name`: `exit N`, `sleep`, `env` (prints its
/// whole environment, after trying to load a module it does not ship, as servers with optional
/// dependencies do), or MCP `initialize` on stdin.
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
             if (mode === 'env') {{ try {{ require('mcpin-home-probe'); }} catch (e) {{}} process.stdout.write(JSON.stringify(process.env)); }}\n"
        ),
    )
    .unwrap();
    npm_pack(&src, dir)
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
    // `mcpin run` writes its store and audit log: outside the capture sandbox's private directory.
    let mut command = mcpin(&[
        "tools",
        "capture",
        "--no-sandbox",
        "--timeout",
        "120",
        "--out",
    ]);
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

/// Issue 12: a warm launch compares each installed file's stat with the snapshot taken at the
/// tree's last re-hash instead of re-hashing it. An edit that restores the file's size, mode and
/// mtime still changes its ctime, which no process without root can set back: the launch
/// re-hashes and refuses. `[launch] rehash-installed` makes every launch re-hash.
#[test]
fn a_warm_launch_trusts_the_snapshot_only_while_no_file_changed() {
    let check_of = |sandbox: &Sandbox| -> String {
        let last = sandbox.audit().pop().unwrap();
        let reasons = last["reasons"].as_array().unwrap();
        let verified = reasons
            .iter()
            .find(|r| r["code"] == "install-verified")
            .unwrap_or_else(|| panic!("{last}"));
        verified["message"].as_str().unwrap().to_owned()
    };
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let data = sandbox.path("data");
    let argv = ["npx", "-y", FILESYSTEM, data.to_str().unwrap()];
    let launch = || sandbox.run(&argv, &format!("{INITIALIZE}\n"));
    initialized(&launch());
    assert!(check_of(&sandbox).contains("installed now"));
    // A snapshot records only files older than two seconds (timestamps come from a coarse
    // clock): the next launch re-hashes and records it, the one after uses it.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    initialized(&launch());
    assert!(check_of(&sandbox).contains("every file re-hashed"));
    initialized(&launch());
    assert!(
        check_of(&sandbox).contains("snapshot taken at its last re-hash"),
        "{}",
        check_of(&sandbox)
    );

    // Edit a file the server loads and give it back its size, mode and mtime.
    let [install] = &sandbox.installs()[..] else {
        panic!("expected one install: {:?}", sandbox.installs())
    };
    let file = install.join("pkg/node_modules/zod/package.json");
    let before = std::fs::metadata(&file).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replacen("\"name\"", "\"nome\"", 1);
    assert_eq!(edited.len(), text.len());
    let mut perms = before.permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&file, perms).unwrap();
    std::fs::write(&file, edited).unwrap();
    std::fs::set_permissions(&file, before.permissions()).unwrap();
    std::fs::File::open(&file)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    let message = refused(&launch(), "install-tampered");
    assert!(
        message.contains("pkg/node_modules/zod/package.json"),
        "{message}"
    );

    // The policy can ask for a re-hash before every launch.
    let sandbox = Sandbox::new(&format!("{LAUNCH_NPX_UVX}rehash-installed = true\n"));
    let launch = || sandbox.run(&argv, &format!("{INITIALIZE}\n"));
    initialized(&launch());
    std::thread::sleep(std::time::Duration::from_millis(2500));
    for _ in 0..2 {
        initialized(&launch());
        assert!(check_of(&sandbox).contains("every file re-hashed"));
    }
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
    // The payloads find their marker through MARKER_PATH: the policy lets it through, or the
    // allowlist alone would keep them from writing and the test would prove nothing.
    let sandbox = Sandbox::new(&format!(
        "{LAUNCH_NPX_UVX}env-allow = [\"KEEP\", \"MARKER_PATH\"]\n"
    ));
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
    assert_eq!(seen["MARKER_PATH"], marker.to_str().unwrap());
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
    // A parent of the docker socket and the root passed the suffix check on `docker.sock`;
    // `-e LD_PRELOAD=…` skipped the environment rules. Both are refused before any registry is
    // asked, by the system-path rule (not only because this policy allows no mount source)…
    for (options, code, why) in [
        (
            &["-v", "/var/run:/h:ro"][..],
            "docker-mount-denied",
            "is a host system path",
        ),
        (
            &["-v", "/:/host:ro"],
            "docker-mount-denied",
            "/ is a host system path",
        ),
        (
            &["-e", "LD_PRELOAD=/host/x.so"],
            "docker-env-denied",
            "LD_PRELOAD",
        ),
        (
            &["-e", "NODE_OPTIONS=--require=/host/x.js"],
            "docker-env-denied",
            "NODE_OPTIONS",
        ),
    ] {
        let argv = [&["docker", "run", "-i"][..], options, &[pinned.as_str()]].concat();
        let message = refused(&sandbox.run(&argv, ""), code);
        assert!(message.contains(why), "{options:?}: {message}");
    }
    // …and so even where the policy allows every mount source.
    let everything =
        Sandbox::new("[launch]\nlaunchers = [\"docker\"]\ndocker-mount-sources = [\"/\"]\n");
    for volume in ["/var/run:/h:ro", "/:/host:ro", "/var:/h:ro"] {
        refused(
            &everything.run(&["docker", "run", "-i", "-v", volume, &pinned], ""),
            "docker-mount-denied",
        );
    }
}

/// A loopback TCP server that records the head of every request it receives and answers 404:
/// a registry an attacker runs.
struct Capture {
    address: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn capture_server() -> Capture {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buffer = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    Capture { address, requests }
}

/// `mcpin wrap` pins a floating spec (`npx -y pkg`) by asking a registry. It used to run
/// `npm view` / `uv pip compile` in the current directory, which read the project's `.npmrc`
/// and `uv.toml`: a cloned repository chose which registry answered, and got the user's
/// token. Now the registry client resolves with the user's configuration only.
#[test]
fn wrap_pins_floating_specs_without_the_project_configuration() {
    let w = world();
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let capture = capture_server();
    std::fs::write(
        sandbox.path(".npmrc"),
        format!("registry=http://{}/\n", capture.address),
    )
    .unwrap();
    std::fs::write(
        sandbox.path("uv.toml"),
        format!("index-url = \"http://{}/simple/\"\n", capture.address),
    )
    .unwrap();
    let config = sandbox.path("claude_desktop_config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"mcpServers": {{"fixture": {{"command": "npx", "args": ["-y", "{}", "exit", "0"]}}}}}}"#,
            w.fixture
        ),
    )
    .unwrap();
    let argvs = wrap(&sandbox, &config, "claude-desktop");
    let asked = capture.requests.lock().unwrap().clone();
    assert!(
        asked.is_empty(),
        "the project's registry was asked: {asked:?}"
    );
    assert!(
        argvs[0]
            .iter()
            .any(|a| *a == format!("{}@1.0.0", w.fixture)),
        "{argvs:?}"
    );
}

/// A cloned repository's `./.npmrc` pointed a cold `mcpin run` at its own registry over plain
/// http, with `${SECRET}` from the environment expanded into the token. Under `run` only the
/// user's `~/.npmrc` counts, and nothing in it is expanded; a malformed one is refused with
/// its path and line, and audited.
#[test]
fn a_project_npmrc_never_reaches_run() {
    let w = world();
    let fixture = format!("{}@1.0.0", w.fixture);
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let capture = capture_server();
    let secret = "mcpin-test-secret-5d1e9c";
    std::fs::write(
        sandbox.path(".npmrc"),
        format!(
            "registry=http://{0}/\n//{0}/:_authToken=${{MCPIN_TEST_SECRET}}\n",
            capture.address
        ),
    )
    .unwrap();
    // The user's own configuration names the registry the package is in.
    std::fs::create_dir_all(sandbox.path("home")).unwrap();
    std::fs::write(
        sandbox.path("home/.npmrc"),
        format!("registry={}\n", env("MCPIN_TEST_NPM_REGISTRY")),
    )
    .unwrap();
    let output = sandbox
        .run_command(&["npx", "-y", &fixture, "env"])
        .env_remove("MCPIN_NPM_REGISTRY")
        .env("MCPIN_TEST_SECRET", secret)
        .output()
        .unwrap();
    let asked = capture.requests.lock().unwrap().clone();
    assert!(
        asked.is_empty(),
        "the project's registry was asked: {asked:?}"
    );
    ok(&output, "a cold mcpin run beside a hostile .npmrc");
    assert!(!stderr(&output).contains(secret));
    let allow = sandbox.audit().pop().unwrap();
    assert_eq!(allow["verdict"], "allow", "{allow}");

    // A malformed user configuration: refused before the pipeline, named, and in the log.
    let broken = Sandbox::new(LAUNCH_NPX_UVX);
    std::fs::create_dir_all(broken.path("home")).unwrap();
    std::fs::write(
        broken.path("home/.npmrc"),
        "; mine\nregistry=http://registry.example/\n",
    )
    .unwrap();
    let output = broken
        .run_command(&["npx", "-y", &fixture, "env"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let message = stderr(&output);
    let npmrc = broken.path("home/.npmrc");
    assert!(
        message.contains(&format!("{}: line 2", npmrc.display()))
            && message.contains("[registry-config-invalid]"),
        "{message}"
    );
    let deny = broken.audit().pop().unwrap();
    assert_eq!(deny["verdict"], "deny");
    assert_eq!(deny["reasons"][0]["code"], "registry-config-invalid");
    // The project's file is not even read: a malformed one denies nothing.
    let project = Sandbox::new(LAUNCH_NPX_UVX);
    std::fs::write(project.path(".npmrc"), "registry=::not a url::\n").unwrap();
    let output = project
        .run_command(&["npx", "-y", &fixture, "exit", "0"])
        .output()
        .unwrap();
    ok(&output, "mcpin run beside a malformed project .npmrc");
}

/// The server's environment is an allowlist: the base names, the policy's `env-allow`, nothing
/// else. `HOME` is the account's (node looks in `$HOME/.node_modules` for a module a package
/// does not ship), `PATH` keeps only absolute entries, and every removal is in the audit record.
#[test]
fn the_server_environment_is_an_allowlist() {
    let w = world();
    let fixture = format!("{}@1.0.0", w.fixture);
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let evil_home = sandbox.path("evil-home");
    let probe = evil_home.join(".node_modules/mcpin-home-probe");
    std::fs::create_dir_all(&probe).unwrap();
    let marker = sandbox.path("home-probe-ran");
    std::fs::write(
        probe.join("index.js"),
        format!(
            "require('fs').writeFileSync({:?}, 'pwned');\n",
            marker.display().to_string()
        ),
    )
    .unwrap();
    // Control: node loads the planted module when HOME points at it.
    let control = Command::new("node")
        .args(["-e", "try { require('mcpin-home-probe') } catch (e) {}"])
        .env("HOME", &evil_home)
        .current_dir(sandbox.path("data"))
        .output()
        .unwrap();
    ok(&control, "node control");
    assert!(
        marker.exists(),
        "control: $HOME/.node_modules was not searched"
    );
    std::fs::remove_file(&marker).unwrap();

    let path = format!("node_modules/.bin::{}", std::env::var("PATH").unwrap());
    let output = sandbox
        .run_command(&["npx", "-y", &fixture, "env"])
        .env("HOME", &evil_home)
        .env("PATH", &path)
        .env("AWS_SECRET_ACCESS_KEY", "aws-value-7b2f")
        .env("NODE_TLS_REJECT_UNAUTHORIZED", "0")
        .env("NODE_EXTRA_CA_CERTS", sandbox.path("evil-ca.pem"))
        .env("NODE_V8_COVERAGE", sandbox.path("coverage"))
        .env("HOSTALIASES", sandbox.path("hosts"))
        .env("GCONV_PATH", sandbox.path("gconv"))
        .env("npm_config_registry", "http://127.0.0.1:9/")
        .env("UV_INDEX_URL", "http://127.0.0.1:9/")
        .output()
        .unwrap();
    ok(&output, "mcpin run with a hostile environment");
    assert!(
        !marker.exists(),
        "the module planted in the caller's HOME ran"
    );
    let seen: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let seen = seen.as_object().unwrap();
    const BASE: &[&str] = &["HOME", "PATH", "LANG", "TERM", "TMPDIR", "USER", "LOGNAME"];
    for name in seen.keys() {
        assert!(
            BASE.contains(&name.as_str()) || name.starts_with("LC_"),
            "{name} reached the server: {seen:?}"
        );
    }
    let uid = Command::new("id").arg("-u").output().unwrap();
    let passwd = Command::new("getent")
        .args(["passwd", stdout(&uid).trim()])
        .output()
        .unwrap();
    let account_home = stdout(&passwd).trim().split(':').nth(5).unwrap().to_owned();
    assert_eq!(seen["HOME"], account_home.as_str());
    for entry in std::env::split_paths(seen["PATH"].as_str().unwrap()) {
        assert!(
            entry.is_absolute(),
            "{} in the server's PATH",
            entry.display()
        );
    }
    let allow = sandbox.audit().pop().unwrap();
    let reasons = allow["reasons"].as_array().unwrap();
    let dropped = reasons
        .iter()
        .find(|r| r["code"] == "env-dropped")
        .unwrap_or_else(|| panic!("no env-dropped reason: {allow}"));
    assert!(
        dropped["message"]
            .as_str()
            .unwrap()
            .contains("AWS_SECRET_ACCESS_KEY"),
        "{dropped}"
    );
    // Names are reported, never values.
    assert!(!allow.to_string().contains("aws-value-7b2f"), "{allow}");
    for name in [
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "NODE_EXTRA_CA_CERTS",
        "NODE_V8_COVERAGE",
        "HOSTALIASES",
        "GCONV_PATH",
        "npm_config_registry",
        "UV_INDEX_URL",
        "PATH",
        "HOME",
    ] {
        assert!(
            reasons
                .iter()
                .any(|r| r["code"] == "env-stripped"
                    && r["message"].as_str().unwrap().starts_with(name)),
            "{name} not reported as stripped: {allow}"
        );
    }
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

    // Now the user's launch runs, from the root-owned install, offline. The user can change
    // nothing in root's tree, so its check is the ownership of the tree, not a re-hash.
    let output = as_user(&[], &run_argv);
    ok(&output, "mcpin run as the unprivileged user");
    let audit = std::fs::read_to_string(dir.join(format!("audit/{uid}.jsonl"))).unwrap();
    assert!(audit.contains("\"allow\""), "{audit}");
    assert!(
        audit.contains("root-owned, writable by root only"),
        "{audit}"
    );

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

// ---- The trust boundary at install and exec (issue 10, items 1-3 and 6). Each test below
// reproduces an attack that worked on ae641a5.

/// `PATH` without any directory holding `uv` (or `uvx`), so nothing can fall back to it.
fn path_without_uv() -> String {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .filter(|dir| !dir.join("uv").exists() && !dir.join("uvx").exists())
        .map(|dir| dir.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// The install record's JSON (after the header line, where there is one).
fn record_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let json = if text.starts_with('{') {
        text.as_str()
    } else {
        text.split_once('\n').unwrap().1
    };
    serde_json::from_str(json).unwrap()
}

/// Makes the tree (files and directories) writable again, so a test can tamper with it.
fn make_writable(root: &Path) {
    let status = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(root)
        .status()
        .unwrap();
    assert!(status.success());
}

/// What an attacker who can write the store writes: the tree's recomputed manifest into the
/// record, in the record format of ae641a5 (plain JSON), keeping every other field.
fn forge_record(record_path: &Path, tree: &Path, edit: impl FnOnce(&mut Value)) {
    let mut record = record_json(record_path);
    make_writable(tree);
    let manifest = mcpin_launcher::tree::TreeManifest::compute(tree).unwrap();
    record["tree"] = serde_json::to_value(manifest).unwrap();
    edit(&mut record);
    std::fs::write(record_path, serde_json::to_vec(&record).unwrap()).unwrap();
}

/// A script that leaves a marker when it runs (a planted `node` or `python`).
fn marker_script(path: &Path, marker: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\necho \"ran $0\" >> {}\nexit 3\n",
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    let mut child = command
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

/// Items 1-3: a project `uv.toml`, `UV_*` variables, a `.venv` in the project, `VIRTUAL_ENV`,
/// `CONDA_PREFIX` and a fake `python3.11` on relative or empty PATH entries cannot change what is installed or which Python runs, whether `uv` is on
/// `PATH` or not (the reinstall below runs without it). On ae641a5 `uv python find` took the
/// project's virtualenv (whose `.pth` then ran inside the "verified" server) and
/// `uv pip install` read the project's configuration.
#[test]
fn python_installs_natively_whatever_the_project_and_env_say() {
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let project = sandbox.dir.path();
    let marker = sandbox.path("marker");
    // A virtualenv in the project with a .pth payload, and a conda-looking prefix.
    let venv = project.join(".venv");
    let output = Command::new("/usr/bin/python3.11")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    ok(&output, "python3.11 -m venv");
    std::fs::write(
        venv.join("lib/python3.11/site-packages/evil.pth"),
        format!(
            "import os; open({:?}, 'a').write('venv .pth ran\\n')\n",
            marker.display().to_string()
        ),
    )
    .unwrap();
    let conda = sandbox.path("conda");
    std::fs::create_dir_all(conda.join("conda-meta")).unwrap();
    marker_script(&conda.join("bin/python3.11"), &marker);
    // And a fake Python where a relative or empty PATH entry would find it.
    marker_script(&sandbox.path("node_modules/.bin/python3.11"), &marker);
    marker_script(&sandbox.path("python3.11"), &marker);
    // Project configuration an installer would read.
    std::fs::write(
        project.join("uv.toml"),
        "override-dependencies = [\"tzlocal==5.0\"]\n\n[pip]\nindex-url = \"http://127.0.0.1:9/simple\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"victim\"\nversion = \"0\"\n\n[tool.uv]\noverride-dependencies = [\"tzlocal==5.0\"]\n",
    )
    .unwrap();
    let overrides = sandbox.path("overrides.txt");
    std::fs::write(&overrides, "tzlocal==5.0\n").unwrap();

    let launch = |path: &str| {
        let mut command =
            sandbox.run_command(&["uvx", "mcp-server-time==2026.10.19", "--local-timezone=UTC"]);
        command
            .env(
                "PATH",
                format!(
                    ":node_modules/.bin:{}:{}:{path}",
                    venv.join("bin").display(),
                    conda.join("bin").display(),
                ),
            )
            .env("VIRTUAL_ENV", &venv)
            .env("CONDA_PREFIX", &conda)
            .env("UV_OVERRIDE", &overrides)
            .env("UV_NO_BINARY", "1")
            .env("UV_PYTHON", venv.join("bin/python"))
            .env("UV_INDEX_URL", "http://127.0.0.1:9/simple");
        run_with_stdin(command, &format!("{INITIALIZE}\n"))
    };
    initialized(&launch(&std::env::var("PATH").unwrap()));
    assert!(
        !marker.exists(),
        "{}",
        std::fs::read_to_string(&marker).unwrap()
    );
    let [install] = &sandbox.installs()[..] else {
        panic!("expected one install: {:?}", sandbox.installs())
    };
    // Exactly the locked versions, with bytecode, and a console script mcpin wrote.
    assert!(
        install
            .join("site/tzlocal-5.4.5.dist-info/RECORD")
            .is_file()
    );
    assert!(install.join("site/mcp_server_time/__pycache__").is_dir());
    let script = std::fs::read_to_string(install.join("bin/mcp-server-time")).unwrap();
    assert!(
        script.starts_with("#!/usr/bin/python3.11 -ISB\n"),
        "{script}"
    );
    let allow = sandbox.audit().pop().unwrap();
    assert_eq!(allow["verdict"], "allow");
    let verified = allow["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "install-verified")
        .unwrap()
        .to_string();
    assert!(
        verified.contains("interpreter /usr/bin/python3.11"),
        "{verified}"
    );

    // Item 6: the record names the interpreter no more. Pointing it at a planted program
    // (as ae641a5's `runtime.python` allowed) makes the record fail to authenticate: the tree
    // is installed again (with no `uv` anywhere on PATH) and the real interpreter runs.
    let evil = sandbox.path("evil/python");
    marker_script(&evil, &marker);
    let record_path = install.with_extension("json");
    forge_record(&record_path, install, |record| {
        record["runtime"] = serde_json::json!({"kind": "python", "python": evil});
        if record.get("interpreter_path").is_some() {
            record["interpreter_path"] = serde_json::json!(evil);
        }
    });
    initialized(&launch(&path_without_uv()));
    assert!(
        !marker.exists(),
        "{}",
        std::fs::read_to_string(&marker).unwrap()
    );
    let last = sandbox.audit().pop().unwrap();
    assert!(last.to_string().contains("install-rebuilt"), "{last}");
}

/// Item 3: a relative or empty `PATH` entry (`node_modules/.bin`, a leading `:`) holding a
/// fake `node` is never searched. On ae641a5 the fake ran.
#[test]
fn a_fake_node_on_a_relative_or_empty_path_entry_never_runs() {
    let w = world();
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let marker = sandbox.path("marker");
    marker_script(&sandbox.path("node_modules/.bin/node"), &marker);
    marker_script(&sandbox.path("node"), &marker);
    let fixture = format!("{}@1.0.0", w.fixture);
    for path in [
        format!(":{}", std::env::var("PATH").unwrap()),
        format!("node_modules/.bin:{}", std::env::var("PATH").unwrap()),
        format!(
            "{}:{}",
            sandbox.path("node_modules/.bin").display(),
            std::env::var("PATH").unwrap()
        ),
    ] {
        let output = sandbox
            .run_command(&["npx", "-y", &fixture, "exit", "0"])
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{path}: {}", stderr(&output));
        assert!(
            !marker.exists(),
            "{path}: {}",
            std::fs::read_to_string(&marker).unwrap()
        );
    }
    // With nothing but the project's entries there is no node: refused, and the fake never ran.
    let output = sandbox
        .run_command(&["npx", "-y", &fixture, "exit", "0"])
        .env("PATH", ":node_modules/.bin")
        .output()
        .unwrap();
    let message = refused(&output, "no-interpreter");
    assert!(message.contains("relative PATH entry"), "{message}");
    assert!(!marker.exists());
}

/// Item 3: the policy pins the interpreter (`[launch.interpreters]`): a launch execs exactly
/// that program, whatever PATH says, a pin whose digest does not match refuses, and every
/// audit record names the program exec'd with its sha256.
#[test]
fn the_policy_pins_the_interpreter_and_the_audit_record_names_it() {
    let w = world();
    let node = std::fs::canonicalize(
        std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|dir| dir.join("node"))
            .find(|p| p.is_file())
            .expect("node on PATH"),
    )
    .unwrap();
    let fixture = format!("{}@1.0.0", w.fixture);
    let pinned = |sha256: &str| {
        Sandbox::new(&format!(
            "{LAUNCH_NPX_UVX}\n[launch.interpreters]\nnode = {{ path = \"{}\", sha256 = \"{sha256}\" }}\n",
            node.display()
        ))
    };
    let sandbox = pinned(&sha256_of(&node));
    // A fake node first on PATH (absolute, outside the project) is not what runs: the pin is.
    let fake_dir = tempfile::tempdir().unwrap();
    let marker = sandbox.path("marker");
    marker_script(&fake_dir.path().join("node"), &marker);
    let output = sandbox
        .run_command(&["npx", "-y", &fixture, "exit", "0"])
        .env(
            "PATH",
            format!(
                "{}:{}",
                fake_dir.path().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .output()
        .unwrap();
    ok(&output, "launch with a pinned node");
    assert!(!marker.exists(), "the unpinned node on PATH ran");
    let record = sandbox.audit().pop().unwrap();
    assert_eq!(
        record["program"]["path"],
        node.display().to_string(),
        "{record}"
    );
    assert_eq!(record["program"]["sha256"], sha256_of(&node), "{record}");

    let wrong = pinned(&"0".repeat(64));
    refused(
        &wrong.run(&["npx", "-y", &fixture, "exit", "0"], ""),
        "interpreter-digest-mismatch",
    );
}

/// Item 6: a tree file edited together with a recomputed record, and a tree planted under
/// the (on ae641a5 predictable) install key before the first launch, are never launched.
#[test]
fn an_edited_record_or_a_planted_tree_is_never_launched() {
    let w = world();
    let fixture = format!("{}@1.0.0", w.fixture);
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let marker = sandbox.path("marker");
    let payload = format!(
        "require('fs').appendFileSync({:?}, 'tampered code ran\\n');\n",
        marker.display().to_string()
    );
    ok(
        &sandbox.run(&["npx", "-y", &fixture, "exit", "0"], ""),
        "first launch",
    );
    let [install] = &sandbox.installs()[..] else {
        panic!("expected one install: {:?}", sandbox.installs())
    };
    let tamper = |tree: &Path| {
        make_writable(tree);
        let script = tree.join("pkg/fixture.js");
        let text = std::fs::read_to_string(&script).unwrap();
        std::fs::write(&script, text.replacen('\n', &format!("\n{payload}"), 1)).unwrap();
    };
    tamper(install);
    forge_record(&install.with_extension("json"), install, |_| {});
    let output = sandbox.run(&["npx", "-y", &fixture, "exit", "0"], "");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!marker.exists(), "the edited tree was launched");
    let last = sandbox.audit().pop().unwrap();
    assert!(last.to_string().contains("install-rebuilt"), "{last}");
    // The tree was installed again from the store: it is the honest one.
    let script = std::fs::read_to_string(install.join("pkg/fixture.js")).unwrap();
    assert!(!script.contains("tampered"), "{script}");

    // A fresh store with trees planted before its first launch: one under ae641a5's key
    // (sha256 of the artifact digest and lock digest, both public), one copied with its
    // record from another store.
    let fresh = Sandbox::new(LAUNCH_NPX_UVX);
    let installs = fresh.path("data-home/mcpin/store/installs/v1");
    std::fs::create_dir_all(&installs).unwrap();
    let tarball = verdaccio_storage()
        .join(&w.fixture)
        .join(format!("{}-1.0.0.tgz", w.fixture));
    let predictable = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!(
            "{}\0none",
            sha256_of(&tarball)
        )))
    };
    let planted = [
        predictable,
        install.file_name().unwrap().to_str().unwrap().to_owned(),
    ];
    for key in &planted {
        let tree = installs.join(key);
        let status = Command::new("cp")
            .arg("-a")
            .arg(install)
            .arg(&tree)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::copy(install.with_extension("json"), tree.with_extension("json")).unwrap();
        tamper(&tree);
        forge_record(&tree.with_extension("json"), &tree, |record| {
            record["runtime"] = serde_json::json!({"kind": "node"});
        });
    }
    let output = fresh.run(&["npx", "-y", &fixture, "exit", "0"], "");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!marker.exists(), "a planted tree was launched");
    let used: Vec<PathBuf> = fresh
        .installs()
        .into_iter()
        .filter(|tree| !planted.iter().any(|key| tree.ends_with(key)))
        .collect();
    assert_eq!(used.len(), 1, "{:?}", fresh.installs());
}

/// Item 6: a store others can write (or a directory above it) is refused, naming the path
/// and the fix. On ae641a5 it was used silently.
#[test]
fn a_store_others_can_write_is_refused() {
    let w = world();
    let fixture = format!("{}@1.0.0", w.fixture);
    let sandbox = Sandbox::new(LAUNCH_NPX_UVX);
    let store = sandbox.path("data-home/mcpin/store");
    std::fs::create_dir_all(&store).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o775)).unwrap();
    let output = sandbox.run(&["npx", "-y", &fixture, "exit", "0"], "");
    let message = refused(&output, "store-unsafe");
    assert!(
        message.contains(&format!("chmod go-w {}", store.display())),
        "{message}"
    );
    assert_eq!(
        sandbox.audit().pop().unwrap()["reasons"][0]["code"],
        "store-unsafe"
    );
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    ok(
        &sandbox.run(&["npx", "-y", &fixture, "exit", "0"], ""),
        "after chmod go-w",
    );
}
