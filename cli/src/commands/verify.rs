use std::path::Path;

use anyhow::{Context, bail};
use mcpin_attestation::{Bundle, PACKAGE_PREDICATE_TYPE, PackagePredicate};
use mcpin_verifier::evaluate::{self, Evidence};
use mcpin_verifier::policy::{self, Policy, PolicyState};
use mcpin_verifier::sigstore::TrustedRoot;
use mcpin_verifier::verdict::{Check, Code, Outcome, Reason, Verdict};
use mcpin_verifier::{PublicKey, VerifiedStatement};
use serde_json::json;

use super::beside;
use super::policy::{policy_root_key, state_dir};
use crate::args::VerifyArgs;
use crate::exit::ExitStatus;
use crate::output;

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitStatus> {
    match (&args.key, &args.policy) {
        (Some(key), _) => verify_with_key(&args, key),
        (None, Some(policy)) => verify_with_policy(&args, policy),
        (None, None) => unreachable!("clap requires --key or --policy"),
    }
}

fn verify_with_key(args: &VerifyArgs, key: &Path) -> anyhow::Result<ExitStatus> {
    let bundle_path = match args.bundle.as_slice() {
        [] => beside(&args.artifact, ".sigstore.json"),
        [one] => one.clone(),
        _ => anyhow::bail!("--key verifies one bundle; use --policy to weigh several"),
    };
    let key =
        PublicKey::load(key).with_context(|| format!("loading public key `{}`", key.display()))?;
    let bundle_bytes = fs_err::read(&bundle_path)?;
    let bundle = Bundle::from_json(&bundle_bytes)
        .with_context(|| format!("reading bundle `{}`", bundle_path.display()))?;
    // The bytes decide; the package identity, when the artifact is a package we
    // can read, only sharpens the reason for a mismatch.
    let (digests, purl) = match mcpin_artifact::identify(&args.artifact) {
        Ok(identified) => (identified.digests, Some(identified.package.purl)),
        Err(_) => (
            mcpin_artifact::digest_reader(fs_err::File::open(&args.artifact)?)?,
            None,
        ),
    };

    let verified = mcpin_verifier::verify_bundle(&bundle, &key).context("verification failed")?;
    let subject = verified
        .subject_matching(&digests, purl.as_deref())
        .context("verification failed")?
        .name
        .clone();
    let sbom = match args.sbom.as_slice() {
        [] => None,
        [one] => Some(one.as_path()),
        _ => bail!("--key checks one --sbom; use --policy to weigh several"),
    };
    let tools_digest =
        check_bindings(&verified, sbom, args.lock.as_deref(), args.tools.as_deref())?;
    eprintln!(
        "verified: {} (sha256:{}) signed by key {}",
        subject,
        digests.sha256,
        verified.signer()
    );
    if args.json {
        output::json(&json!({
            "verified": true,
            "subject": subject,
            "sha256": digests.sha256,
            "keyId": verified.signer().as_str(),
            "predicateType": verified.statement().predicate_type,
            "sbomChecked": sbom.is_some(),
            "lockChecked": args.lock.is_some(),
            "toolsDigest": tools_digest,
        }))?;
    }
    Ok(ExitStatus::Success)
}

fn verify_with_policy(args: &VerifyArgs, policy_path: &Path) -> anyhow::Result<ExitStatus> {
    let root_key = policy_root_key(args.policy_trust.policy_root_key.as_deref())?;
    let policy_bytes = fs_err::read(policy_path)?;
    let policy_reason = match &root_key {
        Some(root) => match policy::verify_policy_signature(policy_path, &policy_bytes, root) {
            Ok(()) => Reason {
                check: Check::Policy,
                code: Code::PolicySigned,
                outcome: Outcome::Pass,
                message: format!("policy signed by policy-root key {}", root.id()),
            },
            Err(error) => {
                let code = match error {
                    policy::PolicySignatureError::Unsigned { .. } => Code::PolicyUnsigned,
                    _ => Code::PolicySignatureInvalid,
                };
                return report(
                    args,
                    &Verdict::refused(Check::Policy, code, error.to_string()),
                );
            }
        },
        None => Reason {
            check: Check::Policy,
            code: Code::PolicyRootNotConfigured,
            outcome: Outcome::Info,
            message: "no policy-root key configured: the policy's signature is not checked".into(),
        },
    };
    let text = String::from_utf8(policy_bytes)
        .with_context(|| format!("policy `{}` is not UTF-8", policy_path.display()))?;
    let policy = Policy::parse(policy_path, &text)?;
    let version_check = PolicyState::new(&state_dir(args.policy_trust.state_dir.as_deref())?)
        .observe(&policy.name, policy.version)?;

    let identified = mcpin_artifact::identify(&args.artifact)
        .with_context(|| format!("reading artifact `{}`", args.artifact.display()))?;
    let mut bundles = if args.bundle.is_empty() {
        evaluate::discover_bundles(
            &args.artifact,
            &identified.digests.sha256,
            policy.store_dir.as_deref(),
        )
    } else {
        args.bundle.clone()
    };
    let mut sboms = args.sbom.clone();
    let fetched_dir = tempfile::tempdir().context("creating a temporary directory")?;
    let mut store_reason = None;
    if args.bundle.is_empty()
        && let Some((files, reason)) =
            evaluate::fetch_store(&policy, &identified.digests.sha256, fetched_dir.path())
    {
        let (fetched_bundles, others): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|file| file.to_string_lossy().ends_with(".sigstore.json"));
        bundles.extend(fetched_bundles);
        sboms.extend(others);
        store_reason = Some(reason);
    }
    let root = TrustedRoot::load_or_production(policy.trusted_root.as_deref())?;
    let evidence = Evidence {
        artifact_path: &args.artifact,
        package: &identified.package,
        digests: &identified.digests,
        bundles,
        sboms,
        version_check,
        now: jiff::Timestamp::now(),
    };
    let mut verdict = evaluate::evaluate(&policy, &root, &evidence);
    verdict.reasons.insert(0, policy_reason);
    verdict.reasons.extend(store_reason);
    report(args, &verdict)
}

fn report(args: &VerifyArgs, verdict: &Verdict) -> anyhow::Result<ExitStatus> {
    eprint!("{}", verdict.to_table());
    if args.json {
        output::json(verdict)?;
    }
    Ok(if verdict.is_allowed() {
        ExitStatus::Success
    } else {
        ExitStatus::Denied
    })
}

/// `--sbom`, `--lock` and `--tools`: the files must be the ones the verified
/// statement names. Returns the tools digest when tools were checked.
fn check_bindings(
    verified: &VerifiedStatement,
    sbom: Option<&Path>,
    lock: Option<&Path>,
    tools: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    if sbom.is_none() && lock.is_none() && tools.is_none() {
        return Ok(None);
    }
    let statement = verified.statement();
    if statement.predicate_type != PACKAGE_PREDICATE_TYPE {
        bail!(
            "--sbom/--lock/--tools need an {PACKAGE_PREDICATE_TYPE} statement, this one is {}",
            statement.predicate_type
        );
    }
    let predicate: PackagePredicate = serde_json::from_value(statement.predicate.clone())
        .context("the signed mcp-package predicate is malformed")?;
    if let Some(path) = sbom {
        let bytes = fs_err::read(path)?;
        mcpin_sbom::check_sbom(&predicate, &path.display().to_string(), &bytes)
            .context("verification failed")?;
        eprintln!("sbom: {} matches the signed digest", path.display());
    }
    if let Some(path) = lock {
        let lock = super::sbom::read_lock(path)?;
        mcpin_sbom::check_lock(&predicate, &path.display().to_string(), &lock)
            .context("verification failed")?;
        eprintln!(
            "lock: {} equals the signed lock ({})",
            path.display(),
            lock.digest()
        );
    }
    // Tools drift: the payload a server gives now must be the one that was signed.
    let Some(path) = tools else { return Ok(None) };
    let observed = mcpin_tools::read_section(path)
        .with_context(|| format!("reading tools payload `{}`", path.display()))?;
    mcpin_tools::check_pinned(predicate.tools.as_ref(), &observed)
        .context("verification failed")?;
    eprintln!("tools match the signed tools: {}", observed.digest);
    Ok(Some(observed.digest))
}
