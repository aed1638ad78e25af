//! One module per subcommand. Each turns parsed arguments into library calls
//! and prints the result; the logic lives in the library crates.

mod approve;
mod attest;
mod audit;
mod fetch;
mod inspect;
mod keygen;
mod lock;
mod policy;
mod run;
mod sbom;
mod sign;
mod sigstore;
mod store;
mod tools;
mod verify;
mod wrap;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use crate::args::Command;
use crate::exit::ExitStatus;

pub fn run(command: Command) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Keygen(args) => keygen::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Store(args) => store::run(args),
        Command::Policy(command) => policy::run(command),
        Command::Approve(args) => approve::run(args),
        Command::Sigstore(command) => sigstore::run(command),
        Command::Lock(args) => lock::run(args),
        Command::Sbom(args) => sbom::run(args),
        Command::Run(args) => run::run(args),
        Command::Wrap(args) => wrap::wrap(args),
        Command::Unwrap(args) => wrap::unwrap(args),
        Command::Audit(crate::args::AuditCommand::Verify(args)) => audit::verify(args),
        Command::Tools(command) => tools::run(command),
        Command::Attest(command) => attest::run(command),
    }
}

/// Reads a passphrase from the named environment variable, if one was named.
fn passphrase_from_env(var: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(var) = var else { return Ok(None) };
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Ok(Some(value)),
        Ok(_) => bail!("environment variable {var} (--passphrase-env) is empty"),
        Err(_) => bail!("environment variable {var} (--passphrase-env) is not set"),
    }
}

/// `ARTIFACT<suffix>`: where bundles live beside an artifact (`.sigstore.json`,
/// `.approval.sigstore.json`).
fn beside(artifact: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = artifact.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Replaces `path` atomically: readers see the old file or the new one, never half of either.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in `{}`", dir.display()))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.persist(path)
        .map_err(|error| error.error)
        .with_context(|| format!("writing `{}`", path.display()))?;
    Ok(())
}
