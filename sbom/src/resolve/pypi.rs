//! PyPI: `uv pip compile` of the wheel itself for one Python version and
//! platform, wheels only unless sdists are allowed.
//!
//! uv writes the pins twice: as PEP 751 `pylock.toml` (file URLs, sizes,
//! sha256) and as `requirements.txt`, whose `# via` annotations give the
//! dependency edges that pylock.toml does not record.

use mcpin_attestation::normalize_pypi_name;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use mcpin_artifact::Identified;
use mcpin_attestation::{
    DistributionKind, Lock, LockRoot, LockedPackages, PypiFile, PypiPackage, PythonTarget,
};
use serde::Deserialize;

use super::{LockOptions, ResolveError, run};

pub(super) fn lock(
    artifact: &Path,
    identified: &Identified,
    options: &LockOptions,
) -> Result<Lock, ResolveError> {
    if !identified.package.file_name.ends_with(".whl") && !options.allow_sdist {
        return Err(ResolveError::SdistOnly(format!(
            "{} itself (the artifact)",
            identified.package.file_name
        )));
    }
    let dir = tempfile::tempdir()?;
    let target = PythonTarget {
        python_version: match &options.python_version {
            Some(version) => version.clone(),
            None => default_python_version(options)?,
        },
        platform: options
            .platform
            .clone()
            .unwrap_or_else(default_python_platform),
    };
    let artifact = std::path::absolute(artifact)?;
    let requirements_in = dir.path().join("requirements.in");
    fs_err::write(
        &requirements_in,
        format!("{}\n", artifact.to_string_lossy()).as_bytes(),
    )?;

    let compile = |format: &str, out: &str, only_binary: bool| -> Result<Vec<u8>, ResolveError> {
        let out = dir.path().join(out);
        let mut command = uv(options, dir.path());
        command
            .args([
                "pip",
                "compile",
                "--quiet",
                "--no-header",
                "--format",
                format,
            ])
            .args(["--python-version", &target.python_version])
            .args(["--python-platform", &target.platform])
            .arg("-o")
            .arg(&out)
            .arg(&requirements_in);
        if only_binary {
            command.args(["--only-binary", ":all:"]);
        }
        if let Some(index) = &options.registry {
            command.args(["--index-url", index]);
        }
        run("uv", &mut command)?;
        Ok(fs_err::read(&out)?)
    };

    let only_binary = !options.allow_sdist;
    let pylock = match compile("pylock.toml", "pylock.toml", only_binary) {
        Ok(pylock) => pylock,
        Err(ResolveError::Resolver { stderr, .. })
            if only_binary && !sdist_only(&stderr).is_empty() =>
        {
            return Err(ResolveError::SdistOnly(sdist_only(&stderr).join(", ")));
        }
        Err(error) => return Err(error),
    };
    let requirements = compile("requirements.txt", "requirements.txt", only_binary)?;
    let edges = parse_via(&String::from_utf8_lossy(&requirements));
    from_pylock(identified, target, &parse_pylock(&pylock)?, &edges)
}

/// The packages uv names as having no usable wheels (`docopt==0.6.2 has no
/// usable wheels`). Asking uv again without `--only-binary` would build the
/// sdist to learn more, which is exactly what is being refused.
fn sdist_only(uv_stderr: &str) -> Vec<String> {
    let mut names = BTreeSet::new();
    for (index, _) in uv_stderr.match_indices(" has no usable wheels") {
        let before = uv_stderr[..index].trim_end_matches('`');
        let start = before
            .rfind(|c: char| c.is_whitespace() || c == '`')
            .map_or(0, |i| i + 1);
        if start < before.len() {
            names.insert(before[start..].to_owned());
        }
    }
    names.into_iter().collect()
}

/// `uv`, isolated as `options` asks (in `scratch`, with `--no-config`).
fn uv(options: &LockOptions, scratch: &Path) -> Command {
    let mut command = Command::new("uv");
    if options.isolated {
        command.current_dir(scratch).arg("--no-config");
    }
    command
}

/// The Python uv would use here, as `major.minor`.
fn default_python_version(options: &LockOptions) -> Result<String, ResolveError> {
    let scratch = tempfile::tempdir()?;
    let stdout = run("uv", uv(options, scratch.path()).args(["python", "find"]))?;
    let python = String::from_utf8_lossy(&stdout).trim().to_owned();
    let mut command = Command::new(&python);
    command.args([
        "-I",
        "-c",
        "import sys; print('%d.%d' % sys.version_info[:2])",
    ]);
    let stdout = run("python", &mut command)?;
    Ok(String::from_utf8_lossy(&stdout).trim().to_owned())
}

/// This machine as a uv `--python-platform` value.
fn default_python_platform() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "macos" => format!("{arch}-apple-darwin"),
        "windows" => format!("{arch}-pc-windows-msvc"),
        _ => format!("{arch}-unknown-linux-gnu"),
    }
}

#[derive(Deserialize)]
struct Pylock {
    #[serde(default)]
    packages: Vec<PylockPackage>,
}

#[derive(Deserialize)]
struct PylockPackage {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    #[serde(default)]
    wheels: Vec<PylockFile>,
    sdist: Option<PylockFile>,
}

#[derive(Deserialize)]
struct PylockFile {
    url: Option<String>,
    size: Option<u64>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

fn parse_pylock(bytes: &[u8]) -> Result<Pylock, ResolveError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ResolveError::Output {
        file: "pylock.toml",
        why: "not UTF-8".into(),
    })?;
    toml::from_str(text).map_err(|error| ResolveError::Output {
        file: "pylock.toml",
        why: error.to_string(),
    })
}

/// Child → parents, from the `# via` annotations of uv's requirements.txt.
fn parse_via(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_via = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('#') && !line.trim().is_empty() {
            let name = line
                .split(['=', ' ', '@', ';', '['])
                .next()
                .unwrap_or_default();
            current = Some(normalize_pypi_name(name));
            in_via = false;
            continue;
        }
        let comment = line.trim_start();
        let Some(current) = &current else { continue };
        let parent = if let Some(rest) = comment.strip_prefix("# via") {
            in_via = true;
            rest.trim()
        } else if in_via && comment.starts_with("#   ") {
            comment.trim_start_matches('#').trim()
        } else {
            in_via = false;
            continue;
        };
        if !parent.is_empty() && !parent.starts_with('-') {
            parents
                .entry(current.clone())
                .or_default()
                .insert(normalize_pypi_name(parent));
        }
    }
    parents
}

fn from_pylock(
    identified: &Identified,
    target: PythonTarget,
    pylock: &Pylock,
    parents: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Lock, ResolveError> {
    let root_name = normalize_pypi_name(&identified.package.name);
    let mut children: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (child, parents) in parents {
        for parent in parents {
            children.entry(parent).or_default().push(child.clone());
        }
    }
    let mut packages = Vec::new();
    for package in &pylock.packages {
        let name = normalize_pypi_name(&package.name);
        if name == root_name {
            continue;
        }
        let incomplete = |field, why: &str| ResolveError::Incomplete {
            path: name.clone(),
            field,
            why: why.to_owned(),
        };
        let version = package
            .version
            .clone()
            .ok_or_else(|| incomplete("version", "missing"))?;
        let mut files = Vec::new();
        let sdist = package
            .sdist
            .iter()
            .map(|file| (file, DistributionKind::Sdist));
        for (file, kind) in package
            .wheels
            .iter()
            .map(|file| (file, DistributionKind::Wheel))
            .chain(sdist)
        {
            let url = file
                .url
                .clone()
                .ok_or_else(|| incomplete("url", "a local file, not from an index"))?;
            let sha256 = file
                .hashes
                .get("sha256")
                .cloned()
                .ok_or_else(|| incomplete("sha256", "the file has no sha256"))?;
            files.push(PypiFile {
                url,
                sha256,
                size: file.size,
                kind,
            });
        }
        if files.is_empty() {
            return Err(incomplete("url", "no wheel or sdist from an index"));
        }
        packages.push(PypiPackage {
            dependencies: children.get(name.as_str()).cloned().unwrap_or_default(),
            name,
            version,
            marker: package.marker.clone(),
            files,
        });
    }
    let root = LockRoot {
        name: identified.package.name.clone(),
        version: identified.package.version.clone(),
        dependencies: children
            .get(root_name.as_str())
            .cloned()
            .unwrap_or_default(),
    };
    Ok(Lock::new(root, LockedPackages::Pypi { target, packages }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_annotations_give_parents() {
        let parents = parse_via(
            "anyio==4.16.0 \\\n    --hash=sha256:aa\n    # via\n    #   httpx\n    #   MCP\nhttpx==0.28.1\n    # via mcp\nmcp-server-fetch @ file:///x.whl\n    # via -r requirements.in\n",
        );
        assert_eq!(
            parents["anyio"],
            BTreeSet::from(["httpx".to_owned(), "mcp".to_owned()])
        );
        assert_eq!(parents["httpx"], BTreeSet::from(["mcp".to_owned()]));
        assert!(!parents.contains_key("mcp-server-fetch"));
    }

    #[test]
    fn sdist_only_packages_are_read_from_uv_errors() {
        let stderr = "  cause: Because docopt==0.6.2 has no usable wheels and x==1 depends on docopt==0.6.2, we can conclude…\n  and `pkg-b` has no usable wheels";
        assert_eq!(sdist_only(stderr), vec!["docopt==0.6.2", "pkg-b"]);
        assert!(sdist_only("error: network unreachable").is_empty());
    }
}
