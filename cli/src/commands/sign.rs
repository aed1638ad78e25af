use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use mcpin_attestation::{
    CYCLONEDX_JSON_MEDIA_TYPE, PACKAGE_PREDICATE_TYPE, PackagePredicate, SbomRef, Statement,
};
use mcpin_sbom::SbomFacts;
use mcpin_tools::{ArtifactServer, ClientOptions};
use mcpin_verifier::{SecretKey, keyless};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{beside, passphrase_from_env, write_atomic};
use crate::args::SignArgs;
use crate::exit::ExitStatus;
use crate::output;

pub fn run(args: SignArgs) -> anyhow::Result<ExitStatus> {
    // Load the key first: a wrong passphrase should not cost a capture.
    let key = match &args.key {
        Some(key_path) => {
            let passphrase = passphrase_from_env(args.passphrase_env.as_deref())?;
            Some(
                SecretKey::load(key_path, passphrase.as_deref())
                    .with_context(|| format!("loading signing key `{}`", key_path.display()))?,
            )
        }
        None => None,
    };
    if super::oci_reference(&args.artifact).is_some()
        && (args.lock.is_some() || args.sbom.is_some() || args.tools.is_some() || args.capture)
    {
        bail!("--lock, --sbom, --tools and --capture are not supported for an OCI image yet");
    }
    let oci = super::oci_subject(&args.artifact)?;
    let identified = match &oci {
        Some(image) => image.identified.clone(),
        None => mcpin_artifact::identify(&args.artifact)
            .with_context(|| format!("reading artifact `{}`", args.artifact.display()))?,
    };

    let lock = match &args.lock {
        Some(path) => {
            let lock = super::sbom::read_lock(path)?;
            if lock.ecosystem() != identified.package.ecosystem
                || lock.root.name != identified.package.name
                || lock.root.version != identified.package.version
            {
                bail!(
                    "lock `{}` is for {} {}@{}, not for the artifact {}",
                    path.display(),
                    lock.ecosystem(),
                    lock.root.name,
                    lock.root.version,
                    identified.package.purl
                );
            }
            Some(lock)
        }
        None => None,
    };
    let sbom = match &args.sbom {
        Some(path) => Some((
            path,
            mcpin_sbom::read_sbom_file(path)
                .with_context(|| format!("reading SBOM `{}`", path.display()))?,
        )),
        None => None,
    };
    let tools = if let Some(path) = &args.tools {
        Some(
            mcpin_tools::read_section(path)
                .with_context(|| format!("reading tools payload `{}`", path.display()))?,
        )
    } else if args.capture {
        let options = ClientOptions {
            step_timeout: Duration::from_secs(args.timeout),
            ..ClientOptions::default()
        };
        let server = ArtifactServer {
            artifact: &args.artifact,
            package: &identified.package,
            entry: args.entry.as_deref(),
            args: &args.server_args,
            isolation: None,
        };
        let section = mcpin_tools::capture_artifact(&server, &options)
            .with_context(|| format!("capturing the tools of `{}`", args.artifact.display()))?;
        eprintln!(
            "captured {} tool(s) from {}: {}",
            section.payload.tools.len(),
            super::tools::server_name(&section.payload.server_info),
            section.digest
        );
        Some(section)
    } else {
        None
    };
    let tools_digest = tools.as_ref().map(|tools| tools.digest.clone());
    let sbom_ref = match &sbom {
        Some((path, bytes)) => Some(sbom_ref(
            path,
            bytes,
            &identified.package.purl,
            &[
                ("mcpin:lock:digest", lock.as_ref().map(|lock| lock.digest())),
                ("mcpin:tools:digest", tools_digest.clone()),
            ],
        )?),
        None => None,
    };

    let predicate = PackagePredicate {
        package: identified.package.clone(),
        tools,
        lock,
        sbom: sbom_ref,
    };
    let statement = Statement::about_artifact(
        &identified.package.purl,
        &identified.digests.sha256,
        &identified.digests.sha512,
        PACKAGE_PREDICATE_TYPE,
        serde_json::to_value(&predicate)?,
    );
    let out = args.out.clone().unwrap_or_else(|| match &oci {
        Some(image) => super::oci_bundle_name(&image.identified),
        None => beside(&args.artifact, ".sigstore.json"),
    });
    let sbom_copy = match &sbom {
        Some((_, bytes)) => {
            let copy = mcpin_registry_client::attestations::sbom_beside(&out);
            write_atomic(&copy, bytes)?;
            Some(copy)
        }
        None => None,
    };
    let signer = match &key {
        Some(key) => {
            let bundle = mcpin_verifier::sign_statement(&statement, key);
            write_atomic(&out, &bundle.to_json_pretty())?;
            eprintln!("signed with key {}", key.id());
            json!({ "keyId": key.id().as_str() })
        }
        None => {
            let identity = sign_keyless(&args, &statement, &out)?;
            eprintln!("signed as {} ({})", identity.identity, identity.issuer);
            json!({ "identity": identity.identity, "issuer": identity.issuer })
        }
    };
    eprintln!(
        "signed {} (sha256:{})\nwrote {}",
        identified.package.purl,
        identified.digests.sha256,
        out.display()
    );
    if let Some(copy) = &sbom_copy {
        eprintln!("wrote {} (the signed SBOM)", copy.display());
    }
    if args.json {
        let mut summary = json!({
            "bundle": out,
            "purl": identified.package.purl,
            "sha256": identified.digests.sha256,
            "sha512": identified.digests.sha512,
            "sbom": sbom_copy,
            "toolsDigest": tools_digest,
            "tag": oci.as_ref().and_then(|image| image.tag.clone()),
            "indexDigest": oci.as_ref().and_then(|image| image.fetched.index_digest.clone()),
        });
        summary
            .as_object_mut()
            .expect("an object")
            .extend(signer.as_object().expect("an object").clone());
        output::report(&summary)?;
    }
    Ok(ExitStatus::Success)
}

/// Keyless: the token from --identity-token, SIGSTORE_ID_TOKEN or the CI's ambient OIDC.
fn sign_keyless(
    args: &SignArgs,
    statement: &Statement,
    out: &std::path::Path,
) -> anyhow::Result<keyless::TokenIdentity> {
    let given = args.identity_token.clone().or_else(|| {
        std::env::var("SIGSTORE_ID_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
    });
    let token = match given {
        Some(jwt) => keyless::Token::parse(&jwt)?,
        None => keyless::Token::ambient()?,
    };
    let identity = token.identity();
    let mut services = keyless::Services::public_good()?;
    if let Some(fulcio) = &args.fulcio_url {
        services.fulcio = fulcio.clone();
    }
    if let Some(rekor) = &args.rekor_url {
        services.rekor = rekor.clone();
    }
    eprintln!(
        "signing as {} (issuer {}, token valid until {}) via {}",
        identity.identity, identity.issuer, identity.expires, services.fulcio
    );
    let bundle = keyless::sign_statement(statement, token, &services)?;
    write_atomic(out, &bundle)?;
    Ok(identity)
}

/// The predicate's reference to an SBOM, after checking that the SBOM is a
/// CycloneDX document about this artifact and that the lock and tools digests
/// it claims (`mcpin:*:digest` metadata properties) are the ones being signed.
fn sbom_ref(
    path: &Path,
    bytes: &[u8],
    purl: &str,
    signed_digests: &[(&str, Option<String>)],
) -> anyhow::Result<SbomRef> {
    let facts = SbomFacts::from_json(bytes)
        .with_context(|| format!("reading SBOM `{}`", path.display()))?;
    for (property, signed) in signed_digests {
        if let (Some(claimed), Some(signed)) = (facts.properties.get(*property), signed)
            && claimed != signed
        {
            bail!(
                "SBOM `{}` has {property} {claimed}, but the statement signs {signed}",
                path.display()
            );
        }
    }
    let subject = facts.subject.and_then(|subject| subject.purl);
    if subject.as_deref() != Some(purl) {
        bail!(
            "SBOM `{}` describes {}, not the artifact {purl}",
            path.display(),
            subject.as_deref().unwrap_or("no metadata.component purl")
        );
    }
    Ok(SbomRef {
        media_type: CYCLONEDX_JSON_MEDIA_TYPE.to_owned(),
        sha256: hex::encode(Sha256::digest(bytes)),
    })
}
