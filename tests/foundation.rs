//! Issue 2: keys, sign / verify / inspect on real artifacts, an independent
//! openssl cross-check, the tamper matrix, and hostile archives.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcpin_tests::{artifact, mcpin, mcpin_bin, run_in, stderr, stdout, testdata};
use serde_json::Value;

const FILESYSTEM_TGZ: &str = "modelcontextprotocol-server-filesystem-2026.8.31.tgz";
const TIME_WHEEL: &str = "mcp_server_time-2026.10.19-py3-none-any.whl";

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let workspace = Workspace {
            dir: tempfile::tempdir().unwrap(),
        };
        let keygen = workspace.run(&["keygen", "--out", "publisher"]);
        assert!(keygen.status.success(), "{}", stderr(&keygen));
        workspace
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        run_in(self.dir.path(), args)
    }

    /// Copies an artifact in, signs it, and returns its file name.
    fn signed(&self, source: &Path) -> String {
        let name = source.file_name().unwrap().to_str().unwrap().to_owned();
        fs::copy(source, self.path(&name)).unwrap();
        let sign = self.run(&["sign", &name, "--key", "publisher.key"]);
        assert!(sign.status.success(), "sign {name}: {}", stderr(&sign));
        name
    }

    fn verify(&self, artifact: &str, bundle: &str, key: &str) -> Output {
        self.run(&["verify", artifact, "--bundle", bundle, "--key", key])
    }
}

fn assert_denied(output: &Output, code: &str) {
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(output));
    let message = stderr(output);
    assert!(
        message.contains(&format!("{code}:")),
        "expected reason `{code}`, got: {message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
}

fn bundle_json(workspace: &Workspace, bundle: &str) -> Value {
    serde_json::from_slice(&fs::read(workspace.path(bundle)).unwrap()).unwrap()
}

fn write_json(workspace: &Workspace, name: &str, value: &Value) {
    fs::write(workspace.path(name), serde_json::to_vec(value).unwrap()).unwrap();
}

#[test]
fn signs_and_verifies_real_npm_and_pypi_servers() {
    let workspace = Workspace::new();
    for (file, purl, ecosystem, entry) in [
        (
            FILESYSTEM_TGZ,
            "pkg:npm/%40modelcontextprotocol/server-filesystem@2026.8.31",
            "npm",
            "mcp-server-filesystem",
        ),
        (
            TIME_WHEEL,
            "pkg:pypi/mcp-server-time@2026.10.19",
            "pypi",
            "mcp-server-time",
        ),
    ] {
        let name = workspace.signed(&artifact(file));
        let bundle = format!("{name}.sigstore.json");
        let verify = workspace.run(&["verify", &name, "--key", "publisher.pub", "--json"]);
        assert!(verify.status.success(), "{}", stderr(&verify));
        let result: Value = serde_json::from_str(&stdout(&verify)).unwrap();
        assert_eq!(result["subject"], purl);

        let inspect = workspace.run(&["inspect", &bundle, "--json"]);
        assert!(inspect.status.success(), "{}", stderr(&inspect));
        let statement: Value = serde_json::from_str(&stdout(&inspect)).unwrap();
        assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(
            statement["predicateType"],
            "https://mcpin.dev/attestation/mcp-package/v1"
        );
        let package = &statement["predicate"]["package"];
        assert_eq!(package["ecosystem"], ecosystem);
        assert_eq!(package["purl"], purl);
        assert_eq!(package["entryPoints"][0]["name"], entry);
        let subject = &statement["subject"][0];
        let expected_sha512 = sha_of("sha512sum", &workspace.path(&name));
        assert_eq!(subject["digest"]["sha512"], expected_sha512.as_str());
        assert_eq!(
            subject["digest"]["sha256"],
            sha_of("sha256sum", &workspace.path(&name)).as_str()
        );

        let human = workspace.run(&["inspect", &bundle]);
        assert!(stdout(&human).contains(purl), "{}", stdout(&human));
    }
}

fn sha_of(tool: &str, path: &Path) -> String {
    let output = Command::new(tool).arg(path).output().unwrap();
    stdout(&output)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn dsse_signature_verifies_with_openssl_over_the_pae_bytes() {
    let workspace = Workspace::new();
    let name = workspace.signed(&artifact(FILESYSTEM_TGZ));
    let bundle = bundle_json(&workspace, &format!("{name}.sigstore.json"));
    let envelope = &bundle["dsseEnvelope"];
    let payload = STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let payload_type = envelope["payloadType"].as_str().unwrap();
    let mut pae = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(&payload);
    fs::write(workspace.path("pae.bin"), &pae).unwrap();
    let signature = STANDARD
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    fs::write(workspace.path("sig.bin"), &signature).unwrap();

    let openssl = |data: &str| {
        Command::new("openssl")
            .args([
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                "publisher.pub",
                "-rawin",
            ])
            .args(["-in", data, "-sigfile", "sig.bin"])
            .current_dir(workspace.dir.path())
            .output()
            .expect("openssl is installed")
    };
    let good = openssl("pae.bin");
    assert!(
        good.status.success(),
        "openssl: {}{}",
        stdout(&good),
        stderr(&good)
    );

    pae[20] ^= 1;
    fs::write(workspace.path("pae-tampered.bin"), &pae).unwrap();
    assert!(!openssl("pae-tampered.bin").status.success());

    // The key id is the sha256 of the SPKI DER, as openssl computes it too.
    let der = Command::new("openssl")
        .args([
            "pkey",
            "-pubin",
            "-in",
            "publisher.pub",
            "-outform",
            "DER",
            "-out",
            "pub.der",
        ])
        .current_dir(workspace.dir.path())
        .output()
        .unwrap();
    assert!(der.status.success());
    assert_eq!(
        bundle["verificationMaterial"]["publicKey"]["hint"],
        sha_of("sha256sum", &workspace.path("pub.der")).as_str()
    );
}

#[test]
fn tamper_matrix_each_rejected_with_its_reason() {
    let workspace = Workspace::new();
    let tgz = workspace.signed(&artifact(FILESYSTEM_TGZ));
    let wheel = workspace.signed(&artifact(TIME_WHEEL));
    let tgz_bundle = format!("{tgz}.sigstore.json");

    // A flipped byte in the artifact.
    let mut bytes = fs::read(workspace.path(&tgz)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(workspace.path("flipped.tgz"), &bytes).unwrap();
    assert_denied(
        &workspace.verify("flipped.tgz", &tgz_bundle, "publisher.pub"),
        "digest-mismatch",
    );

    // A flipped byte in the DSSE payload (re-encoded so the base64 stays valid).
    let mut bundle = bundle_json(&workspace, &tgz_bundle);
    let mut payload = STANDARD
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let at = payload.len() / 2;
    payload[at] ^= 0x01;
    bundle["dsseEnvelope"]["payload"] = STANDARD.encode(&payload).into();
    write_json(&workspace, "payload.json", &bundle);
    assert_denied(
        &workspace.verify(&tgz, "payload.json", "publisher.pub"),
        "signature-invalid",
    );

    // A flipped byte in the signature.
    let mut bundle = bundle_json(&workspace, &tgz_bundle);
    let mut signature = STANDARD
        .decode(
            bundle["dsseEnvelope"]["signatures"][0]["sig"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    signature[7] ^= 0x80;
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = STANDARD.encode(&signature).into();
    write_json(&workspace, "sig.json", &bundle);
    assert_denied(
        &workspace.verify(&tgz, "sig.json", "publisher.pub"),
        "signature-invalid",
    );

    // Another key.
    assert!(
        workspace
            .run(&["keygen", "--out", "other"])
            .status
            .success()
    );
    assert_denied(
        &workspace.verify(&tgz, &tgz_bundle, "other.pub"),
        "wrong-key",
    );

    // A bundle made for another artifact.
    assert_denied(
        &workspace.verify(&tgz, &format!("{wheel}.sigstore.json"), "publisher.pub"),
        "subject-mismatch",
    );
}

#[test]
fn statement_with_several_subjects_none_matching_is_rejected() {
    let workspace = Workspace::new();
    let tgz = workspace.signed(&artifact(FILESYSTEM_TGZ));
    let key = mcpin_verifier::SecretKey::load(&workspace.path("publisher.key"), None).unwrap();
    let mut statement: mcpin_attestation::Statement = {
        let inspect = workspace.run(&["inspect", &format!("{tgz}.sigstore.json"), "--json"]);
        serde_json::from_str(&stdout(&inspect)).unwrap()
    };
    let template = statement.subject[0].clone();
    statement.subject = (0..3)
        .map(|i| {
            let mut subject = template.clone();
            subject.digest.insert("sha256".into(), format!("{i:064x}"));
            subject.digest.remove("sha512");
            subject
        })
        .collect();
    let bundle = mcpin_verifier::sign_statement(&statement, &key);
    fs::write(workspace.path("multi.json"), bundle.to_json_pretty()).unwrap();
    let output = workspace.verify(&tgz, "multi.json", "publisher.pub");
    assert_denied(&output, "digest-mismatch");
    assert_eq!(stderr(&output).matches("sha256:000").count(), 3);
}

#[test]
fn malformed_bundles_and_statements_get_clear_errors() {
    let workspace = Workspace::new();
    let tgz = workspace.signed(&artifact(FILESYSTEM_TGZ));
    let good = bundle_json(&workspace, &format!("{tgz}.sigstore.json"));

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "array.json",
            serde_json::json!([1, 2]),
            "Sigstore bundle shape",
        ),
        (
            "no-envelope.json",
            {
                let mut bundle = good.clone();
                bundle.as_object_mut().unwrap().remove("dsseEnvelope");
                bundle
            },
            "no dsseEnvelope",
        ),
        (
            "media.json",
            {
                let mut bundle = good.clone();
                bundle["mediaType"] = "application/json".into();
                bundle
            },
            "not a Sigstore bundle media type",
        ),
        (
            "base64.json",
            {
                let mut bundle = good.clone();
                bundle["dsseEnvelope"]["payload"] = "%%%".into();
                bundle
            },
            "not valid base64",
        ),
    ];
    for (name, bundle, expected) in cases {
        write_json(&workspace, name, &bundle);
        let output = workspace.verify(&tgz, name, "publisher.pub");
        assert_eq!(output.status.code(), Some(3), "{name}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(expected),
            "{name}: {}",
            stderr(&output)
        );
    }

    let mut other_type = good.clone();
    other_type["dsseEnvelope"]["payloadType"] = "text/plain".into();
    write_json(&workspace, "payload-type.json", &other_type);
    assert_denied(
        &workspace.verify(&tgz, "payload-type.json", "publisher.pub"),
        "payload-type",
    );
}

#[test]
fn keys_of_the_wrong_kind_are_refused_with_a_reason() {
    let workspace = Workspace::new();
    let tgz = workspace.signed(&artifact(FILESYSTEM_TGZ));
    let genpkey = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.key",
        ])
        .current_dir(workspace.dir.path())
        .output()
        .unwrap();
    assert!(genpkey.status.success());
    let ec = workspace.run(&["sign", &tgz, "--key", "ec.key"]);
    assert_eq!(ec.status.code(), Some(3));
    assert!(
        stderr(&ec).contains("not an ed25519 key (its algorithm is ECDSA"),
        "{}",
        stderr(&ec)
    );

    let keygen = mcpin(&[
        "keygen",
        "--out",
        "locked",
        "--passphrase-env",
        "MCPIN_TEST_PASS",
    ])
    .env("MCPIN_TEST_PASS", "correct horse")
    .current_dir(workspace.dir.path())
    .output()
    .unwrap();
    assert!(keygen.status.success(), "{}", stderr(&keygen));
    let pem = fs::read_to_string(workspace.path("locked.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let no_pass = workspace.run(&["sign", &tgz, "--key", "locked.key"]);
    assert_eq!(no_pass.status.code(), Some(3));
    assert!(stderr(&no_pass).contains("is encrypted: give its passphrase"));
    let with_pass = mcpin(&[
        "sign",
        &tgz,
        "--key",
        "locked.key",
        "--passphrase-env",
        "P",
        "--out",
        "l.json",
    ])
    .env("P", "correct horse")
    .current_dir(workspace.dir.path())
    .output()
    .unwrap();
    assert!(with_pass.status.success(), "{}", stderr(&with_pass));
    let verify = workspace.verify(&tgz, "l.json", "locked.pub");
    assert!(verify.status.success(), "{}", stderr(&verify));

    // openssl reads our encrypted key with the passphrase, and our plain key as is.
    let openssl = Command::new("openssl")
        .args([
            "pkey",
            "-in",
            "locked.key",
            "-passin",
            "pass:correct horse",
            "-noout",
        ])
        .current_dir(workspace.dir.path())
        .output()
        .unwrap();
    assert!(openssl.status.success(), "{}", stderr(&openssl));

    // And the other way: a key made by openssl signs, and its openssl-written
    // public key verifies.
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(workspace.dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            stderr(&output)
        );
    };
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "ossl.key"]);
    openssl(&["pkey", "-in", "ossl.key", "-pubout", "-out", "ossl.pub"]);
    let sign = workspace.run(&["sign", &tgz, "--key", "ossl.key", "--out", "o.json"]);
    assert!(sign.status.success(), "{}", stderr(&sign));
    assert!(
        workspace
            .verify(&tgz, "o.json", "ossl.pub")
            .status
            .success()
    );

    let public_as_private = workspace.run(&["sign", &tgz, "--key", "publisher.pub"]);
    assert_eq!(public_as_private.status.code(), Some(3));
    assert!(stderr(&public_as_private).contains("PUBLIC KEY"));

    let existing = workspace.run(&["keygen", "--out", "publisher"]);
    assert_ne!(existing.status.code(), Some(0));
    assert!(stderr(&existing).contains("refusing to overwrite"));
}

#[cfg(unix)]
#[test]
fn private_key_is_0600_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let workspace = Workspace::new();
    let mode = fs::metadata(workspace.path("publisher.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let keygen = workspace.run(&["keygen", "--out", "second"]);
    let key_body: String = fs::read_to_string(workspace.path("second.key"))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let printed = format!("{}{}", stdout(&keygen), stderr(&keygen));
    assert!(!printed.contains(&key_body));
    assert_eq!(stdout(&keygen).trim().len(), 64, "stdout is the key id");
}

#[test]
fn builtin_example_signs_and_verifies() {
    let workspace = Workspace::new();
    let name = workspace.signed(&testdata("mcpin-example-hello-mcp-0.1.0.tgz"));
    let verify = workspace.run(&["verify", &name, "--key", "publisher.pub"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(stderr(&verify).contains("pkg:npm/%40mcpin-example/hello-mcp@0.1.0"));
}

#[test]
fn help_lists_every_command_with_a_description() {
    let help = mcpin(&["--help"]).output().unwrap();
    assert!(help.status.success());
    let text = stdout(&help);
    for command in ["keygen", "sign", "verify", "inspect"] {
        let line = text
            .lines()
            .find(|line| line.trim_start().starts_with(command))
            .unwrap_or_else(|| panic!("`{command}` missing from --help:\n{text}"));
        assert!(
            line.trim().len() > command.len() + 5,
            "no description: {line}"
        );
    }
    let unknown = mcpin(&["sign", "--frobnicate"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("--frobnicate"));
}

// ---- hostile archives --------------------------------------------------------

/// Runs `mcpin sign` on `archive` with the address space capped at 1 GiB, so a
/// bomb that were expanded in memory would fail loudly instead of passing.
fn sign_bounded(workspace: &Workspace, archive: &str) -> Output {
    let script = format!(
        "ulimit -v 1048576; exec '{}' sign '{archive}' --key publisher.key",
        mcpin_bin().display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .current_dir(workspace.dir.path())
        .output()
        .unwrap()
}

fn assert_rejected(workspace: &Workspace, archive: &str, expected: &str) {
    let output = sign_bounded(workspace, archive);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{archive}: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(expected),
        "{archive}: expected `{expected}` in: {}",
        stderr(&output)
    );
    assert!(!workspace.path(&format!("{archive}.sigstore.json")).exists());
}

enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
}

/// A gzip tarball whose entries are written raw, so names are not sanitized.
fn tarball(workspace: &Workspace, name: &str, entries: &[Entry]) {
    let file = fs::File::create(workspace.path(name)).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (path, data, kind, link) = match entry {
            Entry::File(path, data) => (*path, *data, tar::EntryType::Regular, None),
            Entry::Symlink(path, target) => {
                (*path, &b""[..], tar::EntryType::Symlink, Some(*target))
            }
        };
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        let raw = header.as_old_mut();
        raw.name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(target) = link {
            raw.linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

const PACKAGE_JSON: &[u8] = br#"{"name":"evil","version":"1.0.0","bin":"x.js"}"#;

#[test]
fn hostile_tarballs_are_rejected_whole() {
    let workspace = Workspace::new();
    tarball(
        &workspace,
        "traversal.tgz",
        &[
            Entry::File("package/package.json", PACKAGE_JSON),
            Entry::File("package/../../escape.js", b"x"),
        ],
    );
    assert_rejected(&workspace, "traversal.tgz", "traverses out of the archive");

    tarball(
        &workspace,
        "absolute.tgz",
        &[
            Entry::File("package/package.json", PACKAGE_JSON),
            Entry::File("/etc/cron.d/evil", b"x"),
        ],
    );
    assert_rejected(&workspace, "absolute.tgz", "absolute path");

    tarball(
        &workspace,
        "symlink.tgz",
        &[
            Entry::File("package/package.json", PACKAGE_JSON),
            Entry::Symlink("package/x.js", "../../../../etc/passwd"),
        ],
    );
    assert_rejected(&workspace, "symlink.tgz", "links are not allowed");

    tarball(
        &workspace,
        "duplicate.tgz",
        &[
            Entry::File("package/package.json", PACKAGE_JSON),
            Entry::File(
                "package/package.json",
                br#"{"name":"other","version":"9.9.9"}"#,
            ),
        ],
    );
    assert_rejected(&workspace, "duplicate.tgz", "the same path appears twice");

    tarball(
        &workspace,
        "no-manifest.tgz",
        &[Entry::File("package/index.js", b"x")],
    );
    assert_rejected(
        &workspace,
        "no-manifest.tgz",
        "neither package/package.json",
    );

    fs::write(workspace.path("plain.tgz"), b"this is not gzip at all").unwrap();
    assert_rejected(&workspace, "plain.tgz", "neither a gzip tarball");

    let good = fs::read(testdata("mcpin-example-hello-mcp-0.1.0.tgz")).unwrap();
    fs::write(workspace.path("truncated.tgz"), &good[..good.len() / 2]).unwrap();
    assert_rejected(&workspace, "truncated.tgz", "truncated or corrupt");
}

#[test]
fn gzip_bomb_is_stopped_early() {
    let workspace = Workspace::new();
    // 256 MiB of zeros in one entry: about 1000:1 once gzipped.
    let expanded: u64 = 256 << 20;
    let file = fs::File::create(workspace.path("bomb.tgz")).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut builder = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_path("package/package.json").unwrap();
    header.set_size(PACKAGE_JSON.len() as u64);
    header.set_cksum();
    builder.append(&header, PACKAGE_JSON).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_path("package/zeros.bin").unwrap();
    header.set_size(expanded);
    header.set_cksum();
    builder
        .append(&header, std::io::Read::take(std::io::repeat(0), expanded))
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    let compressed = fs::metadata(workspace.path("bomb.tgz")).unwrap().len();
    assert!(
        expanded / compressed > 900,
        "ratio {}",
        expanded / compressed
    );
    assert_rejected(&workspace, "bomb.tgz", "refusing a decompression bomb");
}

#[test]
fn a_hundred_thousand_entries_are_refused() {
    let workspace = Workspace::new();
    let file = fs::File::create(workspace.path("many.tgz")).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_path("package/package.json").unwrap();
    header.set_size(PACKAGE_JSON.len() as u64);
    header.set_cksum();
    builder.append(&header, PACKAGE_JSON).unwrap();
    for i in 0..100_000 {
        let mut header = tar::Header::new_gnu();
        header.set_path(format!("package/f{i}")).unwrap();
        header.set_size(1);
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    assert_rejected(&workspace, "many.tgz", "more than 50000 entries");
}

#[test]
fn hostile_zips_are_rejected_whole() {
    let workspace = Workspace::new();
    let zip = |name: &str, entries: &[(&str, &[u8])], symlink: Option<(&str, &str)>| {
        let file = fs::File::create(workspace.path(name)).unwrap();
        let mut writer = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default();
        for (path, data) in entries {
            writer.start_file(*path, options).unwrap();
            writer.write_all(data).unwrap();
        }
        if let Some((path, target)) = symlink {
            writer.add_symlink(path, target, options).unwrap();
        }
        writer.finish().unwrap();
    };
    let metadata: &[u8] = b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n\n";
    zip(
        "traversal-1.0-py3-none-any.whl",
        &[
            ("evil-1.0.dist-info/METADATA", metadata),
            ("../../evil.py", b"x"),
        ],
        None,
    );
    assert_rejected(
        &workspace,
        "traversal-1.0-py3-none-any.whl",
        "traverses out of the archive",
    );
    zip(
        "absolute-1.0-py3-none-any.whl",
        &[
            ("evil-1.0.dist-info/METADATA", metadata),
            ("/tmp/evil.py", b"x"),
        ],
        None,
    );
    assert_rejected(&workspace, "absolute-1.0-py3-none-any.whl", "absolute path");
    zip(
        "link-1.0-py3-none-any.whl",
        &[("evil-1.0.dist-info/METADATA", metadata)],
        Some(("evil/link.py", "/etc/passwd")),
    );
    assert_rejected(
        &workspace,
        "link-1.0-py3-none-any.whl",
        "links are not allowed",
    );
    zip(
        "nometa-1.0-py3-none-any.whl",
        &[("evil/__init__.py", b"")],
        None,
    );
    assert_rejected(
        &workspace,
        "nometa-1.0-py3-none-any.whl",
        "neither *.dist-info/METADATA",
    );

    zip(
        "server.mcpb",
        &[(
            "manifest.json",
            br#"{"manifest_version":"0.2","name":"hello","version":"1.2.3","server":{"type":"node","entry_point":"server/index.js"}}"#,
        )],
        None,
    );
    let mcpb = sign_bounded(&workspace, "server.mcpb");
    assert!(mcpb.status.success(), "{}", stderr(&mcpb));
    let inspect = workspace.run(&["inspect", "server.mcpb.sigstore.json", "--json"]);
    let statement: Value = serde_json::from_str(&stdout(&inspect)).unwrap();
    assert_eq!(
        statement["predicate"]["package"]["purl"],
        "pkg:generic/hello@1.2.3"
    );
    assert_eq!(
        statement["predicate"]["package"]["entryPoints"][0]["target"],
        "server/index.js"
    );
}
