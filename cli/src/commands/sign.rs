use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use mcpin_attestation::{
    CYCLONEDX_JSON_MEDIA_TYPE, PACKAGE_PREDICATE_TYPE, PackagePredicate, STATEMENT_TYPE_V1,
    SbomRef, Statement, Subject,
};
use mcpin_sbom::SbomFacts;
use mcpin_tools::{ArtifactServer, ClientOptions};
use mcpin_verifier::SecretKey;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{passphrase_from_env, write_atomic};
use crate::args::SignArgs;
use crate::exit::ExitStatus;
use crate::output;

pub fn run(args: SignArgs) -> anyhow::Result<ExitStatus> {
    let passphrase = passphrase_from_env(args.passphrase_env.as_deref())?;
    let key = SecretKey::load(&args.key, passphrase.as_deref())
        .with_context(|| format!("loading signing key `{}`", args.key.display()))?;
    let identified = mcpin_artifact::identify(&args.artifact)
        .with_context(|| format!("reading artifact `{}`", args.artifact.display()))?;

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
    let statement = Statement {
        statement_type: STATEMENT_TYPE_V1.to_owned(),
        subject: vec![Subject {
            name: identified.package.purl.clone(),
            digest: BTreeMap::from([
                ("sha256".to_owned(), identified.digests.sha256.clone()),
                ("sha512".to_owned(), identified.digests.sha512.clone()),
            ]),
        }],
        predicate_type: PACKAGE_PREDICATE_TYPE.to_owned(),
        predicate: serde_json::to_value(&predicate)?,
    };
    let bundle = mcpin_verifier::sign_statement(&statement, &key);

    let out = args.out.unwrap_or_else(|| {
        let mut name = args.artifact.clone().into_os_string();
        name.push(".sigstore.json");
        name.into()
    });
    let sbom_copy = match &sbom {
        Some((_, bytes)) => {
            let copy = sbom_beside(&out);
            write_atomic(&copy, bytes)?;
            Some(copy)
        }
        None => None,
    };
    write_atomic(&out, &bundle.to_json_pretty())?;
    eprintln!(
        "signed {} (sha256:{}) with key {}\nwrote {}",
        identified.package.purl,
        identified.digests.sha256,
        key.id(),
        out.display()
    );
    if let Some(copy) = &sbom_copy {
        eprintln!("wrote {} (the signed SBOM)", copy.display());
    }
    if args.json {
        output::json(&json!({
            "bundle": out,
            "purl": identified.package.purl,
            "sha256": identified.digests.sha256,
            "sha512": identified.digests.sha512,
            "keyId": key.id().as_str(),
            "sbom": sbom_copy,
            "toolsDigest": tools_digest,
        }))?;
    }
    Ok(ExitStatus::Success)
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

/// `X.sigstore.json` → `X.cdx.json`; any other bundle name gets `.cdx.json` appended.
pub fn sbom_beside(bundle: &Path) -> PathBuf {
    let name = bundle.as_os_str().to_string_lossy();
    match name.strip_suffix(".sigstore.json") {
        Some(stem) => PathBuf::from(format!("{stem}.cdx.json")),
        None => PathBuf::from(format!("{name}.cdx.json")),
    }
}
