//! Policy for a fleet of machines.
//!
//! What it does:
//! - [`compile`]: turns the approved launch command lines of a policy (`[[servers]]`) into each
//!   agent client's own managed allowlist (Claude Code, VS Code and Copilot, goose, Windsurf),
//!   so that every string match a client makes lands on `<mcpin> run -- <pinned argv>`; checks
//!   every file it writes against the client's documented schema.
//! - [`publish`]: lays out a signed policy and the files its signature pins, as a directory
//!   for any static HTTPS host or as one OCI artifact.
//! - [`pull`]: fetches such a policy over HTTPS or from an OCI registry through the one
//!   registry client, verifies it with the system's policy-root key (signature, the files it
//!   pins, rollback, expiry) and installs it, atomically file by file, where system mode reads
//!   it; records when, for the policy's `max-age` (freeze-attack defence).
//!
//! What it does not do: judge a launch (the verifier), start anything (the launcher), or trust
//! a byte before its signature and digest are checked.

pub mod compile;
pub mod distribution;
pub mod publish;
pub mod pull;

macro_rules! codes {
    ($($variant:ident = $code:literal: $doc:literal,)*) => {
        /// A stable reason code of `mcpin policy compile`, `publish` and `pull` (`reason.code` in
        /// their `--json` refusals, `[code]` in messages). Never rename one; add new ones.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $doc] $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// One line saying what the code means (for the generated reference).
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => $doc,)*
                }
            }
        }
    };
}

codes! {
    CompileMcpinPath = "compile-mcpin-path": "compile: `--mcpin` is not an absolute UTF-8 path (exit 2)",
    CompileNoServers = "compile-no-servers": "compile: the policy lists no `[[servers]]` (exit 3)",
    CompileServerRefused = "compile-server-refused": "compile: a listed server would be refused at launch, or a target cannot express it (exit 3)",
    CompileSchema = "compile-schema": "compile: a written file breaks its client's documented schema; nothing is written (exit 3)",
    PublishIo = "publish-io": "publish: reading the policy or writing the directory failed (exit 4)",
    PublishRegistry = "publish-registry": "publish: the OCI registry refused the push or could not be reached",
    PullSourceInvalid = "pull-source-invalid": "pull: the source is neither `oci:HOST/REPO[:TAG]` nor an https URL of a policy file (exit 2)",
    PullNotSystemMode = "pull-not-system-mode": "pull: no `/etc/mcpin/config.toml`, so no system-wide place to install a policy (exit 2)",
    PullNotPrivileged = "pull-not-privileged": "pull: not running as root, and the policy's files are root's (exit 2)",
    PullNoRootKey = "pull-no-root-key": "pull: the system config names no `policy-root-key` to verify with (exit 3)",
    PullRootKeyInvalid = "pull-root-key-invalid": "pull: the policy-root key the system config names cannot be loaded (exit 3, 4 on I/O)",
    PullConfig = "pull-config": "pull: the system config or the network settings are unusable (an insecure or malformed config, a CA file that is not PEM)",
    PullFetchFailed = "pull-fetch-failed": "pull: a download failed (network, HTTP status, offline mode) (exit 4, 3 for a missing file)",
    BlobDigestMismatch = "blob-digest-mismatch": "pull: a registry blob's bytes do not hash to its digest (exit 1)",
    PullLayoutInvalid = "pull-layout-invalid": "pull: what the source serves is not laid out as a published policy (exit 3)",
    PolicyUnsigned = "policy-unsigned": "publish, pull: the policy has no signature (exit 1)",
    PolicySignatureInvalid = "policy-signature-invalid": "publish, pull: the signature does not verify with the policy-root key (exit 1)",
    PolicyIo = "policy-io": "publish: the policy's signature cannot be read (exit 4)",
    PolicyReferenceChanged = "policy-reference-changed": "publish, pull: a file (key, trusted root, store file) is not what the signature pins (exit 1)",
    PolicyFileUnpinned = "policy-file-unpinned": "publish, pull: the policy names a file its signature does not pin or one outside its directory, or the signature pins a file the policy does not name (exit 1; 3 at publish)",
    PolicyInvalid = "policy-invalid": "publish, pull: the signed policy does not parse (exit 3)",
    PolicyRollback = "policy-rollback": "pull: the policy is older than one already seen on this machine (exit 1)",
    PolicyExpired = "policy-expired": "pull: the policy's `expires` has passed (exit 1)",
    PolicyNameChanged = "policy-name-changed": "pull: the source serves a policy with another name than the installed one (exit 1)",
    PolicyVersionReused = "policy-version-reused": "pull: the installed version number with other bytes (exit 1)",
    PullState = "pull-state": "pull: the rollback state or the pull record cannot be read or written (exit 4, 3 if corrupt)",
    PullIo = "pull-io": "pull: installing the policy, its files or taking the lock failed (exit 4)",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The code of a policy-signature error.
pub(crate) fn signature_code(error: &mcpin_verifier::policy::PolicySignatureError) -> Code {
    use mcpin_verifier::policy::PolicySignatureError;
    match error {
        PolicySignatureError::Unsigned { .. } => Code::PolicyUnsigned,
        PolicySignatureError::Io { .. } => Code::PolicyIo,
        _ => Code::PolicySignatureInvalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{code}"
            );
        }
    }

    #[test]
    fn shared_codes_mean_what_the_verdict_codes_say() {
        use mcpin_verifier::verdict::Code as Verdict;
        for (ours, verdict) in [
            (Code::PolicyUnsigned, Verdict::PolicyUnsigned),
            (
                Code::PolicySignatureInvalid,
                Verdict::PolicySignatureInvalid,
            ),
            (
                Code::PolicyReferenceChanged,
                Verdict::PolicyReferenceChanged,
            ),
            (Code::PolicyRollback, Verdict::PolicyRollback),
            (Code::PolicyExpired, Verdict::PolicyExpired),
        ] {
            assert_eq!(ours.as_str(), verdict.as_str());
        }
    }
}
