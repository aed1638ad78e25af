//! Fixed file locations: the policy file and the audit log.
//!
//! Agents start servers with a minimal environment, so the policy is found at fixed places:
//! an explicit `--policy` path first, then the system-wide `/etc/mcpin/policy.toml` (managed by
//! the enterprise, so it wins over the user's), then `$XDG_CONFIG_HOME/mcpin/policy.toml`
//! (`~/.config/mcpin/policy.toml`). No policy found is a deny, never an allow.

use std::path::{Path, PathBuf};

/// The system-wide policy file.
pub const SYSTEM_POLICY: &str = "/etc/mcpin/policy.toml";

/// Where a policy was found, or every place that was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyLocation {
    Found(PathBuf),
    Missing { searched: Vec<PathBuf> },
}

/// The directories the lookup depends on, so tests and callers can pass their own.
#[derive(Debug, Clone, Default)]
pub struct BaseDirs {
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_state_home: Option<PathBuf>,
}

impl BaseDirs {
    /// From `HOME`, `XDG_CONFIG_HOME` and `XDG_STATE_HOME` (empty or relative values are ignored,
    /// as the XDG spec says).
    pub fn from_env() -> BaseDirs {
        let absolute = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        BaseDirs {
            home: absolute("HOME"),
            xdg_config_home: absolute("XDG_CONFIG_HOME"),
            xdg_state_home: absolute("XDG_STATE_HOME"),
        }
    }

    /// `$XDG_CONFIG_HOME/mcpin/policy.toml`, falling back to `~/.config`.
    pub fn user_policy(&self) -> Option<PathBuf> {
        let config = self
            .xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|home| home.join(".config")))?;
        Some(config.join("mcpin/policy.toml"))
    }

    /// `$XDG_STATE_HOME/mcpin/audit.jsonl`, falling back to `~/.local/state`.
    pub fn audit_log(&self) -> Option<PathBuf> {
        let state = self
            .xdg_state_home
            .clone()
            .or_else(|| self.home.as_ref().map(|home| home.join(".local/state")))?;
        Some(state.join("mcpin/audit.jsonl"))
    }
}

/// Finds the policy: `explicit`, else the system file, else the user file.
pub fn find_policy(explicit: Option<&Path>, dirs: &BaseDirs, system: &Path) -> PolicyLocation {
    if let Some(path) = explicit {
        // An explicit path that does not exist is reported by whoever reads it.
        return PolicyLocation::Found(path.to_owned());
    }
    let mut searched = vec![system.to_owned()];
    searched.extend(dirs.user_policy());
    match searched.iter().find(|path| path.is_file()) {
        Some(path) => PolicyLocation::Found(path.clone()),
        None => PolicyLocation::Missing { searched },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_order_is_flag_then_system_then_user() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("etc/policy.toml");
        let dirs = BaseDirs {
            home: Some(dir.path().join("home")),
            xdg_config_home: None,
            xdg_state_home: None,
        };
        let user = dir.path().join("home/.config/mcpin/policy.toml");
        assert_eq!(
            find_policy(None, &dirs, &system),
            PolicyLocation::Missing {
                searched: vec![system.clone(), user.clone()]
            }
        );
        fs_err::create_dir_all(user.parent().unwrap()).unwrap();
        fs_err::write(&user, "").unwrap();
        assert_eq!(
            find_policy(None, &dirs, &system),
            PolicyLocation::Found(user.clone())
        );
        fs_err::create_dir_all(system.parent().unwrap()).unwrap();
        fs_err::write(&system, "").unwrap();
        assert_eq!(
            find_policy(None, &dirs, &system),
            PolicyLocation::Found(system.clone())
        );
        let flag = dir.path().join("flag.toml");
        assert_eq!(
            find_policy(Some(&flag), &dirs, &system),
            PolicyLocation::Found(flag)
        );
    }

    #[test]
    fn xdg_dirs_win_over_home() {
        let dirs = BaseDirs {
            home: Some("/h".into()),
            xdg_config_home: Some("/c".into()),
            xdg_state_home: Some("/s".into()),
        };
        assert_eq!(
            dirs.user_policy().unwrap(),
            Path::new("/c/mcpin/policy.toml")
        );
        assert_eq!(dirs.audit_log().unwrap(), Path::new("/s/mcpin/audit.jsonl"));
        let home_only = BaseDirs {
            home: Some("/h".into()),
            ..BaseDirs::default()
        };
        assert_eq!(
            home_only.audit_log().unwrap(),
            Path::new("/h/.local/state/mcpin/audit.jsonl")
        );
    }
}
