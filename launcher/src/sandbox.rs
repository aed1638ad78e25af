//! The facts a launch's sandbox needs, gathered from this machine, and the armed sandbox a
//! [`crate::exec::Launch`] carries. The rules are `mcpin_sandbox`'s: [`mcpin_sandbox::resolve`]
//! decides what is granted, [`mcpin_sandbox::landlock::decide`] how it is enforced here.
//!
//! `${RUNTIME}` is derived from the interpreter the launch resolved (never from `PATH` again):
//! its canonical binary; the dynamic loader's directories (`/usr/lib`, `/lib`, `/lib64`,
//! `/usr/lib64`) and `/etc/ld.so.cache`; for Python, `<prefix>/lib` (the standard library and
//! `libpython`); `/proc` and `/sys/fs/cgroup` (node reads `/proc/self/maps`, `/proc/meminfo` and
//! its cgroup memory limits at start); `/etc/ssl/openssl.cnf` (node exits when it exists but
//! cannot be read); the random and zero devices (and `/dev/null`, which is
//! also writable); and, when the policy allows TCP connections, the name-service files
//! (`/etc/resolv.conf`, `/etc/hosts`, `/etc/nsswitch.conf`, `/etc/gai.conf`, `/etc/host.conf`).
//! Measured with `strace -f -e trace=%file` on node 20 (server-filesystem) and CPython 3.11
//! (mcp-server-time); see docs/sandbox.md.

use std::path::{Path, PathBuf};

use mcpin_sandbox::{ArgFact, Facts, Record, Refusal, SandboxPolicy};

use crate::interpreter::{Interpreter, Tool};
use crate::locate::{Account, BaseDirs};

/// A sandbox ready to be entered: its audit record, and the private `${TMP}` directory (removed
/// if the launch is dropped without starting the server).
#[derive(Debug)]
pub struct Armed {
    pub record: Record,
    /// The mcpin binary, for the reaper and the trampoline.
    pub mcpin: PathBuf,
    tmp: Option<TmpDir>,
}

/// Removes the directory on drop: a launch that never started its server leaves nothing behind.
/// Once the server starts, its reaper owns the directory.
#[derive(Debug)]
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.0);
    }
}

/// Where mcpin keeps what decides launches: never writable by a server, never granted through
/// its arguments.
pub fn protected_places(
    store: &Path,
    state_dir: &Path,
    policy: &Path,
    dirs: &BaseDirs,
) -> Vec<PathBuf> {
    let mut places = vec![
        store.to_owned(),
        state_dir.to_owned(),
        PathBuf::from("/etc/mcpin"),
    ];
    places.extend(policy.parent().map(Path::to_owned));
    places.extend(
        dirs.audit_log()
            .and_then(|log| log.parent().map(Path::to_owned)),
    );
    places.extend(dirs.config_home().map(|config| config.join("mcpin")));
    let mut canonical: Vec<PathBuf> = places
        .iter()
        .map(|place| fs_err::canonicalize(place).unwrap_or_else(|_| place.clone()))
        .filter(|place| place.is_absolute() && place != Path::new("/"))
        .collect();
    canonical.sort();
    canonical.dedup();
    canonical
}

/// `${RUNTIME}` for `interpreter` (see the module documentation), existing paths only.
pub fn runtime_paths(interpreter: &Interpreter, network: bool) -> Vec<PathBuf> {
    let mut paths = vec![interpreter.path.clone()];
    let mut add = |path: &Path| {
        if let Ok(path) = fs_err::canonicalize(path) {
            paths.push(path);
        }
    };
    for system in [
        "/usr/lib",
        "/lib",
        "/lib64",
        "/usr/lib64",
        "/etc/ld.so.cache",
        // Node's OpenSSL refuses to start when its configuration exists but cannot be read.
        "/etc/ssl/openssl.cnf",
        "/proc",
        "/sys/fs/cgroup",
        "/dev/urandom",
        "/dev/random",
        "/dev/zero",
    ] {
        add(Path::new(system));
    }
    if interpreter.tool == Tool::Python
        && let Some(prefix) = interpreter.path.parent().and_then(Path::parent)
    {
        add(&prefix.join("lib"));
    }
    if network {
        for file in [
            "/etc/resolv.conf",
            "/etc/hosts",
            "/etc/nsswitch.conf",
            "/etc/gai.conf",
            "/etc/host.conf",
        ] {
            add(Path::new(file));
        }
    }
    let mut unique = Vec::new();
    for path in paths {
        if !unique.contains(&path) {
            unique.push(path);
        }
    }
    unique
}

/// The server's arguments that count as directory grants: absolute or `~/…` paths (see
/// [`ArgFact::candidate`]) that resolve to existing directories.
pub fn arg_facts(server_args: &[String], home: Option<&Path>) -> Vec<ArgFact> {
    server_args
        .iter()
        .enumerate()
        .filter_map(|(index, written)| {
            let candidate = ArgFact::candidate(written, home)?;
            let resolved = fs_err::canonicalize(candidate).ok()?;
            fs_err::metadata(&resolved).ok()?.is_dir().then(|| ArgFact {
                index,
                written: written.clone(),
                resolved,
            })
        })
        .collect()
}

/// What a launch's sandbox is built from.
pub struct Inputs<'a> {
    pub policy: &'a SandboxPolicy,
    pub install: Option<&'a Path>,
    pub runtime: &'a [PathBuf],
    pub args: &'a [ArgFact],
    pub protected: &'a [PathBuf],
}

fn canonical(path: &Path) -> Option<PathBuf> {
    fs_err::canonicalize(path).ok()
}

/// The plan without a `${TMP}` directory (for explaining it, and for checking the grants
/// before anything is created).
pub fn plan(inputs: &Inputs<'_>, tmp: Option<&Path>) -> Result<mcpin_sandbox::Plan, Refusal> {
    let account = Account::current();
    mcpin_sandbox::resolve(
        inputs.policy,
        &Facts {
            install: inputs.install,
            runtime: inputs.runtime,
            tmp,
            home: account.home.as_deref(),
            args: inputs.args,
            protected: inputs.protected,
            canonical: &canonical,
        },
    )
}

/// Arms the sandbox of a native (node or Python) launch: makes `${TMP}` when the policy uses
/// it, resolves the plan and decides its enforcement on this kernel (`enforce` refuses where
/// Landlock cannot enforce every rule).
pub fn arm(inputs: &Inputs<'_>) -> Result<Armed, Refusal> {
    let mcpin = std::env::current_exe().map_err(|error| {
        Refusal::new(
            "sandbox-failed",
            format!("cannot find the mcpin binary for the sandbox: {error}"),
        )
    })?;
    let support = mcpin_sandbox::landlock::support();
    // Refuse an unsupported kernel before anything is created.
    let draft = plan(inputs, None)?;
    mcpin_sandbox::landlock::decide(&draft, support)?;
    let tmp = if inputs.policy.uses_tmp() {
        let dir = mcpin_sandbox::tmp::create().map_err(|error| {
            Refusal::new(
                "sandbox-failed",
                format!(
                    "cannot make the private directory in {}: {error}",
                    mcpin_sandbox::tmp::ROOT
                ),
            )
        })?;
        Some(TmpDir(dir))
    } else {
        None
    };
    let plan = plan(inputs, tmp.as_ref().map(|t| t.0.as_path()))?;
    let record = mcpin_sandbox::landlock::decide(&plan, support)?;
    Ok(Armed { record, mcpin, tmp })
}

impl Armed {
    /// The private directory, the server's `TMPDIR`.
    pub fn tmp(&self) -> Option<&Path> {
        self.tmp.as_ref().map(|t| t.0.as_path())
    }
}

/// One line over a record: how it is enforced, and what it grants.
pub fn summary(record: &Record) -> String {
    let plan = &record.plan;
    let paths = |grants: &[mcpin_sandbox::Grant]| {
        grants
            .iter()
            .map(|g| g.path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{}{}: read {}; write {}; connect {}; bind {}",
        record.enforcement,
        record
            .landlock_abi
            .map(|abi| format!(" (ABI {abi})"))
            .unwrap_or_default(),
        paths(&plan.read),
        if plan.write.is_empty() {
            "nothing".to_owned()
        } else {
            paths(&plan.write)
        },
        plan.connect,
        plan.bind
    )
}
