//! `mcpin policy compile`, `mcpin policy publish` and `mcpin policy pull`: arguments in, the
//! `mcpin_fleet` library, reports out (human text on stderr, `--json` on stdout).

use std::path::{Path, PathBuf};

use anyhow::Context;
use mcpin_fleet::compile::{self, Target};
use mcpin_fleet::publish::{self, Destination};
use mcpin_fleet::pull::{self, PullError, Source};
use mcpin_launcher::system::{self, Caller, Mode, SYSTEM_CONFIG};
use mcpin_registry_client::{Client, Settings};
use mcpin_verifier::policy::{self, Policy};
use serde_json::json;

use super::policy::policy_root_key;
use super::write_atomic;
use crate::args::{
    NetworkArgs, PolicyCompileArgs, PolicyPublishArgs, PolicyPullArgs, RegistryArgs,
};
use crate::exit::ExitStatus;
use crate::output;
use crate::settings::{self, RegistryScope};

/// The registry client's settings for publish and pull: the network flags, and the store (the
/// system store in system mode).
fn network_settings(
    network: &NetworkArgs,
    store: Option<PathBuf>,
    scope: RegistryScope,
) -> anyhow::Result<Settings> {
    settings::registry(
        RegistryArgs {
            store,
            offline: network.offline,
            npm_registry: None,
            npmrc: Vec::new(),
            allow_sha1: false,
            pypi_index: None,
            mcp_registry: None,
            retries: network.retries,
            timeout: network.timeout,
        },
        true,
        scope,
    )
}

/// Reads and parses a policy; with a policy-root key, also checks its signature and pins.
fn load_policy(path: &Path, root: Option<&Path>) -> anyhow::Result<(Policy, Vec<u8>)> {
    let bytes = fs_err::read(path)?;
    let text = String::from_utf8(bytes.clone())
        .with_context(|| format!("policy `{}` is not UTF-8", path.display()))?;
    let policy = Policy::parse(path, &text)?;
    if let Some(root) = policy_root_key(root)? {
        let pins = policy::verify_policy_signature(path, &bytes, &root)?;
        if let Err(message) = mcpin_verifier::gate::check_pins(&policy, &pins) {
            anyhow::bail!("policy-reference-changed: {message}");
        }
        eprintln!("signature: ok (policy-root key {})", root.id());
    }
    Ok((policy, bytes))
}

pub fn compile(args: PolicyCompileArgs) -> anyhow::Result<ExitStatus> {
    let targets: Vec<Target> = if args.targets.iter().any(|t| t == "all") {
        Target::ALL.to_vec()
    } else {
        args.targets
            .iter()
            .map(|name| Target::from_name(name).expect("clap checked the target"))
            .collect()
    };
    let (policy, bytes) = load_policy(&args.policy, args.policy_root_key.as_deref())?;
    let mcpin = match args.mcpin {
        Some(path) => path,
        None => std::env::current_exe()
            .and_then(fs_err::canonicalize)
            .context("finding the absolute path of this mcpin binary (or pass --mcpin)")?,
    };
    let compiled = compile::compile(&policy, &targets, &mcpin).map_err(|error| {
        let code = error.code();
        anyhow::Error::new(error).context(format!("nothing was written [{code}]"))
    })?;
    for output in &compiled.outputs {
        let path = args.out.join(&output.file);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        write_atomic(&path, &output.bytes)?;
    }
    if args.json {
        output::json(&json!({
            "schema_version": compile::SCHEMA_VERSION,
            "command": "policy compile",
            "policy": {
                "path": args.policy,
                "name": policy.name,
                "version": policy.version,
                "digest": format!("sha256:{}", mcpin_fleet::distribution::sha256_hex(&bytes)),
            },
            "mcpin": mcpin,
            "out": args.out,
            "servers": compiled.servers,
            "outputs": compiled.outputs,
        }))?;
    } else {
        eprintln!(
            "compiled {} server(s) of policy `{}` version {} for {}",
            compiled.servers.len(),
            policy.name,
            policy.version,
            mcpin.display()
        );
        for output in &compiled.outputs {
            eprintln!("wrote {}", args.out.join(&output.file).display());
            for deploy in &output.deploy {
                eprintln!("  {}: {}", deploy.on, deploy.location);
            }
            eprintln!("  {}", output.note);
        }
    }
    Ok(ExitStatus::Success)
}

pub fn publish(args: PolicyPublishArgs) -> anyhow::Result<ExitStatus> {
    let root = policy_root_key(args.policy_root_key.as_deref())?.context(
        "publishing needs the policy-root public key the signature must verify with: --policy-root-key PUB or MCPIN_POLICY_ROOT_KEY",
    )?;
    let destination = match args.to.strip_prefix("oci:") {
        Some(written) => {
            let mut reference = mcpin_registry_client::oci::Reference::parse(written)
                .map_err(|why| anyhow::anyhow!("`{}`: {why}", args.to))?;
            if reference.digest.is_some()
                || !written.starts_with(&format!("{}/", reference.registry))
            {
                anyhow::bail!(
                    "`{}`: publish to oci:HOST/REPO[:TAG] (a tag, not a digest)",
                    args.to
                );
            }
            reference.tag.get_or_insert_with(|| "latest".to_owned());
            Destination::Oci(reference)
        }
        None => Destination::Dir(PathBuf::from(&args.to)),
    };
    let refused = |error: publish::PublishError| {
        let code = error.code();
        anyhow::Error::new(error).context(format!("nothing was published [{code}]"))
    };
    let (distribution, policy, _) = publish::read_signed(&args.policy, &root).map_err(refused)?;
    let client = match &destination {
        Destination::Oci(_) => Some(Client::new(network_settings(
            &args.network,
            None,
            RegistryScope::Publisher,
        )?)?),
        Destination::Dir(_) => None,
    };
    let report =
        publish::publish(&distribution, &policy, &destination, client.as_ref()).map_err(refused)?;
    if args.json {
        output::json(&report)?;
    } else {
        eprintln!(
            "published policy `{}` version {} ({} file(s)) to {}{}",
            report.policy.name,
            report.policy.version,
            report.files.len(),
            report.destination,
            report
                .manifest
                .as_deref()
                .map(|digest| format!(" (manifest {digest})"))
                .unwrap_or_default()
        );
    }
    Ok(ExitStatus::Success)
}

pub fn pull(args: PolicyPullArgs) -> anyhow::Result<ExitStatus> {
    match run_pull(&args) {
        Ok(report) => {
            if args.json {
                output::json(&report)?;
            } else {
                eprintln!(
                    "{} policy `{}` version {} ({}) from {}: {} file(s){}",
                    match report.status {
                        pull::PullStatus::Installed => "installed",
                        pull::PullStatus::Unchanged => "unchanged:",
                    },
                    report.policy.name,
                    report.policy.version,
                    report.policy.digest,
                    report.source,
                    report.files.len(),
                    if report.removed.is_empty() {
                        String::new()
                    } else {
                        format!(", removed {}", report.removed.join(", "))
                    }
                );
            }
            Ok(ExitStatus::Success)
        }
        Err(error) => {
            if args.json {
                let code = error
                    .chain()
                    .find_map(|cause| cause.downcast_ref::<PullError>())
                    .map_or(mcpin_fleet::Code::PullConfig, PullError::code);
                output::json(&json!({
                    "schema_version": pull::SCHEMA_VERSION,
                    "source": args.source,
                    "status": "refused",
                    "reason": { "code": code.as_str(), "message": format!("{error:#}") },
                }))?;
            }
            let code = error
                .chain()
                .find_map(|cause| cause.downcast_ref::<PullError>())
                .map_or(mcpin_fleet::Code::PullConfig, PullError::code);
            Err(error.context(format!("nothing was installed [{code}]")))
        }
    }
}

fn run_pull(args: &PolicyPullArgs) -> anyhow::Result<pull::PullReport> {
    let source = Source::parse(&args.source).map_err(|why| PullError::Source {
        text: args.source.clone(),
        why,
    })?;
    let caller = Caller::current();
    let Mode::System(system) = system::load(Path::new(SYSTEM_CONFIG), caller.uid)? else {
        return Err(PullError::NotSystemMode.into());
    };
    if !caller.privileged {
        return Err(PullError::NotPrivileged.into());
    }
    let settings = network_settings(
        &args.network,
        Some(system.store.clone()),
        RegistryScope::Launch,
    )?;
    let client = Client::new(settings)?;
    Ok(pull::pull(
        &source,
        &system,
        caller.privileged,
        &client,
        jiff::Timestamp::now(),
    )?)
}
