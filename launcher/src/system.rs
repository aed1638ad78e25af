//! System mode: a root-owned `/etc/mcpin/config.toml` pins what decides a launch (the policy,
//! the policy-root key, the rollback state, the store, the audit log and the interpreters), so
//! that nothing the user's agent passes (flags, environment) and nothing the user can write can
//! change them. Without the file, mcpin runs in per-user mode.
//!
//! The file is trusted only if it, and every directory above it, is owned by root and not
//! writable by group or others (as ssh checks `authorized_keys`); so are the policy and the
//! policy-root key it names. A file that exists but fails a check is an error, never a fallback
//! to per-user mode: that fallback is exactly what an attacker would arrange.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::interpreter::InterpreterPins;

/// Where system mode is configured. Fixed: no flag or variable moves it.
pub const SYSTEM_CONFIG: &str = "/etc/mcpin/config.toml";

#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    #[error("system config `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("system config `{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "system mode ({SYSTEM_CONFIG}) pins what decides a launch: {} refused",
        names.join(", ")
    )]
    Override { names: Vec<String> },
    #[error(
        "`{path}` {why}: a file system mode trusts must be owned by root and not writable by group or others (fix with `chown root:root` and `chmod go-w`)"
    )]
    Insecure { path: PathBuf, why: String },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ConfigFile {
    policy: PathBuf,
    #[serde(default)]
    policy_root_key: Option<PathBuf>,
    state_dir: PathBuf,
    store: PathBuf,
    #[serde(default)]
    audit_log: Option<String>,
    #[serde(default)]
    interpreters: InterpreterPins,
}

/// The settings system mode pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemConfig {
    pub policy: PathBuf,
    pub policy_root_key: Option<PathBuf>,
    /// Rollback state; written only by privileged commands.
    pub state_dir: PathBuf,
    /// The content-addressed store and installs; filled by `sudo mcpin install`.
    pub store: PathBuf,
    /// This user's audit log (`{uid}` in the configured path is replaced).
    pub audit_log: PathBuf,
    /// `node`, `python`, `docker` (checked for shape here, resolved at launch).
    pub interpreters: InterpreterPins,
}

/// Which mode this machine is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    PerUser,
    System(Box<SystemConfig>),
}

/// The default audit log in system mode: one file per user in a root-owned directory
/// (mode 1733, like a mail spool: users create their own file, cannot touch others').
pub const DEFAULT_SYSTEM_AUDIT_LOG: &str = "/var/log/mcpin/{uid}.jsonl";

/// Who runs this process: the real uid (whose audit log, whose store), and whether the
/// effective uid is root (only then may the system store and rollback state be written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub privileged: bool,
}

impl Caller {
    pub fn current() -> Caller {
        Caller {
            uid: rustix::process::getuid().as_raw(),
            privileged: rustix::process::geteuid().is_root(),
        }
    }
}

/// Reads the system config at `path` (normally [`SYSTEM_CONFIG`]) for the user `uid`.
pub fn load(path: &Path, uid: u32) -> Result<Mode, SystemError> {
    match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Mode::PerUser),
        Err(source) => {
            return Err(SystemError::Io {
                path: path.to_owned(),
                source,
            });
        }
        Ok(_) => {}
    }
    require_root_owned(path)?;
    let text = fs_err::read_to_string(path).map_err(|source| SystemError::Io {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |message: String| SystemError::Invalid {
        path: path.to_owned(),
        message,
    };
    let file: ConfigFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let mut absolute = vec![
        ("policy", &file.policy),
        ("state-dir", &file.state_dir),
        ("store", &file.store),
    ];
    absolute.extend(
        file.policy_root_key
            .as_ref()
            .map(|p| ("policy-root-key", p)),
    );
    file.interpreters
        .check()
        .map_err(|why| invalid(format!("[interpreters] {why}")))?;
    if let Some((name, relative)) = absolute.iter().find(|(_, p)| !p.is_absolute()) {
        return Err(invalid(format!(
            "`{name}` must be an absolute path, not `{}`",
            relative.display()
        )));
    }
    // What decides a launch must be as trustworthy as this file.
    require_root_owned(&file.policy)?;
    if let Some(key) = &file.policy_root_key {
        require_root_owned(key)?;
    }
    let audit_log = file
        .audit_log
        .as_deref()
        .unwrap_or(DEFAULT_SYSTEM_AUDIT_LOG)
        .replace("{uid}", &uid.to_string());
    if !Path::new(&audit_log).is_absolute() {
        return Err(invalid(format!(
            "`audit-log` must be an absolute path, not `{audit_log}`"
        )));
    }
    Ok(Mode::System(Box::new(SystemConfig {
        policy: file.policy,
        policy_root_key: file.policy_root_key,
        state_dir: file.state_dir,
        store: file.store,
        audit_log: PathBuf::from(audit_log),
        interpreters: file.interpreters,
    })))
}

/// Refuses the flags and variables (named, and whether each is set) that would change a
/// setting system mode pins.
pub fn refuse_overrides(overrides: &[(&str, bool)]) -> Result<(), SystemError> {
    let names: Vec<String> = overrides
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| (*name).to_owned())
        .collect();
    if names.is_empty() {
        Ok(())
    } else {
        Err(SystemError::Override { names })
    }
}

/// `path` (not a symlink) and each directory above it: owned by root, not writable by group
/// or others. A sticky directory (like `/tmp`) does not count as safe: others can still create
/// names in it.
pub fn require_root_owned(path: &Path) -> Result<(), SystemError> {
    let insecure = |at: &Path, why: String| SystemError::Insecure {
        path: at.to_owned(),
        why,
    };
    let meta = std::fs::symlink_metadata(path).map_err(|source| SystemError::Io {
        path: path.to_owned(),
        source,
    })?;
    if meta.file_type().is_symlink() {
        return Err(insecure(path, "is a symbolic link".into()));
    }
    let mut current = Some(path);
    while let Some(at) = current {
        let meta = std::fs::metadata(at).map_err(|source| SystemError::Io {
            path: at.to_owned(),
            source,
        })?;
        if meta.uid() != 0 {
            return Err(insecure(at, format!("is owned by uid {}", meta.uid())));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(insecure(
                at,
                format!(
                    "is writable by group or others (mode {:o})",
                    meta.mode() & 0o7777
                ),
            ));
        }
        current = at.parent().filter(|parent| !parent.as_os_str().is_empty());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_is_per_user_mode() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            load(&dir.path().join("config.toml"), 1000).unwrap(),
            Mode::PerUser
        );
    }

    #[test]
    fn a_config_anyone_else_can_write_is_an_error_not_a_fallback() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        fs_err::write(&config, "policy = \"/etc/mcpin/policy.toml\"\n").unwrap();
        fs_err::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
        let error = load(&config, 1000).unwrap_err();
        assert!(matches!(error, SystemError::Insecure { .. }), "{error}");
        assert!(error.to_string().contains("chmod go-w"), "{error}");
    }
}
