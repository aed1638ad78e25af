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

/// The shared Sigstore corpus (`../shared/corpus/sigstore`), if present.
/// Tests that need it print a notice and return early where it is absent.
pub fn sigstore_corpus() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/sigstore");
    if path.is_dir() {
        Some(path)
    } else {
        eprintln!(
            "notice: {} is absent; skipping the Sigstore corpus checks",
            path.display()
        );
        None
    }
}

/// Stderr as text, for assertions on messages.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
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
