use anyhow::Context;
use mcpin_attestation::{Bundle, PackagePredicate};
use mcpin_verifier::PublicKey;
use serde_json::json;

use crate::args::VerifyArgs;
use crate::exit::ExitStatus;
use crate::output;

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitStatus> {
    let bundle_path = args.bundle.unwrap_or_else(|| {
        let mut name = args.artifact.clone().into_os_string();
        name.push(".sigstore.json");
        name.into()
    });
    let key = PublicKey::load(&args.key)
        .with_context(|| format!("loading public key `{}`", args.key.display()))?;
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
    // Tools drift: the payload a server gives now must be the one that was signed.
    let tools_digest = match &args.tools {
        Some(path) => {
            let observed = mcpin_tools::read_section(path)
                .with_context(|| format!("reading tools payload `{}`", path.display()))?;
            let predicate: PackagePredicate =
                serde_json::from_value(verified.statement().predicate.clone())
                    .context("the signed predicate is not an mcp-package predicate")?;
            mcpin_tools::check_pinned(predicate.tools.as_ref(), &observed)
                .context("verification failed")?;
            Some(observed.digest)
        }
        None => None,
    };
    eprintln!(
        "verified: {} (sha256:{}) signed by key {}",
        subject,
        digests.sha256,
        verified.signer()
    );
    if let Some(digest) = &tools_digest {
        eprintln!("tools match the signed tools: {digest}");
    }
    if args.json {
        output::json(&json!({
            "verified": true,
            "subject": subject,
            "sha256": digests.sha256,
            "keyId": verified.signer().as_str(),
            "predicateType": verified.statement().predicate_type,
            "toolsDigest": tools_digest,
        }))?;
    }
    Ok(ExitStatus::Success)
}
