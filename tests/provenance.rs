//! Registry provenance as evidence (issue 13, item 2). The registries reachable here strip the
//! provenance endpoints, so a loopback server (`support/fixture_server.py`) serves the real
//! bundles of the shared Sigstore corpus at the real paths: npm's
//! `/-/npm/v1/attestations/NAME@VERSION` and PyPI's `/integrity/PROJECT/VERSION/FILE/provenance`.
//! The artifact is the real `sigstore-5.0.0.tgz` its provenance was built for.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcpin_tests::{Service, fixture_server, mcpin, stderr, stdout};
use serde_json::{Value, json};

const IDENTITY: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const REPOSITORY: &str = "https://github.com/sigstore/sigstore-js";

/// `../shared/corpus/sigstore/<relative>`: these tests need the shared corpus.
fn corpus(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/sigstore")
        .join(relative);
    assert!(
        path.exists(),
        "{} is missing: the shared Sigstore corpus must sit beside the repository",
        path.display()
    );
    path
}

fn provenance_bundle() -> Value {
    serde_json::from_slice(
        &std::fs::read(corpus("npm/sigstore-5.0.0.provenance.sigstore.json")).unwrap(),
    )
    .unwrap()
}

/// A loopback registry root serving `bundle` as npm's attestations for sigstore@5.0.0, and the
/// version document (with `trusted_publisher` as `_npmUser.trustedPublisher`, when given).
struct Registry {
    dir: tempfile::TempDir,
    service: Option<Service>,
    url: String,
}

fn registry(bundle: Option<Value>, trusted_publisher: Option<&str>) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("-/npm/v1/attestations")).unwrap();
    if let Some(bundle) = bundle {
        let document = json!({ "attestations": [
            { "predicateType": "https://slsa.dev/provenance/v1", "bundle": bundle },
        ]});
        std::fs::write(
            root.join("-/npm/v1/attestations/sigstore@5.0.0"),
            document.to_string(),
        )
        .unwrap();
    }
    let mut user = json!({ "name": "GitHub Actions", "email": "npm-oidc-no-reply@github.com" });
    if let Some(id) = trusted_publisher {
        user["trustedPublisher"] = json!({ "id": id, "oidcConfigId": "oidc:test" });
    }
    std::fs::create_dir_all(root.join("sigstore")).unwrap();
    std::fs::write(
        root.join("sigstore/5.0.0"),
        json!({ "name": "sigstore", "version": "5.0.0", "_npmUser": user }).to_string(),
    )
    .unwrap();
    let (service, url, _log) = fixture_server(&root, &[]);
    Registry {
        dir,
        service: Some(service),
        url,
    }
}

/// A policy whose only signer is the upstream provenance identity, with `extra` keys.
fn policy(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!(
            r#"version = 1
[[signers]]
id = "upstream-provenance"
issuer = "{ISSUER}"
san = "{IDENTITY}"
{extra}

[[packages]]
ecosystem = "npm"
name = "sigstore"
require-any = ["upstream-provenance"]
"#
        ),
    )
    .unwrap();
    path
}

/// `mcpin verify sigstore-5.0.0.tgz --policy P --json` with the registry at `registry`.
fn verify(registry: &Registry, policy: &Path, offline: bool) -> (Output, Value) {
    let output = mcpin(&["verify", "--json", "--policy"])
        .arg(policy)
        .arg(corpus("npm/sigstore-5.0.0.tgz"))
        .env("MCPIN_STORE", registry.dir.path().join("store"))
        .env("MCPIN_STATE_DIR", registry.dir.path().join("state"))
        .env("MCPIN_NPM_REGISTRY", &registry.url)
        .env("MCPIN_OFFLINE", if offline { "1" } else { "0" })
        .env("HOME", registry.dir.path())
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let verdict: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "verdict JSON: {e}\n{}\n{}",
            stdout(&output),
            stderr(&output)
        )
    });
    (output, verdict)
}

fn codes(verdict: &Value, outcome: &str) -> Vec<String> {
    verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == outcome)
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

fn message(verdict: &Value, code: &str) -> String {
    verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {code} reason in {verdict:#}"))
}

fn assert_denied(output: &Output, verdict: &Value, code: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    assert_eq!(verdict["decision"], "deny", "{verdict:#}");
    assert!(
        codes(verdict, "fail").contains(&"required-signer-missing".to_owned()),
        "{verdict:#}"
    );
    assert!(
        codes(verdict, "info").contains(&code.to_owned()),
        "no {code}: {verdict:#}"
    );
    assert!(
        message(verdict, "required-signer-missing").contains("provenance-* reasons"),
        "{verdict:#}"
    );
}

#[test]
fn npm_provenance_satisfies_a_sigstore_signer_by_repository_ref_and_workflow_and_is_kept() {
    let registry = registry(Some(provenance_bundle()), Some("github"));
    let policy = policy(
        registry.dir.path(),
        &format!(
            "repository = \"{REPOSITORY}\"\nref = \"refs/heads/main\"\nworkflow = \".github/workflows/release.yml\""
        ),
    );
    let (output, verdict) = verify(&registry, &policy, false);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(verdict["decision"], "allow");
    let verified = message(&verdict, "provenance-verified");
    assert!(
        verified.contains(&format!("built from {REPOSITORY} at refs/heads/main by https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main")),
        "{verified}"
    );
    assert!(message(&verdict, "provenance-fetched").contains("fetched from http://127.0.0.1:"));
    // Kept beside the blob: offline, with the server gone, the store answers.
    let mut registry = registry;
    drop(registry.service.take());
    let (output, verdict) = verify(&registry, &policy, true);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(message(&verdict, "provenance-fetched").contains("read from the store"));
}

#[test]
fn a_tampered_provenance_bundle_is_denied_as_provenance_invalid() {
    let mut bundle = provenance_bundle();
    // Flip one byte of the signed statement.
    let payload = bundle["dsseEnvelope"]["payload"].as_str().unwrap();
    let mut bytes = STANDARD.decode(payload).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    bundle["dsseEnvelope"]["payload"] = json!(STANDARD.encode(bytes));
    let registry = registry(Some(bundle), None);
    let policy = policy(registry.dir.path(), "");
    let (output, verdict) = verify(&registry, &policy, false);
    assert_denied(&output, &verdict, "provenance-invalid");
}

#[test]
fn provenance_from_another_repository_or_workflow_is_denied_as_provenance_mismatch() {
    for extra in [
        "repository = \"https://github.com/attacker/sigstore-js\"",
        "workflow = \".github/workflows/publish.yml\"",
        "ref = \"refs/tags/v5.0.0\"",
    ] {
        let registry = registry(Some(provenance_bundle()), None);
        let policy = policy(registry.dir.path(), extra);
        let (output, verdict) = verify(&registry, &policy, false);
        assert_denied(&output, &verdict, "provenance-mismatch");
        assert!(
            message(&verdict, "provenance-mismatch").contains(&format!(
                "built from repository {REPOSITORY} at ref refs/heads/main by workflow"
            )),
            "{extra}: {verdict:#}"
        );
    }
}

#[test]
fn a_registry_without_provenance_is_denied_as_provenance_unavailable() {
    let registry = registry(None, None);
    let policy = policy(registry.dir.path(), "");
    let (output, verdict) = verify(&registry, &policy, false);
    assert_denied(&output, &verdict, "provenance-unavailable");
    assert!(
        message(&verdict, "provenance-unavailable").contains("HTTP 404"),
        "{verdict:#}"
    );
    assert!(codes(&verdict, "fail").contains(&"unsigned".to_owned()));
}

#[test]
fn a_trusted_publisher_contradicting_the_certificate_takes_the_provenance_away() {
    let registry = registry(Some(provenance_bundle()), Some("gitlab"));
    let policy = policy(registry.dir.path(), "");
    let (output, verdict) = verify(&registry, &policy, false);
    assert_denied(&output, &verdict, "provenance-publisher-mismatch");
}

/// A PEP 740 attestation is not a Sigstore bundle. The real npm provenance, rewritten into
/// the PEP 740 shape (certificate, transparency entries, statement, signature; its RFC 3161
/// timestamp has no place there) and converted back by the registry client, must verify for
/// the artifact it was built for, and stop verifying once its statement changes.
#[test]
fn pep740_attestations_convert_to_bundles_that_verify_on_the_sigstore_path() {
    use mcpin_registry_client::attestations::provenance::pep740_bundle;
    use mcpin_verifier::sigstore::{
        ArtifactRef, IdentityMatch, SignerRequirement, TrustedRoot, verify_json,
    };
    let bundle = provenance_bundle();
    let attestation = json!({
        "version": 1,
        "verification_material": {
            "certificate": bundle["verificationMaterial"]["certificate"]["rawBytes"],
            "transparency_entries": bundle["verificationMaterial"]["tlogEntries"],
        },
        "envelope": {
            "statement": bundle["dsseEnvelope"]["payload"],
            "signature": bundle["dsseEnvelope"]["signatures"][0]["sig"],
        },
    });
    let root = TrustedRoot::load(&corpus("trusted-roots/production.trusted_root.json")).unwrap();
    let artifact = ArtifactRef::Digests(
        mcpin_artifact::digest_reader(
            std::fs::File::open(corpus("npm/sigstore-5.0.0.tgz")).unwrap(),
        )
        .unwrap(),
    );
    let signer = SignerRequirement::Identity {
        identity: IdentityMatch::Exact(IDENTITY.into()),
        issuer: ISSUER.into(),
    };
    let converted = String::from_utf8(pep740_bundle(&attestation).unwrap()).unwrap();
    let verified = verify_json("pep740", &converted, &artifact, &signer, &root).unwrap();
    assert_eq!(verified.claims.repository.as_deref(), Some(REPOSITORY));

    let mut tampered = attestation.clone();
    let mut statement = STANDARD
        .decode(attestation["envelope"]["statement"].as_str().unwrap())
        .unwrap();
    statement[10] ^= 0x01;
    tampered["envelope"]["statement"] = json!(STANDARD.encode(statement));
    let converted = String::from_utf8(pep740_bundle(&tampered).unwrap()).unwrap();
    assert!(verify_json("pep740", &converted, &artifact, &signer, &root).is_err());
}
