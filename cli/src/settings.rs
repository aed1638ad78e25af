//! Flags, environment and files merged into the settings the libraries take.
//! Precedence: flag, then environment variable, then configuration file, then default.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use mcpin_launcher::locate::BaseDirs;
use mcpin_registry_client::npm::{Expansion, NpmConfig};
use mcpin_registry_client::pypi::WheelTarget;
use mcpin_registry_client::{HttpSettings, Settings, mcp, pypi};
use url::Url;

use crate::args::RegistryArgs;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn url(value: &str, what: &str) -> anyhow::Result<Url> {
    Url::parse(value).with_context(|| format!("{what}: `{value}` is not a URL"))
}

/// Which registry configuration a command may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryScope {
    /// `mcpin run`, `mcpin install` and `mcpin wrap`, started in a directory an attacker may
    /// control: only the user's `~/.npmrc` (or `--npmrc` files), never the project's, never
    /// `$NPM_CONFIG_USERCONFIG`, and `${VAR}` in them is never expanded.
    Launch,
    /// Publisher and maintenance commands (`fetch`, `store`, `attest`, `sign`/`verify` of
    /// `oci:`), run in the publisher's own tree: npm's files (`$NPM_CONFIG_USERCONFIG` or
    /// `~/.npmrc`, then `./.npmrc`) with `${VAR}` expanded, as npm does in CI.
    Publisher,
}

/// The registry client's settings for publisher commands without registry flags (the
/// environment still applies: `MCPIN_STORE`, `MCPIN_OFFLINE`, …).
pub fn registry_defaults() -> anyhow::Result<Settings> {
    registry(
        RegistryArgs {
            store: None,
            offline: false,
            npm_registry: None,
            npmrc: Vec::new(),
            allow_sha1: false,
            pypi_index: None,
            mcp_registry: None,
            retries: 3,
            timeout: 60,
        },
        false,
        RegistryScope::Publisher,
    )
}

/// Resolves the registry client's settings.
pub fn registry(
    args: RegistryArgs,
    progress: bool,
    scope: RegistryScope,
) -> anyhow::Result<Settings> {
    let RegistryArgs {
        store,
        offline,
        npm_registry,
        npmrc,
        allow_sha1,
        pypi_index,
        mcp_registry,
        retries,
        timeout,
    } = args;
    let dirs = BaseDirs::from_env();
    let store = match store.or_else(|| env("MCPIN_STORE").map(PathBuf::from)) {
        Some(store) => store,
        None => dirs.store()
            .context("no store location: pass --store DIR or set MCPIN_STORE (neither XDG_DATA_HOME nor HOME is set)")?,
    };
    let offline = offline
        || match env("MCPIN_OFFLINE").as_deref() {
            None | Some("0" | "false" | "no") => false,
            Some("1" | "true" | "yes") => true,
            Some(other) => bail!("MCPIN_OFFLINE={other}: expected 1 or 0"),
        };
    let expansion = match scope {
        RegistryScope::Launch => Expansion::Never,
        RegistryScope::Publisher => Expansion::FromEnvironment,
    };
    let npmrc_files = match scope {
        _ if !npmrc.is_empty() => npmrc,
        RegistryScope::Launch => dirs.user_npmrc().into_iter().collect(),
        RegistryScope::Publisher => {
            let cwd = std::env::current_dir().context("reading the current directory")?;
            let user = std::env::var_os("NPM_CONFIG_USERCONFIG")
                .or_else(|| std::env::var_os("npm_config_userconfig"))
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
                .or_else(|| dirs.user_npmrc());
            NpmConfig::publisher_files(user, &cwd)
        }
    };
    let mut npm = NpmConfig::load(&npmrc_files, expansion)?;
    if let Some(registry) = npm_registry.or_else(|| env("MCPIN_NPM_REGISTRY")) {
        npm.registry = url(&registry, "--npm-registry / MCPIN_NPM_REGISTRY")?;
    }
    npm.allow_sha1 = allow_sha1;
    let pypi_index = pypi_index
        .or_else(|| env("MCPIN_PYPI_INDEX"))
        .unwrap_or_else(|| pypi::DEFAULT_INDEX.to_owned());
    let mcp_registry = mcp_registry
        .or_else(|| env("MCPIN_MCP_REGISTRY"))
        .unwrap_or_else(|| mcp::DEFAULT_REGISTRY.to_owned());
    Ok(Settings {
        store,
        http: HttpSettings {
            offline,
            connect_timeout: Duration::from_secs(timeout),
            read_timeout: Duration::from_secs(timeout),
            retries,
            ..HttpSettings::default()
        },
        npm,
        pypi_index: url(&pypi_index, "--pypi-index / MCPIN_PYPI_INDEX")?,
        mcp_registry: url(&mcp_registry, "--mcp-registry / MCPIN_MCP_REGISTRY")?,
        progress,
        owner: mcpin_registry_client::store::Owner::current(),
        wheel_target: WheelTarget::current(),
    })
}
