use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mcpin_launcher::locate::BaseDirs;
use mcpin_verifier::policy::{self, Policy};
use mcpin_verifier::{PublicKey, SecretKey};

use super::{passphrase_from_env, write_atomic};
use crate::args::{PolicyCheckArgs, PolicyCommand, PolicyInitArgs, PolicySignArgs};
use crate::exit::ExitStatus;
use crate::output;

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitStatus> {
    match command {
        PolicyCommand::Init(args) => init(args),
        PolicyCommand::Check(args) => check(args),
        PolicyCommand::Sign(args) => sign(args),
        PolicyCommand::Schema => {
            output::json(&policy::json_schema())?;
            Ok(ExitStatus::Success)
        }
        PolicyCommand::Compile(args) => super::fleet::compile(args),
        PolicyCommand::Publish(args) => super::fleet::publish(args),
        PolicyCommand::Pull(args) => super::fleet::pull(args),
    }
}

/// The policy-root key from `--policy-root-key` or `MCPIN_POLICY_ROOT_KEY`.
pub fn policy_root_key(flag: Option<&Path>) -> anyhow::Result<Option<PublicKey>> {
    let path = match flag {
        Some(path) => path.to_owned(),
        None => match std::env::var_os("MCPIN_POLICY_ROOT_KEY") {
            Some(value) if !value.is_empty() => PathBuf::from(value),
            _ => return Ok(None),
        },
    };
    let key = PublicKey::load(&path)
        .with_context(|| format!("loading policy-root key `{}`", path.display()))?;
    Ok(Some(key))
}

/// `--state-dir`, `MCPIN_STATE_DIR`, else the base directories' state dir
/// (`$XDG_STATE_HOME/mcpin` or `~/.local/state/mcpin`).
pub fn state_dir(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_owned());
    }
    if let Some(dir) = std::env::var_os("MCPIN_STATE_DIR").filter(|value| !value.is_empty()) {
        return Ok(dir.into());
    }
    BaseDirs::from_env()
        .state_dir()
        .context("no state directory: set --state-dir, MCPIN_STATE_DIR or HOME")
}

fn init(args: PolicyInitArgs) -> anyhow::Result<ExitStatus> {
    match args.out {
        Some(path) => {
            if path.exists() {
                bail!(
                    "`{}` already exists; refusing to overwrite a policy",
                    path.display()
                );
            }
            write_atomic(&path, policy::TEMPLATE.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        None => output::text(policy::TEMPLATE)?,
    }
    Ok(ExitStatus::Success)
}

fn check(args: PolicyCheckArgs) -> anyhow::Result<ExitStatus> {
    let bytes = fs_err::read(&args.policy)?;
    let text = String::from_utf8(bytes.clone())
        .with_context(|| format!("policy `{}` is not UTF-8", args.policy.display()))?;
    let policy = Policy::parse(&args.policy, &text)?;
    if let Some(root) = policy_root_key(args.policy_root_key.as_deref())? {
        let pins = policy::verify_policy_signature(&args.policy, &bytes, &root)?;
        if let Err(message) = mcpin_verifier::gate::check_pins(&policy, &pins) {
            bail!("policy-reference-changed: {message}");
        }
        if let Some(file) = &policy.trusted_root {
            mcpin_verifier::sigstore::TrustedRoot::from_file_pinned(
                file,
                pins.trusted_root_sha256.as_deref(),
            )?;
        }
        eprintln!("signature: ok (policy-root key {})", root.id());
    }
    eprintln!(
        "{}: ok: policy `{}` version {}, {} signer(s), {} package rule(s), {} server(s){}{}",
        args.policy.display(),
        policy.name,
        policy.version,
        policy.signers.len(),
        policy.packages.len(),
        policy.servers.len(),
        policy
            .expires
            .map(|expires| format!(", expires {expires}"))
            .unwrap_or_default(),
        policy
            .max_age
            .as_ref()
            .map(|max_age| format!(", max-age {}", max_age.text))
            .unwrap_or_default()
    );
    Ok(ExitStatus::Success)
}

fn sign(args: PolicySignArgs) -> anyhow::Result<ExitStatus> {
    let passphrase = passphrase_from_env(args.passphrase_env.as_deref())?;
    let key = SecretKey::load(&args.key, passphrase.as_deref())
        .with_context(|| format!("loading signing key `{}`", args.key.display()))?;
    let bytes = fs_err::read(&args.policy)?;
    let text = String::from_utf8(bytes.clone())
        .with_context(|| format!("policy `{}` is not UTF-8", args.policy.display()))?;
    // Never sign a policy that would be refused.
    let policy = Policy::parse(&args.policy, &text)?;
    let file_name = args
        .policy
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bundle = policy::sign_policy(&bytes, &file_name, &policy.pins()?, &key);
    let out = policy::signature_path(&args.policy);
    write_atomic(&out, &bundle.to_json_pretty())?;
    eprintln!(
        "signed policy `{}` version {} with key {}\nwrote {}",
        args.policy.display(),
        policy.version,
        key.id(),
        out.display()
    );
    Ok(ExitStatus::Success)
}
