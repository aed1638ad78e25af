//! npm: `npm install --package-lock-only` over the package's own run-time
//! dependencies, with a private, empty user config.

use std::collections::BTreeMap;
use std::process::Command;

use mcpin_artifact::Identified;
use mcpin_attestation::{Lock, LockRoot, LockedPackages, NpmPackage};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{LockOptions, ResolveError, run};

/// The manifest keys that decide what npm installs for a package used as a
/// dependency. `devDependencies`, `overrides` and `scripts` do not apply there.
const RUNTIME_KEYS: &[&str] = &[
    "dependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
];

pub(super) fn lock(identified: &Identified, options: &LockOptions) -> Result<Lock, ResolveError> {
    let manifest: Map<String, Value> =
        serde_json::from_slice(&identified.metadata.bytes).map_err(|error| {
            ResolveError::Manifest {
                path: identified.metadata.path.clone(),
                why: error.to_string(),
            }
        })?;
    let mut root = Map::new();
    root.insert("name".into(), identified.package.name.clone().into());
    root.insert("version".into(), identified.package.version.clone().into());
    for key in RUNTIME_KEYS {
        if let Some(value) = manifest.get(*key) {
            root.insert((*key).into(), value.clone());
        }
    }

    let dir = tempfile::tempdir()?;
    fs_err::write(
        dir.path().join("package.json"),
        serde_json::to_vec(&root).expect("a JSON map serializes"),
    )?;
    // A private user config: quirks like `omit-lockfile-registry-resolved`
    // or `package-lock=false` in the user's .npmrc must not shape the lock.
    let userconfig = dir.path().join("npmrc");
    fs_err::write(&userconfig, b"")?;
    let registry = match &options.registry {
        Some(registry) => registry.clone(),
        None => configured_registry()?,
    };
    let mut command = Command::new("npm");
    command
        .current_dir(dir.path())
        .args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--lockfile-version=3",
            "--omit-lockfile-registry-resolved=false",
            "--userconfig",
        ])
        .arg(&userconfig)
        .arg("--registry")
        .arg(&registry);
    clear_npm_env(&mut command);
    run("npm", &mut command)?;

    let bytes = fs_err::read(dir.path().join("package-lock.json"))?;
    from_package_lock(
        &identified.package.name,
        &identified.package.version,
        &bytes,
    )
}

/// `npm config get registry` with the user's own configuration: the registry
/// (a mirror, a proxy) is the one setting we keep.
fn configured_registry() -> Result<String, ResolveError> {
    let mut command = Command::new("npm");
    command.args(["config", "get", "registry"]);
    let stdout = run("npm", &mut command)?;
    let registry = String::from_utf8_lossy(&stdout).trim().to_owned();
    if registry.is_empty() || registry == "undefined" {
        return Ok("https://registry.npmjs.org/".to_owned());
    }
    Ok(registry)
}

/// `npm_config_*` variables are configuration too.
fn clear_npm_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key
            .to_str()
            .is_some_and(|key| key.to_ascii_lowercase().starts_with("npm_config_"))
        {
            command.env_remove(key);
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageLock {
    lockfile_version: u32,
    packages: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    name: Option<String>,
    version: Option<String>,
    resolved: Option<String>,
    integrity: Option<String>,
    license: Option<Value>,
    #[serde(default)]
    bin: BTreeMap<String, String>,
    #[serde(default)]
    has_install_script: bool,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    link: bool,
    #[serde(default)]
    in_bundle: bool,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, String>,
    #[serde(default)]
    peer_dependencies: BTreeMap<String, String>,
}

impl Entry {
    fn all_dependencies(&self) -> BTreeMap<String, String> {
        let mut all = self.peer_dependencies.clone();
        all.extend(self.optional_dependencies.clone());
        all.extend(self.dependencies.clone());
        all
    }
}

/// Rewrites a package-lock v3 into a [`Lock`]; every entry must carry a
/// registry URL and a sha512 integrity.
pub(crate) fn from_package_lock(
    name: &str,
    version: &str,
    bytes: &[u8],
) -> Result<Lock, ResolveError> {
    let output = |why: String| ResolveError::Output {
        file: "package-lock.json",
        why,
    };
    let lock: PackageLock = serde_json::from_slice(bytes).map_err(|e| output(e.to_string()))?;
    if lock.lockfile_version < 2 {
        return Err(output(format!(
            "lockfileVersion {} has no `packages` section",
            lock.lockfile_version
        )));
    }
    let root = lock
        .packages
        .get("")
        .ok_or_else(|| output("no root entry".into()))?;
    let root = LockRoot {
        name: name.to_owned(),
        version: version.to_owned(),
        dependencies: root.all_dependencies().into_keys().collect(),
    };
    let mut packages = Vec::new();
    for (path, entry) in &lock.packages {
        // Bundled dependencies ship inside their parent's tarball, so the
        // parent's integrity covers them; they have no URL of their own.
        if path.is_empty() || entry.dev || entry.in_bundle {
            continue;
        }
        let incomplete = |field, why: &str| ResolveError::Incomplete {
            path: path.clone(),
            field,
            why: why.to_owned(),
        };
        if entry.link {
            return Err(incomplete(
                "resolved",
                "it is a link, not a registry package",
            ));
        }
        let name = match &entry.name {
            Some(name) => name.clone(),
            None => path
                .rsplit_once("node_modules/")
                .map(|(_, name)| name.to_owned())
                .ok_or_else(|| incomplete("name", "the path has no node_modules/ segment"))?,
        };
        let version = entry
            .version
            .clone()
            .ok_or_else(|| incomplete("version", "missing"))?;
        let resolved = entry
            .resolved
            .clone()
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
            .ok_or_else(|| incomplete("resolved", "missing or not a registry URL"))?;
        let integrity = entry
            .integrity
            .as_deref()
            .and_then(|sri| sri.split_whitespace().find(|h| h.starts_with("sha512-")))
            .ok_or_else(|| incomplete("integrity", "no sha512 integrity"))?
            .to_owned();
        let license = match &entry.license {
            Some(Value::String(license)) => Some(license.clone()),
            Some(Value::Object(object)) => object
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        packages.push(NpmPackage {
            path: path.clone(),
            name,
            version,
            resolved,
            integrity,
            license,
            bin: entry.bin.clone(),
            has_install_script: entry.has_install_script,
            optional: entry.optional,
            dependencies: entry.all_dependencies(),
        });
    }
    Ok(Lock::new(root, LockedPackages::Npm { packages }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_lock_entries_become_lock_entries() {
        let lock = from_package_lock(
            "server",
            "1.0.0",
            br#"{"lockfileVersion":3,"packages":{
                "":{"name":"server","version":"1.0.0","dependencies":{"a":"^1"}},
                "node_modules/a":{"version":"1.0.1","resolved":"https://r/a/-/a-1.0.1.tgz",
                  "integrity":"sha1-xx sha512-AAAA","license":"MIT","hasInstallScript":true,
                  "bin":{"a":"bin/a.js"},"dependencies":{"b":"2"}},
                "node_modules/a/node_modules/b":{"version":"2.0.0","resolved":"https://r/b/-/b-2.0.0.tgz",
                  "integrity":"sha512-BBBB"}}}"#,
        )
        .unwrap();
        assert_eq!(lock.root.dependencies, vec!["a"]);
        let LockedPackages::Npm { packages } = &lock.packages else {
            panic!("npm lock expected")
        };
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0].integrity, "sha512-AAAA");
        assert!(packages[0].has_install_script);
        assert_eq!(packages[0].license.as_deref(), Some("MIT"));
        assert_eq!(packages[1].name, "b");
    }

    #[test]
    fn entries_without_resolved_or_sha512_are_refused() {
        let missing_resolved = from_package_lock(
            "s",
            "1",
            br#"{"lockfileVersion":3,"packages":{"":{},"node_modules/a":{"version":"1","integrity":"sha512-A"}}}"#,
        );
        assert!(matches!(
            missing_resolved,
            Err(ResolveError::Incomplete { field: "resolved", ref path, .. }) if path == "node_modules/a"
        ));
        let sha1_only = from_package_lock(
            "s",
            "1",
            br#"{"lockfileVersion":3,"packages":{"":{},"node_modules/a":{"version":"1","resolved":"https://r/a.tgz","integrity":"sha1-A"}}}"#,
        );
        assert!(matches!(
            sha1_only,
            Err(ResolveError::Incomplete {
                field: "integrity",
                ..
            })
        ));
    }
}
