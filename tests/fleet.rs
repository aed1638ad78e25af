//! Issue 13, items 3 and 4: policy for a fleet.
//!
//! - `mcpin policy compile` writes each client's managed allowlist; the clients' documented
//!   matching rules are implemented here (Claude Code and Copilot in Rust, goose and Windsurf in
//!   Python with PyYAML and `re`, as independent readers) and run against the compiled files: the
//!   wrapped approved server matches, and a project `.mcp.json` that points `mcpin run --policy
//!   ./evil.toml` at an unapproved package matches nothing.
//! - `mcpin policy publish` and `mcpin policy pull`, for real, as root in a private mount
//!   namespace where a test directory is `/etc/mcpin` (system mode): over HTTPS from a loopback
//!   server with a CA made here (trusted through `SSL_CERT_FILE`), and from Debian's
//!   `docker-registry` that `tests/run` starts. A rollback, a tampered file, a tampered registry
//!   blob, a swapped key and a foreign signature are refused; a withdrawn store file is removed;
//!   a policy not pulled within its `max-age` denies everything (freeze detected).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mcpin_tests::{Service, artifact, mcpin, mcpin_bin, ok, stderr, stdout};
use serde_json::{Value, json};

const NPM: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";
const FILESYSTEM: &str = "@modelcontextprotocol/server-filesystem@2026.8.31";
const MCPIN: &str = "/usr/local/bin/mcpin";

fn run_ok(args: &[&str]) -> Output {
    let output = mcpin(args).output().unwrap();
    ok(&output, &format!("mcpin {args:?}"));
    output
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let prefix = dir.join(name);
    run_ok(&["keygen", "--out", prefix.to_str().unwrap()]);
    prefix
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(output)))
}

// ---------------------------------------------------------------------------------------------
// The clients' matching rules, as their documentation states them.
// ---------------------------------------------------------------------------------------------

/// A stdio server as an agent config declares it.
#[derive(Debug, Clone)]
struct StdioServer {
    name: &'static str,
    command: String,
    args: Vec<String>,
}

impl StdioServer {
    fn new(name: &'static str, argv: &[&str]) -> Self {
        StdioServer {
            name,
            command: argv[0].to_owned(),
            args: argv[1..].iter().map(|a| (*a).to_owned()).collect(),
        }
    }
    fn argv(&self) -> Vec<String> {
        std::iter::once(self.command.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }
}

/// Claude Code's `${VAR}` and `${VAR:-default}` expansion (code.claude.com/docs/en/mcp,
/// "Environment variable expansion in .mcp.json"), applied to both sides before matching.
fn expand(text: &str, env: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &rest[start + 2..start + end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match (env.get(name), default) {
            (Some(value), _) => out.push_str(value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => out.push_str(&rest[start..start + end + 1]),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

fn server_commands(list: Option<&Value>) -> Vec<Vec<String>> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.get("serverCommand"))
        .map(|command| {
            command
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// Claude Code, code.claude.com/docs/en/managed-mcp, "How a server is evaluated": the denylist
/// first (any match blocks); then, when `allowedMcpServers` is set, a stdio server needs a
/// `serverCommand` entry equal to its command and every argument in order (a `serverName` entry
/// counts only when the allowlist has no `serverCommand` entry); both sides `${VAR}`-expanded.
fn claude_code_loads(settings: &Value, server: &StdioServer, env: &BTreeMap<&str, &str>) -> bool {
    let argv: Vec<String> = server.argv().iter().map(|a| expand(a, env)).collect();
    let same =
        |entry: &Vec<String>| entry.iter().map(|a| expand(a, env)).collect::<Vec<_>>() == argv;
    if server_commands(settings.get("deniedMcpServers"))
        .iter()
        .any(same)
    {
        return false;
    }
    let Some(allowed) = settings.get("allowedMcpServers").and_then(Value::as_array) else {
        return true;
    };
    let commands = server_commands(Some(&Value::Array(allowed.clone())));
    if !commands.is_empty() {
        return commands.iter().any(same);
    }
    allowed
        .iter()
        .any(|entry| entry.get("serverName").and_then(Value::as_str) == Some(server.name))
}

/// Copilot (VS Code, Copilot CLI), docs.github.com/en/copilot/reference/enterprise-administrators/
/// enterprise-managed-settings: a `deniedMcpServers` match blocks; when `allowedMcpServers` is
/// set, a stdio server must match a `serverCommand` ("the exact command and each argument …
/// Wildcards and command-line expansion are not supported") or a `serverName`.
fn copilot_runs(settings: &Value, server: &StdioServer) -> bool {
    let argv = server.argv();
    if server_commands(settings.get("deniedMcpServers")).contains(&argv) {
        return false;
    }
    let Some(allowed) = settings.get("allowedMcpServers").and_then(Value::as_array) else {
        return true;
    };
    allowed.iter().any(|entry| {
        entry
            .get("serverCommand")
            .is_some_and(|c| serde_json::from_value::<Vec<String>>(c.clone()).unwrap() == argv)
            || entry.get("serverName").and_then(Value::as_str) == Some(server.name)
    })
}

/// goose (documentation/docs/guides/allowlist.md: "exact matching" of the installation
/// command, `cmd` and `args` joined by spaces as goose's `make_full_cmd` does) and Windsurf
/// (docs.windsurf.com/windsurf/cascade/mcp, Admin Controls: each pattern anchored as
/// `^(?:pattern)$`, the command and each argument matched against their own pattern, equal
/// argument counts; Server IDs are chosen by the config's author, so any entry may match),
/// evaluated by Python reading the files with PyYAML and `json` and matching with `re`.
fn goose_and_windsurf_allow(out: &Path, servers: &[StdioServer]) -> Vec<(bool, bool)> {
    const SCRIPT: &str = r#"
import json, re, sys, yaml
goose_file, windsurf_file = sys.argv[1], sys.argv[2]
allow = yaml.safe_load(open(goose_file))
assert set(allow) == {"extensions"}, allow
goose = [e["command"].strip() for e in allow["extensions"]]
whitelist = json.load(open(windsurf_file))
def windsurf(command, args):
    for entry in whitelist:
        config = entry["serverConfig"]
        patterns = config.get("args", [])
        if re.fullmatch("(?:" + config["command"] + ")", command) is None:
            continue
        if len(patterns) != len(args):
            continue
        if all(re.fullmatch("(?:" + p + ")", a) for p, a in zip(patterns, args)):
            return True
    return False
result = []
for server in json.load(sys.stdin):
    full = (server["command"].strip() + " " + " ".join(a.strip() for a in server["args"]).strip())
    result.append([full in goose, windsurf(server["command"], server["args"])])
print(json.dumps(result))
"#;
    let python = std::env::var("MCPIN_TEST_PYYAML_PYTHON").expect(
        "MCPIN_TEST_PYYAML_PYTHON is not set: run the suite with tests/run (tests/setup/45-pyyaml.sh)",
    );
    let mut child = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(out.join("goose/allowlist.yaml"))
        .arg(out.join("windsurf/whitelist.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let input: Vec<Value> = servers
        .iter()
        .map(|s| json!({"command": s.command, "args": s.args}))
        .collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    ok(&output, "python3 goose/windsurf matcher");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A policy with two approved servers, for the compile tests.
fn compile_fixture(dir: &Path) -> PathBuf {
    keygen(dir, "publisher");
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            r#"version = 3
name = "fleet"

[[signers]]
id = "publisher"
public-key = "publisher.pub"

[[packages]]
ecosystem = "npm"
name = "@modelcontextprotocol/server-*"
version = ">=2026.8.0 <2027.0.0"
require-any = ["publisher"]

[[packages]]
ecosystem = "pypi"
name = "mcp-server-time"
version = "==2026.10.19"
require-any = ["publisher"]

[[servers]]
name = "filesystem"
argv = ["npx", "-y", "{FILESYSTEM}", "/srv/shared"]

[[servers]]
name = "time"
argv = ["uvx", "mcp-server-time==2026.10.19"]

[launch]
launchers = ["npx", "uvx"]
"#
        ),
    )
    .unwrap();
    policy
}

/// Issue 13 item 3: the compiled managed allowlists of every client admit the wrapped approved
/// servers and nothing else. The attack: a cloned repository's `.mcp.json` (read by Claude Code,
/// VS Code and Copilot) that calls the real shim with its own `--policy ./evil.toml` (or
/// `--state-dir`) and an unapproved package, or an approved package without the shim; each
/// matches no compiled entry (and system mode refuses `--policy` besides).
#[test]
fn a_project_mcp_json_calling_mcpin_with_its_own_policy_matches_no_compiled_entry() {
    let dir = tempfile::tempdir().unwrap();
    let policy = compile_fixture(dir.path());
    let out = dir.path().join("out");
    let output = run_ok(&[
        "policy",
        "compile",
        policy.to_str().unwrap(),
        "--target",
        "all",
        "--out",
        out.to_str().unwrap(),
        "--mcpin",
        MCPIN,
        "--json",
    ]);
    let report = json_of(&output);
    assert_eq!(report["schema_version"], 1);
    let files: Vec<&str> = report["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "claude-code/managed-mcp.json",
            "claude-code/managed-settings.json",
            "vscode/managed-settings.json",
            "copilot/managed-settings.json",
            "goose/allowlist.yaml",
            "windsurf/whitelist.json",
            "cursor/mcp.json",
            "claude-desktop/claude_desktop_config.json",
        ]
    );
    let enforced: Vec<bool> = report["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["enforced"].as_bool().unwrap())
        .collect();
    assert_eq!(enforced, [true, true, true, true, true, true, false, false]);

    let wrapped = StdioServer::new(
        "filesystem",
        &[MCPIN, "run", "--", "npx", "-y", FILESYSTEM, "/srv/shared"],
    );
    let wrapped_time = StdioServer::new(
        "time",
        &[MCPIN, "run", "--", "uvx", "mcp-server-time==2026.10.19"],
    );
    let attacks = [
        // The issue's case: the real shim, the project's own policy, an unapproved package.
        StdioServer::new(
            "filesystem",
            &[
                MCPIN,
                "run",
                "--policy",
                "./evil.toml",
                "--",
                "npx",
                "-y",
                "evil-mcp@6.6.6",
            ],
        ),
        // The same with the approved package: the policy flag alone breaks the match.
        StdioServer::new(
            "filesystem",
            &[
                MCPIN,
                "run",
                "--policy",
                "./evil.toml",
                "--",
                "npx",
                "-y",
                FILESYSTEM,
                "/srv/shared",
            ],
        ),
        StdioServer::new(
            "filesystem",
            &[
                MCPIN,
                "run",
                "--state-dir",
                "/tmp/fresh",
                "--",
                "npx",
                "-y",
                FILESYSTEM,
                "/srv/shared",
            ],
        ),
        // Another server argument, another version, another mcpin.
        StdioServer::new(
            "filesystem",
            &[MCPIN, "run", "--", "npx", "-y", FILESYSTEM, "/"],
        ),
        StdioServer::new(
            "filesystem",
            &[
                MCPIN,
                "run",
                "--",
                "npx",
                "-y",
                "@modelcontextprotocol/server-filesystem@2026.8.30",
                "/srv/shared",
            ],
        ),
        StdioServer::new(
            "filesystem",
            &["mcpin", "run", "--", "npx", "-y", FILESYSTEM, "/srv/shared"],
        ),
        StdioServer::new(
            "filesystem",
            &[
                "./mcpin",
                "run",
                "--",
                "npx",
                "-y",
                FILESYSTEM,
                "/srv/shared",
            ],
        ),
        // The approved server without the shim.
        StdioServer::new("filesystem", &["npx", "-y", FILESYSTEM, "/srv/shared"]),
        // A variable that a project's settings might set.
        StdioServer::new(
            "filesystem",
            &[
                "${MCPIN_EVIL}",
                "run",
                "--",
                "npx",
                "-y",
                FILESYSTEM,
                "/srv/shared",
            ],
        ),
    ];
    let env = BTreeMap::from([("MCPIN_EVIL", "/tmp/evil/mcpin"), ("HOME", "/home/me")]);

    // Claude Code: managed settings (approved catalog) …
    let claude = read_json(&out.join("claude-code/managed-settings.json"));
    assert_eq!(claude["allowManagedMcpServersOnly"], true);
    assert!(claude_code_loads(&claude, &wrapped, &env));
    assert!(claude_code_loads(&claude, &wrapped_time, &env));
    for attack in &attacks {
        assert!(
            !claude_code_loads(&claude, attack, &env),
            "Claude Code loads {attack:?}"
        );
    }
    // … and managed-mcp.json (fixed deployment: only its servers load, and they must pass the
    // allowlist too).
    let managed = read_json(&out.join("claude-code/managed-mcp.json"));
    let servers = managed["mcpServers"].as_object().unwrap();
    assert_eq!(servers.len(), 2);
    for (name, entry) in servers {
        assert_eq!(entry["type"], "stdio");
        let mut argv = vec![entry["command"].as_str().unwrap()];
        argv.extend(
            entry["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap()),
        );
        assert_eq!(argv[..3], [MCPIN, "run", "--"], "{name}");
        let server = StdioServer::new("managed", &argv);
        assert!(claude_code_loads(&claude, &server, &env), "{name}");
    }

    // VS Code and Copilot: the same Copilot managed settings file.
    for target in ["vscode", "copilot"] {
        let copilot = read_json(&out.join(format!("{target}/managed-settings.json")));
        assert!(copilot.get("allowManagedMcpServersOnly").is_none());
        assert!(copilot_runs(&copilot, &wrapped), "{target}");
        assert!(copilot_runs(&copilot, &wrapped_time), "{target}");
        for attack in &attacks {
            assert!(!copilot_runs(&copilot, attack), "{target} runs {attack:?}");
        }
    }

    // goose and Windsurf, by independent readers.
    let mut all = vec![wrapped.clone(), wrapped_time.clone()];
    all.extend(attacks.iter().cloned());
    let verdicts = goose_and_windsurf_allow(&out, &all);
    assert_eq!(verdicts[0], (true, true), "the wrapped server");
    assert_eq!(verdicts[1], (true, true), "the wrapped uvx server");
    for (attack, verdict) in attacks.iter().zip(&verdicts[2..]) {
        assert_eq!(*verdict, (false, false), "goose/windsurf allow {attack:?}");
    }

    // The unenforced configs are the wrapped servers, said plainly.
    let cursor = read_json(&out.join("cursor/mcp.json"));
    assert_eq!(cursor["mcpServers"]["filesystem"]["command"], MCPIN);
    let note = report["outputs"][6]["note"].as_str().unwrap();
    assert!(note.starts_with("NOT ENFORCED"), "{note}");
}

/// A server the policy lists but `mcpin run` would refuse is a compile error, never an
/// allowlist entry: every such server is named, and nothing is written.
#[test]
fn compile_refuses_servers_the_launch_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let policy = compile_fixture(dir.path());
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str(
        r#"
[[servers]]
name = "unlisted"
argv = ["npx", "-y", "evil-mcp@6.6.6"]

[[servers]]
name = "floating"
argv = ["npx", "-y", "@modelcontextprotocol/server-memory"]

[[servers]]
name = "registry"
argv = ["npx", "--registry", "https://registry.evil.example/", "-y", "@modelcontextprotocol/server-memory@2026.8.31"]

[[servers]]
name = "old"
argv = ["npx", "-y", "@modelcontextprotocol/server-memory@2025.1.1"]

[[servers]]
name = "spaces"
argv = ["npx", "-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "/srv/with space"]
"#,
    );
    std::fs::write(&policy, text).unwrap();
    let out = dir.path().join("out");
    let output = mcpin(&[
        "policy",
        "compile",
        policy.to_str().unwrap(),
        "--target",
        "goose",
        "--target",
        "claude-code",
        "--out",
        out.to_str().unwrap(),
        "--mcpin",
        MCPIN,
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    for expected in [
        "unlisted: no [[packages]] rule names npm package `evil-mcp`",
        "floating: `@modelcontextprotocol/server-memory` is not an exact version",
        "registry: `mcpin run` refuses it [npx-config-flag]",
        "old: version 2025.1.1",
        "spaces: goose: the argument",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    assert!(!out.exists(), "nothing is written");

    let output = mcpin(&[
        "policy",
        "compile",
        policy.to_str().unwrap(),
        "--target",
        "vscode",
        "--out",
        out.to_str().unwrap(),
        "--mcpin",
        "bin/mcpin",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

// ---------------------------------------------------------------------------------------------
// Distribution: publish, then pull in system mode.
// ---------------------------------------------------------------------------------------------

/// The keys, artifact and bundles a published policy carries.
struct Publisher {
    dir: tempfile::TempDir,
    root: PathBuf,
    artifact: PathBuf,
    sha256: String,
}

impl Publisher {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = keygen(dir.path(), "root");
        keygen(dir.path(), "publisher");
        keygen(dir.path(), "other");
        keygen(dir.path(), "rogue");
        let fetched = artifact(NPM);
        let artifact = dir.path().join(NPM);
        std::fs::copy(fetched, &artifact).unwrap();
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(std::fs::read(&artifact).unwrap()))
        };
        for signer in ["publisher", "other"] {
            let bundle = dir.path().join(format!("{signer}.sigstore.json"));
            run_ok(&[
                "sign",
                artifact.to_str().unwrap(),
                "--key",
                dir.path().join(format!("{signer}.key")).to_str().unwrap(),
                "--out",
                bundle.to_str().unwrap(),
            ]);
        }
        Publisher {
            dir,
            root,
            artifact,
            sha256,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A signed policy tree in `<dir>/src-<label>`: version `version`, with the `publisher` key
    /// and, with `other`, the second bundle in its store. Signed by `signer`.
    fn policy(&self, label: &str, version: u64, other: bool, signer: &str) -> PathBuf {
        let src = self.path(&format!("src-{label}"));
        let store = src.join("bundles").join(&self.sha256);
        std::fs::create_dir_all(&store).unwrap();
        std::fs::create_dir_all(src.join("keys")).unwrap();
        std::fs::copy(self.path("publisher.pub"), src.join("keys/publisher.pub")).unwrap();
        std::fs::copy(
            self.path("publisher.sigstore.json"),
            store.join("publisher.sigstore.json"),
        )
        .unwrap();
        if other {
            std::fs::copy(
                self.path("other.sigstore.json"),
                store.join("other.sigstore.json"),
            )
            .unwrap();
        }
        let policy = src.join("policy.toml");
        std::fs::write(
            &policy,
            format!(
                r#"version = {version}
name = "fleet"
max-age = "6s"

[[signers]]
id = "publisher"
public-key = "keys/publisher.pub"

[[packages]]
ecosystem = "npm"
name = "@modelcontextprotocol/server-filesystem"
require-any = ["publisher"]

[store]
dir = "bundles"

[launch]
launchers = ["npx"]
"#
            ),
        )
        .unwrap();
        run_ok(&[
            "policy",
            "sign",
            policy.to_str().unwrap(),
            "--key",
            self.path(&format!("{signer}.key")).to_str().unwrap(),
        ]);
        policy
    }

    fn publish(&self, policy: &Path, to: &str) -> Output {
        mcpin(&[
            "policy",
            "publish",
            policy.to_str().unwrap(),
            "--policy-root-key",
            self.root.with_extension("pub").to_str().unwrap(),
            "--to",
            to,
            "--json",
        ])
        .output()
        .unwrap()
    }
}

/// A machine in system mode: a root-owned directory bind-mounted on `/etc/mcpin` in a private
/// mount namespace, with `config.toml` pinning the policy, the policy-root key and the state.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new(root_pub: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        assert!(
            rustix::process::geteuid().is_root(),
            "the pull tests install into a root-owned /etc/mcpin in a mount namespace: run them as root"
        );
        // The host needs the mount point (an empty /etc/mcpin is per-user mode); it is left
        // in place for the other tests that bind-mount on it.
        if let Err(error) = std::fs::create_dir("/etc/mcpin")
            && error.kind() != std::io::ErrorKind::AlreadyExists
        {
            panic!("creating /etc/mcpin: {error}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(root_pub, dir.path().join("policy-root.pub")).unwrap();
        std::fs::create_dir(dir.path().join("audit")).unwrap();
        std::fs::set_permissions(
            dir.path().join("audit"),
            std::fs::Permissions::from_mode(0o1733),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "policy = \"/etc/mcpin/policy.toml\"\npolicy-root-key = \"/etc/mcpin/policy-root.pub\"\n\
             state-dir = \"/etc/mcpin/state\"\nstore = \"/etc/mcpin/store\"\n\
             audit-log = \"/etc/mcpin/audit/{uid}.jsonl\"\n",
        )
        .unwrap();
        Machine { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// `mcpin ARGS` in the machine's namespace, as root.
    fn mcpin(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            // A strict umask: what the pull installs must still be readable by every user.
            .arg("mount --bind \"$0\" /etc/mcpin || exit 97\numask 077\nbin=$1; shift; exec \"$bin\" \"$@\"")
            .arg(self.dir.path())
            .arg(mcpin_bin())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", "/root")
            .envs(extra_env.iter().copied())
            .current_dir("/");
        command.output().unwrap()
    }

    /// The installed policy judged for the artifact, as a launch would (the verdict JSON).
    fn verify(&self, publisher: &Publisher) -> Output {
        mcpin(&[
            "verify",
            publisher.artifact.to_str().unwrap(),
            "--policy",
            self.path("policy.toml").to_str().unwrap(),
            "--policy-root-key",
            self.path("policy-root.pub").to_str().unwrap(),
            "--state-dir",
            self.path("state").to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap()
    }

    /// `mcpin ARGS` in the machine's namespace as the unprivileged test account.
    fn as_user(&self, args: &[&str]) -> Output {
        let user = std::env::var("MCPIN_TEST_USER")
            .expect("MCPIN_TEST_USER: run the suite with tests/run, which creates the account");
        let id = |flag: &str| {
            let output = Command::new("id").arg(flag).arg(&user).output().unwrap();
            ok(&output, "id");
            stdout(&output).trim().to_owned()
        };
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount --bind \"$0\" /etc/mcpin || exit 97\n\
                 uid=$1 gid=$2 bin=$3; shift 3\n\
                 exec setpriv --reuid=\"$uid\" --regid=\"$gid\" --clear-groups \"$bin\" \"$@\"",
            )
            .arg(self.dir.path())
            .arg(id("-u"))
            .arg(id("-g"))
            .arg(mcpin_bin())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", "/nonexistent")
            .current_dir("/")
            .output()
            .unwrap()
    }

    fn digest(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(self.path("policy.toml")).unwrap(),
        ))
    }
}

fn codes(verdict: &Value) -> Vec<String> {
    verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

/// A refused pull: exit 1, the reason code in the JSON report, nothing installed.
fn assert_refused(output: &Output, code: &str, machine: &Machine, installed: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    let report = json_of(output);
    assert_eq!(report["status"], "refused", "{report}");
    assert_eq!(report["reason"]["code"], code, "{report}");
    assert_eq!(
        machine.digest(),
        installed,
        "the installed policy is untouched"
    );
}

/// A refused first pull: exit 1, the reason code, and nothing installed.
fn assert_refused_fresh(output: &Output, code: &str, machine: &Machine) {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    let report = json_of(output);
    assert_eq!(report["status"], "refused", "{report}");
    assert_eq!(report["reason"]["code"], code, "{report}");
    for file in [
        "policy.toml",
        "policy.toml.sigstore.json",
        "keys",
        "bundles",
    ] {
        assert!(!machine.path(file).exists(), "{file} was installed");
    }
}

/// A loopback HTTPS server for `root`, with a certificate for 127.0.0.1 from a CA made here;
/// returns it, its base URL and the CA file to trust.
fn https_server(dir: &Path, root: &Path) -> (Service, String, PathBuf) {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(&tls)
            .output()
            .unwrap();
        ok(&output, &format!("openssl {args:?}"));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mcpin test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        tls.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    const SERVER: &str = r#"
import functools, http.server, os, ssl, sys
root, cert, key, port_file = sys.argv[1:5]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(httpd.server_address[1]))
os.rename(port_file + ".tmp", port_file)
httpd.serve_forever()
"#;
    let port_file = dir.join("https-port");
    let child = Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(root)
        .arg(tls.join("leaf.pem"))
        .arg(tls.join("leaf.key"))
        .arg(&port_file)
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let service = Service(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !port_file.exists() {
        assert!(Instant::now() < deadline, "the HTTPS server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let port = std::fs::read_to_string(&port_file).unwrap();
    (
        service,
        format!("https://127.0.0.1:{port}"),
        tls.join("ca.pem"),
    )
}

/// Issue 13 item 4 over HTTPS: publish, pull as root into system mode, and every refusal.
#[test]
fn pull_over_https_verifies_installs_and_refuses_rollback_tampering_and_freeze() {
    let publisher = Publisher::new();
    let site = publisher.path("site");
    let v1 = publisher.policy("v1", 1, true, "root");
    let v2 = publisher.policy("v2", 2, false, "root");
    for (policy, label) in [(&v1, "v1"), (&v2, "v2")] {
        let output = publisher.publish(policy, site.join(label).to_str().unwrap());
        ok(&output, "mcpin policy publish");
        assert_eq!(json_of(&output)["schema_version"], 1);
    }
    // Published trees an attacker (or a broken mirror) serves instead.
    let copy = |from: &str, to: &str| {
        let output = Command::new("cp")
            .arg("-r")
            .arg(site.join(from))
            .arg(site.join(to))
            .output()
            .unwrap();
        ok(&output, "cp -r");
    };
    copy("v2", "tampered");
    let bundle = format!("bundles/{}/publisher.sigstore.json", publisher.sha256);
    let mut bytes = std::fs::read(site.join("tampered").join(&bundle)).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(site.join("tampered").join(&bundle), bytes).unwrap();
    copy("v2", "swapped-key");
    std::fs::copy(
        publisher.path("rogue.pub"),
        site.join("swapped-key/keys/publisher.pub"),
    )
    .unwrap();
    let forged = publisher.policy("forged", 9, false, "rogue");
    let output = Command::new("cp")
        .arg("-r")
        .arg(forged.parent().unwrap())
        .arg(site.join("forged"))
        .output()
        .unwrap();
    ok(&output, "cp -r");

    let (_server, base, ca) = https_server(publisher.dir.path(), &site);
    let machine = Machine::new(&publisher.root.with_extension("pub"));
    let tls = [("SSL_CERT_FILE", ca.to_str().unwrap())];
    let pull = |label: &str| {
        machine.mcpin(
            &[
                "policy",
                "pull",
                &format!("{base}/{label}/policy.toml"),
                "--json",
            ],
            &tls,
        )
    };

    // Before any pull, the policy with max-age is not there: a launch finds no policy.
    let output = pull("v1");
    ok(&output, "mcpin policy pull v1");
    let report = json_of(&output);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["status"], "installed");
    assert_eq!(report["policy"]["version"], 1);
    let installed: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let other = format!("bundles/{}/other.sigstore.json", publisher.sha256);
    assert_eq!(
        installed,
        [other.as_str(), bundle.as_str(), "keys/publisher.pub"]
    );
    assert!(machine.path("policy.toml.sigstore.json").is_file());
    assert!(machine.path(&other).is_file());
    let record = read_json(&machine.path("state/policy-pull.json"));
    assert_eq!(record["version"], 1);

    // A user's launch reads the pulled policy, its key, its signature, the rollback state and
    // the pull record (all root's): it gets as far as the root-owned store, which is empty.
    let output = machine.as_user(&["run", "--", "npx", "-y", FILESYSTEM, "/tmp"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("[not-installed]"),
        "{}",
        stderr(&output)
    );

    // The pulled policy and store allow the signed artifact, and the pull is fresh.
    let verdict = machine.verify(&publisher);
    ok(&verdict, "mcpin verify after the pull");
    assert!(codes(&json_of(&verdict)).contains(&"policy-fresh".to_owned()));

    // Freeze: no successful pull for longer than max-age (6s) denies everything.
    std::thread::sleep(Duration::from_secs(7));
    let verdict = machine.verify(&publisher);
    assert_eq!(verdict.status.code(), Some(1), "{}", stderr(&verdict));
    let verdict = json_of(&verdict);
    assert_eq!(verdict["decision"], "deny");
    assert!(
        codes(&verdict).contains(&"policy-stale".to_owned()),
        "{verdict}"
    );

    // The same policy pulled again: unchanged, and fresh again.
    let output = pull("v1");
    ok(&output, "mcpin policy pull v1 again");
    assert_eq!(json_of(&output)["status"], "unchanged");
    ok(
        &machine.verify(&publisher),
        "mcpin verify after a fresh pull",
    );

    // v2 withdraws the second bundle: it is removed from the store.
    let output = pull("v2");
    ok(&output, "mcpin policy pull v2");
    let report = json_of(&output);
    assert_eq!(report["status"], "installed");
    assert_eq!(report["previous_version"], 1);
    assert_eq!(report["removed"], json!([other]));
    assert!(!machine.path(&other).exists());
    let installed = machine.digest();

    // Rollback: the older signed policy is refused.
    assert_refused(&pull("v1"), "policy-rollback", &machine, &installed);
    // A store file changed after signing, and the key the policy names swapped for another:
    // a machine that has the pinned bytes already keeps them (nothing is downloaded again)…
    for label in ["tampered", "swapped-key"] {
        let output = pull(label);
        ok(&output, label);
        let report = json_of(&output);
        assert_eq!(report["status"], "unchanged", "{label}");
        let downloaded: Vec<&Value> = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["downloaded"] != false)
            .collect();
        assert!(downloaded.is_empty(), "{label}: {downloaded:?}");
        assert_eq!(machine.digest(), installed);
    }
    // … and a machine that does not is refused them, with nothing installed.
    let fresh = Machine::new(&publisher.root.with_extension("pub"));
    for label in ["tampered", "swapped-key"] {
        let output = fresh.mcpin(
            &[
                "policy",
                "pull",
                &format!("{base}/{label}/policy.toml"),
                "--json",
            ],
            &tls,
        );
        assert_refused_fresh(&output, "policy-reference-changed", &fresh);
    }
    // Signed by a key that is not the pinned policy-root key.
    assert_refused(
        &pull("forged"),
        "policy-signature-invalid",
        &machine,
        &installed,
    );
    assert!(machine.path(&bundle).is_file(), "the store is intact");
    ok(
        &machine.verify(&publisher),
        "mcpin verify after the refusals",
    );

    // Without the test CA the server is not trusted: nothing is fetched (exit 4).
    let output = machine.mcpin(
        &["policy", "pull", &format!("{base}/v2/policy.toml")],
        &[("SSL_CERT_FILE", "/nonexistent/ca.pem")],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let output = machine.mcpin(&["policy", "pull", &format!("{base}/v2/policy.toml")], &[]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));

    // Not root: refused before anything is fetched.
    let output = machine.as_user(&["policy", "pull", &format!("{base}/v2/policy.toml")]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("run it as root"),
        "{}",
        stderr(&output)
    );
}

/// Per-user mode has no system-wide place to install a policy: pull says so.
#[test]
fn pull_outside_system_mode_is_a_usage_error() {
    if Path::new("/etc/mcpin/config.toml").exists() {
        panic!("this host is in system mode; the test needs per-user mode");
    }
    let output = mcpin(&[
        "policy",
        "pull",
        "https://policy.example/fleet/policy.toml",
        "--json",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(json_of(&output)["reason"]["code"], "pull-not-system-mode");
    let output = mcpin(&["policy", "pull", "ftp://policy.example/p.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

fn oci_registry() -> String {
    std::env::var("MCPIN_TEST_OCI_REGISTRY").unwrap_or_else(|_| {
        panic!("MCPIN_TEST_OCI_REGISTRY is not set: run the suite with `tests/run`, which starts the registry")
    })
}

/// Issue 13 item 4 from an OCI registry (Debian's docker-registry): publish and pull by tag; a
/// rollback and a blob whose bytes were changed in the registry's storage are refused.
#[test]
fn pull_from_an_oci_registry_refuses_rollback_and_a_tampered_blob() {
    let registry = oci_registry();
    let storage = PathBuf::from(
        std::env::var("MCPIN_TEST_RUN").expect("MCPIN_TEST_RUN: run the suite with tests/run"),
    )
    .join("oci/storage/docker/registry/v2/blobs/sha256");
    let publisher = Publisher::new();
    let v1 = publisher.policy("v1", 1, true, "root");
    let v2 = publisher.policy("v2", 2, false, "root");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let repository = format!(
        "{registry}/mcpin/fleet-policy-{}-{nanos}",
        std::process::id()
    );
    let publish = |policy: &Path, tag: &str| {
        let output = publisher.publish(policy, &format!("oci:{repository}:{tag}"));
        ok(&output, "mcpin policy publish oci:");
        json_of(&output)
    };
    let report = publish(&v1, "prod");
    assert!(report["manifest"].as_str().unwrap().starts_with("sha256:"));

    let machine = Machine::new(&publisher.root.with_extension("pub"));
    let pull = || {
        machine.mcpin(
            &[
                "policy",
                "pull",
                &format!("oci:{repository}:prod"),
                "--json",
            ],
            &[],
        )
    };
    let output = pull();
    ok(&output, "mcpin policy pull oci: v1");
    assert_eq!(json_of(&output)["policy"]["version"], 1);
    ok(
        &machine.verify(&publisher),
        "mcpin verify after the OCI pull",
    );

    publish(&v2, "prod");
    let output = pull();
    ok(&output, "mcpin policy pull oci: v2");
    assert_eq!(json_of(&output)["policy"]["version"], 2);
    let installed = machine.digest();

    // The tag moved back to the older policy.
    publish(&v1, "prod");
    assert_refused(&pull(), "policy-rollback", &machine, &installed);

    // v2 again, then its bundle's bytes changed inside the registry's storage.
    publish(&v2, "prod");
    let bundle = std::fs::read(publisher.path("src-v2").join(format!(
        "bundles/{}/publisher.sigstore.json",
        publisher.sha256
    )))
    .unwrap();
    let hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bundle))
    };
    let data = storage.join(&hex[..2]).join(&hex).join("data");
    let mut tampered = std::fs::read(&data).unwrap();
    let last = tampered.len() - 2;
    tampered[last] ^= 0x20;
    std::fs::write(&data, &tampered).unwrap();
    let fresh = Machine::new(&publisher.root.with_extension("pub"));
    let output = fresh.mcpin(
        &[
            "policy",
            "pull",
            &format!("oci:{repository}:prod"),
            "--json",
        ],
        &[],
    );
    std::fs::write(&data, &bundle).unwrap();
    assert_refused_fresh(&output, "blob-digest-mismatch", &fresh);
    // The machine that has the bundle already does not download it again.
    let output = pull();
    ok(&output, "mcpin policy pull oci: v2 again");
    assert_eq!(json_of(&output)["status"], "unchanged");
    assert_eq!(machine.digest(), installed);
}

/// The scheduling examples in `contrib/`: systemd accepts the service and timer without a
/// warning (`systemd-analyze verify`, with ExecStart pointed at this build), launchd's plist
/// parses (Python's `plistlib`), and the command line both run is one `mcpin` accepts.
#[test]
fn contrib_units_for_scheduled_pulls_are_valid() {
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib");
    let dir = tempfile::tempdir().unwrap();
    let service =
        std::fs::read_to_string(contrib.join("systemd/mcpin-policy-pull.service")).unwrap();
    let exec = service
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .expect("ExecStart")
        .to_owned();
    let args: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(args[..3], ["/usr/local/bin/mcpin", "policy", "pull"]);
    std::fs::write(
        dir.path().join("mcpin-policy-pull.service"),
        service.replace("/usr/local/bin/mcpin", mcpin_bin().to_str().unwrap()),
    )
    .unwrap();
    std::fs::copy(
        contrib.join("systemd/mcpin-policy-pull.timer"),
        dir.path().join("mcpin-policy-pull.timer"),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("mcpin-policy-pull.service"))
        .arg(dir.path().join("mcpin-policy-pull.timer"))
        .output()
        .expect("systemd-analyze (package systemd)");
    ok(&output, "systemd-analyze verify");
    assert_eq!(stderr(&output), "", "systemd warns about the units");

    let output = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
        )
        .arg(contrib.join("launchd/dev.mcpin.policy-pull.plist"))
        .output()
        .unwrap();
    ok(&output, "plistlib");
    let plist = json_of(&output);
    assert_eq!(plist["Label"], "dev.mcpin.policy-pull");
    assert_eq!(plist["RunAtLoad"], true);
    assert!(plist["StartInterval"].as_u64().unwrap() > 0);
    let program: Vec<&str> = plist["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(program[..3], ["/usr/local/bin/mcpin", "policy", "pull"]);
    assert_eq!(program[3], args[3], "the same source in both examples");

    // mcpin accepts that command line (here, in per-user mode, it refuses to install).
    let output = mcpin(&args[1..]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("per-user mode"),
        "{}",
        stderr(&output)
    );
}
