//! `mcpin review`: from a package name to one report a security team can decide on, and on
//! approval, the signed statements.
//!
//! [`review`] fetches the artifact into the store, verifies the registry's provenance (the
//! judge's own signature step, so the reasons are the launch's), resolves the lock and
//! captures the tools in isolation ([`mcpin_sbom::LockOptions::isolated`],
//! [`mcpin_tools::Isolation`]), writes the SBOM, lints the tools, compares them with the last
//! version the policy's approvers approved, and applies the policy's SBOM rules. [`approve`]
//! signs the package statement (lock, tools, SBOM) and the approval with one key.
//!
//! It decides nothing: the launch does, with the policy. It never runs the package's install
//! scripts or builds an sdist.

mod policy_rule;
mod previous;
mod render;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use mcpin_artifact::Identified;
use mcpin_attestation::{
    APPROVAL_PREDICATE_TYPE, ApprovalPredicate, CYCLONEDX_JSON_MEDIA_TYPE, Ecosystem, Lock,
    PACKAGE_PREDICATE_TYPE, PackagePredicate, SbomRef, Statement, ToolsSection,
};
use mcpin_registry_client::attestations::provenance::{RegistryProvenance, TrustedPublisher};
use mcpin_registry_client::{Client, Spec};
use mcpin_tools::{ArtifactServer, ClientOptions, Isolation, ToolsDiff};
use mcpin_verifier::evaluate::{self, Evidence};
use mcpin_verifier::policy::Policy;
use mcpin_verifier::sigstore::{ArtifactRef, SignerRequirement, TrustedRoot};
use mcpin_verifier::verdict::Reason;
use serde::Serialize;
use sha2::Digest as _;

pub use policy_rule::{Approved, PolicyRuleError, RuleChange, add_or_update};
pub use render::{markdown, text};

/// Version of the JSON review format (`mcpin review --json`).
pub const SCHEMA_VERSION: u32 = 1;

/// Why a review could not be made at all (a report is made whenever the artifact was fetched).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Registry(#[from] mcpin_registry_client::Error),
    #[error("`{0}` is not a package mcpin can read: {1}")]
    Artifact(String, mcpin_artifact::ArtifactError),
    #[error("a scratch directory: {0}")]
    Scratch(std::io::Error),
}

/// What to review, and with what.
pub struct Request<'a> {
    pub spec: &'a Spec,
    /// The policy the approval is for: its Sigstore signers judge the provenance, its SBOM
    /// rules the components, its approvers' earlier approvals give the tools diff.
    pub policy: Option<&'a Policy>,
    pub root: &'a TrustedRoot,
    /// The entry point to capture, if the package has several.
    pub entry: Option<&'a str>,
    pub server_args: &'a [OsString],
    pub timeout: Duration,
    /// The registry or index the dependencies are resolved against and installed from
    /// [default: the one the package came from].
    pub lock_registry: Option<String>,
    /// The npm registry and PyPI index of the client, for the isolated installers.
    pub npm_registry: String,
    pub pypi_index: String,
    /// The mcpin binary whose sandbox trampoline runs the captured server (everything
    /// readable, writes only in the scratch directory, no TCP); `None`: no sandbox.
    pub sandbox: Option<&'a Path>,
}

/// The review of one artifact. Serialized, it is `mcpin review --json`.
#[derive(Debug, Serialize)]
pub struct Review {
    pub schema_version: u32,
    pub package: mcpin_attestation::PackageInfo,
    pub sha256: String,
    pub sha512: String,
    /// Where the bytes came from (redacted).
    pub url: String,
    pub provenance: Provenance,
    pub tools: Outcome<ToolsReport>,
    pub lock: Outcome<LockReport>,
    /// The last version the policy's approvers approved, and how its tools differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    /// SBOM components the policy's `[sbom]` rules deny.
    pub denied: Vec<String>,
    /// What stops an approval: a failed capture or lock, denied components.
    pub blocking: Vec<String>,
    #[serde(skip)]
    pub signed: Signed,
}

/// A step's result, or why it failed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "value")]
pub enum Outcome<T> {
    Ok(T),
    Failed(String),
    Skipped(String),
}

/// What the registry says about how the artifact was built.
#[derive(Debug, Serialize)]
pub struct Provenance {
    pub url: String,
    /// Why there is none, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_publisher: Option<TrustedPublisher>,
    /// Each attestation: who built it (certificate identity and CI claims) if it verifies.
    pub attestations: Vec<BuiltBy>,
    /// The judge's reasons over it under the policy's signers (the launch's `provenance-*`).
    pub policy: Vec<Reason>,
    /// The policy signers it satisfies.
    pub signers: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct BuiltBy {
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Why it does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ToolsReport {
    pub digest: String,
    pub server: serde_json::Value,
    pub tools: Vec<ToolLine>,
    /// Lint findings over the tools and the server's instructions.
    pub findings: Vec<mcpin_tools::Finding>,
}

#[derive(Debug, Serialize)]
pub struct ToolLine {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
    pub digest: String,
}

#[derive(Debug, Serialize)]
pub struct LockReport {
    pub digest: String,
    pub dependencies: usize,
    /// License expression (as the SBOM writes it) → number of components.
    pub licenses: BTreeMap<String, usize>,
    pub sbom_sha256: String,
}

#[derive(Debug, Serialize)]
pub struct Previous {
    pub version: String,
    pub sha256: String,
    pub diff: ToolsDiff,
}

/// What an approval signs, kept out of the report's JSON.
#[derive(Debug, Default)]
pub struct Signed {
    pub tools: Option<ToolsSection>,
    pub lock: Option<Lock>,
    pub sbom: Option<Vec<u8>>,
}

/// Reviews `request.spec`: fetch, provenance, lock, tools, SBOM, lint, diff, SBOM rules.
pub fn review(client: &Client, request: &Request) -> Result<Review, ReviewError> {
    let fetched = client.fetch(request.spec)?;
    // identify() reads the kind of archive from its file name; the store names blobs by digest.
    let named = tempfile::tempdir().map_err(ReviewError::Scratch)?;
    let artifact = named.path().join(&fetched.file_name);
    std::os::unix::fs::symlink(&fetched.path, &artifact).map_err(ReviewError::Scratch)?;
    let identified = match request.spec {
        Spec::Oci(reference) => client.identify_image(reference, &fetched)?,
        _ => mcpin_artifact::identify(&artifact)
            .map_err(|e| ReviewError::Artifact(fetched.file_name.clone(), e))?,
    };
    let provenance = provenance(client, request, &identified);
    let mut blocking = Vec::new();

    let package = &identified.package;
    let isolation = Isolation {
        npm_registry: &request.npm_registry,
        pypi_index: &request.pypi_index,
        sandbox: request.sandbox,
    };
    let tools = match package.ecosystem {
        Ecosystem::Npm | Ecosystem::Pypi => capture(&artifact, &identified, request, isolation),
        _ => Outcome::Skipped(format!(
            "tools are captured from npm and PyPI packages; this is {}",
            package.ecosystem
        )),
    };
    let lock = match package.ecosystem {
        Ecosystem::Npm | Ecosystem::Pypi => lock(&artifact, &identified, request),
        _ => Outcome::Skipped(format!("{} artifacts carry no lock", package.ecosystem)),
    };
    let section = match &tools {
        Outcome::Ok((section, _)) => Some(section.clone()),
        Outcome::Failed(why) => {
            blocking.push(format!("the tools could not be captured: {why}"));
            None
        }
        Outcome::Skipped(_) => None,
    };
    let locked = match &lock {
        Outcome::Ok(lock) => Some(lock.clone()),
        Outcome::Failed(why) => {
            blocking.push(format!("the lock could not be resolved: {why}"));
            None
        }
        Outcome::Skipped(_) => None,
    };
    let mut signed = Signed {
        tools: section.clone(),
        lock: locked.clone(),
        sbom: None,
    };
    let mut denied = Vec::new();
    let lock_report = match (&lock, package.ecosystem) {
        (Outcome::Ok(lock), _) => {
            match mcpin_sbom::build_sbom(
                &identified,
                Some(lock),
                section.as_ref(),
                &mcpin_sbom::SbomOptions::default(),
            ) {
                Ok(sbom) => {
                    let facts = mcpin_sbom::SbomFacts::from_json(&sbom)
                        .expect("the SBOM mcpin writes is CycloneDX JSON");
                    let mut licenses = BTreeMap::new();
                    for component in &facts.components {
                        let license = component.license.clone().unwrap_or("(none)".into());
                        *licenses.entry(license).or_insert(0) += 1;
                    }
                    if let Some(policy) = request.policy {
                        denied = evaluate::component_findings(&policy.sbom, &facts)
                            .into_iter()
                            .map(|reason| format!("{}: {}", reason.code, reason.message))
                            .collect();
                    }
                    let report = LockReport {
                        digest: lock.digest(),
                        dependencies: lock.package_count(),
                        licenses,
                        sbom_sha256: hex::encode(sha2::Sha256::digest(&sbom)),
                    };
                    signed.sbom = Some(sbom);
                    Outcome::Ok(report)
                }
                Err(error) => {
                    blocking.push(format!("the SBOM could not be written: {error}"));
                    Outcome::Failed(error.to_string())
                }
            }
        }
        (Outcome::Failed(why), _) => Outcome::Failed(why.clone()),
        (Outcome::Skipped(why), _) => Outcome::Skipped(why.clone()),
    };
    blocking.extend(denied.iter().map(|d| format!("denied component: {d}")));
    let previous = match (request.policy, &section) {
        (Some(policy), Some(section)) => {
            previous::approved(client, policy, &identified).map(|(version, sha256, tools)| {
                Previous {
                    version,
                    sha256,
                    diff: mcpin_tools::diff(&tools, section),
                }
            })
        }
        _ => None,
    };
    Ok(Review {
        schema_version: SCHEMA_VERSION,
        package: package.clone(),
        sha256: identified.digests.sha256.clone(),
        sha512: identified.digests.sha512.clone(),
        url: fetched.url.clone(),
        provenance,
        tools: match tools {
            Outcome::Ok((_, report)) => Outcome::Ok(report),
            Outcome::Failed(why) => Outcome::Failed(why),
            Outcome::Skipped(why) => Outcome::Skipped(why),
        },
        lock: lock_report,
        previous,
        denied,
        blocking,
        signed,
    })
}

/// The registry's provenance: who built each attestation, and what the policy's signers make
/// of it (the judge's signature step over the provenance alone).
fn provenance(client: &Client, request: &Request, identified: &Identified) -> Provenance {
    let package = &identified.package;
    if !matches!(package.ecosystem, Ecosystem::Npm | Ecosystem::Pypi) {
        return Provenance {
            url: String::new(),
            unavailable: Some(format!(
                "{} registries publish no provenance",
                package.ecosystem
            )),
            trusted_publisher: None,
            attestations: Vec::new(),
            policy: Vec::new(),
            signers: Vec::new(),
        };
    }
    let registry: RegistryProvenance =
        client.registry_provenance(package, &identified.digests.sha256);
    let artifact = ArtifactRef::Digests(identified.digests.clone());
    let (attestations, trusted_publisher, unavailable) = match &registry.found {
        Ok(found) => (
            found
                .bundles
                .iter()
                .map(|file| built_by(file, &artifact, request.root))
                .collect(),
            found.trusted_publisher.clone(),
            None,
        ),
        Err(why) => (Vec::new(), None, Some(why.clone())),
    };
    let (policy, signers) = match request.policy {
        Some(policy) => {
            let evidence = Evidence {
                artifact: &package.purl,
                identified,
                requested: None,
                files: &[],
                notes: &[],
                provenance: Some(&registry),
                now: jiff::Timestamp::now(),
            };
            let (verified, reasons) = evaluate::verify_signatures(policy, request.root, &evidence);
            let reasons = reasons
                .into_iter()
                .filter(|r| r.code.as_str().starts_with("provenance-"))
                .collect();
            (reasons, verified.into_iter().map(|a| a.signer).collect())
        }
        None => (Vec::new(), Vec::new()),
    };
    Provenance {
        url: registry.url,
        unavailable,
        trusted_publisher,
        attestations,
        policy,
        signers,
    }
}

fn built_by(
    file: &mcpin_registry_client::attestations::AttestationFile,
    artifact: &ArtifactRef,
    root: &TrustedRoot,
) -> BuiltBy {
    let json = String::from_utf8_lossy(&file.bytes);
    match mcpin_verifier::sigstore::verify_json(
        &file.origin,
        &json,
        artifact,
        &SignerRequirement::AnyIdentity,
        root,
    ) {
        Ok(verified) => BuiltBy {
            origin: file.origin.clone(),
            identity: verified.identity,
            issuer: verified.issuer,
            repository: verified.claims.repository,
            git_ref: verified.claims.git_ref,
            workflow: verified.claims.workflow,
            error: None,
        },
        Err(error) => BuiltBy {
            origin: file.origin.clone(),
            identity: None,
            issuer: None,
            repository: None,
            git_ref: None,
            workflow: None,
            error: Some(error.to_string()),
        },
    }
}

fn capture(
    artifact: &Path,
    identified: &Identified,
    request: &Request,
    isolation: Isolation,
) -> Outcome<(ToolsSection, ToolsReport)> {
    let server = ArtifactServer {
        artifact,
        package: &identified.package,
        entry: request.entry,
        args: request.server_args,
        isolation: Some(isolation),
    };
    let options = ClientOptions {
        step_timeout: request.timeout,
        ..ClientOptions::default()
    };
    match mcpin_tools::capture_artifact(&server, &options) {
        Ok(section) => {
            let findings = mcpin_tools::lint(&section.payload).findings;
            let report = ToolsReport {
                digest: section.digest.clone(),
                server: section.payload.server_info.clone(),
                tools: section
                    .payload
                    .tools
                    .iter()
                    .map(|tool| ToolLine {
                        name: tool.name.clone(),
                        annotations: tool.annotations.clone(),
                        digest: section
                            .tool_digests
                            .get(&tool.name)
                            .cloned()
                            .unwrap_or_default(),
                    })
                    .collect(),
                findings,
            };
            Outcome::Ok((section, report))
        }
        Err(error) => Outcome::Failed(error.to_string()),
    }
}

fn lock(artifact: &Path, identified: &Identified, request: &Request) -> Outcome<Lock> {
    let registry =
        request
            .lock_registry
            .clone()
            .unwrap_or_else(|| match identified.package.ecosystem {
                Ecosystem::Pypi => request.pypi_index.clone(),
                _ => request.npm_registry.clone(),
            });
    let options = mcpin_sbom::LockOptions {
        registry: Some(registry),
        python_version: None,
        platform: None,
        allow_sdist: false,
        isolated: true,
    };
    match mcpin_sbom::resolve::lock_identified(artifact, identified, &options) {
        Ok(lock) => Outcome::Ok(lock),
        Err(error) => Outcome::Failed(error.to_string()),
    }
}

/// The signed files of an approval.
pub struct Approval {
    /// The package statement: lock, tools and SBOM of this review.
    pub package_bundle: Vec<u8>,
    /// The approval of exactly those digests, until `expires`.
    pub approval_bundle: Vec<u8>,
    pub sbom: Option<Vec<u8>>,
}

/// Signs the package statement (this review's lock, tools and SBOM) and the approval of it
/// with `key`. Refused while the review has blocking findings.
pub fn approve(
    review: &Review,
    key: &mcpin_verifier::SecretKey,
    approver: &str,
    expires: jiff::Timestamp,
) -> Result<Approval, Vec<String>> {
    if !review.blocking.is_empty() {
        return Err(review.blocking.clone());
    }
    let signed = &review.signed;
    let predicate = PackagePredicate {
        package: review.package.clone(),
        tools: signed.tools.clone(),
        lock: signed.lock.clone(),
        sbom: signed.sbom.as_ref().map(|bytes| SbomRef {
            media_type: CYCLONEDX_JSON_MEDIA_TYPE.to_owned(),
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
        }),
    };
    let statement = |predicate_type: &str, predicate: serde_json::Value| {
        Statement::about_artifact(
            &review.package.purl,
            &review.sha256,
            &review.sha512,
            predicate_type,
            predicate,
        )
    };
    let approval = ApprovalPredicate {
        approver: approver.to_owned(),
        approved_at: jiff::Timestamp::now().to_string(),
        expires: expires.to_string(),
        tools_digest: predicate.tools.as_ref().map(|tools| tools.digest.clone()),
        lock_digest: predicate.lock.as_ref().map(Lock::digest),
        sbom_sha256: predicate.sbom.as_ref().map(|sbom| sbom.sha256.clone()),
    };
    let package_statement = statement(
        PACKAGE_PREDICATE_TYPE,
        serde_json::to_value(&predicate).expect("a predicate serializes"),
    );
    let approval_statement = statement(
        APPROVAL_PREDICATE_TYPE,
        serde_json::to_value(&approval).expect("a predicate serializes"),
    );
    Ok(Approval {
        package_bundle: mcpin_verifier::sign_statement(&package_statement, key).to_json_pretty(),
        approval_bundle: mcpin_verifier::sign_statement(&approval_statement, key).to_json_pretty(),
        sbom: signed.sbom.clone(),
    })
}
