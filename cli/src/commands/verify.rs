use std::path::Path;

use anyhow::{Context, bail};
use mcpin_attestation::{Bundle, PACKAGE_PREDICATE_TYPE, PackagePredicate};
use mcpin_registry_client::attestations::{self, FileKind};
use mcpin_verifier::evaluate::{self, Evidence};
use mcpin_verifier::gate::{self, PolicyLoad};
use mcpin_verifier::verdict::Verdict;
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
    let key =
        PublicKey::load(key).with_context(|| format!("loading public key `{}`", key.display()))?;
    let oci = super::oci_subject(&args.artifact)?;
    let bundle_path = match args.bundle.as_slice() {
        [] => match &oci {
            Some(image) => super::oci_bundle_name(&image.identified),
            None => beside(&args.artifact, ".sigstore.json"),
        },
        [one] => one.clone(),
        _ => anyhow::bail!("--key verifies one bundle; use --policy to weigh several"),
    };
    let bundle_bytes = fs_err::read(&bundle_path)?;
    let bundle = Bundle::from_json(&bundle_bytes)
        .with_context(|| format!("reading bundle `{}`", bundle_path.display()))?;
    // The bytes decide; the package identity, when the artifact is a package we
    // can read, only sharpens the reason for a mismatch.
    let identified = match oci {
        Some(image) => Ok(image.identified),
        None => mcpin_artifact::identify(&args.artifact),
    };
    let (digests, purl) = match identified {
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
        output::report(&json!({
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
    let state = state_dir(args.policy_trust.state_dir.as_deref())?;
    let loaded = match gate::load_policy(
        policy_path,
        root_key.as_ref(),
        &state,
        gate::StateAccess::Record,
    )? {
        PolicyLoad::Loaded(loaded) => loaded,
        PolicyLoad::Refused { verdict, .. } => return report(args, &verdict),
    };
    // An OCI image is judged by its manifest blob in the store (bundles: --bundle or the
    // policy's store, keyed by the manifest's sha256).
    let (identified, artifact_path) = match super::oci_subject(&args.artifact)? {
        Some(image) => (image.identified, image.fetched.path),
        None => (
            mcpin_artifact::identify(&args.artifact)
                .with_context(|| format!("reading artifact `{}`", args.artifact.display()))?,
            args.artifact.clone(),
        ),
    };
    // Evidence first: named bundles, else those beside the artifact and in the policy's stores.
    let mut files = if args.bundle.is_empty() {
        attestations::read_beside(&artifact_path)?
    } else {
        attestations::read_bundles(&args.bundle)?
    };
    for sbom in &args.sbom {
        files.push(attestations::read_file(sbom, FileKind::Sbom)?);
    }
    let mut notes = Vec::new();
    let mut provenance = None;
    if args.bundle.is_empty() {
        let sources = loaded.policy.attestation_sources();
        // The registry's own provenance can satisfy a Sigstore signer (npm and PyPI).
        let wants_provenance = loaded.policy.wants_registry_provenance()
            && matches!(
                identified.package.ecosystem,
                mcpin_attestation::Ecosystem::Npm | mcpin_attestation::Ecosystem::Pypi
            );
        let mut settings = crate::settings::registry_defaults()?;
        // Only a directory store and no registry provenance: no HTTP client (whose TLS roots
        // take milliseconds to load).
        settings.http.offline |=
            sources.https.is_none() && sources.oci.is_none() && !wants_provenance;
        let client = mcpin_registry_client::Client::new(settings)?;
        let gathered = client.gather_attestations(&sources, &identified.digests.sha256);
        files.extend(gathered.files);
        notes = gathered.notes;
        if wants_provenance {
            provenance =
                Some(client.registry_provenance(&identified.package, &identified.digests.sha256));
        }
    }
    let judgement = evaluate::judge(
        &loaded,
        &Evidence {
            artifact: &artifact_path.display().to_string(),
            identified: &identified,
            requested: None,
            files: &files,
            notes: &notes,
            provenance: provenance.as_ref(),
            now: jiff::Timestamp::now(),
        },
    );
    report(args, &judgement.verdict)
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
