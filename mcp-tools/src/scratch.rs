//! Capturing the tools of the very artifact being signed: install it into a
//! scratch directory with install scripts disabled, then run its entry point
//! directly with the interpreter (`node <bin>`, `python -I <script>`).

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Component, Path};
use std::process::{Command, Stdio};

use mcpin_attestation::{Ecosystem, EntryPoint, PackageInfo, ToolsSection};

use crate::{ClientError, ClientOptions, PayloadError, build_section, describe_server};

/// Why capturing from an artifact failed.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "cannot capture tools from {0}: only npm tarballs and wheels can be installed without running their code"
    )]
    Unsupported(String),
    #[error(
        "`{package}` declares no entry point (npm `bin` / console script) to start the server with"
    )]
    NoEntryPoint { package: String },
    #[error("`{package}` has several entry points ({names}); choose one")]
    AmbiguousEntryPoint { package: String, names: String },
    #[error("`{package}` has no entry point named `{name}` (it has: {names})")]
    UnknownEntryPoint {
        package: String,
        name: String,
        names: String,
    },
    #[error(
        "entry point `{name}` targets `{target}`, which is not a plain relative path inside the package"
    )]
    UnsafeTarget { name: String, target: String },
    #[error("creating a scratch directory: {0}")]
    Scratch(std::io::Error),
    #[error("the capture sandbox: {0}")]
    Sandbox(String),
    #[error("running `{command}` to install the artifact: {error}")]
    InstallSpawn {
        command: String,
        error: std::io::Error,
    },
    #[error("installing the artifact failed: `{command}` {status}")]
    InstallFailed { command: String, status: String },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// What to run: the artifact file, what it is, and how to start it.
#[derive(Debug, Clone, Copy)]
pub struct ArtifactServer<'a> {
    pub artifact: &'a Path,
    pub package: &'a PackageInfo,
    /// The entry point to run; may be omitted when the package has exactly one.
    pub entry: Option<&'a str>,
    /// Arguments for the server (e.g. the directory server-filesystem may read).
    pub args: &'a [OsString],
    /// How far to keep the capture from the caller's surroundings; `None`: the installers read
    /// the caller's configuration and the server gets the caller's environment (`mcpin sign
    /// --capture`, in the publisher's own tree).
    pub isolation: Option<Isolation<'a>>,
}

/// `mcpin review`: a capture that nothing around the reviewer's shell can shape.
///
/// The installers run in the scratch directory with private configuration and the registries
/// given here (npm: an empty `--userconfig`, `--registry`; uv: `--no-config`, `--index-url`),
/// so no `.npmrc`, `uv.toml` or `pyproject.toml` of the reviewer's project or of a shared
/// parent such as `/tmp` applies. The server starts in the scratch directory with `HOME` and
/// `TMPDIR` inside it and only `PATH`, `LANG` and `TERM` of the caller's environment: it sees
/// none of the reviewer's tokens. [`confine`] is where a kernel sandbox (Landlock, issue 16)
/// takes over from there.
#[derive(Debug, Clone, Copy)]
pub struct Isolation<'a> {
    pub npm_registry: &'a str,
    pub pypi_index: &'a str,
    /// The mcpin binary whose sandbox trampoline starts the server: everything readable,
    /// writes only below the scratch directory, no TCP (`mcpin_sandbox`); `None`: no sandbox.
    pub sandbox: Option<&'a Path>,
}

/// Installs `server.artifact` into a scratch directory (deleted afterwards),
/// runs its entry point and captures its tools.
///
/// npm: `npm install --ignore-scripts --no-audit --no-fund --prefix <scratch> <tgz>`,
/// then `node <package>/<bin target>`. Wheels: `uv venv` and
/// `uv pip install --only-binary :all: <whl>`, then `python -I <console script>`.
/// Dependencies come from the configured registries; no install script or
/// build backend runs. npm's and uv's output goes to stderr.
pub fn capture_artifact(
    server: &ArtifactServer<'_>,
    options: &ClientOptions,
) -> Result<ToolsSection, ScratchError> {
    let package = server.package;
    let wheel = package.ecosystem == Ecosystem::Pypi && package.file_name.ends_with(".whl");
    if package.ecosystem != Ecosystem::Npm && !wheel {
        return Err(ScratchError::Unsupported(format!(
            "{} artifact `{}`",
            package.ecosystem, package.file_name
        )));
    }
    let entry = choose_entry(package, server.entry)?;
    let scratch = tempfile::Builder::new()
        .prefix("mcpin-capture-")
        .tempdir()
        .map_err(ScratchError::Scratch)?;
    let artifact = std::path::absolute(server.artifact).map_err(ScratchError::Scratch)?;
    let isolation = server.isolation;
    let installer = |program: &str| {
        let mut command = Command::new(program);
        if let Some(isolation) = isolation {
            command.current_dir(scratch.path());
            match program {
                "uv" => {
                    command
                        .arg("--no-config")
                        .env("UV_INDEX_URL", isolation.pypi_index)
                        .env_remove("UV_EXTRA_INDEX_URL")
                        .env_remove("UV_INDEX")
                        .env_remove("UV_DEFAULT_INDEX");
                }
                _ => {
                    command
                        .arg("--registry")
                        .arg(isolation.npm_registry)
                        .arg("--userconfig")
                        .arg(scratch.path().join("npmrc"));
                }
            }
        }
        command
    };
    if isolation.is_some() {
        fs_err::write(scratch.path().join("npmrc"), b"").map_err(ScratchError::Scratch)?;
    }
    let mut command = if wheel {
        let venv = scratch.path().join("venv");
        let python = venv.join("bin/python");
        install(installer("uv").args(["venv", "--quiet"]).arg(&venv))?;
        install(
            installer("uv")
                .args([
                    "pip",
                    "install",
                    "--quiet",
                    "--only-binary",
                    ":all:",
                    "--python",
                ])
                .arg(&python)
                .arg(&artifact),
        )?;
        let mut command = Command::new(&python);
        command.arg("-I").arg(venv.join("bin").join(&entry.name));
        command
    } else {
        let target = relative_target(entry)?;
        install(
            installer("npm")
                .args([
                    "install",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                ])
                .arg(scratch.path())
                .arg(&artifact),
        )?;
        let package_dir = scratch.path().join("node_modules").join(&package.name);
        let mut command = Command::new("node");
        command
            .arg(package_dir.join(target))
            .env_remove("NODE_OPTIONS")
            .env_remove("NODE_PATH");
        command
    };
    command.args(server.args);
    if let Some(isolation) = isolation {
        command = confine(command, scratch.path(), isolation.sandbox)?;
    }
    let description = describe_server(command, options)?;
    Ok(build_section(&description)?)
}

/// The server of an isolated capture: started in `scratch`, with `HOME` and `TMPDIR` inside it
/// and only the caller's `PATH`, `LANG` and `TERM`; with `sandbox` (the mcpin binary), through
/// its trampoline in the capture sandbox: everything readable, writes only below `scratch`, no
/// TCP. This is the one place that confines the captured server.
pub fn confine(
    command: Command,
    scratch: &Path,
    sandbox: Option<&Path>,
) -> Result<Command, ScratchError> {
    let home = scratch.join("home");
    let tmp = scratch.join("tmp");
    fs_err::create_dir_all(&home).map_err(ScratchError::Scratch)?;
    fs_err::create_dir_all(&tmp).map_err(ScratchError::Scratch)?;
    let mut command = match sandbox {
        Some(mcpin) => {
            let args: Vec<std::ffi::OsString> = command.get_args().map(ToOwned::to_owned).collect();
            mcpin_sandbox::trampoline::capture(mcpin, command.get_program(), &args, Some(scratch))
                .map_err(|refusal| ScratchError::Sandbox(refusal.to_string()))?
                .0
        }
        None => command,
    };
    command.current_dir(scratch).env_clear();
    for name in ["PATH", "LANG", "TERM"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.env("HOME", home).env("TMPDIR", tmp);
    Ok(command)
}

fn choose_entry<'a>(
    package: &'a PackageInfo,
    name: Option<&str>,
) -> Result<&'a EntryPoint, ScratchError> {
    let names = || {
        package
            .entry_points
            .iter()
            .map(|entry| entry.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (name, package.entry_points.as_slice()) {
        (None, []) => Err(ScratchError::NoEntryPoint {
            package: package.name.clone(),
        }),
        (None, [only]) => Ok(only),
        (None, _) => Err(ScratchError::AmbiguousEntryPoint {
            package: package.name.clone(),
            names: names(),
        }),
        (Some(name), entries) => {
            entries
                .iter()
                .find(|e| e.name == name)
                .ok_or_else(|| ScratchError::UnknownEntryPoint {
                    package: package.name.clone(),
                    name: name.to_owned(),
                    names: names(),
                })
        }
    }
}

/// An npm bin target as a path that cannot leave the package directory.
fn relative_target(entry: &EntryPoint) -> Result<&Path, ScratchError> {
    let path = Path::new(&entry.target);
    let plain = path
        .components()
        .all(|part| matches!(part, Component::Normal(_) | Component::CurDir));
    match plain && path.components().next().is_some() {
        true => Ok(path),
        false => Err(ScratchError::UnsafeTarget {
            name: entry.name.clone(),
            target: entry.target.clone(),
        }),
    }
}

/// Runs an installer with its stdout sent to our stderr (our stdout may carry output).
fn install(command: &mut Command) -> Result<(), ScratchError> {
    let shown = format!("{command:?}");
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(ScratchError::Scratch)?;
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(stderr))
        .status()
        .map_err(|error| ScratchError::InstallSpawn {
            command: shown.clone(),
            error,
        })?;
    match status.success() {
        true => Ok(()),
        false => Err(ScratchError::InstallFailed {
            command: shown,
            status: status.to_string(),
        }),
    }
}
