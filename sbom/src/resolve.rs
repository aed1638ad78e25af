//! `mcpin lock`: resolve a package's run-time dependencies with the ecosystem's
//! own resolver (npm, uv) in a private temporary directory, then rewrite the
//! result into a [`Lock`].

use std::io;
use std::path::Path;
use std::process::Command;

use mcpin_artifact::{ArtifactError, Identified};
use mcpin_attestation::{Ecosystem, Lock};

mod npm;
mod pypi;

/// What to resolve against. Every field has a documented default.
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    /// npm registry or PyPI simple index URL [default: npm's configured
    /// registry; uv's configured index].
    pub registry: Option<String>,
    /// Python `major.minor` [default: the Python uv finds].
    pub python_version: Option<String>,
    /// uv `--python-platform` [default: this machine's, e.g. `x86_64-unknown-linux-gnu`].
    pub platform: Option<String>,
    /// Accept dependencies that publish only an sdist (building one runs its code).
    pub allow_sdist: bool,
    /// Resolve as `mcpin review` does, so that nothing around the reviewer's shell shapes the
    /// lock: uv runs in its scratch directory with `--no-config` (no `uv.toml` or
    /// `pyproject.toml` of any parent, such as a shared `/tmp`, and no user uv config), so the
    /// index in `registry` is its only configuration. npm always resolves in its scratch
    /// directory with a private user config.
    pub isolated: bool,
}

/// Why a lock could not be produced. Every variant names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("`{0}` is {1} package: mcpin locks npm and PyPI packages only")]
    Unsupported(String, &'static str),
    #[error("the artifact's `{path}` is unusable for locking: {why}")]
    Manifest { path: String, why: String },
    #[error("could not run `{program}` (is it installed and on PATH?): {source}")]
    Spawn {
        program: &'static str,
        source: io::Error,
    },
    #[error("`{command}` failed ({status}):\n{stderr}")]
    Resolver {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{file} written by the resolver is not what mcpin expects: {why}")]
    Output { file: &'static str, why: String },
    #[error("dependency `{path}` has no usable {field} in the resolved tree: {why}")]
    Incomplete {
        path: String,
        field: &'static str,
        why: String,
    },
    #[error(
        "these dependencies publish only an sdist (a source distribution, whose build runs its code): {0}; pass --allow-sdist to lock them anyway"
    )]
    SdistOnly(String),
    #[error("working in a temporary directory: {0}")]
    Io(#[from] io::Error),
}

/// Resolves every run-time dependency of the artifact at `artifact`.
pub fn lock(artifact: &Path, options: &LockOptions) -> Result<Lock, ResolveError> {
    let identified = mcpin_artifact::identify(artifact)?;
    lock_identified(artifact, &identified, options)
}

/// [`lock`] for an artifact already identified (hashes and metadata read).
pub fn lock_identified(
    artifact: &Path,
    identified: &Identified,
    options: &LockOptions,
) -> Result<Lock, ResolveError> {
    match identified.package.ecosystem {
        Ecosystem::Npm => npm::lock(identified, options),
        Ecosystem::Pypi => pypi::lock(artifact, identified, options),
        Ecosystem::Oci => Err(ResolveError::Unsupported(
            identified.package.file_name.clone(),
            "an OCI",
        )),
        Ecosystem::Mcpb => Err(ResolveError::Unsupported(
            identified.package.file_name.clone(),
            "an MCPB",
        )),
    }
}

/// Runs `command` and returns its stdout, or the resolver's own error text.
fn run(program: &'static str, command: &mut Command) -> Result<Vec<u8>, ResolveError> {
    let output = command
        .output()
        .map_err(|source| ResolveError::Spawn { program, source })?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let args: Vec<String> = command
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    Err(ResolveError::Resolver {
        command: format!("{program} {}", args.join(" ")),
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}
