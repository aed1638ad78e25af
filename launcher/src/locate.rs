//! Fixed file locations — the one definition of mcpin's base directories (policy, audit log,
//! rollback state, store, the user's `.npmrc`) — and the account mcpin runs as.
//!
//! Agents start servers with a minimal environment, so the policy is found at fixed places:
//! an explicit `--policy` path first, then the system-wide `/etc/mcpin/policy.toml` (managed by
//! the enterprise, so it wins over the user's), then `$XDG_CONFIG_HOME/mcpin/policy.toml`
//! (`~/.config/mcpin/policy.toml`). No policy found is a deny, never an allow.
//!
//! [`BaseDirs`] come from `HOME` and the `XDG_*` variables, as every per-user tool's do.
//! [`Account`] comes from the password database of the real uid: it names the user in the
//! audit log and is the server's `HOME`, where the caller's environment must not decide.

use std::path::{Path, PathBuf};

/// The system-wide policy file.
pub const SYSTEM_POLICY: &str = "/etc/mcpin/policy.toml";

/// Where a policy was found, or every place that was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyLocation {
    Found(PathBuf),
    Missing { searched: Vec<PathBuf> },
}

/// The directories the lookups depend on, so tests and callers can pass their own.
#[derive(Debug, Clone, Default)]
pub struct BaseDirs {
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_state_home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
}

impl BaseDirs {
    /// From `HOME` and `XDG_CONFIG_HOME`, `XDG_STATE_HOME`, `XDG_DATA_HOME` (empty or relative
    /// values are ignored, as the XDG spec says).
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
            xdg_data_home: absolute("XDG_DATA_HOME"),
        }
    }

    /// `$XDG_CONFIG_HOME`, falling back to `~/.config`.
    pub fn config_home(&self) -> Option<PathBuf> {
        self.xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|home| home.join(".config")))
    }

    /// `$XDG_CONFIG_HOME/mcpin/policy.toml`.
    pub fn user_policy(&self) -> Option<PathBuf> {
        Some(self.config_home()?.join("mcpin/policy.toml"))
    }

    /// `$XDG_STATE_HOME/mcpin`, falling back to `~/.local/state/mcpin`: the rollback state.
    pub fn state_dir(&self) -> Option<PathBuf> {
        let state = self
            .xdg_state_home
            .clone()
            .or_else(|| self.home.as_ref().map(|home| home.join(".local/state")))?;
        Some(state.join("mcpin"))
    }

    /// `<state dir>/audit.jsonl`.
    pub fn audit_log(&self) -> Option<PathBuf> {
        Some(self.state_dir()?.join("audit.jsonl"))
    }

    /// `$XDG_DATA_HOME/mcpin/store`, falling back to `~/.local/share/mcpin/store`.
    pub fn store(&self) -> Option<PathBuf> {
        let data = self
            .xdg_data_home
            .clone()
            .or_else(|| self.home.as_ref().map(|home| home.join(".local/share")))?;
        Some(data.join("mcpin/store"))
    }

    /// `~/.npmrc`: the only npm configuration `mcpin run` and `mcpin wrap` read.
    pub fn user_npmrc(&self) -> Option<PathBuf> {
        Some(self.home.as_ref()?.join(".npmrc"))
    }
}

/// The account of the real uid, from the password database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    /// The login name, `uid:<n>` when the database has no entry.
    pub name: String,
    /// The home directory, when the database names an absolute one.
    pub home: Option<PathBuf>,
}

impl Account {
    /// The account mcpin runs as (the real uid: a setuid bit does not change who asked).
    pub fn current() -> Account {
        Account::of(nix::unistd::Uid::current().as_raw())
    }

    fn of(uid: u32) -> Account {
        match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
            Ok(Some(user)) => Account {
                uid,
                name: user.name,
                home: Some(user.dir).filter(|dir| dir.is_absolute()),
            },
            _ => Account {
                uid,
                name: format!("uid:{uid}"),
                home: None,
            },
        }
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
            ..BaseDirs::default()
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
            xdg_data_home: Some("/d".into()),
        };
        assert_eq!(
            dirs.user_policy().unwrap(),
            Path::new("/c/mcpin/policy.toml")
        );
        assert_eq!(dirs.audit_log().unwrap(), Path::new("/s/mcpin/audit.jsonl"));
        assert_eq!(dirs.state_dir().unwrap(), Path::new("/s/mcpin"));
        assert_eq!(dirs.store().unwrap(), Path::new("/d/mcpin/store"));
        assert_eq!(dirs.user_npmrc().unwrap(), Path::new("/h/.npmrc"));
        let home_only = BaseDirs {
            home: Some("/h".into()),
            ..BaseDirs::default()
        };
        assert_eq!(
            home_only.audit_log().unwrap(),
            Path::new("/h/.local/state/mcpin/audit.jsonl")
        );
        assert_eq!(
            home_only.store().unwrap(),
            Path::new("/h/.local/share/mcpin/store")
        );
        assert_eq!(BaseDirs::default().store(), None);
    }

    #[test]
    fn the_account_comes_from_the_password_database_not_the_environment() {
        let account = Account::current();
        assert_eq!(account.uid, rustix::process::getuid().as_raw());
        // Whatever `USER`/`HOME` say in this process, the database is asked.
        let passwd = fs_err::read_to_string("/etc/passwd").unwrap();
        let entry = passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.get(2) == Some(&account.uid.to_string().as_str()));
        if let Some(fields) = entry {
            assert_eq!(account.name, fields[0]);
            assert_eq!(account.home.as_deref(), Some(Path::new(fields[5])));
        }
        let nobody = Account::of(u32::MAX - 7);
        assert_eq!(nobody.name, format!("uid:{}", u32::MAX - 7));
        assert_eq!(nobody.home, None);
    }
}
