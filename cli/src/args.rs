//! The command line, described for clap and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Sign, verify and safely launch MCP server packages.
#[derive(Debug, Parser)]
#[command(name = "mcpin", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok/allowed, 1 denied or verification failed, 2 usage error, \
3 invalid input (malformed artifact, bundle, key or policy), 4 I/O or network error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate an ed25519 signing key pair (PKCS#8 + SPKI PEM)
    Keygen(KeygenArgs),
    /// Sign an artifact: hash it, describe it and sign the statement into a Sigstore bundle
    Sign(SignArgs),
    /// Verify an artifact against a bundle and a public key
    Verify(VerifyArgs),
    /// Show what a bundle says (without verifying it)
    Inspect(InspectArgs),
    /// Resolve every run-time dependency of an npm or PyPI artifact into a lock
    Lock(LockArgs),
    /// Write a CycloneDX 1.5 SBOM of an artifact, or check one (`mcpin sbom check`)
    Sbom(SbomArgs),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Path prefix: writes PREFIX.key (private, mode 0600) and PREFIX.pub
    #[arg(long, value_name = "PATH_PREFIX")]
    pub out: PathBuf,
    /// Encrypt the private key with the passphrase held in this environment variable
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The artifact: npm tarball, wheel, sdist or MCPB bundle
    pub artifact: PathBuf,
    /// Private key (PKCS#8 PEM)
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Passphrase of an encrypted key, read from this environment variable
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
    /// Where to write the bundle [default: ARTIFACT.sigstore.json]
    #[arg(long, value_name = "BUNDLE")]
    pub out: Option<PathBuf>,
    /// Put this lock (`mcpin lock`) inline in the signed statement
    #[arg(long, value_name = "LOCK")]
    pub lock: Option<PathBuf>,
    /// Bind this CycloneDX SBOM (`mcpin sbom`) by digest; a copy is written
    /// beside the bundle as BUNDLE-without-.sigstore.json + .cdx.json
    #[arg(long, value_name = "SBOM")]
    pub sbom: Option<PathBuf>,
    /// Print a JSON summary to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The artifact whose bytes must match a signed subject
    pub artifact: PathBuf,
    /// The Sigstore bundle [default: ARTIFACT.sigstore.json]
    #[arg(long, value_name = "BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// Trusted public key (SPKI PEM)
    #[arg(long, value_name = "PUB")]
    pub key: PathBuf,
    /// Also check that this SBOM file is the one the statement names (sbom-mismatch otherwise)
    #[arg(long, value_name = "SBOM")]
    pub sbom: Option<PathBuf>,
    /// Also check that this lock file equals the signed lock (lock-mismatch otherwise)
    #[arg(long, value_name = "LOCK")]
    pub lock: Option<PathBuf>,
    /// Print the result as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The Sigstore bundle
    pub bundle: PathBuf,
    /// Print the decoded in-toto statement as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The artifact: npm tarball or wheel
    pub artifact: PathBuf,
    /// Where to write the lock [default: stdout]
    #[arg(long, value_name = "LOCK")]
    pub out: Option<PathBuf>,
    /// npm registry or PyPI index URL [default: npm's configured registry / uv's index]
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    /// PyPI: target Python `major.minor` [default: the Python uv finds]
    #[arg(long, value_name = "X.Y")]
    pub python_version: Option<String>,
    /// PyPI: target platform as uv's --python-platform [default: this machine]
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// PyPI: accept dependencies that publish only an sdist (building one runs its code)
    #[arg(long)]
    pub allow_sdist: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SbomArgs {
    #[command(subcommand)]
    pub command: Option<SbomCommand>,
    /// The artifact: npm tarball, wheel, sdist or MCPB bundle
    #[arg(required = true)]
    pub artifact: Option<PathBuf>,
    /// The lock (`mcpin lock`): one component per dependency, and the graph
    #[arg(long, value_name = "LOCK")]
    pub lock: Option<PathBuf>,
    /// The tools payload (`mcpin tools capture`): the server and its tools as services
    #[arg(long, value_name = "TOOLS")]
    pub tools: Option<PathBuf>,
    /// Where to write the SBOM
    #[arg(long, value_name = "BOM", required = true)]
    pub out: Option<PathBuf>,
    /// Content-derived serialNumber; timestamp from SOURCE_DATE_EPOCH, else none
    #[arg(long)]
    pub reproducible: bool,
}

#[derive(Debug, Subcommand)]
pub enum SbomCommand {
    /// Read an untrusted CycloneDX JSON SBOM and list its components, licenses and tools
    Check(SbomCheckArgs),
}

#[derive(Debug, Args)]
pub struct SbomCheckArgs {
    /// The CycloneDX JSON document
    pub sbom: PathBuf,
    /// Print the facts as JSON to stdout
    #[arg(long)]
    pub json: bool,
}
