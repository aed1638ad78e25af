//! PyPI, natively: no `uv`, no `pip`, nothing that reads `uv.toml`, `pip.conf`, `UV_*`,
//! `PIP_*` or a virtualenv.
//!
//! 1. Each lock entry's environment marker (as the resolver wrote it) is evaluated with
//!    `pep508_rs` against the interpreter's own marker values; entries whose marker is false
//!    are not installed.
//! 2. Of the wheels the lock names for an entry, the one the interpreter ranks best (PEP 425
//!    tags, [`super::tags`]) is taken from the store by its signed sha256, and unpacked into
//!    `site/` by [`mcpin_artifact::unpack_wheel`]: same hostile-archive rules as everywhere,
//!    every file checked against the wheel's RECORD. The package's own wheel likewise, by its
//!    verified sha256.
//! 3. mcpin writes the package's console scripts (`bin/<name>`, from its `entry_points.txt`).
//! 4. Bytecode is compiled with the launch's interpreter in isolated mode (`-I -S`, empty
//!    environment, `/` as working directory) as hash-based `.pyc` files with
//!    `unchecked-hash` invalidation (PEP 552): the tree check covers the `.pyc` files like any
//!    other file, so checking each source's hash again on every import would only cost time,
//!    and timestamps would make the files differ between installs. These files are the one
//!    part of the expected tree read back from disk: only `__pycache__/<module>.<tag>.pyc`
//!    beside a `<module>.py` that was unpacked, written by the interpreter into the staging
//!    directory only the user can reach.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;

use mcpin_artifact::Limits;
use mcpin_attestation::{DistributionKind, PypiPackage, PythonTarget};
use mcpin_registry_client::{Algorithm, Checksum, Client};
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree};
use sha2::{Digest, Sha256};

use super::{InstallError, InstallRequest, entries_of, io, tags, url_of};
use crate::interpreter::PythonFacts;
use crate::tree::Entry;

/// Installs the wheel and its lock into `tree`; returns every file written.
pub(super) fn install(
    client: &Client,
    request: &InstallRequest,
    target: Option<&PythonTarget>,
    packages: &[PypiPackage],
    tree: &Path,
) -> Result<Vec<(String, Entry)>, InstallError> {
    let python = &request.interpreter.path;
    let refuse = |why: String| InstallError::Interpreter {
        interpreter: python.clone(),
        why,
    };
    let facts = request
        .interpreter
        .python
        .as_ref()
        .ok_or_else(|| refuse("it is not a Python interpreter".into()))?;
    if let Some(target) = target
        && target.python_version != facts.version
    {
        return Err(refuse(format!(
            "it is Python {}, the signed lock targets {}",
            facts.version, target.python_version
        )));
    }
    let markers = marker_environment(facts).map_err(refuse)?;
    let supported = tags::supported(facts);
    let describe = || format!("{} (Python {})", python.display(), facts.version);
    let site = tree.join("site");
    fs_err::create_dir(&site).map_err(io(&site))?;
    let limits = Limits::default();
    let unpack = |wheel: &Path, what: &str, sha256: &str| {
        let unpacked = mcpin_artifact::unpack_wheel(wheel, &site, &limits).map_err(|source| {
            InstallError::Unpack {
                what: what.to_owned(),
                source,
            }
        })?;
        // The bytes unpacked must be the bytes the signature or the lock names.
        if unpacked.unpacked.digests.sha256 != sha256 {
            return Err(InstallError::Integrity {
                what: what.to_owned(),
            });
        }
        Ok(unpacked)
    };

    if tags::rank(request.file_name, &supported).is_none() {
        return Err(InstallError::NoCompatibleWheel {
            what: request.file_name.to_owned(),
            interpreter: describe(),
            files: request.file_name.to_owned(),
        });
    }
    let root = unpack(request.artifact, request.file_name, request.sha256())?;
    let mut entries: Vec<(String, Entry)> = entries_of("site/", root.unpacked.files).collect();

    for package in packages {
        let what = format!("{}=={}", package.name, package.version);
        if let Some(marker) = &package.marker {
            let tree = MarkerTree::from_str(marker).map_err(|error| InstallError::Marker {
                what: what.clone(),
                marker: marker.clone(),
                why: error.to_string(),
            })?;
            if !tree.evaluate(&markers, &[]) {
                continue;
            }
        }
        let mut best: Option<(usize, &mcpin_attestation::PypiFile, String)> = None;
        let mut names = Vec::new();
        for file in package
            .files
            .iter()
            .filter(|f| f.kind == DistributionKind::Wheel)
        {
            let name = wheel_name(&what, &file.url)?;
            names.push(name.clone());
            if let Some(rank) = tags::rank(&name, &supported)
                && best.as_ref().is_none_or(|(b, ..)| rank < *b)
            {
                best = Some((rank, file, name));
            }
        }
        if names.is_empty() {
            return Err(InstallError::NoWheel { what });
        }
        let Some((_, file, name)) = best else {
            return Err(InstallError::NoCompatibleWheel {
                what,
                interpreter: describe(),
                files: names.join(", "),
            });
        };
        let checksum = Checksum::new(Algorithm::Sha256, &file.sha256).ok_or_else(|| {
            InstallError::BadIntegrity {
                path: what.clone(),
                integrity: file.sha256.clone(),
            }
        })?;
        let stored = client
            .fetch_url(&checksum, &url_of(&what, &file.url)?)
            .map_err(|source| InstallError::Registry {
                what: what.clone(),
                source,
            })?;
        let unpacked = unpack(&stored.path, &name, &checksum.hex)?;
        entries.extend(entries_of("site/", unpacked.unpacked.files).collect::<Vec<_>>());
    }

    for script in &root.console_scripts {
        let Some(text) = console_script(python, &script.name, &script.target) else {
            // Not a name or target mcpin can write safely; `Installed::command` refuses it.
            continue;
        };
        let relative = format!("bin/{}", script.name);
        let path = tree.join(&relative);
        fs_err::create_dir_all(tree.join("bin")).map_err(io(&path))?;
        fs_err::write(&path, &text).map_err(io(&path))?;
        entries.push((
            relative,
            Entry::file(text.len() as u64, hex::encode(Sha256::digest(&text)), false),
        ));
    }

    let sources: BTreeSet<String> = entries
        .iter()
        .filter_map(|(path, _)| path.strip_suffix(".py").map(str::to_owned))
        .collect();
    compile_bytecode(python, &site)?;
    let cache_tag = facts.cache_tag.as_deref().unwrap_or_default();
    let known: BTreeSet<String> = entries.iter().map(|(path, _)| path.clone()).collect();
    collect_bytecode(tree, &site, &known, &sources, cache_tag, &mut entries)?;
    Ok(entries)
}

fn marker_environment(facts: &PythonFacts) -> Result<MarkerEnvironment, String> {
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: &facts.implementation_name,
        implementation_version: &facts.implementation_version,
        os_name: &facts.os_name,
        platform_machine: &facts.platform_machine,
        platform_python_implementation: &facts.platform_python_implementation,
        platform_release: &facts.platform_release,
        platform_system: &facts.platform_system,
        platform_version: &facts.platform_version,
        python_full_version: &facts.python_full_version,
        python_version: &facts.python_version,
        sys_platform: &facts.sys_platform,
    })
    .map_err(|error| format!("its version does not parse: {error}"))
}

/// The file name at the end of a lock entry's wheel URL.
fn wheel_name(what: &str, url: &str) -> Result<String, InstallError> {
    let parsed = url_of(what, url)?;
    let name = parsed
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or_default();
    let name = percent_decode(name);
    if !name.ends_with(".whl") || name.contains(['/', '\\']) {
        return Err(InstallError::BadUrl {
            what: what.to_owned(),
            url: url.to_owned(),
        });
    }
    Ok(name)
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, value)| value.into_owned())
}

/// `bin/<name>` for console script `name = target` (`module:attr.path`, optional
/// `[extras]`), or `None` when the name is not a plain file name or the target not a dotted
/// Python name. The script adds the tree's `site/` (found from its own path) and calls the
/// target, as pip's wrappers do.
fn console_script(python: &Path, name: &str, target: &str) -> Option<Vec<u8>> {
    let name_ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let target = target.split('[').next()?.trim();
    let (module, attr) = target.split_once(':')?;
    let dotted = |text: &str| {
        !text.is_empty()
            && text.split('.').all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
    };
    let module = module.trim();
    let attr = attr.trim();
    if !name_ok || !dotted(module) || !dotted(attr) {
        return None;
    }
    Some(
        format!(
            "#!{python} -ISB\n\
             # Written by mcpin: console script `{name} = {module}:{attr}`.\n\
             import os, site, sys\n\
             site.addsitedir(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'site'))\n\
             from {module} import {head}\n\
             if __name__ == '__main__':\n    sys.argv[0] = {name:?}\n    sys.exit({attr}())\n",
            python = python.display(),
            head = attr.split('.').next().unwrap_or(attr),
        )
        .into_bytes(),
    )
}

/// Compiles every `.py` under `site` into hash-based `.pyc` files.
fn compile_bytecode(python: &Path, site: &Path) -> Result<(), InstallError> {
    const COMPILE: &str = "import compileall, py_compile, sys\n\
        compileall.compile_dir(sys.argv[1], quiet=2, workers=0, \
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n";
    let failed = |why: String| InstallError::Bytecode {
        interpreter: python.to_owned(),
        why,
    };
    // A module that does not compile (a Python 2 file in a test directory, say) is skipped, as
    // pip skips it: compile_dir's own result is ignored; only a crash of the step fails.
    let output = Command::new(python)
        .args(["-I", "-S", "-c", COMPILE])
        .arg(site)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// Adds the `.pyc` files the compiler wrote; anything else it left is an error.
fn collect_bytecode(
    tree: &Path,
    dir: &Path,
    known: &BTreeSet<String>,
    sources: &BTreeSet<String>,
    cache_tag: &str,
    entries: &mut Vec<(String, Entry)>,
) -> Result<(), InstallError> {
    for child in fs_err::read_dir(dir).map_err(io(dir))? {
        let child = child.map_err(io(dir))?;
        let path = child.path();
        let kind = child.file_type().map_err(io(&path))?;
        let relative = path
            .strip_prefix(tree)
            .ok()
            .and_then(Path::to_str)
            .map(str::to_owned)
            .ok_or_else(|| unexpected(&path))?;
        if kind.is_dir() {
            collect_bytecode(tree, &path, known, sources, cache_tag, entries)?;
            continue;
        }
        if known.contains(&relative) {
            continue;
        }
        let source = relative
            .rsplit_once("/__pycache__/")
            .and_then(|(parent, file)| {
                let module = file.strip_suffix(&format!(".{cache_tag}.pyc"))?;
                Some(format!("{parent}/{module}"))
            });
        if !kind.is_file() || cache_tag.is_empty() || !source.is_some_and(|s| sources.contains(&s))
        {
            return Err(unexpected(&path));
        }
        let bytes = fs_err::read(&path).map_err(io(&path))?;
        entries.push((
            relative,
            Entry::file(
                bytes.len() as u64,
                hex::encode(Sha256::digest(&bytes)),
                false,
            ),
        ));
    }
    Ok(())
}

fn unexpected(path: &Path) -> InstallError {
    InstallError::Bytecode {
        interpreter: path.to_owned(),
        why: format!("`{}` is not bytecode of an unpacked module", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_scripts_are_written_only_for_plain_names_and_targets() {
        let python = Path::new("/usr/bin/python3.11");
        let text = String::from_utf8(
            console_script(python, "mcp-server-time", "mcp_server_time:main").unwrap(),
        )
        .unwrap();
        assert!(text.starts_with("#!/usr/bin/python3.11 -ISB\n"), "{text}");
        assert!(text.contains("from mcp_server_time import main"), "{text}");
        assert!(console_script(python, "x", "pkg.cli:app.run [extra]").is_some());
        for (name, target) in [
            ("../evil", "m:f"),
            (".hidden", "m:f"),
            ("x", "os; import evil:f"),
            ("x", "m:f()"),
            ("x", "m"),
            ("x", "1m:f"),
        ] {
            assert!(
                console_script(python, name, target).is_none(),
                "{name} = {target}"
            );
        }
    }

    #[test]
    fn lock_markers_are_evaluated_for_the_interpreter() {
        let facts: PythonFacts = serde_json::from_value(serde_json::json!({
            "version": "3.11", "implementation_name": "cpython",
            "implementation_version": "3.11.2", "os_name": "posix",
            "platform_machine": "x86_64", "platform_python_implementation": "CPython",
            "platform_release": "6.1.0", "platform_system": "Linux", "platform_version": "#1",
            "python_full_version": "3.11.2", "python_version": "3.11",
            "sys_platform": "linux", "cache_tag": "cpython-311", "glibc": "2.36",
            "free_threaded": false, "platform": "linux-x86_64", "pointer_bits": 64
        }))
        .unwrap();
        let env = marker_environment(&facts).unwrap();
        let holds = |marker: &str| MarkerTree::from_str(marker).unwrap().evaluate(&env, &[]);
        // As uv writes them into the lock (see `mcpin lock` of mcp-server-time).
        assert!(holds("platform_python_implementation != 'PyPy'"));
        assert!(holds(
            "implementation_name != 'PyPy' and platform_python_implementation != 'PyPy'"
        ));
        assert!(holds("sys_platform != 'emscripten'"));
        assert!(holds(
            "python_full_version >= '3.10' and python_version < '3.12'"
        ));
        assert!(!holds("sys_platform == 'win32'"));
        assert!(!holds("python_version < '3.11'"));
        assert!(!holds("extra == 'dev'"));
        assert!(MarkerTree::from_str("python_version <<< '3'").is_err());
    }

    #[test]
    fn wheel_names_come_from_the_url() {
        assert_eq!(
            wheel_name(
                "x",
                "https://files.example/p/a/x-1.0%2Blocal-py3-none-any.whl"
            )
            .unwrap(),
            "x-1.0+local-py3-none-any.whl"
        );
        assert!(wheel_name("x", "https://files.example/x-1.0.tar.gz").is_err());
    }
}
