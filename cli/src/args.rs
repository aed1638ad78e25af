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
    /// Resolve a package and fetch it into the content-addressed store
    Fetch(FetchArgs),
    /// List, check and clean the content-addressed store
    Store(StoreArgs),
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

/// Where the store is and how registries are reached (shared by fetch and store).
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Store root [env: MCPIN_STORE] [default: $XDG_DATA_HOME/mcpin/store or ~/.local/share/mcpin/store]
    #[arg(long, value_name = "DIR", global = true)]
    pub store: Option<PathBuf>,
    /// Never touch the network; serve only what the store holds [env: MCPIN_OFFLINE=1]
    #[arg(long, global = true)]
    pub offline: bool,
    /// npm registry for unscoped packages [env: MCPIN_NPM_REGISTRY] [default: .npmrc `registry`, else https://registry.npmjs.org/]
    #[arg(long, value_name = "URL", global = true)]
    pub npm_registry: Option<String>,
    /// .npmrc files to read instead of ~/.npmrc (or $NPM_CONFIG_USERCONFIG) and ./.npmrc
    #[arg(long, value_name = "FILE", global = true)]
    pub npmrc: Vec<PathBuf>,
    /// Accept npm packages that publish only a sha1 shasum (weak; off by default)
    #[arg(long, global = true)]
    pub allow_sha1: bool,
    /// PEP 503/691 simple index; user:password@ in the URL is sent as basic auth [env: MCPIN_PYPI_INDEX] [default: https://pypi.org/simple/]
    #[arg(long, value_name = "URL", global = true)]
    pub pypi_index: Option<String>,
    /// MCP registry base URL [env: MCPIN_MCP_REGISTRY] [default: https://registry.modelcontextprotocol.io/]
    #[arg(long, value_name = "URL", global = true)]
    pub mcp_registry: Option<String>,
    /// Retries on connection errors and HTTP 5xx, with exponential backoff
    #[arg(long, value_name = "N", default_value_t = 3, global = true)]
    pub retries: u32,
    /// Seconds to wait for a connection and for each response
    #[arg(long, value_name = "SECS", default_value_t = 60, global = true)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// npm:NAME[@VERSION|@TAG|@RANGE], pypi:NAME[SPECIFIERS], oci:HOST/REPO@sha256:HEX,
    /// oci:HOST/REPO[:TAG] or mcp:NAME[@VERSION]
    pub spec: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Print the result as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// List what fetches recorded (spec, version, digest, size)
    Ls {
        /// Print JSON to stdout
        #[arg(long)]
        json: bool,
    },
    /// Remove leftovers of interrupted downloads and refs whose bytes are gone
    Gc {
        /// Also remove blobs that no recorded fetch names
        #[arg(long)]
        unreferenced: bool,
        /// Print JSON to stdout
        #[arg(long)]
        json: bool,
    },
    /// Hash every blob again; exit 1 if any is corrupt or missing
    Verify {
        /// Print JSON to stdout
        #[arg(long)]
        json: bool,
    },
}
