//! `mcpin fetch` and `mcpin store` against real registries on loopback, started
//! by `tests/setup/30-registries.sh`: Verdaccio (npm), pypiserver (PyPI),
//! Debian's docker-registry (OCI) and a static MCP-registry fixture. Where a
//! registry has to misbehave (lie about bytes, stall mid-download), a small
//! file server (`support/fixture_server.py`) plays it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use mcpin_registry_client::oci::{
    Descriptor, Manifest, OCI_INDEX, OCI_MANIFEST, Platform, Reference,
};
use mcpin_tests::oci::{goarch, oci_client, push_image, unique_repository};
use mcpin_tests::{Service, artifact, env, fixture_server, mcpin, stderr, stdout};
use serde_json::{Value, json};
use sha2::Digest as _;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn fetch(store: &Path, args: &[&str]) -> Output {
    let mut command = mcpin(&[
        "fetch",
        "--store",
        store.to_str().unwrap(),
        "--retries",
        "1",
    ]);
    command
        .args(args)
        .env_remove("MCPIN_OFFLINE")
        .env_remove("MCPIN_STORE");
    command.output().expect("spawning mcpin")
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "mcpin failed: {}\n{}",
        stderr(output),
        stdout(output)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn blobs(store: &Path) -> Vec<String> {
    match std::fs::read_dir(store.join("v1/sha256")) {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn temp_files(store: &Path) -> usize {
    std::fs::read_dir(store.join("v1/tmp")).map_or(0, |dir| dir.count())
}

/// A packument for `name`@1.0.0 whose tarball is `tarball_url` with `integrity`.
fn packument(name: &str, tarball_url: &str, integrity_of: &[u8]) -> Value {
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(integrity_of))
    );
    json!({
        "name": name,
        "dist-tags": { "latest": "1.0.0" },
        "versions": { "1.0.0": { "name": name, "version": "1.0.0", "dist": { "tarball": tarball_url, "integrity": integrity } } }
    })
}

const FILESYSTEM_TGZ: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";

#[test]
fn npm_exact_tag_and_range_from_verdaccio_are_the_published_bytes() {
    let registry = env("MCPIN_TEST_NPM_REGISTRY");
    let store = tempfile::tempdir().unwrap();
    let published = std::fs::read(artifact(FILESYSTEM_TGZ)).unwrap();
    let mut paths = Vec::new();
    for spec in [
        "npm:@modelcontextprotocol/server-filesystem@2026.8.31",
        "npm:@modelcontextprotocol/server-filesystem@latest",
        "npm:@modelcontextprotocol/server-filesystem@^2026.1.0",
        "npm:@modelcontextprotocol/server-filesystem",
    ] {
        let report = json_of(&fetch(
            store.path(),
            &["--npm-registry", &registry, "--json", spec],
        ));
        assert_eq!(report["version"], "2026.8.31", "{spec}");
        assert_eq!(report["sha256"], sha256_hex(&published), "{spec}");
        assert_eq!(report["schema_version"], 1);
        let path = PathBuf::from(report["path"].as_str().unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), published);
        paths.push(path);
    }
    assert!(paths.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(blobs(store.path()).len(), 1);

    let missing = fetch(
        store.path(),
        &[
            "--npm-registry",
            &registry,
            "npm:@modelcontextprotocol/server-filesystem@>=3000",
        ],
    );
    assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));
    assert!(
        stderr(&missing)
            .contains("no version of @modelcontextprotocol/server-filesystem matches `>=3000`"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn http_401_is_an_auth_error_naming_the_registry_and_npmrc_tokens_are_used() {
    let registry = env("MCPIN_TEST_NPM_REGISTRY");
    let token = env("MCPIN_TEST_NPM_TOKEN");
    let store = tempfile::tempdir().unwrap();
    let spec = "npm:@modelcontextprotocol/server-memory@2026.8.31";
    let empty_npmrc = store.path().join("empty.npmrc");
    std::fs::write(&empty_npmrc, "").unwrap();

    let denied = fetch(
        store.path(),
        &[
            "--npm-registry",
            &registry,
            "--npmrc",
            empty_npmrc.to_str().unwrap(),
            spec,
        ],
    );
    assert_eq!(denied.status.code(), Some(4));
    let origin = registry.trim_end_matches('/');
    let message = stderr(&denied);
    assert!(
        message.contains(&format!(
            "authentication failed at registry {origin}: HTTP 401"
        )),
        "{message}"
    );
    assert!(blobs(store.path()).is_empty());

    // The token comes from .npmrc (nerf-darted registry key, ${VAR} expanded); it never shows up in output.
    let npmrc = store.path().join("auth.npmrc");
    let dart = origin.trim_start_matches("http:");
    std::fs::write(
        &npmrc,
        format!("registry={registry}\n{dart}/:_authToken=${{MCPIN_TEST_TOKEN_VAR}}\n"),
    )
    .unwrap();
    let output = mcpin(&[
        "fetch",
        "--store",
        store.path().to_str().unwrap(),
        "--npmrc",
        npmrc.to_str().unwrap(),
        "--json",
        spec,
    ])
    .env("MCPIN_TEST_TOKEN_VAR", &token)
    .env_remove("MCPIN_NPM_REGISTRY")
    .output()
    .unwrap();
    let report = json_of(&output);
    let published =
        std::fs::read(artifact("modelcontextprotocol-server-memory-2026.8.31.tgz")).unwrap();
    assert_eq!(report["sha256"], sha256_hex(&published));
    assert!(!stdout(&output).contains(&token) && !stderr(&output).contains(&token));
}

#[test]
fn pypi_from_pypiserver_with_html_fallback_and_relative_urls() {
    let index = env("MCPIN_TEST_PYPI_INDEX");
    let store = tempfile::tempdir().unwrap();
    let wheel = std::fs::read(artifact("mcp_server_time-2026.10.19-py3-none-any.whl")).unwrap();
    for spec in [
        "pypi:mcp-server-time==2026.10.19",
        "pypi:MCP_Server.Time",
        "pypi:mcp-server-time>=2026,<2027",
    ] {
        let report = json_of(&fetch(
            store.path(),
            &["--pypi-index", &index, "--json", spec],
        ));
        assert_eq!(report["version"], "2026.10.19", "{spec}");
        assert_eq!(
            report["file_name"],
            "mcp_server_time-2026.10.19-py3-none-any.whl"
        );
        assert_eq!(report["sha256"], sha256_hex(&wheel));
        assert!(
            report["url"]
                .as_str()
                .unwrap()
                .ends_with("/packages/mcp_server_time-2026.10.19-py3-none-any.whl")
        );
    }
    let none = fetch(
        store.path(),
        &["--pypi-index", &index, "pypi:mcp-server-time>=3000"],
    );
    assert_eq!(none.status.code(), Some(3), "{}", stderr(&none));
}

#[test]
fn mcp_registry_server_json_maps_onto_npm_and_pypi() {
    let registry = env("MCPIN_TEST_MCP_REGISTRY");
    let store = tempfile::tempdir().unwrap();
    let npm = json_of(&fetch(
        store.path(),
        &[
            "--mcp-registry",
            &registry,
            "--json",
            "mcp:io.github.modelcontextprotocol/server-filesystem@2026.8.31",
        ],
    ));
    assert_eq!(npm["ecosystem"], "npm");
    assert_eq!(npm["name"], "@modelcontextprotocol/server-filesystem");
    assert_eq!(
        npm["sha256"],
        sha256_hex(&std::fs::read(artifact(FILESYSTEM_TGZ)).unwrap())
    );
    let pypi = json_of(&fetch(
        store.path(),
        &[
            "--mcp-registry",
            &registry,
            "--json",
            "mcp:io.github.modelcontextprotocol/mcp-server-time@2026.10.19",
        ],
    ));
    assert_eq!(pypi["ecosystem"], "pypi");
    assert_eq!(pypi["version"], "2026.10.19");
    let unknown = fetch(
        store.path(),
        &[
            "--mcp-registry",
            &registry,
            "mcp:io.github.nobody/nothing@1.0.0",
        ],
    );
    assert_eq!(unknown.status.code(), Some(3), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("MCP server io.github.nobody/nothing"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn a_registry_serving_other_bytes_than_its_metadata_promises_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("files")).unwrap();
    let (_server, base, log) = fixture_server(&root, &[]);
    let promised = std::fs::read(artifact(FILESYSTEM_TGZ)).unwrap();
    let served =
        std::fs::read(artifact("modelcontextprotocol-server-memory-2026.8.31.tgz")).unwrap();
    std::fs::write(root.join("files/lying-pkg-1.0.0.tgz"), &served).unwrap();
    let doc = packument(
        "lying-pkg",
        &format!("{base}files/lying-pkg-1.0.0.tgz"),
        &promised,
    );
    std::fs::write(root.join("lying-pkg"), doc.to_string()).unwrap();

    let store = dir.path().join("store");
    let output = fetch(&store, &["--npm-registry", &base, "npm:lying-pkg@1.0.0"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("integrity mismatch for") && message.contains("expected sha512"),
        "{message}"
    );
    assert!(message.contains("nothing was stored"), "{message}");
    assert!(blobs(&store).is_empty(), "{:?}", blobs(&store));
    assert_eq!(temp_files(&store), 0);
    let ls = mcpin(&["store", "ls", "--json", "--store", store.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(json_of(&ls)["refs"], json!([]));
    assert!(
        std::fs::read_to_string(log)
            .unwrap()
            .contains("GET /files/lying-pkg-1.0.0.tgz")
    );
}

#[test]
fn fifty_concurrent_fetches_download_once_and_all_succeed() {
    let registry = env("MCPIN_TEST_NPM_REGISTRY");
    let log = PathBuf::from(env("MCPIN_TEST_VERDACCIO_LOG"));
    // Verdaccio logs one "requested 'GET …'" line per request it receives.
    let tarball_request = "requested 'GET /@modelcontextprotocol/server-everything/-/server-everything-2026.8.31.tgz'";
    let count = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.contains(tarball_request))
            .count()
    };
    let before = count();
    let store = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..50)
        .map(|_| {
            mcpin(&[
                "fetch",
                "--store",
                store.path().to_str().unwrap(),
                "--npm-registry",
                &registry,
                "--json",
            ])
            .arg("npm:@modelcontextprotocol/server-everything@2026.8.31")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let reports: Vec<Value> = children
        .into_iter()
        .map(|child| json_of(&child.wait_with_output().unwrap()))
        .collect();
    let published = std::fs::read(artifact(
        "modelcontextprotocol-server-everything-2026.8.31.tgz",
    ))
    .unwrap();
    assert!(
        reports
            .iter()
            .all(|r| r["sha256"] == sha256_hex(&published))
    );
    assert_eq!(
        reports.iter().filter(|r| r["downloaded"] == true).count(),
        1
    );
    // Verdaccio writes its access log as it answers; give the last line a moment.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count() - before, 1, "tarball downloads seen by Verdaccio");
    assert_eq!(blobs(store.path()).len(), 1);
    assert_eq!(temp_files(store.path()), 0);
}

#[test]
fn kill_9_during_a_download_leaves_nothing_trusted_and_the_next_run_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("files")).unwrap();
    // 4 MiB served at 256 KiB/s to the first request only: the first download takes ~16 s.
    let (_server, base, _log) =
        fixture_server(&root, &["--rate", "262144", "--slow-requests", "1"]);
    let mut state = 0x2545F4914F6CDD1Du64;
    let big: Vec<u8> = (0..4 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(root.join("files/big-1.0.0.tgz"), &big).unwrap();
    let doc = packument("big", &format!("{base}files/big-1.0.0.tgz"), &big);
    std::fs::write(root.join("big"), doc.to_string()).unwrap();

    let store = dir.path().join("store");
    let mut child = mcpin(&[
        "fetch",
        "--store",
        store.to_str().unwrap(),
        "--npm-registry",
        &base,
        "npm:big@1.0.0",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let partial = loop {
        let size: u64 = std::fs::read_dir(store.join("v1/tmp"))
            .map(|d| d.map(|e| e.unwrap().metadata().unwrap().len()).sum())
            .unwrap_or(0);
        if size > 0 {
            break size;
        }
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(partial < big.len() as u64);
    assert!(
        blobs(&store).is_empty(),
        "a killed download must not be in the store"
    );
    assert_eq!(temp_files(&store), 1);
    let offline = fetch(&store, &["--offline", "npm:big@1.0.0"]);
    assert_eq!(offline.status.code(), Some(4), "{}", stderr(&offline));

    let report = json_of(&fetch(
        &store,
        &["--npm-registry", &base, "--json", "npm:big@1.0.0"],
    ));
    assert_eq!(report["sha256"], sha256_hex(&big));
    assert_eq!(report["downloaded"], true);
    let verify = mcpin(&["store", "verify", "--store", store.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", stderr(&verify));
    let gc = json_of(
        &mcpin(&["store", "gc", "--json", "--store", store.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert_eq!(gc["removed"]["temp_files"], 1);
    assert_eq!(temp_files(&store), 0);
    assert_eq!(blobs(&store), vec![sha256_hex(&big)]);
}

#[test]
fn a_stopped_registry_is_a_network_error_while_offline_mode_serves_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Service(
        Command::new(env("MCPIN_TEST_PYPISERVER"))
            .args([
                "run",
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-a",
                ".",
                "-P",
                ".",
                &env("MCPIN_TEST_PYPI_DIR"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let index = format!("http://127.0.0.1:{port}/simple/");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "pypiserver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let store = dir.path().join("store");
    let spec = "pypi:mcp-server-time==2026.10.19";
    let online = json_of(&fetch(&store, &["--pypi-index", &index, "--json", spec]));
    drop(server);

    let down = fetch(&store, &["--pypi-index", &index, spec]);
    assert_eq!(down.status.code(), Some(4));
    let message = stderr(&down);
    assert!(
        message.contains(&format!(
            "network error talking to registry http://127.0.0.1:{port}"
        )),
        "{message}"
    );

    let offline = json_of(&fetch(
        &store,
        &["--pypi-index", &index, "--offline", "--json", spec],
    ));
    assert_eq!(offline["path"], online["path"]);
    assert_eq!(offline["sha256"], online["sha256"]);
    assert_eq!(offline["downloaded"], false);
    let by_env = mcpin(&[
        "fetch",
        "--store",
        store.to_str().unwrap(),
        "--pypi-index",
        &index,
        "--json",
        spec,
    ])
    .env("MCPIN_OFFLINE", "1")
    .output()
    .unwrap();
    assert_eq!(json_of(&by_env)["sha256"], online["sha256"]);

    let missing = fetch(
        &store,
        &[
            "--pypi-index",
            &index,
            "--offline",
            "pypi:mcp-server-fetch==2026.10.24",
        ],
    );
    assert_eq!(missing.status.code(), Some(4));
    assert!(
        stderr(&missing).contains("offline mode: pypi:mcp-server-fetch==2026.10.24"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn oci_bearer_token_challenge_against_a_token_auth_registry() {
    let host = env("MCPIN_TEST_OCI_TOKEN_REGISTRY");
    let tokens = PathBuf::from(env("MCPIN_TEST_OCI_TOKEN_LOG"));
    let dir = tempfile::tempdir().unwrap();
    let client = oci_client(dir.path());
    let name = unique_repository("token");
    let repo = Reference::parse(&format!("{host}/{name}:1.0")).unwrap();
    let image = push_image(&client, &repo);
    let pushes = std::fs::read_to_string(&tokens).unwrap();
    // The registry lists the challenged actions in no fixed order.
    assert!(
        pushes.contains(&format!("token repository:{name}:pull,push"))
            || pushes.contains(&format!("token repository:{name}:push,pull")),
        "{pushes}"
    );

    let store = dir.path().join("store");
    let report = json_of(&fetch(
        &store,
        &["--json", &format!("oci:{host}/{name}:1.0")],
    ));
    assert_eq!(
        report["sha256"],
        image.manifest_desc.digest.trim_start_matches("sha256:")
    );
    assert_eq!(
        std::fs::read(report["path"].as_str().unwrap()).unwrap(),
        image.manifest_bytes
    );
    let pulls = std::fs::read_to_string(&tokens).unwrap();
    assert!(
        pulls.contains(&format!("token repository:{name}:pull\n")),
        "{pulls}"
    );

    // The token server refuses `private/…`: a clear authentication error, nothing stored.
    let denied = fetch(&store, &[&format!("oci:{host}/private/thing:1.0")]);
    assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
    assert!(
        stderr(&denied).contains(&format!(
            "authentication failed at registry http://{host}: HTTP 401"
        )),
        "{}",
        stderr(&denied)
    );
}

#[test]
fn oci_push_then_fetch_by_tag_digest_and_index_with_referrers_fallback() {
    let host = env("MCPIN_TEST_OCI_REGISTRY");
    let dir = tempfile::tempdir().unwrap();
    let client = oci_client(dir.path());
    let arch = goarch();
    let name = unique_repository("demo");
    let repo = Reference::parse(&format!("{host}/{name}:1.0")).unwrap();
    let image = push_image(&client, &repo);
    let (config, layer, config_desc, layer_desc, manifest_desc, manifest_bytes) = (
        image.config,
        image.layer,
        image.config_desc,
        image.layer_desc,
        image.manifest_desc,
        image.manifest_bytes,
    );
    let mut platform_desc = manifest_desc.clone();
    platform_desc.platform = Some(Platform {
        architecture: arch.into(),
        os: "linux".into(),
        variant: None,
    });
    let index = Manifest {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: vec![platform_desc],
        ..Manifest::default()
    };
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let multi = Reference::parse(&format!("{host}/{name}:multi")).unwrap();
    let (index_desc, _) = client
        .oci_push_manifest(&multi, OCI_INDEX, &index_bytes)
        .unwrap();

    let store = dir.path().join("store");
    let manifest_hex = manifest_desc
        .digest
        .trim_start_matches("sha256:")
        .to_owned();
    let expected_blobs = json!([
        config_desc.digest.trim_start_matches("sha256:"),
        layer_desc.digest.trim_start_matches("sha256:")
    ]);
    for spec in [
        format!("oci:{host}/{name}:1.0"),
        format!("oci:{host}/{name}@{}", manifest_desc.digest),
    ] {
        let report = json_of(&fetch(&store, &["--json", &spec]));
        assert_eq!(report["sha256"], manifest_hex, "{spec}");
        assert_eq!(report["blobs"], expected_blobs, "{spec}");
        assert_eq!(
            std::fs::read(report["path"].as_str().unwrap()).unwrap(),
            manifest_bytes
        );
    }
    let from_index = json_of(&fetch(
        &store,
        &["--json", &format!("oci:{host}/{name}:multi")],
    ));
    assert_eq!(from_index["sha256"], manifest_hex);
    assert_eq!(from_index["index_digest"], index_desc.digest);
    let mut stored = blobs(&store);
    stored.sort();
    let mut want = vec![
        manifest_hex.clone(),
        sha256_hex(&config),
        sha256_hex(&layer),
        sha256_hex(&index_bytes),
    ];
    want.sort();
    assert_eq!(stored, want);

    // A pinned digest the registry does not have is a clear not-found, not a silent tag lookup.
    let absent = fetch(
        &store,
        &[&format!("oci:{host}/{name}@sha256:{}", "0".repeat(64))],
    );
    assert_eq!(absent.status.code(), Some(3), "{}", stderr(&absent));

    // Referrers: distribution 2.8 has no referrers API, so attaching goes through the tag schema.
    let bundle = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
    let mut bundle_desc = client.oci_push_blob(&repo, bundle).unwrap();
    bundle_desc.media_type = "application/vnd.dev.sigstore.bundle.v0.3+json".into();
    let empty = client.oci_push_blob(&repo, b"{}").unwrap();
    let artifact_manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: Some("application/vnd.dev.sigstore.bundle.v0.3+json".into()),
        config: Some(Descriptor {
            media_type: "application/vnd.oci.empty.v1+json".into(),
            ..empty
        }),
        layers: vec![bundle_desc],
        subject: Some(manifest_desc.clone()),
        ..Manifest::default()
    };
    assert!(
        client
            .oci_referrers(&repo, &manifest_desc.digest)
            .unwrap()
            .is_empty()
    );
    let attached = client.oci_attach(&repo, &artifact_manifest).unwrap();
    let referrers = client.oci_referrers(&repo, &manifest_desc.digest).unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, attached.digest);
    assert_eq!(
        referrers[0].artifact_type.as_deref(),
        Some("application/vnd.dev.sigstore.bundle.v0.3+json")
    );
}

#[test]
fn store_ls_verify_and_gc() {
    let registry = env("MCPIN_TEST_NPM_REGISTRY");
    let store = tempfile::tempdir().unwrap();
    let report = json_of(&fetch(
        store.path(),
        &[
            "--npm-registry",
            &registry,
            "--json",
            "npm:@modelcontextprotocol/server-filesystem@2026.8.31",
        ],
    ));
    let ls = json_of(
        &mcpin(&[
            "store",
            "ls",
            "--json",
            "--store",
            store.path().to_str().unwrap(),
        ])
        .output()
        .unwrap(),
    );
    let refs = ls["refs"].as_array().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["sha256"], report["sha256"]);

    // Corrupt the stored bytes behind mcpin's back: verify names the blob and exits 1,
    // and a fetch never serves the corrupt copy (it downloads again).
    let path = PathBuf::from(report["path"].as_str().unwrap());
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&path, permissions).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"tampered")
        .unwrap();
    let verify = mcpin(&["store", "verify", "--store", store.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        stderr(&verify).contains(report["sha256"].as_str().unwrap()),
        "{}",
        stderr(&verify)
    );
    let offline = fetch(
        store.path(),
        &[
            "--npm-registry",
            &registry,
            "--offline",
            "npm:@modelcontextprotocol/server-filesystem@2026.8.31",
        ],
    );
    assert_eq!(
        offline.status.code(),
        Some(4),
        "a corrupt blob is not served offline"
    );
    let again = json_of(&fetch(
        store.path(),
        &[
            "--npm-registry",
            &registry,
            "--json",
            "npm:@modelcontextprotocol/server-filesystem@2026.8.31",
        ],
    ));
    assert_eq!(again["downloaded"], true);
    assert!(
        mcpin(&["store", "verify", "--store", store.path().to_str().unwrap()])
            .output()
            .unwrap()
            .status
            .success()
    );

    let gc = json_of(
        &mcpin(&[
            "store",
            "gc",
            "--unreferenced",
            "--json",
            "--store",
            store.path().to_str().unwrap(),
        ])
        .output()
        .unwrap(),
    );
    assert_eq!(gc["removed"]["blobs"], 0);
}

#[test]
fn malformed_specs_are_usage_errors() {
    let store = tempfile::tempdir().unwrap();
    for spec in [
        "left-pad",
        "cargo:serde",
        "npm:Bad Name",
        "oci:ghcr.io/o/i@sha256:abc",
        "mcp:noslash",
    ] {
        let output = fetch(store.path(), &[spec]);
        assert_eq!(output.status.code(), Some(2), "{spec}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("invalid spec"),
            "{spec}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn pypi_index_with_basic_auth_in_the_url_never_prints_the_password() {
    let index = env("MCPIN_TEST_PYPI_AUTH_INDEX");
    let (user, password) = (env("MCPIN_TEST_PYPI_USER"), env("MCPIN_TEST_PYPI_PASSWORD"));
    let store = tempfile::tempdir().unwrap();
    let spec = "pypi:mcp-server-time==2026.10.19";

    let anonymous = fetch(store.path(), &["--pypi-index", &index, spec]);
    assert_eq!(anonymous.status.code(), Some(4));
    let origin = index.trim_end_matches("/simple/");
    assert!(
        stderr(&anonymous).contains(&format!(
            "authentication failed at registry {origin}: HTTP 401"
        )),
        "{}",
        stderr(&anonymous)
    );

    let with_credentials = index.replacen("http://", &format!("http://{user}:{password}@"), 1);
    let output = mcpin(&[
        "fetch",
        "--store",
        store.path().to_str().unwrap(),
        "--json",
        spec,
    ])
    .env("MCPIN_PYPI_INDEX", &with_credentials)
    .output()
    .unwrap();
    let report = json_of(&output);
    assert_eq!(
        report["sha256"],
        sha256_hex(
            &std::fs::read(artifact("mcp_server_time-2026.10.19-py3-none-any.whl")).unwrap()
        )
    );
    assert!(!stdout(&output).contains(&password) && !stderr(&output).contains(&password));

    // A wrong password is an auth error whose message shows the URL without it.
    let wrong = index.replacen("http://", &format!("http://{user}:wrong-secret@"), 1);
    let denied = fetch(
        store.path(),
        &["--pypi-index", &wrong, "pypi:mcp-server-time==2026.10.19"],
    );
    assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
    let ls = mcpin(&["store", "ls", "--store", store.path().to_str().unwrap()])
        .output()
        .unwrap();
    for text in [stderr(&denied), stdout(&ls)] {
        assert!(
            !text.contains("wrong-secret") && !text.contains(&password),
            "{text}"
        );
    }
}

#[test]
fn an_npm_package_with_only_a_sha1_shasum_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("files")).unwrap();
    let (_server, base, _log) = fixture_server(&root, &[]);
    let tarball = std::fs::read(artifact(FILESYSTEM_TGZ)).unwrap();
    std::fs::write(root.join("files/old-pkg-1.0.0.tgz"), &tarball).unwrap();
    let mut doc = packument(
        "old-pkg",
        &format!("{base}files/old-pkg-1.0.0.tgz"),
        &tarball,
    );
    let dist = &mut doc["versions"]["1.0.0"]["dist"];
    dist.as_object_mut().unwrap().remove("integrity");
    dist["shasum"] = json!(hex::encode(sha1_of(&tarball)));
    std::fs::write(root.join("old-pkg"), doc.to_string()).unwrap();

    let store = dir.path().join("store");
    let refused = fetch(&store, &["--npm-registry", &base, "npm:old-pkg@1.0.0"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("only a sha1 shasum is published"),
        "{}",
        stderr(&refused)
    );
    assert!(blobs(&store).is_empty());
    let allowed = json_of(&fetch(
        &store,
        &[
            "--npm-registry",
            &base,
            "--allow-sha1",
            "--json",
            "npm:old-pkg@1.0.0",
        ],
    ));
    assert_eq!(allowed["sha256"], sha256_hex(&tarball));
}

fn sha1_of(bytes: &[u8]) -> Vec<u8> {
    let output = Command::new("sha1sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        });
    hex::decode(&String::from_utf8(output.expect("sha1sum").stdout).unwrap()[..40]).unwrap()
}

#[test]
fn a_download_that_stalls_times_out_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("files")).unwrap();
    let (_server, base, _log) = fixture_server(&root, &["--stall-after", "1000"]);
    let tarball = std::fs::read(artifact(FILESYSTEM_TGZ)).unwrap();
    std::fs::write(root.join("files/stalls-1.0.0.tgz"), &tarball).unwrap();
    let doc = packument("stalls", &format!("{base}files/stalls-1.0.0.tgz"), &tarball);
    std::fs::write(root.join("stalls"), doc.to_string()).unwrap();

    let store = dir.path().join("store");
    let output = fetch(
        &store,
        &[
            "--npm-registry",
            &base,
            "--timeout",
            "2",
            "npm:stalls@1.0.0",
        ],
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("download of http://127.0.0.1:") && message.contains("interrupted"),
        "{message}"
    );
    assert!(blobs(&store).is_empty());
    assert_eq!(temp_files(&store), 0);
}

/// Inputs that made the client panic (exit 101) are errors with a message: a registry port
/// over 65535, a `registryBaseUrl` that cannot take a path, and plain http to another host.
#[test]
fn malformed_registry_locations_are_errors_not_panics() {
    let store = tempfile::tempdir().unwrap();
    let port = fetch(store.path(), &["oci:localhost:99999/o/i:1"]);
    assert_eq!(port.status.code(), Some(2), "{}", stderr(&port));
    assert!(
        stderr(&port).contains("`localhost:99999` is not a registry host"),
        "{}",
        stderr(&port)
    );

    let root = store.path().join("mcp");
    // The client asks for `v0/servers/io.example%2Fx/…`; the fixture server unquotes paths.
    let versions = root.join("v0/servers/io.example/x/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(
        versions.join("1.0.0"),
        json!({"server": {"name": "io.example/x", "version": "1.0.0", "packages": [
            {"registryType": "pypi", "registryBaseUrl": "data:x", "identifier": "x", "version": "1.0.0"}
        ]}})
        .to_string(),
    )
    .unwrap();
    let (_service, base, _log) = fixture_server(&root, &[]);
    let data = fetch(
        store.path(),
        &["--mcp-registry", &base, "mcp:io.example/x@1.0.0"],
    );
    assert_eq!(data.status.code(), Some(3), "{}", stderr(&data));
    assert!(
        stderr(&data).contains("registryBaseUrl `data:x`: not an http(s) registry URL"),
        "{}",
        stderr(&data)
    );

    let plain = fetch(
        store.path(),
        &[
            "--npm-registry",
            "http://registry.invalid/",
            "npm:left-pad@1.3.0",
        ],
    );
    assert_eq!(plain.status.code(), Some(3), "{}", stderr(&plain));
    assert!(
        stderr(&plain).contains("must be https:// (plain http only to a loopback address)"),
        "{}",
        stderr(&plain)
    );
}
