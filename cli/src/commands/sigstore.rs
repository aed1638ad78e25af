use mcpin_verifier::sigstore::{self, ArtifactRef, IdentityMatch, SignerRequirement, TrustedRoot};

use crate::args::{SigstoreCommand, VerifyBundleArgs};
use crate::exit::ExitStatus;

pub fn run(command: SigstoreCommand) -> anyhow::Result<ExitStatus> {
    match command {
        SigstoreCommand::VerifyBundle(args) => verify_bundle(args),
    }
}

fn verify_bundle(args: VerifyBundleArgs) -> anyhow::Result<ExitStatus> {
    let root = TrustedRoot::load_or_production(args.trusted_root.as_deref())?;
    let signer = match (
        args.key,
        args.certificate_identity,
        args.certificate_oidc_issuer,
    ) {
        (Some(key), _, _) => SignerRequirement::key_file(&key)?,
        (None, Some(identity), Some(issuer)) => SignerRequirement::Identity {
            identity: IdentityMatch::Exact(identity),
            issuer,
        },
        _ => unreachable!(
            "clap requires --key or --certificate-identity with --certificate-oidc-issuer"
        ),
    };
    let artifact = ArtifactRef::parse(&args.artifact)?;
    let verified = sigstore::verify(&args.bundle, &artifact, &signer, &root)?;
    match (&verified.identity, &verified.issuer) {
        (Some(identity), Some(issuer)) => {
            eprintln!(
                "verified: {} signed by {identity} ({issuer})",
                args.bundle.display()
            )
        }
        _ => eprintln!(
            "verified: {} signed by the given key",
            args.bundle.display()
        ),
    }
    Ok(ExitStatus::Success)
}
