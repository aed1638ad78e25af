//! The command line, described for clap and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Sign, verify and safely launch MCP server packages.
#[derive(Debug, Parser)]
#[command(name = "mcpin", version, about, long_about = None, propagate_version = true)]
#[command(after_help = crate::exit::help())]
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
    /// Verify an artifact: against a bundle and a key, or against a policy (a verdict)
    Verify(VerifyArgs),
    /// Write, check, sign and describe allowlist policies
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Countersign an artifact as approved: tools, lock and SBOM digests, until a date
    Approve(ApproveArgs),
    /// Review a package in one step (fetch, provenance, lock, tools, SBOM, lint) and
    /// optionally approve it: `mcpin review npm:@scope/server@1.2.3 --approve --key K`
    Review(ReviewArgs),
    /// Show what a bundle says (without verifying it)
    Inspect(InspectArgs),
    /// Resolve a package and fetch it into the content-addressed store
    Fetch(FetchArgs),
    /// List, check and clean the content-addressed store
    Store(StoreArgs),
    /// Resolve every run-time dependency of an npm or PyPI artifact into a lock
    Lock(LockArgs),
    /// Write a CycloneDX 1.5 SBOM of an artifact, or check one (`mcpin sbom check`)
    Sbom(SbomArgs),
    /// Launch an MCP server through the gate: `mcpin run -- npx|uvx|docker ARGS…`
    Run(RunArgs),
    /// Say which policy, key, state, store, audit log, interpreters, registries and agent
    /// configs a launch from here would use, where each comes from, and what is wrong
    Doctor(DoctorArgs),
    /// Check and install a server exactly as `mcpin run` would, without launching it (in system
    /// mode, the privileged step that fills the root-owned store: `sudo mcpin install -- npx …`)
    Install(InstallArgs),
    /// Rewrite agent configs so npx/uvx/docker servers launch through `mcpin run`
    Wrap(WrapArgs),
    /// Undo `mcpin wrap`, restoring the original config bytes
    Unwrap(UnwrapArgs),
    /// Inspect the audit log of launch decisions
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Capture, compare and lint the tools an MCP server describes
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Sigstore bundles from other signers (npm provenance, cosign, sigstore-python)
    #[command(subcommand)]
    Sigstore(SigstoreCommand),
    /// Attach bundles and SBOMs to an artifact's digest in an OCI attestation store
    #[command(subcommand)]
    Attest(AttestCommand),
    /// Print a shell completion script: `mcpin completions bash > /etc/bash_completion.d/mcpin`
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command into a directory
    Man(ManArgs),
    /// What a server may touch while it runs (the policy's `[sandbox]`)
    #[command(subcommand)]
    Sandbox(SandboxCommand),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write mcpin.1 and mcpin-COMMAND.1 for every subcommand into this directory
    /// [default: print mcpin.1 to stdout]
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Print what a server would be granted: every path it may read or write (after `${…}`
    /// expansion), the TCP ports it may connect to or listen on, and how this system enforces it
    Explain(SandboxExplainArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("server").required(true).args(["spec", "argv"])))]
pub struct SandboxExplainArgs {
    /// The package, as `npm:NAME@VERSION` or `pypi:NAME==VERSION` (or give the launcher argv
    /// after `--`)
    #[arg(value_name = "SPEC")]
    pub spec: Option<String>,
    /// Policy file [default: as for `mcpin run`]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub policy_trust: PolicyTrustArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Print the grants as JSON to stdout
    #[arg(long)]
    pub json: bool,
    /// The launcher command line, after `--`, as the agent config writes it
    #[arg(last = true, value_name = "ARGV")]
    pub argv: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum SigstoreCommand {
    /// Verify a Sigstore bundle (the sigstore-conformance client protocol); exit 0 if valid
    VerifyBundle(VerifyBundleArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["certificate_identity", "key"])))]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle (.sigstore.json)
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// Required certificate SAN (exact match)
    #[arg(long, value_name = "IDENTITY", requires = "certificate_oidc_issuer")]
    pub certificate_identity: Option<String>,
    /// Required OIDC issuer of the certificate
    #[arg(long, value_name = "URL", requires = "certificate_identity")]
    pub certificate_oidc_issuer: Option<String>,
    /// Managed public key (PEM) instead of a certificate identity
    #[arg(long, value_name = "PUB", conflicts_with = "certificate_identity")]
    pub key: Option<PathBuf>,
    /// Trusted root JSON [default: the embedded Sigstore production root]
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The artifact file, or its digest as sha256:HEX
    #[arg(value_name = "FILE_OR_sha256:HEX")]
    pub artifact: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Policy file [default: /etc/mcpin/policy.toml, else $XDG_CONFIG_HOME/mcpin/policy.toml]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Audit log [default: $XDG_STATE_HOME/mcpin/audit.jsonl, else ~/.local/state/mcpin/audit.jsonl]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// The LLM provider behind the client, for [runtime.data-classes] [default: $MCPIN_LLM_PROVIDER]
    #[arg(long, value_name = "NAME")]
    pub llm_provider: Option<String>,
    #[command(flatten)]
    pub policy_trust: PolicyTrustArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The launcher command line, after `--`: npx …, uvx …, docker run …, or cmd /c npx …
    #[arg(last = true, required = true, value_name = "ARGV")]
    pub argv: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Policy file [default: as for `mcpin run`]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Audit log [default: as for `mcpin run`]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    #[command(flatten)]
    pub policy_trust: PolicyTrustArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Print the report as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Policy file [default: as for `mcpin run`]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Audit log [default: as for `mcpin run`]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    #[command(flatten)]
    pub policy_trust: PolicyTrustArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Print the decision as JSON to stdout
    #[arg(long)]
    pub json: bool,
    /// The launcher command line, after `--`, as the agent config writes it
    #[arg(last = true, required = true, value_name = "ARGV")]
    pub argv: Vec<String>,
}

/// Agent clients `wrap` and `unwrap` know.
pub const CLIENT_NAMES: &[&str] = &[
    "claude-desktop",
    "claude-code",
    "cursor",
    "vscode",
    "windsurf",
    "zed",
    "goose",
    "continue",
    "cline",
];

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).multiple(true).args(["clients", "all", "config"]))]
pub struct TargetArgs {
    /// Clients whose configs to rewrite
    #[arg(value_name = "CLIENT", value_parser = clap::builder::PossibleValuesParser::new(CLIENT_NAMES))]
    pub clients: Vec<String>,
    /// Every client's configs that exist (for unwrap: also every config wrap has a record of)
    #[arg(long, conflicts_with_all = ["clients", "config"])]
    pub all: bool,
    /// One config file, instead of the clients' default locations (needs --client)
    #[arg(
        long,
        value_name = "FILE",
        requires = "client",
        conflicts_with = "clients"
    )]
    pub config: Option<PathBuf>,
    /// The client whose format --config is in
    #[arg(long, value_name = "NAME", requires = "config", value_parser = clap::builder::PossibleValuesParser::new(CLIENT_NAMES))]
    pub client: Option<String>,
    /// Project directory for project-scoped configs [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Show the diff on stdout; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write the files that planned cleanly even if others failed [default: a failure anywhere
    /// writes nothing]
    #[arg(long)]
    pub keep_going: bool,
    /// Rewrite read-only configs too (their mode is kept)
    #[arg(long)]
    pub force: bool,
    /// Print the report as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WrapArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Refuse to write a config that would contain a refused, unpinned or not-allowed server,
    /// or one mcpin cannot check (unreadable entries, other package runners)
    #[arg(long)]
    pub strict: bool,
    /// Policy file the servers are checked against [default: as `mcpin run`]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub policy_trust: PolicyTrustArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct UnwrapArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Directory holding wrap's records (`DIR/wrap/`), as given to `mcpin wrap`
    /// [env: MCPIN_STATE_DIR; default: $XDG_STATE_HOME/mcpin or ~/.local/state/mcpin]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of an audit log; names the first deleted or edited record
    Verify(AuditVerifyArgs),
    /// Print records: launch decisions, tool calls, drift, approvals, guard stops
    Show(AuditShowArgs),
}

#[derive(Debug, Args)]
pub struct AuditShowArgs {
    /// The audit log [default: $XDG_STATE_HOME/mcpin/audit.jsonl, else ~/.local/state/mcpin/audit.jsonl]
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// One JSON object per line on stdout (for a SIEM), each with `schema_version`
    #[arg(long)]
    pub json: bool,
    /// Only records at or after T: an RFC 3339 time, a date (YYYY-MM-DD, UTC), or an age (`90m`, `2h`, `7d`)
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Keep printing records as they are appended (until interrupted)
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// The audit log [default: $XDG_STATE_HOME/mcpin/audit.jsonl, else ~/.local/state/mcpin/audit.jsonl]
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print the result as JSON to stdout
    #[arg(long)]
    pub json: bool,
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
#[command(group(clap::ArgGroup::new("method").required(true).args(["key", "keyless"])))]
pub struct SignArgs {
    /// The artifact: npm tarball, wheel, sdist or MCPB bundle
    pub artifact: PathBuf,
    /// Private key (PKCS#8 PEM)
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Sign with Sigstore (Fulcio certificate for an OIDC identity, logged in Rekor)
    #[arg(long)]
    pub keyless: bool,
    /// OIDC identity token for --keyless [env: SIGSTORE_ID_TOKEN; default: the CI's ambient token]
    #[arg(long, value_name = "JWT", requires = "keyless")]
    pub identity_token: Option<String>,
    /// Fulcio URL for --keyless [default: the public-good instance]
    #[arg(long, value_name = "URL", requires = "keyless")]
    pub fulcio_url: Option<String>,
    /// Rekor URL for --keyless [default: the public-good instance]
    #[arg(long, value_name = "URL", requires = "keyless")]
    pub rekor_url: Option<String>,
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
    /// Sign this captured tools payload (`mcpin tools capture`) as the predicate's tools
    #[arg(long, value_name = "FILE", conflicts_with = "capture")]
    pub tools: Option<PathBuf>,
    /// Capture the tools by installing the artifact into a scratch directory
    /// (install scripts disabled) and running its entry point
    #[arg(long)]
    pub capture: bool,
    /// With --capture: the entry point to run, if the package has several
    #[arg(long, value_name = "NAME", requires = "capture")]
    pub entry: Option<String>,
    /// With --capture: seconds to wait for each answer of the server
    #[arg(long, value_name = "SECS", default_value_t = 60, requires = "capture")]
    pub timeout: u64,
    /// With --capture: arguments for the server (after `--`)
    #[arg(last = true, value_name = "SERVER_ARGS", requires = "capture")]
    pub server_args: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("trust").required(true).args(["key", "policy"])))]
pub struct VerifyArgs {
    /// The artifact whose bytes must match a signed subject
    pub artifact: PathBuf,
    /// A Sigstore bundle; repeatable [default: ARTIFACT.sigstore.json, ARTIFACT.*.sigstore.json
    /// and the policy's store]
    #[arg(long, value_name = "BUNDLE")]
    pub bundle: Vec<PathBuf>,
    /// Trusted public key (SPKI PEM): check one bundle's signature and subject only
    #[arg(long, value_name = "PUB", conflicts_with = "policy")]
    pub key: Option<PathBuf>,
    /// Decide with this policy: allow (exit 0) or deny (exit 1), with every reason
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<PathBuf>,
    /// CycloneDX SBOM file(s): with --key, the file the statement must name (sbom-mismatch
    /// otherwise); with --policy, SBOMs to consider besides those beside the bundles
    #[arg(long, value_name = "SBOM")]
    pub sbom: Vec<PathBuf>,
    #[command(flatten)]
    pub policy_trust: PolicyTrustArgs,
    /// With --key: also check that this lock file equals the signed lock (lock-mismatch otherwise)
    #[arg(long, value_name = "LOCK", requires = "key")]
    pub lock: Option<PathBuf>,
    /// With --key: also require this captured tools payload to equal the signed one
    #[arg(long, value_name = "FILE", requires = "key")]
    pub tools: Option<PathBuf>,
    /// Print the result as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

/// Where the policy-root key and the rollback state come from.
#[derive(Debug, Args)]
pub struct PolicyTrustArgs {
    /// Policy-root public key: the policy must be signed by it
    /// [env: MCPIN_POLICY_ROOT_KEY]
    #[arg(long, value_name = "PUB")]
    pub policy_root_key: Option<PathBuf>,
    /// Directory of mcpin's state: the rollback state (last policy version seen) and wrap's
    /// records [env: MCPIN_STATE_DIR; default: $XDG_STATE_HOME/mcpin or ~/.local/state/mcpin]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Write a commented starter policy
    Init(PolicyInitArgs),
    /// Validate a policy; errors point at the line and column
    Check(PolicyCheckArgs),
    /// Sign a policy file with the policy-root key (writes POLICY.sigstore.json)
    Sign(PolicySignArgs),
    /// Print the JSON Schema of the policy file
    Schema,
    /// Write each agent client's managed allowlist from the policy's [[servers]], so every
    /// string match lands on `<mcpin> run -- <pinned argv>`
    #[command(
        after_help = "Exit codes: 0 written, 2 usage error (a relative --mcpin), 3 a server the policy lists would be refused at launch (or the policy is invalid), 4 I/O error."
    )]
    Compile(PolicyCompileArgs),
    /// Lay out a signed policy and exactly the files its signature pins: a directory for a
    /// static HTTPS host, or one OCI artifact
    #[command(
        after_help = "Exit codes: 0 published, 1 the signature does not verify or the files on disk are not the ones it pins, 2 usage error, 3 invalid policy, 4 I/O or network error."
    )]
    Publish(PolicyPublishArgs),
    /// Fetch a signed policy over HTTPS or from an OCI registry, verify it with the system's
    /// policy-root key and install it where system mode reads it (as root)
    #[command(
        after_help = "Exit codes: 0 installed (or unchanged), 1 refused (signature, a file that is not what the signature pins, a tampered blob, rollback, expiry, another policy's name, a reused version), 2 usage error (not root, not system mode, a bad source), 3 invalid policy or layout, 4 I/O or network error."
    )]
    Pull(PolicyPullArgs),
}

/// Targets of `mcpin policy compile` (and `all`).
pub const COMPILE_TARGETS: &[&str] = &[
    "claude-code",
    "vscode",
    "copilot",
    "goose",
    "windsurf",
    "cursor",
    "claude-desktop",
    "all",
];

#[derive(Debug, Args)]
pub struct PolicyCompileArgs {
    /// The policy whose [[servers]] to compile
    pub policy: PathBuf,
    /// The client to write for; repeatable, or `all`
    #[arg(long = "target", value_name = "CLIENT", required = true,
          value_parser = clap::builder::PossibleValuesParser::new(COMPILE_TARGETS))]
    pub targets: Vec<String>,
    /// Directory to write the files into (`DIR/<client>/…`)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Absolute path of mcpin on the machines, as `mcpin wrap` writes it there
    /// [default: this binary's canonical path]
    #[arg(long, value_name = "PATH")]
    pub mcpin: Option<PathBuf>,
    /// Check the policy's signature with this policy-root key first [env: MCPIN_POLICY_ROOT_KEY]
    #[arg(long, value_name = "PUB")]
    pub policy_root_key: Option<PathBuf>,
    /// Print the report as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PolicyPublishArgs {
    /// The signed policy (`POLICY.sigstore.json` beside it)
    pub policy: PathBuf,
    /// A directory to upload to a static HTTPS host, or oci:HOST/REPO[:TAG] (tag `latest` by default)
    #[arg(long, value_name = "DIR|oci:HOST/REPO[:TAG]")]
    pub to: String,
    /// The policy-root public key the signature must verify with [env: MCPIN_POLICY_ROOT_KEY]
    #[arg(long, value_name = "PUB")]
    pub policy_root_key: Option<PathBuf>,
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Print the report as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PolicyPullArgs {
    /// The policy file's URL (`https://…/policy.toml`; its signature and files beside it), or
    /// oci:HOST/REPO[:TAG]
    #[arg(value_name = "URL|oci:HOST/REPO[:TAG]")]
    pub source: String,
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Print the report as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

/// How the registry client reaches the network (CA bundle: `SSL_CERT_FILE`; proxies:
/// `HTTPS_PROXY`, `NO_PROXY`).
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// Never touch the network [env: MCPIN_OFFLINE=1]
    #[arg(long)]
    pub offline: bool,
    /// Retries on connection errors and HTTP 5xx, with exponential backoff
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// Seconds to wait for a connection, and for the next bytes of a response
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct PolicyInitArgs {
    /// Where to write it (refuses to overwrite) [default: stdout]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    pub policy: PathBuf,
    /// Also check the signature with this policy-root public key [env: MCPIN_POLICY_ROOT_KEY]
    #[arg(long, value_name = "PUB")]
    pub policy_root_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PolicySignArgs {
    pub policy: PathBuf,
    /// The policy-root private key (PKCS#8 PEM)
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Passphrase of an encrypted key, read from this environment variable
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The artifact being approved
    pub artifact: PathBuf,
    /// The approver's private key (PKCS#8 PEM)
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Passphrase of an encrypted key, read from this environment variable
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
    /// Until when the approval counts (YYYY-MM-DD, UTC midnight, or RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub expires: String,
    /// The publisher's bundle naming the tools, lock and SBOM [default: ARTIFACT.sigstore.json]
    #[arg(long, value_name = "BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// Who approves (recorded in the statement) [default: the key id]
    #[arg(long, value_name = "NAME")]
    pub approver: Option<String>,
    /// Where to write the approval [default: ARTIFACT.approval.sigstore.json]
    #[arg(long, value_name = "BUNDLE")]
    pub out: Option<PathBuf>,
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
#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Start an MCP server over stdio and write its canonical tools payload
    Capture(ToolsCaptureArgs),
    /// Compare two tools payloads (exit 0 identical, 1 different)
    Diff(ToolsDiffArgs),
    /// Check a tools payload for tool poisoning (exit 1 if a finding is at or above --fail-on)
    Lint(ToolsLintArgs),
}

#[derive(Debug, Args)]
pub struct ToolsCaptureArgs {
    /// Where to write the payload [default: stdout]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Seconds to wait for each answer of the server
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// Run the server without the capture sandbox (by default it may read everything but
    /// write only to a private temporary directory, with no TCP; needed to capture through a
    /// program that writes elsewhere, such as `mcpin run`)
    #[arg(long)]
    pub no_sandbox: bool,
    /// The server command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ToolsDiffArgs {
    pub old: PathBuf,
    pub new: PathBuf,
    /// Print the differences as JSON to stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ToolsLintArgs {
    /// Tools payloads (`mcpin tools capture`); with several, the servers of one agent
    /// configuration are also checked against each other (duplicate tools, shadowing)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the findings as JSON to stdout
    #[arg(long, conflicts_with = "sarif")]
    pub json: bool,
    /// Print the findings as SARIF 2.1.0 to stdout
    #[arg(long)]
    pub sarif: bool,
    /// Exit 1 when a finding has this severity or higher
    #[arg(long, value_name = "SEVERITY", default_value = "medium",
          value_parser = ["low", "medium", "high", "critical"])]
    pub fail_on: String,
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
    /// Seconds to wait for a connection, and for the next bytes of a response
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
    /// Hash every blob and every file of every installed tree again; exit 1 if any is corrupt
    /// or missing
    Verify {
        /// Print JSON to stdout
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Push bundles and SBOMs as OCI artifacts whose subject is the artifact's sha256
    Push {
        /// The artifact the files are about (npm tarball, wheel, any file)
        artifact: PathBuf,
        /// The OCI attestation store, HOST/REPOSITORY (loopback hosts over plain HTTP)
        #[arg(long, value_name = "HOST/REPO")]
        oci: String,
        /// A Sigstore bundle to push [default: ARTIFACT.sigstore.json, ARTIFACT.*.sigstore.json]
        #[arg(long, value_name = "B")]
        bundle: Vec<PathBuf>,
        /// A CycloneDX JSON SBOM to push [default: each default bundle's X.cdx.json copy]
        #[arg(long, value_name = "F")]
        sbom: Vec<PathBuf>,
        /// Print JSON to stdout
        #[arg(long)]
        json: bool,
    },
    /// List what is attached to the artifact's sha256 in the store
    Ls {
        artifact: PathBuf,
        /// The OCI attestation store, HOST/REPOSITORY
        #[arg(long, value_name = "HOST/REPO")]
        oci: String,
        /// Print JSON to stdout
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 reviewed (and approved with --approve), 1 the review has \
findings that block an approval (--approve then signs nothing), 2 usage error, 3 invalid input \
(policy, key), 4 I/O or network error."
)]
pub struct ReviewArgs {
    /// npm:NAME@VERSION, pypi:NAME==VERSION, oci:HOST/REPO@sha256:HEX, or an MCP registry name
    /// (io.github.owner/server[@VERSION], or mcp:NAME)
    pub spec: String,
    /// The policy the review is for: its Sigstore signers judge the provenance, its [sbom]
    /// rules the components, its [store] dir receives an approval
    #[arg(long, value_name = "FILE")]
    pub policy: Option<std::path::PathBuf>,
    /// Print the review as JSON to stdout
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print the review as Markdown to stdout (for a pull request)
    #[arg(long)]
    pub markdown: bool,
    /// Sign the package statement (lock, tools, SBOM) and its approval into the policy's store
    /// (its `[store] dir`, else attached in its `[store] oci` registry)
    #[arg(long, requires_all = ["key", "policy"])]
    pub approve: bool,
    /// The approver's private key (PKCS#8 PEM); its public key must be a signer of the policy
    #[arg(long, value_name = "KEY", requires = "approve")]
    pub key: Option<std::path::PathBuf>,
    /// Passphrase of an encrypted key, read from this environment variable
    #[arg(long, value_name = "VAR", requires = "approve")]
    pub passphrase_env: Option<String>,
    /// Until when the approval counts (YYYY-MM-DD or RFC 3339) [default: 90 days from now]
    #[arg(long, value_name = "DATE", requires = "approve")]
    pub expires: Option<String>,
    /// Add a [[packages]] rule for this exact version and digest, and its launch command as a
    /// [[servers]] entry, to this policy file, or update the rule and launch command that name
    /// the package already (then sign it again, `mcpin policy sign`, and compile the client
    /// allowlists, `mcpin policy compile`)
    #[arg(long, value_name = "FILE", requires = "approve")]
    pub add_to_policy: Option<std::path::PathBuf>,
    /// The entry point to capture, if the package has several
    #[arg(long, value_name = "NAME")]
    pub entry: Option<String>,
    /// Seconds to wait for each answer of the server while capturing
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub capture_timeout: u64,
    /// Registry or index the dependencies are resolved against [default: the package's]
    #[arg(long, value_name = "URL")]
    pub lock_registry: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Arguments for the server while capturing (after `--`)
    #[arg(last = true, value_name = "SERVER_ARGS")]
    pub server_args: Vec<std::ffi::OsString>,
}
