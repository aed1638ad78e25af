use std::time::Duration;

use anyhow::{Context, bail};
use mcpin_registry_client::attestations::oci as oci_store;
use mcpin_registry_client::{Client, Spec};
use mcpin_verifier::SecretKey;
use mcpin_verifier::policy::{Policy, SignerKind};
use mcpin_verifier::sigstore::TrustedRoot;

use super::{passphrase_from_env, write_atomic};
use crate::args::ReviewArgs;
use crate::exit::ExitStatus;
use crate::output;
use crate::settings::RegistryScope;

pub fn run(args: ReviewArgs) -> anyhow::Result<ExitStatus> {
    // A bare MCP registry name (`io.github.owner/server`) is an `mcp:` spec.
    let spec_text =
        if !args.spec.contains(':') && args.spec.contains('/') && !args.spec.starts_with('@') {
            format!("mcp:{}", args.spec)
        } else {
            args.spec.clone()
        };
    let spec = Spec::parse(&spec_text)?;
    let policy = args
        .policy
        .as_deref()
        .map(|path| {
            Policy::load(path).with_context(|| format!("loading policy `{}`", path.display()))
        })
        .transpose()?;
    let root =
        TrustedRoot::load_or_production(policy.as_ref().and_then(|p| p.trusted_root.as_deref()))?;
    // Load the key first: a wrong passphrase should not cost a review.
    let key = match (&args.key, args.approve) {
        (Some(path), true) => {
            let passphrase = passphrase_from_env(args.passphrase_env.as_deref())?;
            Some(
                SecretKey::load(path, passphrase.as_deref())
                    .with_context(|| format!("loading signing key `{}`", path.display()))?,
            )
        }
        _ => None,
    };
    let settings = crate::settings::registry(args.registry, true, RegistryScope::Publisher)?;
    let npm_registry = settings.npm.registry_for(&spec_name(&spec)).to_string();
    let pypi_index = settings.pypi_index.to_string();
    let client = Client::new(settings)?;
    let mcpin = std::env::current_exe().context("finding the mcpin binary")?;
    let review = mcpin_review::review(
        &client,
        &mcpin_review::Request {
            spec: &spec,
            policy: policy.as_ref(),
            root: &root,
            entry: args.entry.as_deref(),
            server_args: &args.server_args,
            timeout: Duration::from_secs(args.capture_timeout),
            lock_registry: args.lock_registry.clone(),
            npm_registry,
            pypi_index,
            sandbox: Some(&mcpin),
        },
    )?;
    eprint!("{}", mcpin_review::text(&review));
    if args.json {
        output::json(&review)?;
    } else if args.markdown {
        output::text(&mcpin_review::markdown(&review))?;
    }
    if !review.blocking.is_empty() {
        if args.approve {
            eprintln!("mcpin: not approved: the review has findings that block an approval");
        }
        return Ok(ExitStatus::Denied);
    }
    let (Some(key), Some(policy)) = (key, policy.as_ref()) else {
        return Ok(ExitStatus::Success);
    };
    approve(
        &client,
        args.expires.as_deref(),
        args.add_to_policy.as_deref(),
        &review,
        &key,
        policy,
    )?;
    Ok(ExitStatus::Success)
}

fn spec_name(spec: &Spec) -> String {
    match spec {
        Spec::Npm { name, .. } | Spec::Pypi { name, .. } | Spec::Mcp { name, .. } => name.clone(),
        Spec::Oci(reference) => reference.repository.clone(),
    }
}

/// Where an approval is written.
enum ApprovalStore<'a> {
    Dir(&'a std::path::Path),
    Oci(&'a mcpin_registry_client::oci::Reference),
}

/// Signs the package statement and the approval into the policy's store (`[store] dir`, else
/// `[store] oci`), and adds or updates the package rule when asked.
fn approve(
    client: &Client,
    expires: Option<&str>,
    add_to_policy: Option<&std::path::Path>,
    review: &mcpin_review::Review,
    key: &SecretKey,
    policy: &Policy,
) -> anyhow::Result<()> {
    let signer = policy
        .signers
        .iter()
        .find(|signer| matches!(&signer.kind, SignerKind::Key(k) if k.id() == key.id()))
        .with_context(|| {
            format!(
                "the key {} is not a signer of policy `{}`: add it as a [[signers]] public-key first",
                key.id(),
                policy.path.display()
            )
        })?;
    // A directory store first, as the launch reads it first.
    let store = match (&policy.store_dir, &policy.store_oci) {
        (Some(dir), _) => ApprovalStore::Dir(dir),
        (None, Some(location)) => ApprovalStore::Oci(location),
        (None, None) => bail!(
            "policy `{}` has no [store] (dir or oci) to write the approval into",
            policy.path.display()
        ),
    };
    let expires = match expires {
        Some(date) => mcpin_verifier::policy::parse_time(date)
            .map_err(|why| anyhow::anyhow!("--expires: {why}"))?,
        None => jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(90 * 24))
            .context("90 days from now")?,
    };
    let approval = mcpin_review::approve(review, key, &signer.id, expires)
        .map_err(|blocking| anyhow::anyhow!("not approved: {}", blocking.join("; ")))?;
    // The files a store holds for this artifact, named as `mcpin sign` and `approve` name them.
    let mut files = vec![
        (
            format!("{}.sigstore.json", signer.id),
            &approval.package_bundle,
            oci_store::BUNDLE_MEDIA_TYPE,
        ),
        (
            format!("{}.approval.sigstore.json", signer.id),
            &approval.approval_bundle,
            oci_store::BUNDLE_MEDIA_TYPE,
        ),
    ];
    if let Some(sbom) = &approval.sbom {
        files.push((
            format!("{}.cdx.json", signer.id),
            sbom,
            oci_store::SBOM_MEDIA_TYPE,
        ));
    }
    eprintln!(
        "approved {} (sha256:{}) as `{}` until {expires}",
        review.package.purl, review.sha256, signer.id,
    );
    match store {
        ApprovalStore::Dir(dir) => {
            let entry = dir.join(&review.sha256);
            mcpin_registry_client::store::create_private_dir_all(&entry)
                .with_context(|| format!("creating `{}`", entry.display()))?;
            for (name, bytes, _) in &files {
                let path = entry.join(name);
                write_atomic(&path, bytes)?;
                eprintln!("wrote {}", path.display());
            }
        }
        ApprovalStore::Oci(location) => {
            // Pushed as `mcpin attest push` would push the same files.
            let staging = tempfile::tempdir().context("creating a staging directory")?;
            let store = oci_store::OciStore::new(client, location);
            for (name, bytes, media_type) in &files {
                let path = staging.path().join(name);
                fs_err::write(&path, bytes)?;
                let pushed = store
                    .push(&review.sha256, review.package.size, &path, media_type)
                    .with_context(|| format!("pushing {name} to {location}"))?;
                eprintln!(
                    "attached {name} to sha256:{} in {location} as {}",
                    review.sha256, pushed.manifest
                );
            }
        }
    }
    if let Some(file) = add_to_policy {
        let done = match add_rule(file, review, &signer.id)? {
            mcpin_review::RuleChange::Added { rule } => {
                format!("added [[packages]] rule {rule} and its [[servers]] launch command")
            }
            mcpin_review::RuleChange::Updated { rule, from } => format!(
                "updated [[packages]] rule {rule} (version {} → {}) and the [[servers]] launch command of that version",
                from.as_deref().unwrap_or("any"),
                review.package.version
            ),
        };
        eprintln!(
            "{done} for {} in {}: sign the policy again (`mcpin policy sign {} --key ROOT_KEY`), then compile the client allowlists (`mcpin policy compile`)",
            review.package.purl,
            file.display(),
            file.display()
        );
    }
    Ok(())
}

/// Adds the rule for exactly this version and digest (required to be signed by `signer` and by
/// each Sigstore signer the registry's provenance satisfied) and its launch command, or updates
/// the rule that already names the package (see [`mcpin_review::add_or_update`]). The result
/// must validate before it replaces the file.
fn add_rule(
    file: &std::path::Path,
    review: &mcpin_review::Review,
    signer: &str,
) -> anyhow::Result<mcpin_review::RuleChange> {
    let text = fs_err::read_to_string(file)?;
    Policy::parse(file, &text)?;
    let mut require_all = vec![signer.to_owned()];
    require_all.extend(review.provenance.signers.iter().cloned());
    require_all.dedup();
    let (updated, change) = mcpin_review::add_or_update(
        &text,
        &mcpin_review::Approved {
            package: &review.package,
            sha256: &review.sha256,
            require_all: &require_all,
            date: &jiff::Timestamp::now().strftime("%Y-%m-%d").to_string(),
        },
    )
    .with_context(|| format!("adding the rule to `{}`", file.display()))?;
    Policy::parse(file, &updated).context("the policy with the added rule does not validate")?;
    write_atomic(file, updated.as_bytes())?;
    Ok(change)
}
