//! The effective rules of one launch: templates expanded, the server's directory arguments
//! judged, mcpin's own directories kept out of reach. No I/O happens here; the launcher gathers
//! the [`Facts`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::policy::{ArgAccess, Mode, PathTemplate, Ports, SandboxPolicy};

/// One server argument that names a directory (see [`ArgFact::candidate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgFact {
    /// Position among the server's arguments (0 is the first argument after the package).
    pub index: usize,
    pub written: String,
    /// The existing directory it names, every symlink resolved.
    pub resolved: PathBuf,
}

impl ArgFact {
    /// The path an argument names when it can count as a directory grant: an absolute path, or
    /// `~` / `~/…` expanded with the account's home (servers such as server-filesystem expand
    /// `~` themselves). Relative paths never count: they would resolve against the agent's
    /// working directory, which the attacker chooses. Options (`--x=/p`) never count.
    pub fn candidate(written: &str, home: Option<&Path>) -> Option<PathBuf> {
        if written == "~" {
            return home.map(Path::to_owned);
        }
        if let Some(rest) = written.strip_prefix("~/") {
            return home.map(|home| home.join(rest));
        }
        let path = Path::new(written);
        path.is_absolute().then(|| path.to_owned())
    }
}

/// What the launcher found on this machine for one launch.
pub struct Facts<'a> {
    /// The installed tree (canonical); `None` for docker.
    pub install: Option<&'a Path>,
    /// The interpreter's files (canonical, existing).
    pub runtime: &'a [PathBuf],
    /// The private temporary directory, when the policy uses `${TMP}`.
    pub tmp: Option<&'a Path>,
    /// The account's home directory (password database).
    pub home: Option<&'a Path>,
    /// The server's arguments that name existing directories.
    pub args: &'a [ArgFact],
    /// mcpin's own places (store, state, audit log directory, policy directory), canonical:
    /// never writable, never granted through arguments.
    pub protected: &'a [PathBuf],
    /// Resolves a path written in the policy (every symlink), `None` when it does not exist.
    pub canonical: &'a dyn Fn(&Path) -> Option<PathBuf>,
}

/// A path the server is granted, and where the grant comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub path: PathBuf,
    /// `fs-read: ${RUNTIME}`, `fs-write: /srv/data`, `fs-from-args: argument 1 \`~/notes\``.
    pub from: String,
}

/// The effective rules: what the server may read, write, connect to and listen on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub mode: Mode,
    /// Readable and executable.
    pub read: Vec<Grant>,
    /// Readable, writable, executable.
    pub write: Vec<Grant>,
    /// TCP connect.
    pub connect: Ports,
    /// TCP bind.
    pub bind: Ports,
    /// The private temporary directory (the server's `TMPDIR`), removed when it exits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmp: Option<PathBuf>,
    /// Policy paths that do not exist here: nothing is granted for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Grant>,
}

/// How a plan was enforced, for the audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub plan: Plan,
    /// `landlock`, `docker`, or `none` (best-effort where the kernel cannot).
    pub enforcement: String,
    /// The kernel's Landlock ABI (Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landlock_abi: Option<u8>,
    /// What is not enforced, in `best-effort` mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A launch the sandbox rules refuse. `code` is stable and kebab-case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} [{code}]")]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// System places no argument may grant: kernel interfaces, devices, boot files, runtime sockets
/// and the system configuration.
const SYSTEM: &[&str] = &["/proc", "/sys", "/dev", "/boot", "/run", "/var/run", "/etc"];

impl SandboxPolicy {
    /// Whether the launch needs a private `${TMP}` directory.
    pub fn uses_tmp(&self) -> bool {
        self.fs_read
            .iter()
            .chain(&self.fs_write)
            .any(|t| *t == PathTemplate::Tmp)
    }
}

/// The effective rules of one launch under `policy` (whose mode is not `off`).
pub fn resolve(policy: &SandboxPolicy, facts: &Facts<'_>) -> Result<Plan, Refusal> {
    let mut plan = Plan {
        mode: policy.mode,
        read: Vec::new(),
        write: Vec::new(),
        connect: policy.network.clone(),
        bind: policy.tcp_bind.clone(),
        tmp: facts.tmp.map(Path::to_owned),
        missing: Vec::new(),
    };
    for template in &policy.fs_read {
        let from = format!("fs-read: {template}");
        for path in expand(template, facts, &from, &mut plan.missing)? {
            push(&mut plan.read, path, &from);
        }
    }
    if policy.fs_read.contains(&PathTemplate::Runtime)
        && let Some(null) = (facts.canonical)(Path::new("/dev/null"))
    {
        // Interpreters open the null device for writing (subprocess stdio, discarded output).
        push(
            &mut plan.write,
            null,
            "fs-read: ${RUNTIME} (the null device)",
        );
    }
    for template in &policy.fs_write {
        let from = format!("fs-write: {template}");
        if matches!(template, PathTemplate::Install | PathTemplate::Runtime) {
            return Err(Refusal::new(
                "sandbox-grant-denied",
                format!("{from}: the verified tree and the interpreter are never writable"),
            ));
        }
        for path in expand(template, facts, &from, &mut plan.missing)? {
            if let Some(why) = protected_overlap(&path, facts.protected) {
                return Err(Refusal::new(
                    "sandbox-grant-denied",
                    format!("{from} resolves to `{}`, {why}", path.display()),
                ));
            }
            push(&mut plan.write, path, &from);
        }
    }
    if policy.fs_from_args != ArgAccess::None {
        for arg in facts.args {
            let from = format!("fs-from-args: argument {} `{}`", arg.index + 1, arg.written);
            if let Some(why) = arg_bound(&arg.resolved, facts) {
                return Err(Refusal::new(
                    "sandbox-arg-denied",
                    format!(
                        "{from} resolves to `{}`, {why}; pass a narrower directory",
                        arg.resolved.display()
                    ),
                ));
            }
            let target = match policy.fs_from_args {
                ArgAccess::ReadWrite => &mut plan.write,
                _ => &mut plan.read,
            };
            push(target, arg.resolved.clone(), &from);
        }
    }
    Ok(plan)
}

fn push(grants: &mut Vec<Grant>, path: PathBuf, from: &str) {
    if !grants.iter().any(|g| g.path == path) {
        grants.push(Grant {
            path,
            from: from.to_owned(),
        });
    }
}

/// The paths a template stands for here; a policy path that does not exist grants nothing
/// and is recorded in `missing`.
fn expand(
    template: &PathTemplate,
    facts: &Facts<'_>,
    from: &str,
    missing: &mut Vec<Grant>,
) -> Result<Vec<PathBuf>, Refusal> {
    let written = match template {
        PathTemplate::Install => {
            return Ok(facts.install.map(Path::to_owned).into_iter().collect());
        }
        PathTemplate::Runtime => return Ok(facts.runtime.to_vec()),
        PathTemplate::Tmp => return Ok(facts.tmp.map(Path::to_owned).into_iter().collect()),
        PathTemplate::Home(rest) => match facts.home {
            Some(home) => home.join(rest),
            None => {
                return Err(Refusal::new(
                    "sandbox-grant-denied",
                    format!("{from}: the account has no home directory"),
                ));
            }
        },
        PathTemplate::Absolute(path) => path.clone(),
    };
    match (facts.canonical)(&written) {
        Some(path) => Ok(vec![path]),
        None => {
            missing.push(Grant {
                path: written,
                from: from.to_owned(),
            });
            Ok(Vec::new())
        }
    }
}

/// Why `path` may not be written: it is, contains, or lies inside one of mcpin's own places.
fn protected_overlap(path: &Path, protected: &[PathBuf]) -> Option<String> {
    if path == Path::new("/") {
        return Some("the whole file system".to_owned());
    }
    protected.iter().find_map(|place| {
        if path.starts_with(place) {
            Some(format!("inside mcpin's own `{}`", place.display()))
        } else if place.starts_with(path) {
            Some(format!("which contains mcpin's own `{}`", place.display()))
        } else {
            None
        }
    })
}

/// Why a directory argument may not be granted.
fn arg_bound(path: &Path, facts: &Facts<'_>) -> Option<String> {
    if path == Path::new("/") {
        return Some("the whole file system".to_owned());
    }
    if let Some(home) = facts.home
        && home.starts_with(path)
    {
        return Some(format!(
            "which contains the home directory `{}` (~/.ssh, ~/.aws, mcpin's state)",
            home.display()
        ));
    }
    if let Some(system) = SYSTEM
        .iter()
        .map(Path::new)
        .find(|system| path.starts_with(system) || system.starts_with(path))
    {
        return Some(format!(
            "which overlaps the system's `{}`",
            system.display()
        ));
    }
    protected_overlap(path, facts.protected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        args: &'a [ArgFact],
        protected: &'a [PathBuf],
        canonical: &'a dyn Fn(&Path) -> Option<PathBuf>,
    ) -> Facts<'a> {
        Facts {
            install: Some(Path::new("/store/installs/v1/abc")),
            runtime: &[],
            tmp: Some(Path::new("/tmp/mcpin-sandbox-x")),
            home: Some(Path::new("/home/u")),
            args,
            protected,
            canonical,
        }
    }

    fn arg(written: &str, resolved: &str) -> ArgFact {
        ArgFact {
            index: 0,
            written: written.to_owned(),
            resolved: resolved.into(),
        }
    }

    fn existing(path: &Path) -> Option<PathBuf> {
        (!path.starts_with("/missing")).then(|| path.to_owned())
    }

    #[test]
    fn templates_expand_and_missing_paths_grant_nothing() {
        let policy = SandboxPolicy {
            mode: Mode::Enforce,
            fs_read: vec![
                PathTemplate::Install,
                "/etc/ssl".parse().unwrap(),
                "/missing/x".parse().unwrap(),
                "${HOME}/.config/srv".parse().unwrap(),
            ],
            ..SandboxPolicy::default()
        };
        let plan = resolve(&policy, &facts(&[], &[], &existing)).unwrap();
        let read: Vec<&Path> = plan.read.iter().map(|g| g.path.as_path()).collect();
        assert_eq!(
            read,
            [
                Path::new("/store/installs/v1/abc"),
                Path::new("/etc/ssl"),
                Path::new("/home/u/.config/srv")
            ]
        );
        assert_eq!(plan.missing[0].path, Path::new("/missing/x"));
        // No ${RUNTIME} here, so no null device either.
        let write: Vec<&Path> = plan.write.iter().map(|g| g.path.as_path()).collect();
        assert_eq!(write, [Path::new("/tmp/mcpin-sandbox-x")]);
        assert_eq!(plan.connect, Ports::None);
    }

    #[test]
    fn writes_never_reach_mcpins_own_places() {
        let protected = [PathBuf::from("/home/u/.local/share/mcpin/store")];
        for write in ["/home/u/.local", "/home/u/.local/share/mcpin/store/v1", "/"] {
            let policy = SandboxPolicy {
                mode: Mode::Enforce,
                fs_write: vec![write.parse().unwrap()],
                ..SandboxPolicy::default()
            };
            let refusal = resolve(&policy, &facts(&[], &protected, &existing)).unwrap_err();
            assert_eq!(refusal.code, "sandbox-grant-denied", "{write}");
        }
        let policy = SandboxPolicy {
            mode: Mode::Enforce,
            fs_write: vec![PathTemplate::Install],
            ..SandboxPolicy::default()
        };
        assert!(resolve(&policy, &facts(&[], &protected, &existing)).is_err());
    }

    #[test]
    fn directory_arguments_are_bounded() {
        let protected = [PathBuf::from("/var/lib/mcpin/state")];
        let policy = SandboxPolicy {
            mode: Mode::Enforce,
            fs_from_args: ArgAccess::ReadWrite,
            ..SandboxPolicy::default()
        };
        for (written, resolved) in [
            ("/", "/"),
            ("~", "/home/u"),
            ("/home", "/home"),
            ("/etc", "/etc"),
            ("/proc/self", "/proc/12"),
            ("/var/lib/mcpin", "/var/lib/mcpin"),
            ("/var/lib/mcpin/state/x", "/var/lib/mcpin/state/x"),
            ("/innocent-link", "/dev"),
        ] {
            let args = [arg(written, resolved)];
            let refusal = resolve(&policy, &facts(&args, &protected, &existing)).unwrap_err();
            assert_eq!(refusal.code, "sandbox-arg-denied", "{written}");
        }
        let args = [arg("~/notes", "/home/u/notes")];
        let plan = resolve(&policy, &facts(&args, &protected, &existing)).unwrap();
        let notes = plan
            .write
            .iter()
            .find(|g| g.path == Path::new("/home/u/notes"))
            .unwrap();
        assert_eq!(notes.from, "fs-from-args: argument 1 `~/notes`");
        let read_only = SandboxPolicy {
            fs_from_args: ArgAccess::Read,
            ..policy.clone()
        };
        let plan = resolve(&read_only, &facts(&args, &protected, &existing)).unwrap();
        assert!(
            plan.read
                .iter()
                .any(|g| g.path == Path::new("/home/u/notes"))
        );
        assert!(
            !plan
                .write
                .iter()
                .any(|g| g.path == Path::new("/home/u/notes"))
        );
        let none = SandboxPolicy {
            fs_from_args: ArgAccess::None,
            ..policy
        };
        let plan = resolve(&none, &facts(&args, &protected, &existing)).unwrap();
        assert!(
            !plan
                .read
                .iter()
                .chain(&plan.write)
                .any(|g| g.from.contains("argument"))
        );
    }

    #[test]
    fn which_arguments_count() {
        let home = Some(Path::new("/home/u"));
        assert_eq!(
            ArgFact::candidate("~/x", home),
            Some(PathBuf::from("/home/u/x"))
        );
        assert_eq!(
            ArgFact::candidate("/srv", home),
            Some(PathBuf::from("/srv"))
        );
        assert_eq!(ArgFact::candidate("relative", home), None);
        assert_eq!(ArgFact::candidate(".", home), None);
        assert_eq!(ArgFact::candidate("--root=/srv", home), None);
        assert_eq!(ArgFact::candidate("~/x", None), None);
    }
}
