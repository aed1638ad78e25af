//! `mcpin lock`, `mcpin sbom`, `mcpin sbom check`, and the lock and SBOM
//! bound into `mcpin sign` / `mcpin verify`, against real servers from npm and
//! PyPI, npm and uv as independent resolvers and installers, and the strict
//! validator of `@cyclonedx/cyclonedx-library` (tests/setup/25-sbom-tools.sh).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use mcpin_tests::{artifact, mcpin, ok, run_in, stderr, stdout, testdata};
use serde_json::{Value, json};

const FILESYSTEM: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";
const FETCH: &str = "mcp_server_fetch-2026.10.24-py3-none-any.whl";

/// A directory that lives as long as the test binary (shared by the tests).
fn shared_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

/// `mcpin lock` of server-filesystem, resolved once per test binary.
fn filesystem_lock() -> &'static Path {
    static LOCK: OnceLock<PathBuf> = OnceLock::new();
    LOCK.get_or_init(|| {
        let out = shared_dir().join("filesystem.lock.json");
        let output = mcpin(&["lock"])
            .arg(artifact(FILESYSTEM))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        ok(&output, "mcpin lock (npm)");
        out
    })
}

/// `mcpin lock` of mcp-server-fetch for this machine's Python, once per test binary.
fn fetch_lock() -> &'static Path {
    static LOCK: OnceLock<PathBuf> = OnceLock::new();
    LOCK.get_or_init(|| {
        let out = shared_dir().join("fetch.lock.json");
        let output = mcpin(&["lock"])
            .arg(artifact(FETCH))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        ok(&output, "mcpin lock (PyPI)");
        out
    })
}

/// The tools of the real server-filesystem (installed by tests/setup/20-mcp-servers.sh),
/// captured once per test binary with `mcpin tools capture`.
fn filesystem_tools() -> &'static Path {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let prefix = std::env::var_os("MCPIN_MCP_SERVERS")
            .expect("MCPIN_MCP_SERVERS is unset: run the suite with tests/run");
        let server = PathBuf::from(prefix).join("node_modules/.bin/mcp-server-filesystem");
        let out = shared_dir().join("filesystem.tools.json");
        let root = shared_dir().join("served");
        std::fs::create_dir_all(&root).unwrap();
        let output = mcpin(&["tools", "capture", "--out"])
            .arg(&out)
            .arg("--")
            .arg("node")
            .arg(server)
            .arg(root)
            .output()
            .unwrap();
        ok(&output, "mcpin tools capture (server-filesystem)");
        out
    })
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// Validates CycloneDX documents with @cyclonedx/cyclonedx-library's
/// JsonStrictValidator for spec 1.5; returns the validator's output.
fn cyclonedx_validate(files: &[&Path]) -> Output {
    assert!(
        std::env::var_os("MCPIN_CDX_LIB").is_some(),
        "MCPIN_CDX_LIB is not set: run the suite with tests/run (tests/setup/25-sbom-tools.sh)"
    );
    Command::new("node")
        .arg(testdata("cyclonedx/validate.cjs"))
        .args(files)
        .output()
        .expect("running node")
}

fn assert_valid_cyclonedx(files: &[&Path]) {
    ok(
        &cyclonedx_validate(files),
        "strict CycloneDX 1.5 validation",
    );
}

/// An npm config that must not matter: the quirk from the issue, and more.
fn quirky_npm_home(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join(".npmrc"),
        "omit-lockfile-registry-resolved=true\npackage-lock=false\nlockfile-version=1\n",
    )
    .unwrap();
    home
}

#[test]
fn npm_lock_holds_what_npm_resolves_and_ignores_user_config_quirks() {
    let lock = read_json(filesystem_lock());
    assert_eq!(lock["ecosystem"], "npm");
    assert_eq!(
        lock["root"]["name"],
        "@modelcontextprotocol/server-filesystem"
    );
    let packages = lock["packages"].as_array().unwrap();
    let ours: BTreeSet<String> = packages
        .iter()
        .map(|p| {
            format!(
                "{}@{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap(),
                p["integrity"].as_str().unwrap()
            )
        })
        .collect();
    for package in packages {
        let resolved = package["resolved"].as_str().unwrap();
        assert!(resolved.starts_with("https://"), "{package}");
        assert!(
            package["integrity"]
                .as_str()
                .unwrap()
                .starts_with("sha512-"),
            "{package}"
        );
    }

    // npm itself, independently: install the published package into an empty project.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("package.json"),
        r#"{"name":"independent","version":"0.0.0","dependencies":{"@modelcontextprotocol/server-filesystem":"2026.8.31"}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("empty.npmrc"), "").unwrap();
    let output = Command::new("npm")
        .args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--userconfig",
            "empty.npmrc",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok(&output, "npm install --package-lock-only");
    let npm_lock = read_json(&dir.path().join("package-lock.json"));
    let theirs: BTreeSet<String> = npm_lock["packages"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| {
            !path.is_empty() && *path != "node_modules/@modelcontextprotocol/server-filesystem"
        })
        .map(|(path, p)| {
            let name = p["name"]
                .as_str()
                .unwrap_or_else(|| path.rsplit_once("node_modules/").unwrap().1);
            format!(
                "{name}@{} {}",
                p["version"].as_str().unwrap(),
                p["integrity"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        theirs.len() > 50,
        "npm resolved only {} packages",
        theirs.len()
    );
    assert_eq!(
        ours, theirs,
        "mcpin lock and npm disagree on name@version integrity"
    );

    // The same resolution under a hostile user config gives the same bytes.
    let quirky = tempfile::tempdir().unwrap();
    let again = quirky.path().join("again.lock.json");
    let output = mcpin(&["lock"])
        .arg(artifact(FILESYSTEM))
        .arg("--out")
        .arg(&again)
        .env("HOME", quirky_npm_home(quirky.path()))
        .env("npm_config_omit_lockfile_registry_resolved", "true")
        .output()
        .unwrap();
    ok(&output, "mcpin lock under a quirky .npmrc");
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(filesystem_lock()).unwrap(),
        "the lock depends on the user's npm config"
    );
}

/// Sends MCP `initialize` over stdio and returns the response.
fn mcp_initialize(mut command: Command) -> Value {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the MCP server");
    let request = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "mcpin-test", "version": "0"}}
    });
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{request}").unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(message) = serde_json::from_str::<Value>(&line)
                && message["id"] == 1
            {
                let _ = send.send(message);
                break;
            }
        }
    });
    let response = receive.recv_timeout(Duration::from_secs(60));
    drop(stdin);
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    response.unwrap_or_else(|_| panic!("no initialize response; stderr: {}", stderr(&output)))
}

#[test]
fn pypi_lock_installs_with_require_hashes_and_the_server_answers_initialize() {
    let lock = read_json(fetch_lock());
    assert_eq!(lock["ecosystem"], "pypi");
    let packages = lock["packages"].as_array().unwrap();
    assert!(packages.len() > 10, "{lock}");
    assert!(
        lock["root"]["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "mcp")
    );

    // A requirements file carrying exactly the lock's pins and hashes, plus the artifact.
    let dir = tempfile::tempdir().unwrap();
    let mut requirements = String::new();
    for package in packages {
        requirements.push_str(&format!(
            "{}=={}",
            package["name"].as_str().unwrap(),
            package["version"].as_str().unwrap()
        ));
        for file in package["files"].as_array().unwrap() {
            assert_eq!(
                file["kind"], "wheel",
                "an sdist slipped into a wheels-only lock: {package}"
            );
            requirements.push_str(&format!(
                " --hash=sha256:{}",
                file["sha256"].as_str().unwrap()
            ));
        }
        requirements.push('\n');
    }
    let wheel = artifact(FETCH);
    let digest = mcpin_tests_sha256(&wheel);
    requirements.push_str(&format!(
        "mcp-server-fetch @ file://{} --hash=sha256:{digest}\n",
        wheel.display()
    ));
    std::fs::write(dir.path().join("requirements.txt"), requirements).unwrap();

    let venv = dir.path().join("venv");
    let python_version = lock["target"]["pythonVersion"].as_str().unwrap();
    ok(
        &Command::new("uv")
            .args(["venv", "--quiet", "--python", python_version])
            .arg(&venv)
            .output()
            .unwrap(),
        "uv venv",
    );
    let output = Command::new("uv")
        .args([
            "pip",
            "install",
            "--quiet",
            "--require-hashes",
            "--no-deps",
            "--python",
        ])
        .arg(venv.join("bin/python"))
        .arg("-r")
        .arg(dir.path().join("requirements.txt"))
        .output()
        .unwrap();
    ok(
        &output,
        "uv pip install --require-hashes --no-deps -r <lock>",
    );

    let response = mcp_initialize(Command::new(venv.join("bin/mcp-server-fetch")));
    assert_eq!(
        response["result"]["serverInfo"]["name"], "mcp-fetch",
        "{response}"
    );
    assert!(
        response["result"]["capabilities"]["tools"].is_object(),
        "{response}"
    );
}

fn mcpin_tests_sha256(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).output().unwrap();
    ok(&output, "sha256sum");
    stdout(&output)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A minimal wheel whose one requirement publishes only an sdist on PyPI.
fn wheel_needing_an_sdist(dir: &Path) -> PathBuf {
    let path = dir.join("needs_sdist-0.1.0-py3-none-any.whl");
    let file = std::fs::File::create(&path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default();
    for (name, body) in [
        ("needs_sdist/__init__.py", ""),
        (
            "needs_sdist-0.1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: needs-sdist\nVersion: 0.1.0\nRequires-Dist: docopt==0.6.2\n\n",
        ),
        (
            "needs_sdist-0.1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: mcpin-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        ("needs_sdist-0.1.0.dist-info/RECORD", ""),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    path
}

#[test]
fn an_sdist_only_dependency_is_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = wheel_needing_an_sdist(dir.path());
    let output = mcpin(&["lock"]).arg(&wheel).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("docopt==0.6.2") && message.contains("--allow-sdist"),
        "{message}"
    );

    // Allowed explicitly, the sdist is locked as such, with its sha256.
    let output = mcpin(&["lock", "--allow-sdist"])
        .arg(&wheel)
        .output()
        .unwrap();
    ok(&output, "mcpin lock --allow-sdist");
    let lock: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let docopt = &lock["packages"][0];
    assert_eq!(docopt["name"], "docopt");
    assert_eq!(docopt["files"][0]["kind"], "sdist");
    assert_eq!(docopt["files"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn sboms_of_locked_servers_are_strictly_valid_cyclonedx_with_tools_as_services() {
    let dir = tempfile::tempdir().unwrap();
    let tools = filesystem_tools();
    let npm_bom = dir.path().join("filesystem.cdx.json");
    let output = mcpin(&["sbom"])
        .arg(artifact(FILESYSTEM))
        .arg("--lock")
        .arg(filesystem_lock())
        .arg("--tools")
        .arg(tools)
        .arg("--out")
        .arg(&npm_bom)
        .output()
        .unwrap();
    ok(&output, "mcpin sbom (npm)");
    let pypi_bom = dir.path().join("fetch.cdx.json");
    let output = mcpin(&["sbom"])
        .arg(artifact(FETCH))
        .arg("--lock")
        .arg(fetch_lock())
        .arg("--out")
        .arg(&pypi_bom)
        .output()
        .unwrap();
    ok(&output, "mcpin sbom (PyPI)");
    // No lock; a tools fixture whose descriptions hold line breaks and tabs.
    let fixture = testdata("cyclonedx/tools-filesystem.json");
    let fixture_bom = dir.path().join("fixture.cdx.json");
    ok(
        &mcpin(&["sbom"])
            .arg(artifact(FILESYSTEM))
            .arg("--tools")
            .arg(&fixture)
            .arg("--out")
            .arg(&fixture_bom)
            .output()
            .unwrap(),
        "mcpin sbom without lock",
    );
    assert_valid_cyclonedx(&[&npm_bom, &pypi_bom, &fixture_bom]);

    // The validator is not a rubber stamp: a schema violation fails it.
    let mut broken = read_json(&npm_bom);
    broken["components"][0]["type"] = json!("not-a-component-type");
    let broken_path = dir.path().join("broken.cdx.json");
    std::fs::write(&broken_path, serde_json::to_vec(&broken).unwrap()).unwrap();
    assert!(!cyclonedx_validate(&[&broken_path]).status.success());

    let bom = read_json(&npm_bom);
    let lock = read_json(filesystem_lock());
    let root = &bom["metadata"]["component"];
    assert_eq!(
        root["purl"],
        "pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31"
    );
    let algorithms: Vec<&str> = root["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algorithms, ["SHA-256", "SHA-512"]);
    let distinct: BTreeSet<(&str, &str)> = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    let components = bom["components"].as_array().unwrap();
    assert_eq!(components.len(), distinct.len());
    for component in components {
        assert!(
            component["purl"].as_str().unwrap().starts_with("pkg:npm/"),
            "{component}"
        );
        assert_eq!(component["hashes"][0]["alg"], "SHA-512", "{component}");
        assert_eq!(
            component["externalReferences"][0]["type"], "distribution",
            "{component}"
        );
    }
    assert!(
        components
            .iter()
            .any(|c| c["licenses"][0]["license"]["id"] == "MIT")
    );
    // Every component is in the graph, and the root reaches the SDK.
    let graph = bom["dependencies"].as_array().unwrap();
    assert_eq!(graph.len(), components.len() + 1);
    let root_edges = graph.iter().find(|d| d["ref"] == root["bom-ref"]).unwrap();
    assert!(root_edges["dependsOn"].as_array().unwrap().iter().any(|r| {
        r.as_str()
            .unwrap()
            .starts_with("pkg:npm/%40modelcontextprotocol/sdk@")
    }));
    // Tools: the server a service, every captured tool a nested service with
    // its description verbatim, its digest and its annotation hints.
    let payload = read_json(tools);
    let server = &bom["services"][0];
    assert_eq!(server["name"], payload["payload"]["serverInfo"]["name"]);
    let services = server["services"].as_array().unwrap();
    let captured = payload["payload"]["tools"].as_array().unwrap();
    assert!(captured.len() >= 6, "{payload}");
    assert_eq!(services.len(), captured.len());
    let property = |service: &Value, name: &str| {
        service["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["value"].clone())
    };
    for tool in captured {
        let name = tool["name"].as_str().unwrap();
        let service = services.iter().find(|s| s["name"] == name).unwrap();
        assert_eq!(service["description"], tool["description"], "{name}");
        assert_eq!(
            property(service, "mcpin:tool:digest"),
            Some(payload["toolDigests"][name].clone())
        );
        for (hint, value) in tool["annotations"].as_object().into_iter().flatten() {
            let expected = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            assert_eq!(
                property(service, &format!("mcpin:tool:annotation:{hint}")),
                Some(json!(expected)),
                "{name}.{hint}"
            );
        }
    }
    assert!(
        services
            .iter()
            .any(|s| property(s, "mcpin:tool:annotation:readOnlyHint") == Some(json!("true"))),
        "server-filesystem marks its read tools read-only"
    );
    // Line breaks and tabs survive (cyclonedx-bom alone would turn them into spaces).
    let fixture_payload = read_json(&fixture);
    let fixture_doc = read_json(&fixture_bom);
    let multi_line = fixture_payload["payload"]["tools"][0]["description"]
        .as_str()
        .unwrap();
    assert!(multi_line.contains('\n') && multi_line.contains('\t'));
    assert_eq!(
        fixture_doc["services"][0]["services"][0]["description"],
        multi_line
    );

    let pypi = read_json(&pypi_bom);
    assert_eq!(
        pypi["metadata"]["component"]["purl"],
        "pkg:pypi/mcp-server-fetch@2026.10.24"
    );
    assert!(
        pypi["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["purl"].as_str().unwrap().starts_with("pkg:pypi/mcp@"))
    );

    // `sbom check` reads it back: components, licenses, tools.
    let output = mcpin(&["sbom", "check", "--json"])
        .arg(&npm_bom)
        .output()
        .unwrap();
    ok(&output, "mcpin sbom check --json");
    let facts: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        facts["components"].as_array().unwrap().len(),
        components.len()
    );
    assert_eq!(facts["services"][1]["parent"], "secure-filesystem-server");
    let output = mcpin(&["sbom", "check"]).arg(&npm_bom).output().unwrap();
    ok(&output, "mcpin sbom check");
    assert!(stdout(&output).contains("pkg:npm/zod@") && stdout(&output).contains("write_file"));
}

#[test]
fn reproducible_sboms_are_byte_identical_and_honour_source_date_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, epoch: Option<&str>, extra: &[&str]| -> Vec<u8> {
        let out = dir.path().join(name);
        let mut command = mcpin(&["sbom"]);
        command
            .arg(artifact(FILESYSTEM))
            .arg("--lock")
            .arg(filesystem_lock())
            .args(extra)
            .arg("--out")
            .arg(&out);
        command.env_remove("SOURCE_DATE_EPOCH");
        if let Some(epoch) = epoch {
            command.env("SOURCE_DATE_EPOCH", epoch);
        }
        ok(&command.output().unwrap(), "mcpin sbom");
        std::fs::read(out).unwrap()
    };
    let first = write("a.json", None, &["--reproducible"]);
    let second = write("b.json", None, &["--reproducible"]);
    assert_eq!(first, second);
    let dated = write("c.json", Some("1767225600"), &[]);
    let dated_again = write("d.json", Some("1767225600"), &[]);
    assert_eq!(dated, dated_again);
    let dated: Value = serde_json::from_slice(&dated).unwrap();
    assert_eq!(dated["metadata"]["timestamp"], "2026-01-01T00:00:00Z");
    let random_a: Value = serde_json::from_slice(&write("e.json", None, &[])).unwrap();
    let random_b: Value = serde_json::from_slice(&write("f.json", None, &[])).unwrap();
    assert_ne!(random_a["serialNumber"], random_b["serialNumber"]);
    assert_valid_cyclonedx(&[
        &dir.path().join("a.json"),
        &dir.path().join("c.json"),
        &dir.path().join("e.json"),
    ]);

    let output = mcpin(&["sbom"])
        .arg(artifact(FILESYSTEM))
        .arg("--out")
        .arg(dir.path().join("g.json"))
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("SOURCE_DATE_EPOCH"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sign_binds_lock_and_sbom_and_verify_names_what_was_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let tgz = work.join(FILESYSTEM);
    std::fs::copy(artifact(FILESYSTEM), &tgz).unwrap();
    std::fs::copy(filesystem_lock(), work.join("lock.json")).unwrap();
    std::fs::copy(filesystem_tools(), work.join("tools.json")).unwrap();
    ok(&run_in(work, &["keygen", "--out", "signer"]), "keygen");
    ok(
        &run_in(
            work,
            &[
                "sbom",
                FILESYSTEM,
                "--lock",
                "lock.json",
                "--tools",
                "tools.json",
                "--out",
                "bom.json",
                "--reproducible",
            ],
        ),
        "mcpin sbom",
    );
    let output = run_in(
        work,
        &[
            "sign",
            FILESYSTEM,
            "--key",
            "signer.key",
            "--lock",
            "lock.json",
            "--tools",
            "tools.json",
            "--sbom",
            "bom.json",
            "--json",
        ],
    );
    ok(&output, "mcpin sign --lock --tools --sbom");
    // The SBOM travels beside the bundle, byte for byte.
    let beside = work.join("modelcontextprotocol-server-filesystem-2026.8.31.tgz.cdx.json");
    assert_eq!(
        std::fs::read(&beside).unwrap(),
        std::fs::read(work.join("bom.json")).unwrap()
    );
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        summary["sbom"],
        "modelcontextprotocol-server-filesystem-2026.8.31.tgz.cdx.json"
    );
    assert_valid_cyclonedx(&[&beside]);

    // The predicate carries the lock inline and the SBOM by digest.
    let statement: Value = serde_json::from_str(&stdout(&run_in(
        work,
        &["inspect", "--json", &format!("{FILESYSTEM}.sigstore.json")],
    )))
    .unwrap();
    let predicate = &statement["predicate"];
    assert_eq!(predicate["lock"], read_json(filesystem_lock()));
    assert_eq!(
        predicate["sbom"]["mediaType"],
        "application/vnd.cyclonedx+json; version=1.5"
    );
    assert_eq!(predicate["sbom"]["sha256"], mcpin_tests_sha256(&beside));

    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", FILESYSTEM, "--key", "signer.pub"];
        args.extend_from_slice(extra);
        run_in(work, &args)
    };
    ok(
        &verify(&[
            "--sbom",
            "modelcontextprotocol-server-filesystem-2026.8.31.tgz.cdx.json",
            "--lock",
            "lock.json",
        ]),
        "verify --sbom --lock",
    );

    // One byte of the SBOM changed.
    let mut bytes = std::fs::read(&beside).unwrap();
    let at = bytes.iter().position(|&b| b == b'M').unwrap();
    bytes[at] = b'N';
    std::fs::write(work.join("tampered.cdx.json"), &bytes).unwrap();
    let output = verify(&["--sbom", "tampered.cdx.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("sbom-mismatch") && stderr(&output).contains("tampered.cdx.json"),
        "{}",
        stderr(&output)
    );

    // One dependency's integrity changed.
    let mut lock = read_json(filesystem_lock());
    let victim = lock["packages"][3]["path"].as_str().unwrap().to_owned();
    let integrity = lock["packages"][3]["integrity"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut chars: Vec<char> = integrity.chars().collect();
    chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
    let flipped: String = chars.into_iter().collect();
    lock["packages"][3]["integrity"] = json!(flipped);
    std::fs::write(
        work.join("tampered.lock.json"),
        serde_json::to_vec(&lock).unwrap(),
    )
    .unwrap();
    let output = verify(&["--lock", "tampered.lock.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("lock-mismatch") && message.contains(&format!("dependency `{victim}`")),
        "{message}"
    );
    assert!(
        message.contains(&flipped) && message.matches("dependency `").count() == 1,
        "{message}"
    );

    // An SBOM that claims another lock or other tools than the ones signed is refused.
    let output = run_in(
        work,
        &[
            "sign",
            FILESYSTEM,
            "--key",
            "signer.key",
            "--lock",
            "tampered.lock.json",
            "--sbom",
            "bom.json",
            "--out",
            "x.sigstore.json",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("mcpin:lock:digest"),
        "{}",
        stderr(&output)
    );
    let fixture = testdata("cyclonedx/tools-filesystem.json");
    ok(
        &run_in(
            work,
            &[
                "sbom",
                FILESYSTEM,
                "--tools",
                fixture.to_str().unwrap(),
                "--out",
                "fixture.cdx.json",
            ],
        ),
        "mcpin sbom (fixture tools)",
    );
    let output = run_in(
        work,
        &[
            "sign",
            FILESYSTEM,
            "--key",
            "signer.key",
            "--tools",
            "tools.json",
            "--sbom",
            "fixture.cdx.json",
            "--out",
            "y.sigstore.json",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("mcpin:tools:digest"),
        "{}",
        stderr(&output)
    );

    // A lock or SBOM of another package is refused at signing.
    let output = run_in(
        work,
        &[
            "sign",
            FILESYSTEM,
            "--key",
            "signer.key",
            "--lock",
            fetch_lock().to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let other_bom = work.join("other.cdx.json");
    ok(
        &run_in(
            work,
            &[
                "sbom",
                artifact(FETCH).to_str().unwrap(),
                "--out",
                other_bom.to_str().unwrap(),
            ],
        ),
        "mcpin sbom (other)",
    );
    let output = run_in(
        work,
        &[
            "sign",
            FILESYSTEM,
            "--key",
            "signer.key",
            "--sbom",
            "other.cdx.json",
            "--out",
            "other.sigstore.json",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("pkg:pypi/mcp-server-fetch"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sbom_check_rejects_malformed_oversize_and_deeply_nested_documents_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("truncated.json", br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":["#.to_vec(), "not valid JSON"),
        ("spdx.json", br#"{"spdxVersion":"SPDX-2.3"}"#.to_vec(), "not a CycloneDX document"),
        ("deep.json", format!(r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","x":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000)).into_bytes(), "deeper than"),
        ("huge.json", vec![b' '; 33 * 1024 * 1024], "larger than the"),
        ("wrong-type.json", br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"a","licenses":{"id":"MIT"}}]}"#.to_vec(), "components[0].licenses"),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let output = mcpin(&["sbom", "check"]).arg(&path).output().unwrap();
        assert_eq!(output.status.code(), Some(3), "{name}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(expected),
            "{name}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{name}");
    }
}
