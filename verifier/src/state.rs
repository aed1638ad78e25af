//! Rollback protection: the highest policy `version` seen on this machine,
//! per policy name, in `<state dir>/policy-versions.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot use state file `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "state file `{path}` is corrupt ({source}); remove it only if you trust every policy you will load next"
    )]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// What the state said about a policy version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionCheck {
    pub version: u64,
    /// The highest version seen before this one, if any.
    pub last_seen: Option<u64>,
    /// Whether the state was consulted at all: only signed policies are tracked.
    pub tracked: bool,
}

impl VersionCheck {
    /// An unsigned policy: its version is neither compared nor recorded.
    pub fn untracked(version: u64) -> Self {
        VersionCheck {
            version,
            last_seen: None,
            tracked: false,
        }
    }

    /// An older policy than one already seen.
    pub fn is_rollback(&self) -> bool {
        self.last_seen.is_some_and(|seen| self.version < seen)
    }
}

/// The state directory (`--state-dir`, `MCPIN_STATE_DIR`, or `$XDG_STATE_HOME/mcpin`).
#[derive(Debug, Clone)]
pub struct PolicyState {
    file: PathBuf,
}

impl PolicyState {
    pub fn new(dir: &Path) -> Self {
        PolicyState {
            file: dir.join("policy-versions.json"),
        }
    }

    fn read(&self) -> Result<BTreeMap<String, u64>, StateError> {
        match fs_err::read(&self.file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
                path: self.file.clone(),
                source,
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(self.io(source)),
        }
    }

    fn io(&self, source: std::io::Error) -> StateError {
        StateError::Io {
            path: self.file.clone(),
            source,
        }
    }

    /// Compares `version` of policy `name` with the last one seen, without recording it (for a
    /// state directory only a privileged step may write, as in system mode).
    pub fn check(&self, name: &str, version: u64) -> Result<VersionCheck, StateError> {
        Ok(VersionCheck {
            version,
            last_seen: self.read()?.get(name).copied(),
            tracked: true,
        })
    }

    /// Compares `version` of policy `name` with the last one seen and, unless
    /// it is a rollback, records it. The file only ever grows: a concurrent
    /// writer with a lower version cannot overwrite a higher one for long,
    /// because every write is re-read and retried.
    pub fn observe(&self, name: &str, version: u64) -> Result<VersionCheck, StateError> {
        let dir = self.file.parent().expect("state file has a directory");
        fs_err::create_dir_all(dir).map_err(|source| self.io(source))?;
        let mut first_seen = None;
        for _ in 0..8 {
            let mut versions = self.read()?;
            let last_seen = versions.get(name).copied();
            let check = VersionCheck {
                version,
                last_seen: first_seen.unwrap_or(last_seen),
                tracked: true,
            };
            first_seen.get_or_insert(last_seen);
            if check.is_rollback() || last_seen.is_some_and(|seen| seen >= version) {
                return Ok(check);
            }
            versions.insert(name.to_owned(), version);
            let mut json = serde_json::to_vec_pretty(&versions).expect("versions serialize");
            json.push(b'\n');
            mcpin_artifact::write_atomic(&self.file, &json, 0o600)
                .map_err(|source| self.io(source))?;
        }
        Ok(VersionCheck {
            version,
            last_seen: first_seen.flatten(),
            tracked: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_only_grow() {
        let dir = tempfile::tempdir().unwrap();
        let state = PolicyState::new(&dir.path().join("state"));
        assert_eq!(state.observe("p", 3).unwrap().last_seen, None);
        assert!(!state.observe("p", 3).unwrap().is_rollback());
        assert!(!state.observe("p", 5).unwrap().is_rollback());
        let check = state.observe("p", 4).unwrap();
        assert!(check.is_rollback());
        assert_eq!(check.last_seen, Some(5));
        assert!(!state.observe("other", 1).unwrap().is_rollback());
        assert_eq!(state.observe("p", 5).unwrap().last_seen, Some(5));
    }
}
