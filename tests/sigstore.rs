//! `mcpin sigstore verify-bundle` against the offline Sigstore corpus (`sigstore_corpus`):
//! every sigstore-conformance bundle-verify case (artifact as a file and as a
//! `sha256:` digest), every case in `cases.json`, and tampered copies of a real
//! npm provenance bundle.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcpin_tests::{mcpin, sigstore_corpus, stderr};
use serde_json::Value;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

enum Signer {
    Identity(String, String),
    Key(PathBuf),
}

/// Runs verify-bundle; returns whether it accepted, and its stderr.
fn verify_bundle(bundle: &Path, signer: &Signer, root: &Path, artifact: &str) -> (bool, String) {
    let mut command = mcpin(&["sigstore", "verify-bundle"]);
    command.arg("--bundle").arg(bundle);
    match signer {
        Signer::Identity(identity, issuer) => {
            command
                .args(["--certificate-identity", identity])
                .args(["--certificate-oidc-issuer", issuer]);
        }
        Signer::Key(key) => {
            command.arg("--key").arg(key);
        }
    }
    command.arg("--trusted-root").arg(root).arg(artifact);
    let output = command.output().expect("spawning mcpin");
    let code = output.status.code().expect("mcpin exited normally");
    // Exit code is the verdict: 0 valid, 1 rejected, 3/4 unreadable input (also a rejection).
    assert!(
        matches!(code, 0 | 1 | 3 | 4),
        "unexpected exit {code}: {}",
        stderr(&output)
    );
    (code == 0, stderr(&output))
}

fn sha256_hex(path: &Path) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_owned())
}

#[test]
fn conformance_bundle_verify_cases_give_the_expected_verdict() {
    let cases_dir = sigstore_corpus("conformance/bundle-verify");
    let production = sigstore_corpus("trusted-roots/production.trusted_root.json");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&cases_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70, "the corpus has 70 bundle-verify cases");

    let mut wrong = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expect_valid = !name.ends_with("_fail");
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            cases_dir.join("a.txt")
        };
        let root = if case.join("trusted_root.json").exists() {
            case.join("trusted_root.json")
        } else {
            production.clone()
        };
        let signer = if case.join("key.pub").exists() {
            Signer::Key(case.join("key.pub"))
        } else {
            Signer::Identity(
                read_trimmed(&case.join("identity")).unwrap_or(DEFAULT_IDENTITY.into()),
                read_trimmed(&case.join("issuer")).unwrap_or(DEFAULT_ISSUER.into()),
            )
        };
        let bundle = case.join("bundle.sigstore.json");
        for input in [
            artifact.to_string_lossy().into_owned(),
            format!("sha256:{}", sha256_hex(&artifact)),
        ] {
            let (valid, message) = verify_bundle(&bundle, &signer, &root, &input);
            if valid != expect_valid {
                wrong.push(format!("{name} ({input}): accepted={valid}: {message}"));
            }
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn corpus_cases_json_give_the_expected_verdict() {
    let cases: Value =
        serde_json::from_slice(&std::fs::read(sigstore_corpus("cases.json")).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    let mut wrong = Vec::new();
    for case in cases {
        let text = |key: &str| case[key].as_str().map(str::to_owned);
        let id = text("id").unwrap();
        // `npm-sigstore-1.3.0-provenance` says "pass (lenient) / fail (strict)":
        // sigstore-verify (and sigstore-go) accept it, so mcpin does too.
        let expect_valid = text("expect").unwrap().starts_with("pass");
        let signer = match text("key") {
            Some(key) => Signer::Key(sigstore_corpus(&key)),
            None => Signer::Identity(text("identity").unwrap(), text("issuer").unwrap()),
        };
        let artifact = text("artifact").unwrap();
        let artifact = if artifact.starts_with("sha256:") {
            artifact
        } else {
            sigstore_corpus(&artifact).to_string_lossy().into_owned()
        };
        let (valid, message) = verify_bundle(
            &sigstore_corpus(&text("bundle").unwrap()),
            &signer,
            &sigstore_corpus(&text("trusted_root").unwrap()),
            &artifact,
        );
        if valid != expect_valid {
            wrong.push(format!("{id}: accepted={valid}: {message}"));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

fn flip_base64(value: &mut Value, index: usize) {
    let mut bytes = STANDARD.decode(value.as_str().unwrap()).unwrap();
    let index = index.min(bytes.len() - 1);
    bytes[index] ^= 0x01;
    *value = Value::String(STANDARD.encode(bytes));
}

#[test]
fn tampered_npm_provenance_bundles_are_rejected() {
    let original: Value = serde_json::from_slice(
        &std::fs::read(sigstore_corpus(
            "npm/sigstore-5.0.0.provenance.sigstore.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let artifact = sigstore_corpus("npm/sigstore-5.0.0.tgz");
    let root = sigstore_corpus("trusted-roots/production.trusted_root.json");
    let signer = Signer::Identity(
        "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
            .into(),
        DEFAULT_ISSUER.into(),
    );
    let dir = tempfile::tempdir().unwrap();

    // The untouched bundle verifies, so each rejection below is due to its one change.
    let path = dir.path().join("original.json");
    std::fs::write(&path, serde_json::to_vec(&original).unwrap()).unwrap();
    let (valid, message) = verify_bundle(&path, &signer, &root, artifact.to_str().unwrap());
    assert!(valid, "the original bundle must verify: {message}");

    type Tamper = fn(&mut Value);
    let tampers: [(&str, Tamper); 7] = [
        ("dsse-payload", |b| {
            flip_base64(&mut b["dsseEnvelope"]["payload"], 40)
        }),
        ("dsse-signature", |b| {
            flip_base64(&mut b["dsseEnvelope"]["signatures"][0]["sig"], 20)
        }),
        ("canonicalized-body", |b| {
            flip_base64(
                &mut b["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"],
                30,
            )
        }),
        ("inclusion-proof-hash", |b| {
            flip_base64(
                &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][0],
                5,
            )
        }),
        ("inclusion-proof-root-hash", |b| {
            flip_base64(
                &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"],
                5,
            )
        }),
        ("checkpoint", |b| {
            let checkpoint = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
                ["envelope"];
            let text = checkpoint.as_str().unwrap();
            // Line 2 is the tree size: change one digit.
            let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
            let size: u64 = lines[1].parse().unwrap();
            lines[1] = (size + 1).to_string();
            *checkpoint = Value::String(lines.join("\n"));
        }),
        ("signed-entry-timestamp", |b| {
            flip_base64(
                &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"],
                20,
            )
        }),
    ];
    for (name, tamper) in tampers {
        let mut bundle = original.clone();
        tamper(&mut bundle);
        assert_ne!(bundle, original, "{name} changed nothing");
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
        let (valid, message) = verify_bundle(&path, &signer, &root, artifact.to_str().unwrap());
        assert!(!valid, "tampered {name} was accepted");
        assert!(
            message.contains("mcpin: error"),
            "{name}: no error message: {message}"
        );
    }
}

#[test]
fn usage_requires_an_identity_with_issuer_or_a_key() {
    let output = mcpin(&[
        "sigstore",
        "verify-bundle",
        "--bundle",
        "b.json",
        "--certificate-identity",
        "x",
        "a.txt",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let output = mcpin(&["sigstore", "verify-bundle", "--bundle", "b.json", "a.txt"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

/// An unsigned JWT with these claims (Fulcio would check the signature; mcpin only reads claims).
fn jwt(claims: Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let part = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(serde_json::json!({ "alg": "RS256", "typ": "JWT" })),
        part(claims)
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A loopback URL nothing listens on.
fn closed_loopback_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// `mcpin sign --keyless` with CI detection switched off unless `env` turns it on.
fn sign_keyless(artifact: &Path, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = mcpin(&["sign", artifact.to_str().unwrap(), "--keyless"]);
    command.args(extra);
    for var in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "BUILDKITE",
        "CIRCLECI",
        "SIGSTORE_ID_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().unwrap()
}

#[test]
fn keyless_signing_runs_up_to_the_network_call() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("server.tgz");
    std::fs::copy(
        mcpin_tests::artifact("modelcontextprotocol-server-filesystem-2026.8.31.tgz"),
        &artifact,
    )
    .unwrap();
    let bundle = dir.path().join("server.tgz.sigstore.json");
    let url = closed_loopback_url();
    let token = jwt(serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:mcpin/example:ref:refs/heads/main",
        "aud": "sigstore",
        "iat": now(),
        "exp": now() + 600,
    }));

    // A valid token: identity extracted, then Fulcio (unreachable) fails with an I/O exit.
    let output = sign_keyless(
        &artifact,
        &[
            "--identity-token",
            &token,
            "--fulcio-url",
            &url,
            "--rekor-url",
            &url,
        ],
        &[],
    );
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{message}");
    assert!(
        message.contains("signing as repo:mcpin/example:ref:refs/heads/main (issuer https://token.actions.githubusercontent.com"),
        "{message}"
    );
    assert!(message.contains(&format!("via Fulcio {url}")), "{message}");
    assert!(
        !message.contains("c2lnbmF0dXJl"),
        "the token is never printed"
    );
    assert!(!bundle.exists(), "no bundle without a signature");

    // The same through SIGSTORE_ID_TOKEN.
    let output = sign_keyless(
        &artifact,
        &["--fulcio-url", &url, "--rekor-url", &url],
        &[("SIGSTORE_ID_TOKEN", &token)],
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("signing as repo:mcpin/example"));

    // Expired and malformed tokens are refused before any network use.
    let expired = jwt(serde_json::json!({
        "iss": "https://accounts.google.com", "sub": "1", "email": "dev@example.com",
        "aud": "sigstore", "iat": 1_600_000_000, "exp": 1_600_000_600,
    }));
    let output = sign_keyless(&artifact, &["--identity-token", &expired], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains(
        "identity token for dev@example.com (issuer https://accounts.google.com) expired"
    ));
    let output = sign_keyless(&artifact, &["--identity-token", "not.a-jwt"], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("not a JWT"));

    // No token and no CI: a clear error.
    let output = sign_keyless(&artifact, &[], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("no identity token"));

    // GitHub Actions ambient OIDC: the token endpoint (unreachable loopback) is asked.
    let output = sign_keyless(
        &artifact,
        &[],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &format!("{url}/token")),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-secret"),
        ],
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("ambient CI identity token"));
    assert!(!stderr(&output).contains("request-secret"));

    // --key and --keyless are exclusive.
    let output = sign_keyless(&artifact, &["--key", "k.key"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn verify_bundle_defaults_to_the_embedded_production_root() {
    let output = mcpin(&["sigstore", "verify-bundle", "--bundle"])
        .arg(sigstore_corpus(
            "npm/sigstore-5.0.0.provenance.sigstore.json",
        ))
        .args([
            "--certificate-identity",
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            DEFAULT_ISSUER,
        ])
        .arg(sigstore_corpus("npm/sigstore-5.0.0.tgz"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}
