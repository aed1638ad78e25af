//! Which `node`, `python` and `docker` a launch execs.
//!
//! A pinned interpreter ([`InterpreterPins`], filled from the system config or the policy) is
//! used as given: an absolute path, and its sha256 when the pin names one. Otherwise the
//! interpreter is searched on the **absolute** entries of `PATH`, in order, skipping every
//! candidate an untrusted project could have chosen:
//!
//! - relative and empty `PATH` entries (`node_modules/.bin`, a leading `:`) are never searched;
//! - a candidate inside the launch's working directory (npm writes absolute
//!   `<project>/node_modules/.bin` entries) is skipped;
//! - a candidate in a virtualenv (`pyvenv.cfg` beside or above it), a conda prefix
//!   (`conda-meta`), or under `$VIRTUAL_ENV` / `$CONDA_PREFIX` is skipped;
//! - a script (`#!`) is skipped, and so is a binary whose real name is not the tool's: both
//!   are how version-manager shims (pyenv, asdf, mise, Volta) look, and shims pick a version
//!   from the working directory;
//! - mcpin itself (a `docker → mcpin` link) is skipped.
//!
//! What is exec'd is the candidate's canonical path. Its sha256 goes into the install key and
//! the audit record. Hashing a 100 MB `node` on every launch is too slow, so the digest is
//! cached in the store (which only its user can write) keyed by a stat snapshot: device,
//! inode, size, mtime, ctime, mode and owner. Any write, chmod, chown or rename by a process
//! without root changes the ctime, and ctime cannot be set back without root (or setting the
//! clock, which is root's too), so an equal snapshot means unchanged bytes. A file changed
//! within two seconds of being hashed is not cached (coarse timestamps could hide a second
//! write in the same tick).
//!
//! Python's version and environment-marker values are asked once per binary (cached with the
//! digest) by running it as `python -I -S -c …` with an empty environment and `/` as working
//! directory: isolated mode ignores `PYTHON*` variables and the user site, `-S` skips
//! `site` (and with it every `.pth` file), so nothing from the project or the caller's
//! environment takes part. The same binary is exec'd for the server anyway, so running it
//! earlier trusts nothing more.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The programs a launch may exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Node,
    Python,
    Docker,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Node => "node",
            Tool::Python => "python",
            Tool::Docker => "docker",
        }
    }
}

pub use mcpin_verifier::policy::{InterpreterPins, Pin};

fn pin_for(pins: &InterpreterPins, tool: Tool) -> Option<&Pin> {
    match tool {
        Tool::Node => pins.node.as_ref(),
        Tool::Python => pins.python.as_ref(),
        Tool::Docker => pins.docker.as_ref(),
    }
}

/// Where an unpinned interpreter is searched, from the launch's own environment.
#[derive(Debug, Clone, Default)]
pub struct SearchEnv {
    pub path: Option<OsString>,
    /// The launch's working directory (the project, untrusted).
    pub cwd: Option<PathBuf>,
    pub virtual_env: Option<PathBuf>,
    pub conda_prefix: Option<PathBuf>,
    /// mcpin itself, never taken for a tool.
    pub self_exe: Option<PathBuf>,
}

impl SearchEnv {
    /// From the process environment `vars` (as given to the launch), the current directory
    /// and the running executable.
    pub fn from_vars<'a>(vars: impl IntoIterator<Item = &'a (OsString, OsString)>) -> SearchEnv {
        let mut search = SearchEnv {
            cwd: std::env::current_dir().ok(),
            self_exe: std::env::current_exe().ok(),
            ..SearchEnv::default()
        };
        let non_empty = |value: &OsString| (!value.is_empty()).then(|| PathBuf::from(value));
        for (name, value) in vars {
            match name.to_str() {
                Some("PATH") => search.path = Some(value.clone()),
                Some("VIRTUAL_ENV") => search.virtual_env = non_empty(value),
                Some("CONDA_PREFIX") => search.conda_prefix = non_empty(value),
                _ => {}
            }
        }
        search
    }
}

/// Where an interpreter came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Pinned,
    Path,
}

/// The program a launch execs, identified by its canonical path and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    pub tool: Tool,
    /// Canonical: what is exec'd.
    pub path: PathBuf,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    pub origin: Origin,
    /// What a Python interpreter reported about itself (`None` for other tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PythonFacts>,
}

/// A Python interpreter's version, marker environment (PEP 508) and wheel-tag facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonFacts {
    /// `major.minor`.
    pub version: String,
    pub implementation_name: String,
    pub implementation_version: String,
    pub os_name: String,
    pub platform_machine: String,
    pub platform_python_implementation: String,
    pub platform_release: String,
    pub platform_system: String,
    pub platform_version: String,
    pub python_full_version: String,
    pub python_version: String,
    pub sys_platform: String,
    /// `sys.implementation.cache_tag`, e.g. `cpython-311` (names the `.pyc` files).
    pub cache_tag: Option<String>,
    /// glibc `major.minor` on glibc Linux.
    pub glibc: Option<String>,
    /// A free-threaded build (`Py_GIL_DISABLED`).
    pub free_threaded: bool,
    /// `sysconfig.get_platform()`.
    pub platform: String,
    pub pointer_bits: u32,
}

/// Why no interpreter could be used. Each variant has a stable code ([`InterpreterError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("no usable `{wanted}` found{}", describe_skipped(.skipped))]
    NotFound {
        wanted: String,
        /// Candidates and entries passed over, with why.
        skipped: Vec<String>,
    },
    #[error("pinned {tool} `{path}`: {why}")]
    PinInvalid {
        tool: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("pinned {tool} `{path}` hashes to sha256 {actual}, the pin says {expected}")]
    PinMismatch {
        tool: &'static str,
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("`{path}` is Python {found}; the signed lock targets Python {wanted}")]
    Version {
        path: PathBuf,
        found: String,
        wanted: String,
    },
    #[error("`{path}`: {why}")]
    Unusable { path: PathBuf, why: String },
}

fn describe_skipped(skipped: &[String]) -> String {
    if skipped.is_empty() {
        " on the absolute PATH entries".to_owned()
    } else {
        format!(" (passed over: {})", skipped.join("; "))
    }
}

impl InterpreterError {
    /// The stable reason code for the audit record.
    pub fn code(&self) -> &'static str {
        match self {
            InterpreterError::NotFound { .. } => "no-interpreter",
            InterpreterError::PinInvalid { .. } => "interpreter-pin-invalid",
            InterpreterError::PinMismatch { .. } => "interpreter-digest-mismatch",
            InterpreterError::Version { .. } => "interpreter-version",
            InterpreterError::Unusable { .. } => "interpreter-unusable",
        }
    }
}

/// Resolves interpreters for one launch.
#[derive(Debug, Clone)]
pub struct Resolver<'a> {
    pins: &'a InterpreterPins,
    search: &'a SearchEnv,
    /// Digest cache; `None`: hash every time.
    cache_dir: Option<PathBuf>,
}

/// `<store>/interpreters/v1`: where digests are cached.
pub fn cache_dir(store: &Path) -> PathBuf {
    store.join("interpreters").join("v1")
}

impl<'a> Resolver<'a> {
    /// A resolver caching digests under `cache_dir` (see [`cache_dir`]).
    pub fn new(
        pins: &'a InterpreterPins,
        search: &'a SearchEnv,
        cache_dir: Option<PathBuf>,
    ) -> Self {
        Resolver {
            pins,
            search,
            cache_dir,
        }
    }

    /// `node` or `docker`.
    pub fn resolve(&self, tool: Tool) -> Result<Interpreter, InterpreterError> {
        debug_assert!(tool != Tool::Python, "use resolve_python");
        match pin_for(self.pins, tool) {
            Some(pin) => self.pinned(tool, pin),
            None => self.search(tool, tool.name(), |_| Ok(())),
        }
    }

    /// A Python whose `major.minor` is `version` (or any Python 3 for `"3"`).
    pub fn resolve_python(&self, version: &str) -> Result<Interpreter, InterpreterError> {
        let fits = |interpreter: &Interpreter| {
            let found = interpreter
                .python
                .as_ref()
                .map_or("", |f| f.version.as_str());
            let matches = if version.contains('.') {
                found == version
            } else {
                found.split('.').next() == Some(version)
            };
            if matches {
                Ok(())
            } else {
                Err(InterpreterError::Version {
                    path: interpreter.path.clone(),
                    found: found.to_owned(),
                    wanted: version.to_owned(),
                })
            }
        };
        match &self.pins.python {
            Some(pin) => {
                let interpreter = self.pinned(Tool::Python, pin)?;
                fits(&interpreter)?;
                Ok(interpreter)
            }
            None => self.search(Tool::Python, &format!("python{version}"), fits),
        }
    }

    fn pinned(&self, tool: Tool, pin: &Pin) -> Result<Interpreter, InterpreterError> {
        let invalid = |why: String| InterpreterError::PinInvalid {
            tool: tool.name(),
            path: pin.path.clone(),
            why,
        };
        if !pin.path.is_absolute() {
            return Err(invalid(
                "a pinned interpreter must be an absolute path".into(),
            ));
        }
        let real = fs_err::canonicalize(&pin.path).map_err(|e| invalid(e.to_string()))?;
        if !is_executable(&real) {
            return Err(invalid("not an executable file".into()));
        }
        let interpreter = self.examine(tool, &real, Origin::Pinned)?;
        if let Some(expected) = &pin.sha256
            && !expected.eq_ignore_ascii_case(&interpreter.sha256)
        {
            return Err(InterpreterError::PinMismatch {
                tool: tool.name(),
                path: real,
                expected: expected.clone(),
                actual: interpreter.sha256,
            });
        }
        Ok(interpreter)
    }

    fn search(
        &self,
        tool: Tool,
        file_name: &str,
        fits: impl Fn(&Interpreter) -> Result<(), InterpreterError>,
    ) -> Result<Interpreter, InterpreterError> {
        let mut skipped = Vec::new();
        let Some(path) = &self.search.path else {
            return Err(InterpreterError::NotFound {
                wanted: file_name.to_owned(),
                skipped: vec!["PATH is not set".into()],
            });
        };
        for dir in std::env::split_paths(path) {
            if dir.as_os_str().is_empty() {
                skipped.push("an empty PATH entry (never searched)".into());
                continue;
            }
            if !dir.is_absolute() {
                skipped.push(format!(
                    "relative PATH entry `{}` (never searched)",
                    dir.display()
                ));
                continue;
            }
            let candidate = dir.join(file_name);
            if !is_executable(&candidate) {
                continue;
            }
            match self.check_candidate(tool, &candidate) {
                Ok(real) => {
                    let interpreter = self.examine(tool, &real, Origin::Path)?;
                    match fits(&interpreter) {
                        Ok(()) => return Ok(interpreter),
                        Err(error) => skipped.push(error.to_string()),
                    }
                }
                Err(why) => skipped.push(format!("`{}` {why}", candidate.display())),
            }
        }
        Err(InterpreterError::NotFound {
            wanted: file_name.to_owned(),
            skipped,
        })
    }

    /// The canonical path of `candidate`, unless it is one a project could have chosen.
    fn check_candidate(&self, tool: Tool, candidate: &Path) -> Result<PathBuf, String> {
        let real = fs_err::canonicalize(candidate).map_err(|e| e.to_string())?;
        let both = [candidate, real.as_path()];
        let canonical = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
        if let Some(me) = &self.search.self_exe
            && canonical(me) == real
        {
            return Err("is mcpin itself".into());
        }
        if let Some(cwd) = self.search.cwd.as_deref().map(canonical)
            && cwd.parent().is_some()
            && both.iter().any(|p| p.starts_with(&cwd))
        {
            return Err(format!(
                "is inside the working directory `{}`",
                cwd.display()
            ));
        }
        for (var, prefix) in [
            ("VIRTUAL_ENV", &self.search.virtual_env),
            ("CONDA_PREFIX", &self.search.conda_prefix),
        ] {
            if let Some(prefix) = prefix.as_deref().map(canonical)
                && both.iter().any(|p| p.starts_with(&prefix))
            {
                return Err(format!("is under ${var} `{}`", prefix.display()));
            }
        }
        for path in both {
            let bin = path.parent().unwrap_or(path);
            for dir in [Some(bin), bin.parent()].into_iter().flatten() {
                if dir.join("pyvenv.cfg").exists() {
                    return Err(format!(
                        "is in a virtualenv (`{}`)",
                        dir.join("pyvenv.cfg").display()
                    ));
                }
            }
            if let Some(prefix) = bin.parent()
                && prefix.join("conda-meta").is_dir()
            {
                return Err(format!("is in a conda prefix (`{}`)", prefix.display()));
            }
        }
        let real_name = real.file_name().and_then(OsStr::to_str).unwrap_or_default();
        if !real_name.starts_with(tool.name()) {
            return Err(format!(
                "resolves to `{}`, not a {} binary (a version-manager shim?)",
                real.display(),
                tool.name()
            ));
        }
        let mut head = [0u8; 2];
        let read = fs_err::File::open(&real)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| e.to_string())?;
        if read == 2 && &head == b"#!" {
            return Err(
                "is a script (`#!`), as version-manager shims that read the working directory are"
                    .into(),
            );
        }
        Ok(real)
    }

    /// Digest (cached by stat snapshot) and, for Python, its facts.
    fn examine(
        &self,
        tool: Tool,
        real: &Path,
        origin: Origin,
    ) -> Result<Interpreter, InterpreterError> {
        let unusable = |why: String| InterpreterError::Unusable {
            path: real.to_owned(),
            why,
        };
        let mut file = fs_err::File::open(real).map_err(|e| unusable(e.to_string()))?;
        let before = Snapshot::of(&file.metadata().map_err(|e| unusable(e.to_string()))?);
        let cache_path = self.cache_dir.as_ref().map(|dir| {
            dir.join(format!(
                "{}.json",
                hex::encode(Sha256::digest(real.as_os_str().as_encoded_bytes()))
            ))
        });
        if let Some(cached) = cache_path.as_deref().and_then(read_cache)
            && cached.path == real
            && cached.snapshot == before
            && cached.python.is_some() == (tool == Tool::Python)
        {
            return Ok(Interpreter {
                tool,
                path: real.to_owned(),
                sha256: cached.sha256,
                origin,
                python: cached.python,
            });
        }
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| unusable(e.to_string()))?;
        let sha256 = hex::encode(hasher.finalize());
        let after = Snapshot::of(&file.metadata().map_err(|e| unusable(e.to_string()))?);
        if after != before {
            return Err(unusable("changed while it was being hashed".into()));
        }
        let python = match tool {
            Tool::Python => Some(query_python(real).map_err(unusable)?),
            _ => None,
        };
        if let Some(cache_path) = cache_path
            && !before.is_recent()
        {
            let entry = CachedDigest {
                path: real.to_owned(),
                snapshot: before,
                sha256: sha256.clone(),
                python: python.clone(),
            };
            // Only a speed-up: a cache that cannot be written costs a re-hash next time.
            let _ = cache_path
                .parent()
                .map(mcpin_registry_client::store::create_private_dir_all)
                .transpose()
                .and_then(|_| {
                    mcpin_artifact::write_atomic(
                        &cache_path,
                        &serde_json::to_vec(&entry).expect("a cache entry serializes"),
                        0o644,
                    )
                });
        }
        Ok(Interpreter {
            tool,
            path: real.to_owned(),
            sha256,
            origin,
            python,
        })
    }
}

/// What identifies a file's state without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Snapshot {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    uid: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Snapshot {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Snapshot {
        use std::os::unix::fs::MetadataExt;
        Snapshot {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            uid: meta.uid(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &std::fs::Metadata) -> Snapshot {
        let secs = |t: std::io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64)
        };
        Snapshot {
            dev: 0,
            ino: 0,
            size: meta.len(),
            mode: 0,
            uid: 0,
            mtime: (secs(meta.modified()), 0),
            ctime: (secs(meta.modified()), 0),
        }
    }

    /// Changed within the last two seconds (or in the future).
    fn is_recent(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.mtime.0.max(self.ctime.0) >= now - 2
    }
}

#[derive(Serialize, Deserialize)]
struct CachedDigest {
    path: PathBuf,
    snapshot: Snapshot,
    sha256: String,
    python: Option<PythonFacts>,
}

/// A cache entry, if it and its directory are the user's alone (a cache others could write
/// is ignored: the file is hashed instead).
fn read_cache(path: &Path) -> Option<CachedDigest> {
    let owner = mcpin_registry_client::store::Owner::current();
    for checked in [path.parent()?, path] {
        mcpin_registry_client::store::check_not_shared(checked, &owner).ok()?;
    }
    serde_json::from_slice(&fs_err::read(path).ok()?).ok()
}

/// Asks `python` about itself: isolated (`-I`), no `site` (`-S`), empty environment, `/` as
/// working directory.
const FACTS_SCRIPT: &str = r#"import json, os, platform, sys, sysconfig
impl = sys.implementation
iv = impl.version
ivs = '%d.%d.%d' % iv[:3]
if iv.releaselevel != 'final':
    ivs += iv.releaselevel[0] + str(iv.serial)
try:
    libc, libc_version = os.confstr('CS_GNU_LIBC_VERSION').split()
    glibc = '.'.join(libc_version.split('.')[:2]) if libc == 'glibc' else None
except (AttributeError, ValueError, OSError):
    glibc = None
print(json.dumps({
    'version': '%d.%d' % sys.version_info[:2],
    'implementation_name': impl.name,
    'implementation_version': ivs,
    'os_name': os.name,
    'platform_machine': platform.machine(),
    'platform_python_implementation': platform.python_implementation(),
    'platform_release': platform.release(),
    'platform_system': platform.system(),
    'platform_version': platform.version(),
    'python_full_version': platform.python_version(),
    'python_version': '.'.join(platform.python_version_tuple()[:2]),
    'sys_platform': sys.platform,
    'cache_tag': impl.cache_tag,
    'glibc': glibc,
    'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),
    'platform': sysconfig.get_platform(),
    'pointer_bits': 64 if sys.maxsize > 2 ** 32 else 32,
}))
"#;

fn query_python(python: &Path) -> Result<PythonFacts, String> {
    let output = Command::new(python)
        .args(["-I", "-S", "-c", FACTS_SCRIPT])
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run it: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "asking its version failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "unexpected answer to the version query ({e}): {}",
            String::from_utf8_lossy(&output.stdout).trim()
        )
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::metadata(path)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn executable(path: &Path, text: &str) {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A copy of the real `/bin/true`-like ELF named `name` in `dir` (a binary, not a script).
    fn fake_binary(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        fs_err::create_dir_all(dir).unwrap();
        fs_err::copy("/bin/true", &path).unwrap();
        path
    }

    fn search(path: &[&Path], cwd: &Path) -> SearchEnv {
        SearchEnv {
            path: Some(std::env::join_paths(path).unwrap()),
            cwd: Some(cwd.to_owned()),
            ..SearchEnv::default()
        }
    }

    #[test]
    fn relative_and_empty_path_entries_and_the_project_are_never_searched() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let marker = dir.path().join("marker");
        let fake = format!("#!/bin/sh\necho ran >> {}\n", marker.display());
        executable(&project.join("node_modules/.bin/node"), &fake);
        executable(&project.join("node"), &fake);
        let real = fake_binary(&dir.path().join("usr/bin"), "node");
        let pins = InterpreterPins::default();
        let path = OsString::from(format!(
            ":node_modules/.bin:{}:{}",
            project.join("node_modules/.bin").display(),
            real.parent().unwrap().display()
        ));
        let env = SearchEnv {
            path: Some(path),
            cwd: Some(project.clone()),
            ..SearchEnv::default()
        };
        let found = Resolver::new(&pins, &env, None)
            .resolve(Tool::Node)
            .unwrap();
        assert_eq!(found.path, fs_err::canonicalize(&real).unwrap());
        assert_eq!(found.origin, Origin::Path);
        assert!(!marker.exists());

        // With only the project's entries there is no node at all, and the error says why.
        let env = SearchEnv {
            path: Some(
                format!(
                    ":node_modules/.bin:{}",
                    project.join("node_modules/.bin").display()
                )
                .into(),
            ),
            cwd: Some(project.clone()),
            ..SearchEnv::default()
        };
        let error = Resolver::new(&pins, &env, None)
            .resolve(Tool::Node)
            .unwrap_err();
        assert_eq!(error.code(), "no-interpreter");
        let message = error.to_string();
        assert!(
            message.contains("relative PATH entry `node_modules/.bin`"),
            "{message}"
        );
        assert!(message.contains("empty PATH entry"), "{message}");
        assert!(
            message.contains("inside the working directory"),
            "{message}"
        );
        assert!(!marker.exists());
    }

    #[test]
    fn virtualenvs_conda_prefixes_and_shims_are_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        fake_binary(&venv.join("bin"), "node");
        fs_err::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let conda = dir.path().join("conda");
        fake_binary(&conda.join("bin"), "node");
        fs_err::create_dir_all(conda.join("conda-meta")).unwrap();
        let activated = dir.path().join("activated");
        fake_binary(&activated.join("bin"), "node");
        let shims = dir.path().join("shims");
        executable(
            &shims.join("node"),
            "#!/usr/bin/env bash\nexec pyenv exec node\n",
        );
        let manager = fake_binary(&dir.path().join("mise"), "mise");
        let linked = dir.path().join("linked");
        fs_err::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(&manager, linked.join("node")).unwrap();
        let pins = InterpreterPins::default();
        let env = SearchEnv {
            virtual_env: Some(activated.clone()),
            ..search(
                &[
                    &venv.join("bin"),
                    &conda.join("bin"),
                    &activated.join("bin"),
                    &shims,
                    &linked,
                ],
                Path::new("/"),
            )
        };
        let error = Resolver::new(&pins, &env, None)
            .resolve(Tool::Node)
            .unwrap_err();
        let message = error.to_string();
        for expected in [
            "virtualenv",
            "conda prefix",
            "$VIRTUAL_ENV",
            "is a script",
            "version-manager shim",
        ] {
            assert!(message.contains(expected), "{expected}: {message}");
        }
    }

    #[test]
    fn pins_are_checked_and_digests_cached_by_stat_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let binary = fake_binary(&dir.path().join("bin"), "node");
        // Old enough to be cached.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        fs_err::File::options()
            .write(true)
            .open(&binary)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let sha256 = hex::encode(Sha256::digest(fs_err::read(&binary).unwrap()));
        let cache = dir.path().join("cache");
        let env = SearchEnv::default();
        let pins = InterpreterPins {
            node: Some(Pin {
                path: binary.clone(),
                sha256: Some(sha256.clone()),
            }),
            ..InterpreterPins::default()
        };
        let found = Resolver::new(&pins, &env, Some(cache.clone()))
            .resolve(Tool::Node)
            .unwrap();
        assert_eq!(
            (found.sha256.as_str(), found.origin),
            (sha256.as_str(), Origin::Pinned)
        );
        // ctime is recent (we just set mtime), so nothing was cached yet.
        assert!(!cache.exists() || fs_err::read_dir(&cache).unwrap().count() == 0);

        let wrong = InterpreterPins {
            node: Some(Pin {
                path: binary.clone(),
                sha256: Some("0".repeat(64)),
            }),
            ..InterpreterPins::default()
        };
        let error = Resolver::new(&wrong, &env, None)
            .resolve(Tool::Node)
            .unwrap_err();
        assert_eq!(error.code(), "interpreter-digest-mismatch");
        let relative = InterpreterPins {
            node: Some(Pin {
                path: "bin/node".into(),
                sha256: None,
            }),
            ..InterpreterPins::default()
        };
        let error = Resolver::new(&relative, &env, None)
            .resolve(Tool::Node)
            .unwrap_err();
        assert_eq!(error.code(), "interpreter-pin-invalid");

        // A cached digest is used only while the snapshot is equal.
        let snapshot = Snapshot::of(&fs_err::metadata(&binary).unwrap());
        let cache_file = cache.join("entry.json");
        fs_err::create_dir_all(&cache).unwrap();
        let lie = CachedDigest {
            path: binary.clone(),
            snapshot,
            sha256: "f".repeat(64),
            python: None,
        };
        fs_err::write(&cache_file, serde_json::to_vec(&lie).unwrap()).unwrap();
        let real = fs_err::canonicalize(&binary).unwrap();
        let resolver = Resolver::new(&pins, &env, Some(cache.clone()));
        let named = cache.join(format!(
            "{}.json",
            hex::encode(Sha256::digest(real.as_os_str().as_encoded_bytes()))
        ));
        fs_err::rename(&cache_file, &named).unwrap();
        let examined = resolver.examine(Tool::Node, &real, Origin::Path).unwrap();
        assert_eq!(examined.sha256, "f".repeat(64), "the cache is consulted");
        // ... but not when others could have written it.
        fs_err::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
        let examined = resolver.examine(Tool::Node, &real, Origin::Path).unwrap();
        assert_eq!(examined.sha256, sha256);
        fs_err::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
        fs_err::write(&named, serde_json::to_vec(&lie).unwrap()).unwrap();
        // Any change to the file (here a chmod) changes ctime: the cache no longer applies.
        fs_err::set_permissions(&binary, std::fs::Permissions::from_mode(0o700)).unwrap();
        let examined = resolver.examine(Tool::Node, &real, Origin::Path).unwrap();
        assert_eq!(examined.sha256, sha256);
    }

    #[test]
    fn python_is_chosen_by_version_and_asked_in_isolation() {
        let Some(system) = ["/usr/bin", "/bin", "/usr/local/bin"]
            .iter()
            .map(Path::new)
            .find(|dir| dir.join("python3").exists())
        else {
            panic!("no python3 in /usr/bin, /bin or /usr/local/bin");
        };
        let dir = tempfile::tempdir().unwrap();
        let pins = InterpreterPins::default();
        let env = search(&[system], dir.path());
        let any = Resolver::new(&pins, &env, None)
            .resolve_python("3")
            .unwrap();
        let facts = any.python.clone().unwrap();
        assert!(facts.version.starts_with("3."), "{facts:?}");
        assert_eq!(facts.sys_platform, "linux");
        let exact = Resolver::new(&pins, &env, None)
            .resolve_python(&facts.version)
            .unwrap();
        assert_eq!(exact.python.unwrap().version, facts.version);
        let error = Resolver::new(&pins, &env, None)
            .resolve_python("3.2")
            .unwrap_err();
        assert_eq!(error.code(), "no-interpreter");
        // A pinned Python of another version is refused by name.
        let pinned = InterpreterPins {
            python: Some(Pin {
                path: any.path.clone(),
                sha256: None,
            }),
            ..InterpreterPins::default()
        };
        let error = Resolver::new(&pinned, &env, None)
            .resolve_python("3.2")
            .unwrap_err();
        assert_eq!(error.code(), "interpreter-version");
    }
}
