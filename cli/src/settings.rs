//! Flags, environment and files merged into the settings the libraries take.
//! Precedence: flag, then environment variable, then configuration file, then default.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use mcpin_registry_client::npm::NpmConfig;
use mcpin_registry_client::pypi::WheelTarget;
use mcpin_registry_client::{HttpSettings, Settings, Store, mcp, pypi};
use url::Url;

use crate::args::RegistryArgs;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn url(value: &str, what: &str) -> anyhow::Result<Url> {
    Url::parse(value).with_context(|| format!("{what}: `{value}` is not a URL"))
}

/// The registry client's settings for commands without registry flags (the environment
/// still applies: `MCPIN_STORE`, `MCPIN_OFFLINE`, …).
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
    )
}

/// Resolves the registry client's settings.
pub fn registry(args: RegistryArgs, progress: bool) -> anyhow::Result<Settings> {
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
    let store = match store.or_else(|| env("MCPIN_STORE").map(PathBuf::from)) {
        Some(store) => store,
        None => Store::default_root()
            .context("no store location: pass --store DIR or set MCPIN_STORE (neither XDG_DATA_HOME nor HOME is set)")?,
    };
    let offline = offline
        || match env("MCPIN_OFFLINE").as_deref() {
            None | Some("0" | "false" | "no") => false,
            Some("1" | "true" | "yes") => true,
            Some(other) => bail!("MCPIN_OFFLINE={other}: expected 1 or 0"),
        };
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let npmrc_files = if npmrc.is_empty() {
        NpmConfig::default_files(&cwd)
    } else {
        npmrc
    };
    let mut npm = NpmConfig::load(&npmrc_files)?;
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
        wheel_target: WheelTarget::current(),
    })
}
