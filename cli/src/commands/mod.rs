//! One module per subcommand. Each turns parsed arguments into library calls
//! and prints the result; the logic lives in the library crates.

mod approve;
mod attest;
mod audit;
mod fetch;
mod fleet;
mod inspect;
mod keygen;
mod lock;
mod manual;
mod policy;
mod review;
mod run;
mod sandbox;
mod sbom;
mod sign;
mod sigstore;
mod store;
mod tools;
mod verify;
mod wrap;

use std::path::Path;

use anyhow::{Context, bail};

pub use run::record_usage_error;
pub use sandbox::hidden as sandbox_hidden;

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
        Command::Review(args) => review::run(args),
        Command::Sigstore(command) => sigstore::run(command),
        Command::Lock(args) => lock::run(args),
        Command::Sbom(args) => sbom::run(args),
        Command::Run(args) => run::run(args),
        Command::Install(args) => run::install(args),
        Command::Doctor(args) => run::doctor(args),
        Command::Wrap(args) => wrap::wrap(args),
        Command::Unwrap(args) => wrap::unwrap(args),
        Command::Audit(crate::args::AuditCommand::Verify(args)) => audit::verify(args),
        Command::Audit(crate::args::AuditCommand::Show(args)) => audit::show(args),
        Command::Tools(command) => tools::run(command),
        Command::Attest(command) => attest::run(command),
        Command::Sandbox(crate::args::SandboxCommand::Explain(args)) => sandbox::explain(args),
        Command::Completions(args) => manual::completions(args),
        Command::Man(args) => manual::man(args),
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

/// Replaces `path` atomically (new files 0644), naming it in errors.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    mcpin_artifact::write_atomic(path, bytes, 0o644)
        .with_context(|| format!("writing `{}`", path.display()))
}

/// An OCI image named as `oci:HOST/REPO@sha256:…` or `oci:HOST/REPO:TAG` in place of an
/// artifact path (sign, verify).
pub(crate) struct OciSubject {
    pub fetched: mcpin_registry_client::Fetched,
    pub identified: mcpin_artifact::Identified,
    /// The tag asked for, resolved to `identified`'s manifest digest.
    pub tag: Option<String>,
}

/// `Some` when `artifact` is an `oci:` reference: its manifest (and config) fetched into the
/// store with the registry settings from the environment (`MCPIN_STORE`, `MCPIN_OFFLINE`),
/// identified from the stored bytes.
pub(crate) fn oci_subject(artifact: &Path) -> anyhow::Result<Option<OciSubject>> {
    let Some(reference) = oci_reference(artifact) else {
        return Ok(None);
    };
    let reference = mcpin_registry_client::oci::Reference::parse(reference)
        .map_err(|why| anyhow::anyhow!("`{}`: {why}", artifact.display()))?;
    let client = mcpin_registry_client::Client::new(crate::settings::registry_defaults()?)?;
    let fetched = client.fetch_oci(&reference)?;
    let identified = client.identify_image(&reference, &fetched)?;
    if let Some(tag) = &reference.tag {
        eprintln!(
            "resolved {}:{tag} to {}",
            identified.package.name, identified.package.version
        );
    }
    Ok(Some(OciSubject {
        fetched,
        identified,
        tag: reference.tag,
    }))
}

/// The reference after `oci:`, when `artifact` names an image rather than a file.
pub(crate) fn oci_reference(artifact: &Path) -> Option<&str> {
    artifact.to_str().and_then(|a| a.strip_prefix("oci:"))
}

/// Where an OCI image's bundle goes by default: `<last repository segment>@sha256-<hex>.sigstore.json`
/// in the current directory.
pub(crate) fn oci_bundle_name(identified: &mcpin_artifact::Identified) -> std::path::PathBuf {
    let name = &identified.package.name;
    let last = name.rsplit('/').next().unwrap_or(name);
    format!("{last}@sha256-{}.sigstore.json", identified.digests.sha256).into()
}
