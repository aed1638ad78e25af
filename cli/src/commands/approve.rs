use anyhow::{Context, bail};
use mcpin_attestation::{
    APPROVAL_PREDICATE_TYPE, ApprovalPredicate, Bundle, PACKAGE_PREDICATE_TYPE, PackagePredicate,
    Statement,
};
use mcpin_verifier::SecretKey;

use super::{beside, passphrase_from_env, write_atomic};
use crate::args::ApproveArgs;
use crate::exit::ExitStatus;

pub fn run(args: ApproveArgs) -> anyhow::Result<ExitStatus> {
    let passphrase = passphrase_from_env(args.passphrase_env.as_deref())?;
    let key = SecretKey::load(&args.key, passphrase.as_deref())
        .with_context(|| format!("loading signing key `{}`", args.key.display()))?;
    let expires = mcpin_verifier::policy::parse_time(&args.expires)
        .map_err(|why| anyhow::anyhow!("--expires: {why}"))?;
    let now = jiff::Timestamp::now();
    if expires <= now {
        eprintln!("warning: --expires {expires} is in the past: this approval is already expired");
    }
    let digests = mcpin_artifact::digest_reader(fs_err::File::open(&args.artifact)?)?;
    let bundle_path = args
        .bundle
        .clone()
        .unwrap_or_else(|| beside(&args.artifact, ".sigstore.json"));
    let bundle = Bundle::from_json(&fs_err::read(&bundle_path)?)
        .with_context(|| format!("reading publisher bundle `{}`", bundle_path.display()))?;
    let statement: Statement = serde_json::from_slice(&bundle.envelope()?.payload_bytes()?)
        .context("the publisher bundle's payload is not an in-toto statement")?;
    if statement.predicate_type != PACKAGE_PREDICATE_TYPE {
        bail!(
            "`{}` is a {} statement, not an mcp-package statement",
            bundle_path.display(),
            statement.predicate_type
        );
    }
    let predicate: PackagePredicate = serde_json::from_value(statement.predicate.clone())
        .context("the mcp-package predicate is malformed")?;
    let matches = statement.subject.iter().any(|subject| {
        subject.digest.get("sha256") == Some(&digests.sha256)
            || subject.digest.get("sha512") == Some(&digests.sha512)
    });
    if !matches {
        bail!(
            "`{}` speaks about other bytes than `{}` (sha256:{})",
            bundle_path.display(),
            args.artifact.display(),
            digests.sha256
        );
    }
    let approval = ApprovalPredicate {
        approver: args.approver.unwrap_or_else(|| key.id().to_string()),
        approved_at: now.to_string(),
        expires: expires.to_string(),
        tools_digest: predicate.tools.as_ref().map(|tools| tools.digest.clone()),
        lock_digest: predicate.lock.as_ref().map(mcpin_attestation::Lock::digest),
        sbom_sha256: predicate.sbom.as_ref().map(|sbom| sbom.sha256.clone()),
    };
    let approval_statement = Statement::about_artifact(
        &predicate.package.purl,
        &digests.sha256,
        &digests.sha512,
        APPROVAL_PREDICATE_TYPE,
        serde_json::to_value(&approval)?,
    );
    let signed = mcpin_verifier::sign_statement(&approval_statement, &key);
    let out = args
        .out
        .unwrap_or_else(|| beside(&args.artifact, ".approval.sigstore.json"));
    write_atomic(&out, &signed.to_json_pretty())?;
    eprintln!(
        "approved {} (sha256:{}) by {} until {}\n  tools: {}\n  lock:  {}\n  sbom:  {}\nwrote {}",
        predicate.package.purl,
        digests.sha256,
        approval.approver,
        approval.expires,
        approval.tools_digest.as_deref().unwrap_or("-"),
        approval.lock_digest.as_deref().unwrap_or("-"),
        approval.sbom_sha256.as_deref().unwrap_or("-"),
        out.display()
    );
    Ok(ExitStatus::Success)
}
