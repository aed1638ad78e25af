//! The documented exit codes, and the one place errors are mapped onto them.

use mcpin_artifact::ArtifactError;
use mcpin_attestation::{BundleError, LockError};
use mcpin_fleet::compile::CompileError;
use mcpin_fleet::publish::PublishError;
use mcpin_fleet::pull::PullError;
use mcpin_launcher::audit::AuditError;
use mcpin_launcher::system::SystemError;
use mcpin_launcher::wrap::{ReasonCode, WrapError};
use mcpin_registry_client::Error as RegistryError;
use mcpin_registry_client::attestations::oci::OciStoreError;
use mcpin_sbom::{BindingError, FactsError, ResolveError, SbomError, SbomReadError};
use mcpin_tools::{ClientError, PayloadError, PinError, ScratchError};
use mcpin_verifier::gate::GateError;
use mcpin_verifier::keyless::KeylessError;
use mcpin_verifier::policy::{PolicyError, PolicySignatureError, StateError};
use mcpin_verifier::sigstore::SigstoreError;
use mcpin_verifier::{KeyError, VerifyError};

/// Process exit codes, listed in `mcpin --help` and `docs/reference/codes.md`; never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Success; for a decision, allowed.
    Success = 0,
    /// Verification failed or the decision is deny.
    Denied = 1,
    /// Bad command line (clap uses 2 as well).
    Usage = 2,
    /// Malformed input: artifact, bundle, key, policy.
    InvalidInput = 3,
    /// I/O or network failure.
    Io = 4,
}

impl ExitStatus {
    /// Every status, in numeric order.
    pub const ALL: &[ExitStatus] = &[
        ExitStatus::Success,
        ExitStatus::Denied,
        ExitStatus::Usage,
        ExitStatus::InvalidInput,
        ExitStatus::Io,
    ];

    /// What the status means, in a few words (`mcpin --help`).
    pub fn summary(self) -> &'static str {
        match self {
            ExitStatus::Success => "success; for a decision, allowed",
            ExitStatus::Denied => "denied, or verification failed",
            ExitStatus::Usage => "usage error",
            ExitStatus::InvalidInput => "invalid input (malformed artifact, bundle, key, policy…)",
            ExitStatus::Io => "I/O or network error",
        }
    }

    /// What the status means for each command (`docs/reference/codes.md`).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => {
                "success; for a decision: allowed; for `tools diff`: identical; for `tools lint`: \
                 no finding at or above `--fail-on`"
            }
            ExitStatus::Denied => {
                "verification failed; for a decision: denied (`verify --policy`, `run`, \
                 `wrap --strict`); `tools diff`: different; `tools lint`: a finding at or above \
                 `--fail-on`; `audit verify`, `store verify`: tampering found; `fetch`: bytes that \
                 differ from the promised digest, or only a sha1 checksum"
            }
            ExitStatus::Usage => {
                "usage error: unknown flag, missing or conflicting argument, malformed SPEC"
            }
            ExitStatus::InvalidInput => {
                "invalid input: a malformed or hostile artifact, bundle, key, policy, lock, SBOM \
                 or tools payload; a package or version the registry does not have; a server that \
                 answers `tools capture` with garbage"
            }
            ExitStatus::Io => {
                "I/O or network error: unreadable or unwritable files (including the audit log), \
                 unreachable or refusing registries (authentication), offline misses, a server \
                 that cannot be started or times out"
            }
        }
    }
}

/// The exit-code list at the end of `mcpin --help`.
pub fn help() -> String {
    let mut text = String::from("Exit codes:");
    for status in ExitStatus::ALL {
        text.push_str(&format!("\n  {}  {}", *status as u8, status.summary()));
    }
    text
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status as u8)
    }
}

/// Picks the exit status for an error from the first cause we recognize.
pub fn status_for(error: &anyhow::Error) -> ExitStatus {
    for cause in error.chain() {
        if let Some(error) = cause.downcast_ref::<VerifyError>() {
            return match error {
                VerifyError::Bundle(_) => ExitStatus::InvalidInput,
                _ => ExitStatus::Denied,
            };
        }
        if let Some(error) = cause.downcast_ref::<SigstoreError>() {
            return match error {
                SigstoreError::Rejected { .. } | SigstoreError::IdentityPattern { .. } => {
                    ExitStatus::Denied
                }
                SigstoreError::Io { .. } => ExitStatus::Io,
                _ => ExitStatus::InvalidInput,
            };
        }
        if let Some(error) = cause.downcast_ref::<GateError>() {
            return match error {
                GateError::Io { .. } => ExitStatus::Io,
                GateError::State(StateError::Io { .. }) => ExitStatus::Io,
                GateError::Policy(PolicyError::Io { .. } | PolicyError::Changed { .. }) => {
                    ExitStatus::Io
                }
                GateError::TrustRoot(SigstoreError::Io { .. }) => ExitStatus::Io,
                _ => ExitStatus::InvalidInput,
            };
        }
        if let Some(error) = cause.downcast_ref::<PolicyError>() {
            return policy_status(error);
        }
        if let Some(error) = cause.downcast_ref::<PolicySignatureError>() {
            return signature_status(error);
        }
        if let Some(error) = cause.downcast_ref::<StateError>() {
            return match error {
                StateError::Io { .. } => ExitStatus::Io,
                StateError::Corrupt { .. } => ExitStatus::InvalidInput,
            };
        }
        if let Some(error) = cause.downcast_ref::<KeylessError>() {
            return match error {
                KeylessError::Network { .. }
                | KeylessError::Ambient(_)
                | KeylessError::Runtime(_) => ExitStatus::Io,
                _ => ExitStatus::InvalidInput,
            };
        }
        if let Some(error) = cause.downcast_ref::<ArtifactError>() {
            return match error {
                ArtifactError::Io(_) => ExitStatus::Io,
                _ => ExitStatus::InvalidInput,
            };
        }
        if let Some(error) = cause.downcast_ref::<KeyError>() {
            return match error {
                KeyError::Io(_) => ExitStatus::Io,
                _ => ExitStatus::InvalidInput,
            };
        }
        if cause.is::<BindingError>() {
            return ExitStatus::Denied;
        }
        if let Some(error) = cause.downcast_ref::<ResolveError>() {
            return match error {
                ResolveError::Io(_)
                | ResolveError::Spawn { .. }
                | ResolveError::Resolver { .. } => ExitStatus::Io,
                _ => ExitStatus::InvalidInput,
            };
        }
        if let Some(error) = cause.downcast_ref::<SbomReadError>() {
            return match error {
                SbomReadError::Io { .. } => ExitStatus::Io,
                SbomReadError::TooLarge(_) => ExitStatus::InvalidInput,
            };
        }
        if cause.is::<SbomError>() || cause.is::<FactsError>() || cause.is::<LockError>() {
            return ExitStatus::InvalidInput;
        }
        if let Some(error) = cause.downcast_ref::<AuditError>() {
            return match error {
                AuditError::Io { .. } => ExitStatus::Io,
                AuditError::Broken { .. } => ExitStatus::Denied,
            };
        }
        if let Some(error) = cause.downcast_ref::<SystemError>() {
            return match error {
                SystemError::Override { .. } => ExitStatus::Usage,
                SystemError::Io { .. } => ExitStatus::Io,
                SystemError::Invalid { .. } | SystemError::Insecure { .. } => {
                    ExitStatus::InvalidInput
                }
            };
        }
        if let Some(error) = cause.downcast_ref::<CompileError>() {
            return match error {
                CompileError::RelativeMcpin(_) | CompileError::NotUtf8(_) => ExitStatus::Usage,
                _ => ExitStatus::InvalidInput,
            };
        }
        if let Some(error) = cause.downcast_ref::<PublishError>() {
            match error {
                PublishError::Incomplete { .. } => return ExitStatus::InvalidInput,
                PublishError::Changed { .. } => return ExitStatus::Denied,
                PublishError::Io { .. } => return ExitStatus::Io,
                PublishError::Signature(error) => return signature_status(error),
                PublishError::Policy(error) => return policy_status(error),
                // The registry client's error, next in the chain, decides.
                PublishError::Registry { .. } => {}
            }
        }
        if let Some(error) = cause.downcast_ref::<PullError>() {
            match error {
                PullError::Source { .. } | PullError::NotSystemMode | PullError::NotPrivileged => {
                    return ExitStatus::Usage;
                }
                PullError::NoRootKey | PullError::Layout(_) => return ExitStatus::InvalidInput,
                PullError::RootKey { source, .. } => {
                    return match source {
                        KeyError::Io(_) => ExitStatus::Io,
                        _ => ExitStatus::InvalidInput,
                    };
                }
                PullError::ReferenceChanged(_)
                | PullError::Unpinned(_)
                | PullError::Rollback { .. }
                | PullError::Expired { .. }
                | PullError::NameChanged { .. }
                | PullError::VersionReused { .. } => return ExitStatus::Denied,
                PullError::Io { .. } => return ExitStatus::Io,
                PullError::Signature(error) => return signature_status(error),
                PullError::Invalid(error) => return policy_status(error),
                PullError::State(StateError::Io { .. }) => return ExitStatus::Io,
                PullError::State(StateError::Corrupt { .. }) => return ExitStatus::InvalidInput,
                // The registry client's error, next in the chain, decides.
                PullError::Fetch { .. } => {}
            }
        }
        if let Some(error) = cause.downcast_ref::<WrapError>() {
            return wrap_reason_status(error.code());
        }
        if cause.is::<PinError>() {
            return ExitStatus::Denied;
        }
        if let Some(error) = cause.downcast_ref::<PayloadError>() {
            return match error {
                PayloadError::Io { .. } => ExitStatus::Io,
                _ => ExitStatus::InvalidInput,
            };
        }
        if let Some(error) = cause.downcast_ref::<OciStoreError>() {
            match error {
                OciStoreError::Location { .. } | OciStoreError::NotJson { .. } => {
                    return ExitStatus::InvalidInput;
                }
                OciStoreError::Read { .. } => return ExitStatus::Io,
                // The registry client's error, next in the chain, decides.
                OciStoreError::Registry { .. } => {}
            }
        }
        if let Some(error) = cause.downcast_ref::<ClientError>() {
            return client_status(error);
        }
        if let Some(error) = cause.downcast_ref::<ScratchError>() {
            return match error {
                ScratchError::Client(error) => client_status(error),
                ScratchError::Payload(_)
                | ScratchError::Unsupported(_)
                | ScratchError::NoEntryPoint { .. }
                | ScratchError::AmbiguousEntryPoint { .. }
                | ScratchError::UnknownEntryPoint { .. }
                | ScratchError::UnsafeTarget { .. } => ExitStatus::InvalidInput,
                ScratchError::Scratch(_)
                | ScratchError::Sandbox(_)
                | ScratchError::InstallSpawn { .. }
                | ScratchError::InstallFailed { .. } => ExitStatus::Io,
            };
        }
        if let Some(error) = cause.downcast_ref::<RegistryError>() {
            return registry_status(error);
        }
        if cause.is::<BundleError>() || cause.is::<serde_json::Error>() {
            return ExitStatus::InvalidInput;
        }
        if cause.is::<std::io::Error>() {
            return ExitStatus::Io;
        }
    }
    ExitStatus::InvalidInput
}

fn policy_status(error: &PolicyError) -> ExitStatus {
    match error {
        PolicyError::Io { .. } | PolicyError::Changed { .. } => ExitStatus::Io,
        PolicyError::Invalid { .. } => ExitStatus::InvalidInput,
    }
}

fn signature_status(error: &PolicySignatureError) -> ExitStatus {
    match error {
        PolicySignatureError::Io { .. } => ExitStatus::Io,
        _ => ExitStatus::Denied,
    }
}

/// A server that cannot be started, read or that never answers is an I/O
/// failure; one that answers with garbage is invalid input.
fn client_status(error: &ClientError) -> ExitStatus {
    match error {
        ClientError::Spawn { .. }
        | ClientError::Timeout { .. }
        | ClientError::Closed { .. }
        | ClientError::Write { .. }
        | ClientError::Read(_) => ExitStatus::Io,
        ClientError::NotJson { .. }
        | ClientError::TooLarge { .. }
        | ClientError::ServerError { .. }
        | ClientError::Malformed { .. }
        | ClientError::UnsupportedProtocol(_)
        | ClientError::TooManyPages(..) => ExitStatus::InvalidInput,
    }
}

/// Registry and store errors: bytes that do not match what was promised (or a
/// checksum too weak to check) fail verification (1), and so does a store others could
/// write (`store-unsafe`); a malformed SPEC is a
/// usage error (2); a missing package or a malformed registry answer is invalid
/// input (3); unreachable or refusing registries, offline misses and store I/O are 4.
fn registry_status(error: &RegistryError) -> ExitStatus {
    match error {
        RegistryError::IntegrityMismatch { .. }
        | RegistryError::WeakIntegrity { .. }
        | RegistryError::Unsafe(_) => ExitStatus::Denied,
        RegistryError::Spec { .. } => ExitStatus::Usage,
        RegistryError::NotFound { .. }
        | RegistryError::NoMatchingVersion { .. }
        | RegistryError::Metadata { .. }
        | RegistryError::Config { .. }
        | RegistryError::Insecure { .. }
        | RegistryError::Unsupported(_) => ExitStatus::InvalidInput,
        RegistryError::Auth { .. }
        | RegistryError::Network { .. }
        | RegistryError::Interrupted { .. }
        | RegistryError::Http { .. }
        | RegistryError::Offline { .. }
        | RegistryError::Store { .. } => ExitStatus::Io,
    }
}

/// The exit status a wrap or unwrap file status stands for (`RunAborted` and `ConfigMissing`
/// are consequences, not failures of their own).
pub fn wrap_reason_status(code: ReasonCode) -> ExitStatus {
    match code {
        ReasonCode::ConfigParse
        | ReasonCode::ConfigDuplicateKey
        | ReasonCode::ConfigShape
        | ReasonCode::WrapRecord => ExitStatus::InvalidInput,
        ReasonCode::ConfigReadOnly
        | ReasonCode::ConfigNotWritable
        | ReasonCode::ConfigChanged
        | ReasonCode::Io => ExitStatus::Io,
        ReasonCode::StrictRefused => ExitStatus::Denied,
        ReasonCode::RunAborted | ReasonCode::ConfigMissing => ExitStatus::Success,
    }
}
