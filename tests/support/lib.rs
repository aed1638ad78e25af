//! Shared helpers for the end-to-end tests: find the `mcpin` binary and the
//! artifacts and services that `tests/run` prepared.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub mod oci;

/// The `mcpin` binary built alongside this test (`target/<profile>/mcpin`).
pub fn mcpin_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("MCPIN_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/mcpin
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = profile_dir.join(format!("mcpin{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: build it first (`cargo build`), or run the suite with `tests/run`",
        bin.display()
    );
    bin
}

/// A `Command` running `mcpin` with `args`.
pub fn mcpin(args: &[&str]) -> Command {
    let mut command = Command::new(mcpin_bin());
    command.args(args);
    command
}

/// Runs `mcpin` in `dir` and returns its output.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    mcpin(args)
        .current_dir(dir)
        .output()
        .expect("spawning mcpin")
}

/// A real artifact downloaded by `tests/setup/10-artifacts.sh`.
pub fn artifact(file_name: &str) -> PathBuf {
    let dir = std::env::var_os("MCPIN_ARTIFACTS").unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../.cache/test/artifacts")
            .into_os_string()
    });
    let path = PathBuf::from(dir).join(file_name);
    assert!(
        path.exists(),
        "{} is missing: run the suite with `tests/run`, which downloads it",
        path.display()
    );
    path
}

/// `testdata/<relative>` in the repository.
pub fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(relative)
}

/// A file or directory of the offline Sigstore corpus: real public bundles, the
/// artifacts they sign and trusted roots (its README says where each came from).
///
/// The corpus is `$MCPIN_SIGSTORE_CORPUS`, which `tests/setup/12-sigstore-corpus.sh`
/// sets to `../shared/corpus/sigstore` where that exists, and otherwise to the subset it
/// fetched from public registries; without that variable, `../shared/corpus/sigstore`.
/// A missing file fails the calling test with a message naming it: the corpus tests
/// never pass without running.
pub fn sigstore_corpus(relative: &str) -> PathBuf {
    let root = match std::env::var_os("MCPIN_SIGSTORE_CORPUS") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/sigstore"),
    };
    corpus_path(&root, relative)
}

/// `root/relative`, or a panic naming the missing path and how to get it.
fn corpus_path(root: &Path, relative: &str) -> PathBuf {
    let path = root.join(relative);
    assert!(
        path.exists(),
        "the Sigstore corpus file {} is missing. The corpus is ../shared/corpus/sigstore beside \
         the repository; where that is absent, `tests/run` (tests/setup/12-sigstore-corpus.sh) \
         fetches the part public registries serve (npm tarballs, trusted roots, the sigstore@5.0.0 \
         provenance bundle); the rest is published only on GitHub",
        path.display()
    );
    path
}

/// Stderr as text, for assertions on messages.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `npm pack` of the package in `src`, into `dir`: the tarball's path.
pub fn npm_pack(src: &Path, dir: &Path) -> PathBuf {
    let output = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(dir)
        .current_dir(src)
        .output()
        .unwrap();
    ok(&output, "npm pack");
    dir.join(stdout(&output).trim())
}

/// Asserts `output` is a success; the message names `what` and shows both streams.
pub fn ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// The file's SHA-256, lowercase hex.
pub fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// A child process killed when the test ends.
pub struct Service(pub Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `support/fixture_server.py` serving `root` (a static file server that plays a registry
/// misbehaving in ways real ones will not); returns the service, its base URL and its request
/// log.
pub fn fixture_server(root: &Path, extra: &[&str]) -> (Service, String, PathBuf) {
    let port_file = root.join("../port");
    let log = root.join("../requests.log");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/fixture_server.py");
    let child = Command::new("python3")
        .arg(script)
        .args([
            "--root",
            root.to_str().unwrap(),
            "--port-file",
            port_file.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ])
        .args(extra)
        .spawn()
        .expect("python3");
    let service = Service(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !port_file.exists() {
        assert!(Instant::now() < deadline, "fixture server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let port = std::fs::read_to_string(&port_file).unwrap();
    (service, format!("http://127.0.0.1:{port}/"), log)
}

/// The environment variable `name`, which `tests/run` sets (the loopback registries).
pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the suite with tests/run"))
}

/// Publishes `tarball` into the loopback Verdaccio with the test account's token.
pub fn npm_publish(dir: &Path, tarball: &Path) {
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
    assert!(
        output.status.success(),
        "npm publish {}: {}",
        tarball.display(),
        stderr(&output)
    );
}

/// The built-in example server (`testdata/hello-mcp`) packed as `name`@0.1.0 into `dir`, so
/// that each test can publish a copy of its own.
pub fn hello_package(dir: &Path, name: &str) -> PathBuf {
    hello_package_version(dir, name, "0.1.0", "Greets the given name.")
}

/// [`hello_package`] at `version`, its tool described as `description`.
pub fn hello_package_version(dir: &Path, name: &str, version: &str, description: &str) -> PathBuf {
    let src = dir.join(format!("src-{}-{version}", name.replace('/', "-")));
    std::fs::create_dir_all(&src).unwrap();
    let manifest = std::fs::read_to_string(testdata("hello-mcp/package.json")).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    manifest["name"] = name.into();
    manifest["version"] = version.into();
    std::fs::write(src.join("package.json"), manifest.to_string()).unwrap();
    let server = std::fs::read_to_string(testdata("hello-mcp/server.js")).unwrap();
    assert!(server.contains("Greets the given name."));
    std::fs::write(
        src.join("server.js"),
        server.replace("Greets the given name.", description),
    )
    .unwrap();
    npm_pack(&src, dir)
}

#[cfg(test)]
mod tests {
    use super::corpus_path;

    #[test]
    fn a_missing_corpus_file_fails_naming_its_path() {
        let empty = tempfile::tempdir().unwrap();
        let outcome = std::panic::catch_unwind(|| corpus_path(empty.path(), "cases.json"));
        let message = *outcome
            .expect_err("a missing corpus file must fail the test")
            .downcast::<String>()
            .unwrap();
        let missing = empty.path().join("cases.json");
        assert!(
            message.contains(&format!("{} is missing", missing.display())),
            "{message}"
        );
    }

    #[test]
    fn a_present_corpus_file_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cases.json"), "{}").unwrap();
        assert_eq!(
            corpus_path(dir.path(), "cases.json"),
            dir.path().join("cases.json")
        );
    }
}
