//! Verdicts: a decision and every reason behind it, each with a stable
//! kebab-case [`Code`]. Reasons say why something was allowed as well as why
//! it was denied. The JSON form carries [`SCHEMA_VERSION`].

use serde::Serialize;

/// Version of the JSON verdict format (`mcpin verify --json`).
pub const SCHEMA_VERSION: u32 = 1;

macro_rules! codes {
    ($($variant:ident = $code:literal: $doc:literal,)*) => {
        /// A stable reason code. Never rename one; add new ones.
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

            /// One line saying what the code means (for the README table).
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => $doc,)*
                }
            }
        }
    };
}

codes! {
    AllowedByPolicy = "allowed-by-policy": "every check passed and a package rule allows the artifact",
    PolicyUnsigned = "policy-unsigned": "a policy-root key is configured and the policy has no signature",
    PolicySignatureInvalid = "policy-signature-invalid": "the policy signature does not verify with the policy-root key",
    PolicySigned = "policy-signed": "the policy is signed by the configured policy-root key",
    PolicyRootNotConfigured = "policy-root-not-configured": "no policy-root key is configured, so the policy's signature is not checked",
    PolicyExpired = "policy-expired": "the policy's `expires` time has passed",
    PolicyCurrent = "policy-current": "the policy has not expired",
    PolicyRollback = "policy-rollback": "the policy's version is lower than one already seen on this machine",
    PolicyVersionOk = "policy-version-ok": "the policy's version is not lower than any seen before",
    PolicyVersionUntracked = "policy-version-untracked": "the policy is not signed, so its version is neither checked nor recorded for rollback protection",
    PolicyReferenceChanged = "policy-reference-changed": "a key or trusted-root file the signed policy names differs from what its signature pins",
    NoMatchingRule = "no-matching-rule": "no package rule names this package (default deny)",
    PackageRuleMatched = "package-rule-matched": "a package rule names this package",
    ArtifactMatchesRequest = "artifact-matches-request": "the artifact is exactly the package, version or digest the launch asked for",
    ArtifactMismatch = "artifact-mismatch": "the registry delivered another package, version or ecosystem than the launch asked for",
    VersionAllowed = "version-allowed": "the package version satisfies the rule's requirement",
    VersionNotAllowed = "version-not-allowed": "the package version does not satisfy the rule's requirement",
    DigestPinned = "digest-pinned": "the artifact's digest is one the rule pins",
    DigestPinMismatch = "digest-pin-mismatch": "the artifact's digest is not among the rule's pinned digests",
    StoreFetched = "store-fetched": "files were fetched from the policy's HTTPS or OCI attestation store",
    StoreUnavailable = "store-unavailable": "the policy's HTTPS or OCI attestation store could not be read (its bundles are not considered)",
    StoreSkipped = "store-skipped": "an attachment in the policy's OCI store was skipped (unreadable, about another artifact, or no bundle or SBOM layer)",
    Unsigned = "unsigned": "no bundle was found for the artifact",
    BundleInvalid = "bundle-invalid": "a bundle could not be read or is not a Sigstore bundle",
    SignatureVerified = "signature-verified": "a bundle verifies, signed by a trusted signer, for this artifact",
    SignatureInvalid = "signature-invalid": "a bundle names a trusted signer's key but its signature does not verify",
    SignerUntrusted = "signer-untrusted": "a bundle is not signed by any signer the policy trusts",
    SubjectMismatch = "subject-mismatch": "a bundle by a trusted signer is about another package",
    DigestMismatch = "digest-mismatch": "a bundle by a trusted signer names this package but other bytes (the artifact was altered)",
    ProvenanceFetched = "provenance-fetched": "the registry's provenance for the artifact was fetched, or read from the store where an earlier fetch kept it",
    ProvenanceUnavailable = "provenance-unavailable": "the registry publishes no provenance for the artifact, or it could not be had (endpoint 404, offline and not in the store, malformed)",
    ProvenanceVerified = "provenance-verified": "a registry provenance attestation verifies for this artifact, built where a policy Sigstore signer requires (identity, repository, ref, workflow)",
    ProvenanceInvalid = "provenance-invalid": "a registry provenance attestation does not verify (altered, malformed, or about other bytes)",
    ProvenanceMismatch = "provenance-mismatch": "a registry provenance attestation verifies but was built elsewhere than every policy Sigstore signer requires (identity, repository, ref or workflow)",
    ProvenancePublisherMismatch = "provenance-publisher-mismatch": "npm's `trustedPublisher` for the version names another CI provider than the provenance certificate's issuer",
    RequiredSignersSatisfied = "required-signers-satisfied": "the signers the rule requires have signed",
    RequiredSignerMissing = "required-signer-missing": "a signer the rule requires has not signed",
    StatementPackageMismatch = "statement-package-mismatch": "the signed statement names another package or version than the artifact",
    StatementMalformed = "statement-malformed": "a statement's signature verifies but the statement or its predicate cannot be read",
    StatementConflict = "statement-conflict": "statements by the rule's required signers sign different tools, lock or SBOM for one artifact",
    LockSigned = "lock-signed": "the required signers' statement carries the lock the launcher installs",
    LockNotNeeded = "lock-not-needed": "the package declares no dependencies, so no lock is needed to launch it",
    LockRequired = "lock-required": "the package declares dependencies and the required signers' statement carries no lock",
    LockMismatch = "lock-mismatch": "the signed lock is for another package or version",
    ToolsNotSigned = "tools-not-signed": "the signed statement carries no tools (not required by the policy)",
    ToolsMissing = "tools-missing": "the policy requires signed tools and the statement carries none",
    ToolsDigestInvalid = "tools-digest-invalid": "the tools digest does not match the signed tools payload",
    ToolsDigestPinned = "tools-digest-pinned": "the signed tools digest equals the rule's pinned digest",
    ToolsDigestDrift = "tools-digest-drift": "the signed tools digest differs from the rule's pinned digest",
    ToolDenied = "tool-denied": "a tool the policy denies is present",
    ToolNotAllowed = "tool-not-allowed": "a tool outside the rule's allow list is present",
    ToolDestructive = "tool-destructive": "a tool that may be destructive is present and not listed as allowed",
    ToolOpenWorld = "tool-open-world": "a tool that reaches an open world is present and not listed as allowed",
    ToolsAllowed = "tools-allowed": "every declared tool passes the tool rules",
    LintSeverityExceeded = "lint-severity-exceeded": "a `mcpin tools lint` finding over the signed tools is worse than max-lint-severity",
    LintWithinLimit = "lint-within-limit": "no lint finding is worse than max-lint-severity",
    SbomNotSigned = "sbom-not-signed": "the signed statement references no SBOM (not required by the policy)",
    SbomMissing = "sbom-missing": "the policy requires an SBOM and none is referenced or found",
    SbomMalformed = "sbom-malformed": "the SBOM is not CycloneDX JSON",
    SbomComponentDenied = "sbom-component-denied": "the SBOM lists a component the policy denies",
    SbomLicenseDenied = "sbom-license-denied": "a component's license expression cannot be satisfied without a denied license",
    SbomLicenseNotAllowed = "sbom-license-not-allowed": "a component's license expression cannot be satisfied with the allowed licenses",
    SbomComponentUnhashed = "sbom-component-unhashed": "a component carries no hash and the policy requires hashes",
    SbomAllowed = "sbom-allowed": "the signed SBOM passes the SBOM rules",
    ApprovalValid = "approval-valid": "an unexpired approval by a trusted approver covers these tools, lock and SBOM",
    ApprovalMissing = "approval-missing": "the rule requires an approval and there is none",
    ApprovalExpired = "approval-expired": "an approval's `expires` time has passed",
    ApprovalDigestMismatch = "approval-digest-mismatch": "an approval names other tools, lock or SBOM digests than the package statement",
    LauncherAllowed = "launcher-allowed": "the launcher is in the policy's allowed launchers",
    LauncherNotAllowed = "launcher-not-allowed": "the launcher is not in the policy's allowed launchers",
    DockerFlagDenied = "docker-flag-denied": "a docker flag the policy denies is present",
    DockerEnvDenied = "docker-env-denied": "a docker `-e` names a variable the environment rules strip (it would load code or weaken TLS in the container)",
    DockerMountDenied = "docker-mount-denied": "a docker bind-mount source is missing, a socket, a system path or a parent of one, or outside [launch] docker-mount-sources",
    DockerConfigUnavailable = "docker-config-unavailable": "the account has no home directory for the docker client's configuration",
    DockerHostPinned = "docker-host-pinned": "the docker client talks to the daemon [launch] docker-host names",
    EnvDenied = "env-denied": "an environment variable the policy denies is set",
    EnvStripped = "env-stripped": "an environment variable is removed before launch",
    EnvDropped = "env-dropped": "environment variables not on the allowlist are not passed to the server",
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which check a reason belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    Policy,
    Expiry,
    Package,
    Version,
    Digest,
    Signature,
    Signer,
    Lock,
    Tools,
    Lint,
    Sbom,
    Approval,
    Launch,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Policy => "policy",
            Check::Expiry => "expiry",
            Check::Package => "package",
            Check::Version => "version",
            Check::Digest => "digest",
            Check::Signature => "signature",
            Check::Signer => "signer",
            Check::Lock => "lock",
            Check::Tools => "tools",
            Check::Lint => "lint",
            Check::Sbom => "sbom",
            Check::Approval => "approval",
            Check::Launch => "launch",
        }
    }
}

/// Whether a reason counts for or against the artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// Noted, decides nothing (e.g. an extra bundle by an untrusted signer).
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub check: Check,
    pub code: Code,
    pub outcome: Outcome,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// The outcome of evaluating an artifact against a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub schema_version: u32,
    pub decision: Decision,
    /// What was judged: the artifact's purl (if known) and sha256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// A deny made of the single reason `code` (e.g. a refused policy).
    pub fn refused(check: Check, code: Code, message: String) -> Self {
        Verdict {
            schema_version: SCHEMA_VERSION,
            decision: Decision::Deny,
            subject: None,
            sha256: None,
            reasons: vec![Reason {
                check,
                code,
                outcome: Outcome::Fail,
                message,
            }],
        }
    }

    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    /// Whether any reason has `code`.
    pub fn has(&self, code: Code) -> bool {
        self.reasons.iter().any(|reason| reason.code == code)
    }

    /// The human table (for stderr).
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let decision = match self.decision {
            Decision::Allow => "ALLOW",
            Decision::Deny => "DENY",
        };
        let subject = self.subject.as_deref().unwrap_or("artifact");
        let _ = writeln!(out, "{decision}: {subject}");
        let code_width = self
            .reasons
            .iter()
            .map(|r| r.code.as_str().len())
            .max()
            .unwrap_or(0);
        for reason in &self.reasons {
            let mark = match reason.outcome {
                Outcome::Pass => "ok  ",
                Outcome::Fail => "FAIL",
                Outcome::Info => "info",
            };
            let _ = writeln!(
                out,
                "  {mark}  {:<10} {:<code_width$}  {}",
                reason.check.as_str(),
                reason.code.as_str(),
                reason.message
            );
        }
        out
    }
}

/// Accumulates reasons while evaluating.
#[derive(Debug, Default)]
pub(crate) struct Reasons(pub(crate) Vec<Reason>);

impl Reasons {
    pub(crate) fn push(&mut self, check: Check, code: Code, outcome: Outcome, message: String) {
        self.0.push(Reason {
            check,
            code,
            outcome,
            message,
        });
    }
    pub(crate) fn pass(&mut self, check: Check, code: Code, message: String) {
        self.push(check, code, Outcome::Pass, message);
    }
    pub(crate) fn fail(&mut self, check: Check, code: Code, message: String) {
        self.push(check, code, Outcome::Fail, message);
    }
    pub(crate) fn info(&mut self, check: Check, code: Code, message: String) {
        self.push(check, code, Outcome::Info, message);
    }
    pub(crate) fn failed(&self) -> bool {
        self.0.iter().any(|reason| reason.outcome == Outcome::Fail)
    }
    pub(crate) fn failed_in(&self, check: Check) -> bool {
        self.0
            .iter()
            .any(|reason| reason.outcome == Outcome::Fail && reason.check == check)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()),
                "{code} is not kebab-case"
            );
            assert!(!code.description().is_empty());
        }
    }

    #[test]
    fn json_has_schema_version_and_string_codes() {
        let verdict = Verdict::refused(
            Check::Policy,
            Code::PolicyUnsigned,
            "no signature".to_owned(),
        );
        let json = serde_json::to_value(&verdict).unwrap();
        assert_eq!(json["schema_version"], SCHEMA_VERSION);
        assert_eq!(json["decision"], "deny");
        assert_eq!(json["reasons"][0]["code"], "policy-unsigned");
        assert_eq!(json["reasons"][0]["outcome"], "fail");
    }
}
