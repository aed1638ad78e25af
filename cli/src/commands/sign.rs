use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use mcpin_attestation::{
    PACKAGE_PREDICATE_TYPE, PackagePredicate, STATEMENT_TYPE_V1, Statement, Subject,
};
use mcpin_tools::{ArtifactServer, ClientOptions};
use mcpin_verifier::SecretKey;
use serde_json::json;

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

    let predicate = PackagePredicate {
        package: identified.package.clone(),
        tools,
        lock: None,
        sbom: None,
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
    write_atomic(&out, &bundle.to_json_pretty())?;
    eprintln!(
        "signed {} (sha256:{}) with key {}\nwrote {}",
        identified.package.purl,
        identified.digests.sha256,
        key.id(),
        out.display()
    );
    if args.json {
        output::json(&json!({
            "bundle": out,
            "purl": identified.package.purl,
            "sha256": identified.digests.sha256,
            "sha512": identified.digests.sha512,
            "keyId": key.id().as_str(),
            "toolsDigest": tools_digest,
        }))?;
    }
    Ok(ExitStatus::Success)
}
