//! What users expect of the command line as a whole: every `--json` report carries a
//! `schema_version`, shell completions work in a real bash, and the man pages render with
//! `man`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mcpin_tests::{artifact, env, mcpin, stderr, stdout};
use serde_json::Value;

const FILESYSTEM_TGZ: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";

/// A scratch directory that is also HOME and every XDG base, so no real config, policy,
/// store or audit log is read or written.
struct Sandbox {
    dir: tempfile::TempDir,
    /// The commands whose `--json` report was checked, as `mcpin store ls`.
    checked: BTreeSet<String>,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            checked: BTreeSet::new(),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn arg(&self, relative: &str) -> String {
        self.path(relative).to_string_lossy().into_owned()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = mcpin(args);
        command
            .current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("MCPIN_STORE", self.path("store"))
            .env_remove("MCPIN_OFFLINE")
            .env_remove("MCPIN_POLICY_ROOT_KEY");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("spawning mcpin")
    }

    /// Runs `args` (which include `--json`), accepting the exit codes in `exits`, and checks
    /// that stdout is one JSON object with a numeric `schema_version`.
    fn json(&mut self, command: &str, args: &[&str], exits: &[i32]) -> Value {
        assert!(args.contains(&"--json"), "{command}: no --json in {args:?}");
        let output = self.run(args);
        let code = output.status.code().expect("exited");
        assert!(
            exits.contains(&code),
            "{command}: exit {code}\nstderr:\n{}",
            stderr(&output)
        );
        let report: Value = serde_json::from_str(&stdout(&output))
            .unwrap_or_else(|e| panic!("{command} --json: not JSON ({e}):\n{}", stdout(&output)));
        let version = report["schema_version"].as_u64();
        assert!(
            version.is_some_and(|v| v >= 1),
            "{command} --json has no schema_version:\n{report:#}"
        );
        self.checked.insert(command.to_owned());
        report
    }
}

/// Every command whose options include `--json`, from the generated CLI reference
/// (`docs/reference/cli.md`, which a unit test keeps equal to the clap definitions).
fn commands_with_json() -> BTreeSet<String> {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference/cli.md");
    let text = std::fs::read_to_string(&reference).unwrap();
    let mut current = None;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## `") {
            current = heading.strip_suffix('`').map(str::to_owned);
        } else if line.starts_with("* `--json`")
            && let Some(command) = &current
        {
            found.insert(command.clone());
        }
    }
    assert!(
        !found.is_empty(),
        "no --json option in {}",
        reference.display()
    );
    found
}

#[test]
fn every_json_output_carries_a_schema_version() {
    let npm_registry = env("MCPIN_TEST_NPM_REGISTRY");
    let oci_registry = env("MCPIN_TEST_OCI_REGISTRY");
    let mut sandbox = Sandbox::new();
    let tgz = sandbox.arg(FILESYSTEM_TGZ);
    std::fs::copy(artifact(FILESYSTEM_TGZ), &tgz).unwrap();
    let keygen = sandbox.run(&["keygen", "--out", &sandbox.arg("publisher")]);
    assert!(keygen.status.success(), "{}", stderr(&keygen));

    // Publisher: sign, verify with the key, inspect, SBOM.
    let signed = sandbox.json(
        "mcpin sign",
        &[
            "sign",
            &tgz,
            "--key",
            &sandbox.arg("publisher.key"),
            "--json",
        ],
        &[0],
    );
    assert_eq!(signed["sha256"].as_str().map(str::len), Some(64));
    let verified = sandbox.json(
        "mcpin verify",
        &[
            "verify",
            &tgz,
            "--key",
            &sandbox.arg("publisher.pub"),
            "--json",
        ],
        &[0],
    );
    assert_eq!(verified["verified"], true);
    let inspected = sandbox.json(
        "mcpin inspect",
        &["inspect", &format!("{tgz}.sigstore.json"), "--json"],
        &[0],
    );
    assert_eq!(inspected["_type"], "https://in-toto.io/Statement/v1");
    let sbom = sandbox.run(&["sbom", &tgz, "--out", &sandbox.arg("package.cdx.json")]);
    assert!(sbom.status.success(), "{}", stderr(&sbom));
    sandbox.json(
        "mcpin sbom check",
        &["sbom", "check", &sandbox.arg("package.cdx.json"), "--json"],
        &[0],
    );

    // Enterprise: a policy verdict.
    std::fs::write(
        sandbox.path("policy.toml"),
        r#"version = 1
[[signers]]
id = "publisher"
public-key = "publisher.pub"
[[packages]]
ecosystem = "npm"
name = "@modelcontextprotocol/server-filesystem"
require-any = ["publisher"]
"#,
    )
    .unwrap();
    let verdict = sandbox.json(
        "mcpin verify",
        &[
            "verify",
            &tgz,
            "--policy",
            &sandbox.arg("policy.toml"),
            "--json",
        ],
        &[0],
    );
    assert_eq!(verdict["decision"], "allow");

    // Fleet: compile the client allowlists, publish the signed policy, pull (refused here: this
    // sandbox is in per-user mode).
    let mut fleet_policy = std::fs::read_to_string(sandbox.path("policy.toml")).unwrap();
    fleet_policy.push_str(
        "[[servers]]\nname = \"filesystem\"\n\
         argv = [\"npx\", \"-y\", \"@modelcontextprotocol/server-filesystem@2026.8.31\", \"/srv\"]\n\
         [launch]\nlaunchers = [\"npx\"]\n",
    );
    std::fs::write(sandbox.path("fleet.toml"), fleet_policy).unwrap();
    let compiled = sandbox.json(
        "mcpin policy compile",
        &[
            "policy",
            "compile",
            &sandbox.arg("fleet.toml"),
            "--target",
            "claude-code",
            "--out",
            &sandbox.arg("managed"),
            "--mcpin",
            "/usr/local/bin/mcpin",
            "--json",
        ],
        &[0],
    );
    assert_eq!(compiled["outputs"].as_array().map(Vec::len), Some(2));
    let root = sandbox.run(&["keygen", "--out", &sandbox.arg("policy-root")]);
    assert!(root.status.success(), "{}", stderr(&root));
    let signed_policy = sandbox.run(&[
        "policy",
        "sign",
        &sandbox.arg("fleet.toml"),
        "--key",
        &sandbox.arg("policy-root.key"),
    ]);
    assert!(signed_policy.status.success(), "{}", stderr(&signed_policy));
    let published = sandbox.json(
        "mcpin policy publish",
        &[
            "policy",
            "publish",
            &sandbox.arg("fleet.toml"),
            "--policy-root-key",
            &sandbox.arg("policy-root.pub"),
            "--to",
            &sandbox.arg("site"),
            "--json",
        ],
        &[0],
    );
    assert_eq!(published["files"].as_array().map(Vec::len), Some(3));
    let pulled = sandbox.json(
        "mcpin policy pull",
        &[
            "policy",
            "pull",
            "https://127.0.0.1:9/site/fleet.toml",
            "--json",
        ],
        &[2],
    );
    assert_eq!(pulled["reason"]["code"], "pull-not-system-mode");

    // Registries and the store.
    let spec = "npm:@modelcontextprotocol/server-filesystem@2026.8.31";
    let fetched = sandbox.json(
        "mcpin fetch",
        &["fetch", spec, "--npm-registry", &npm_registry, "--json"],
        &[0],
    );
    assert_eq!(fetched["sha256"], signed["sha256"]);
    let listed = sandbox.json("mcpin store ls", &["store", "ls", "--json"], &[0]);
    assert_eq!(listed["refs"].as_array().map(Vec::len), Some(1));
    sandbox.json("mcpin store verify", &["store", "verify", "--json"], &[0]);
    sandbox.json("mcpin store gc", &["store", "gc", "--json"], &[0]);

    // OCI attestation store.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let store = format!("{oci_registry}/cli-json-{}-{nanos}", std::process::id());
    let pushed = sandbox.json(
        "mcpin attest push",
        &["attest", "push", &tgz, "--oci", &store, "--json"],
        &[0],
    );
    assert_eq!(pushed["pushed"].as_array().map(Vec::len), Some(1));
    let attached = sandbox.json(
        "mcpin attest ls",
        &["attest", "ls", &tgz, "--oci", &store, "--json"],
        &[0],
    );
    assert_eq!(attached["attached"].as_array().map(Vec::len), Some(1));

    // Tools payloads.
    let tools = mcpin_tests::testdata("cyclonedx/tools-filesystem.json");
    let tools = tools.to_str().unwrap();
    let diff = sandbox.json(
        "mcpin tools diff",
        &["tools", "diff", tools, tools, "--json"],
        &[0],
    );
    assert!(diff.is_object());
    // Exit 1 when a finding reaches --fail-on; the report is printed either way.
    sandbox.json(
        "mcpin tools lint",
        &["tools", "lint", tools, "--json"],
        &[0, 1],
    );

    // Developer machine: wrap and unwrap an agent config (dry run), and the audit log that a
    // refused launch leaves.
    std::fs::write(
        sandbox.path("claude_desktop_config.json"),
        r#"{"mcpServers":{"evil":{"command":"npx","args":["-y","github:evil/x"]}}}"#,
    )
    .unwrap();
    let config = sandbox.arg("claude_desktop_config.json");
    for command in ["wrap", "unwrap"] {
        let report = sandbox.json(
            &format!("mcpin {command}"),
            &[
                command,
                "--config",
                &config,
                "--client",
                "claude-desktop",
                "--dry-run",
                "--json",
            ],
            &[0],
        );
        assert_eq!(
            report["files"].as_array().map(Vec::len),
            Some(1),
            "{command}"
        );
    }
    let log = sandbox.arg("audit.jsonl");
    let refused = sandbox.run(&[
        "run",
        "--audit-log",
        &log,
        "--",
        "npx",
        "-y",
        "github:evil/x",
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    // `mcpin install` makes the same checks; refused here, it reports and logs the decision.
    let installed = sandbox.json(
        "mcpin install",
        &[
            "install",
            "--audit-log",
            &log,
            "--json",
            "--",
            "npx",
            "-y",
            "github:evil/x",
        ],
        &[1],
    );
    assert_eq!(installed["installed"], false);
    // `mcpin sandbox explain` makes them too and says what would be granted: nothing, here.
    let explained = sandbox.json(
        "mcpin sandbox explain",
        &[
            "sandbox",
            "explain",
            "--json",
            "--",
            "npx",
            "-y",
            "github:evil/x",
        ],
        &[1],
    );
    assert_eq!(explained["allowed"], false);
    let audit = sandbox.json(
        "mcpin audit verify",
        &["audit", "verify", &log, "--json"],
        &[0],
    );
    assert_eq!(audit["records"], 2);
    // `audit show --json` is one object a line (for a SIEM), each with its schema_version.
    let shown = sandbox.run(&["audit", "show", &log, "--json"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let lines: Vec<Value> = stdout(&shown)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", stdout(&shown));
    assert!(
        lines
            .iter()
            .all(|l| l["schema_version"].as_u64() >= Some(1))
    );
    sandbox.checked.insert("mcpin audit show".to_owned());

    // `doctor`: what a launch from here would use. No policy in this sandbox: a problem (exit 1),
    // named in the report; a store others can write is another.
    let doctor = sandbox.json("mcpin doctor", &["doctor", "--json"], &[1]);
    let sections: Vec<&str> = doctor["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        [
            "mode",
            "policy",
            "store and logs",
            "interpreters",
            "registries",
            "agent configs"
        ]
    );
    let item = |report: &Value, name: &str| {
        report["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["items"].as_array().unwrap())
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {report:#}"))
            .clone()
    };
    assert!(
        item(&doctor, "policy")["problem"]
            .as_str()
            .unwrap()
            .contains("no policy file")
    );
    assert!(item(&doctor, "node")["problem"].is_null(), "{doctor:#}");
    {
        use std::os::unix::fs::PermissionsExt;
        let store = sandbox.path("store");
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o777)).unwrap();
        let output = sandbox.run(&["doctor", "--json"]);
        let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
        let problem = item(&report, "store")["problem"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(problem.contains("store-unsafe"), "{problem}");
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    // `review` of the built-in example, published under a name of this test's own.
    let name = format!("mcpin-cli-hello-{}", std::process::id());
    let hello = mcpin_tests::hello_package(sandbox.dir.path(), &name);
    mcpin_tests::npm_publish(sandbox.dir.path(), &hello);
    let review = sandbox.json(
        "mcpin review",
        &[
            "review",
            &format!("npm:{name}@0.1.0"),
            "--npm-registry",
            &npm_registry,
            "--json",
        ],
        &[0],
    );
    assert_eq!(review["package"]["name"], name.as_str(), "{review:#}");

    // Every command that has --json today was run above.
    let missing: Vec<_> = commands_with_json()
        .difference(&sandbox.checked)
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "commands with --json that this test does not run: {missing:?}"
    );
}

#[test]
fn bash_completion_completes_commands_and_flags() {
    let script = mcpin(&["completions", "bash"]).output().unwrap();
    assert!(script.status.success(), "{}", stderr(&script));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcpin.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    // Source the script in a real bash and ask it what `mcpin sto<TAB>` and
    // `mcpin store <TAB>` complete to.
    let complete = |words: &str, cword: usize| {
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
                 _mcpin mcpin \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                path.display()
            ))
            .output()
            .expect("bash");
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(complete("mcpin sto", 1), ["store"]);
    let store = complete("mcpin store ''", 2);
    for expected in ["ls", "gc", "verify", "--offline"] {
        assert!(store.iter().any(|w| w == expected), "{expected}: {store:?}");
    }

    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = mcpin(&["completions", shell]).output().unwrap();
        assert!(script.status.success(), "{shell}: {}", stderr(&script));
        assert!(stdout(&script).contains("keygen"), "{shell}");
    }
    let unknown = mcpin(&["completions", "tcsh"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
}

#[test]
fn man_pages_cover_every_command_and_render_with_man() {
    let dir = tempfile::tempdir().unwrap();
    let wrote = mcpin(&["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(wrote.status.success(), "{}", stderr(&wrote));
    // One page per command of the reference.
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference/cli.md"),
    )
    .unwrap();
    let commands: Vec<&str> = reference
        .lines()
        .filter_map(|line| line.strip_prefix("## `")?.strip_suffix('`'))
        .collect();
    assert!(commands.len() > 20, "{commands:?}");
    for command in &commands {
        let page = dir.path().join(format!("{}.1", command.replace(' ', "-")));
        assert!(page.exists(), "no man page for {command}");
    }

    let rendered = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("mcpin-verify.1"))
        .env("MANWIDTH", "100")
        .output()
        .expect("man (man-db)");
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let text = stdout(&rendered);
    assert!(text.contains("mcpin-verify"), "{text}");
    assert!(text.contains("--policy <POLICY>"), "{text}");

    // Without --out-dir: the top page on stdout.
    let page = mcpin(&["man"]).output().unwrap();
    assert!(page.status.success(), "{}", stderr(&page));
    assert!(stdout(&page).starts_with(".ie"), "{}", stdout(&page));
    assert!(stdout(&page).contains("mcpin\\-verify(1)"));
}
