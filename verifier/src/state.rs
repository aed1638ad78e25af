//! Rollback protection: the highest policy `version` seen on this machine,
//! per policy name, in `<state dir>/policy-versions.json`; and what the last successful
//! `mcpin policy pull` installed, and when, in `<state dir>/policy-pull.json` (the freeze-attack
//! defence `max-age` measures from it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
            // Readable by every user: in system mode their launches compare with it.
            mcpin_artifact::write_atomic(&self.file, &json, 0o644)
                .map_err(|source| self.io(source))?;
        }
        Ok(VersionCheck {
            version,
            last_seen: first_seen.flatten(),
            tracked: true,
        })
    }
}

/// What the last successful `mcpin policy pull` installed. Written only by that privileged
/// command; read at every launch of a policy that sets `max-age`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRecord {
    /// The policy's `name`.
    pub name: String,
    pub version: u64,
    /// `sha256:<hex>` of the installed policy file.
    pub digest: String,
    /// Where it was pulled from (a redacted URL or `oci:HOST/REPO:TAG`).
    pub source: String,
    /// When the pull finished.
    pub pulled_at: jiff::Timestamp,
    /// The files installed besides the policy and its signature, relative to the policy's
    /// directory (removed again when a later policy no longer pins them).
    pub files: Vec<String>,
}

/// `<state dir>/policy-pull.json`.
#[derive(Debug, Clone)]
pub struct PullState {
    file: PathBuf,
}

impl PullState {
    pub fn new(dir: &Path) -> Self {
        PullState {
            file: dir.join("policy-pull.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The record, or `None` when no pull ever succeeded here.
    pub fn read(&self) -> Result<Option<PullRecord>, StateError> {
        match fs_err::read(&self.file) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| StateError::Corrupt {
                        path: self.file.clone(),
                        source,
                    })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io {
                path: self.file.clone(),
                source,
            }),
        }
    }

    /// Replaces the record atomically (mode 0644: launches by every user read it).
    pub fn write(&self, record: &PullRecord) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.file.clone(),
            source,
        };
        if let Some(dir) = self.file.parent() {
            fs_err::create_dir_all(dir).map_err(io)?;
        }
        let mut json = serde_json::to_vec_pretty(record).expect("a pull record serializes");
        json.push(b'\n');
        mcpin_artifact::write_atomic(&self.file, &json, 0o644).map_err(io)
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

    #[test]
    fn pull_records_round_trip_and_absence_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let state = PullState::new(&dir.path().join("state"));
        assert_eq!(state.read().unwrap(), None);
        let record = PullRecord {
            name: "fleet".into(),
            version: 3,
            digest: format!("sha256:{}", "a".repeat(64)),
            source: "oci:127.0.0.1:5000/acme/policy:prod".into(),
            pulled_at: "2026-09-01T10:00:00Z".parse().unwrap(),
            files: vec!["keys/publisher.pub".into()],
        };
        state.write(&record).unwrap();
        assert_eq!(state.read().unwrap(), Some(record));
        fs_err::write(state.path(), b"{\"name\": 1}").unwrap();
        assert!(matches!(state.read(), Err(StateError::Corrupt { .. })));
    }
}
