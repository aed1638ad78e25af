//! The audit log: one JSON line per launch decision, hash-chained.
//!
//! Each record carries `seq` (1, 2, …) and `prev`, the `sha256:` of the previous line's bytes
//! (the first record's `prev` is [`GENESIS`]). A head file beside the log (`<log>.head`) holds
//! the hash and seq of the last line, so truncating the log or editing its last line is caught
//! too. [`verify`] walks the chain and names the first line that does not fit.
//!
//! Appends take an exclusive `flock` on the log, write one whole line with `O_APPEND`, sync it,
//! then replace the head file atomically; concurrent launches never interleave or fork the
//! chain. Every write or sync error is returned — a full disk is reported, never ignored.
//!
//! The chain shows that records were removed or edited after the fact; it cannot stop a user
//! who can write the file from recomputing the whole chain. Ship the log off the machine (or
//! anchor the head elsewhere) where that matters.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev` of the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The decision's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Deny,
}

/// One reason behind a decision, with its stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

/// The artifact a decision was about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub purl: String,
    /// Algorithm → hex digest (`sha256`, `sha512`).
    pub digests: std::collections::BTreeMap<String, String>,
}

/// The policy a decision was made under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub path: String,
    pub version: Option<String>,
    /// `sha256:<hex>` of the policy file's bytes.
    pub digest: String,
}

/// What the caller knows about a decision; the log adds time, user (the real uid's account
/// name from the password database, never `$USER`), host, seq and prev.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub argv: Vec<String>,
    pub artifact: Option<ArtifactRef>,
    pub policy: Option<PolicyRef>,
    /// Identities of the signers whose signatures were accepted (key ids, certificate SANs).
    pub signers: Vec<String>,
    pub verdict: Outcome,
    pub reasons: Vec<Reason>,
    /// The effective sandbox rules (after `${…}` expansion) and how they were enforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<mcpin_sandbox::Record>,
}

/// A line of the log as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    /// RFC 3339, UTC, seconds.
    pub time: String,
    pub user: String,
    pub host: String,
    #[serde(flatten)]
    pub decision: Decision,
    pub prev: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log `{path}`: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The chain is broken at `line` (1-based). Stable code `audit-chain-broken`.
    #[error("audit log `{path}` line {line}: {why} [audit-chain-broken]")]
    Broken {
        path: PathBuf,
        line: u64,
        why: String,
    },
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub records: u64,
    /// `sha256:` of the last line (or [`GENESIS`] for an empty log).
    pub head: String,
}

fn line_hash(line: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(line)))
}

fn head_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".head");
    PathBuf::from(name)
}

/// The log at a path.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
        move |source| AuditError::Io {
            path: self.path.clone(),
            action,
            source,
        }
    }

    /// Appends one record for `decision` and returns it.
    pub fn append(&self, decision: Decision) -> Result<Record, AuditError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs_err::create_dir_all(dir).map_err(self.io("creating its directory"))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(self.io("opening"))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(std::io::Error::from)
            .map_err(self.io("locking"))?;
        let (seq, prev) = last_line(&mut file).map_err(self.io("reading the last record"))?;
        let (seq, prev) = match prev {
            Some(line) => {
                if !line.ends_with(b"\n") {
                    return Err(AuditError::Broken {
                        path: self.path.clone(),
                        line: seq,
                        why:
                            "the last record is incomplete (a torn write); run `mcpin audit verify`"
                                .into(),
                    });
                }
                (seq + 1, line_hash(&line[..line.len() - 1]))
            }
            None => (1, GENESIS.to_owned()),
        };
        let record = Record {
            seq,
            time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            user: crate::locate::Account::current().name,
            host: rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
            decision,
            prev,
        };
        let mut line = serde_json::to_vec(&record).expect("records serialize");
        let hash = line_hash(&line);
        line.push(b'\n');
        file.write_all(&line).map_err(self.io("writing a record"))?;
        file.sync_data().map_err(self.io("syncing"))?;
        let head = serde_json::to_vec(&Head { seq, hash }).expect("heads serialize");
        mcpin_artifact::write_atomic(&head_path(&self.path), &head, 0o600)
            .map_err(self.io("writing the head file"))?;
        // Dropping the file releases the lock.
        Ok(record)
    }
}

/// Returns (number of lines, the last line with its newline if any).
fn last_line(file: &mut std::fs::File) -> std::io::Result<(u64, Option<Vec<u8>>)> {
    // Counting lines needs the whole file; logs are small (one line per launch) and this keeps
    // `seq` honest even when the head file is missing.
    file.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    if bytes.is_empty() {
        return Ok((0, None));
    }
    let lines = bytes.split_inclusive(|b| *b == b'\n').count() as u64;
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    Ok((lines, Some(bytes[start..].to_vec())))
}

/// Checks every record's `seq` and `prev` and the head file; names the first line that breaks.
pub fn verify(path: &Path) -> Result<Verified, AuditError> {
    let bytes = fs_err::read(path).map_err(|source| AuditError::Io {
        path: path.to_owned(),
        action: "reading",
        source,
    })?;
    let broken = |line: u64, why: String| AuditError::Broken {
        path: path.to_owned(),
        line,
        why,
    };
    let mut prev = GENESIS.to_owned();
    let mut count = 0u64;
    for (index, raw) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let number = index as u64 + 1;
        let Some(line) = raw.strip_suffix(b"\n") else {
            return Err(broken(
                number,
                "incomplete last line (no newline): a torn write or truncation".into(),
            ));
        };
        let record: Record = serde_json::from_slice(line)
            .map_err(|error| broken(number, format!("not a valid audit record: {error}")))?;
        if record.prev != prev {
            let why = if number == 1 {
                "the first record does not start the chain: earlier records were deleted".to_owned()
            } else {
                format!(
                    "`prev` does not match line {}: line {} was edited or records between them were deleted",
                    number - 1,
                    number - 1
                )
            };
            return Err(broken(number, why));
        }
        if record.seq != number {
            return Err(broken(
                number,
                format!(
                    "record seq {} at line {number}: records were deleted or reordered",
                    record.seq
                ),
            ));
        }
        prev = line_hash(line);
        count = number;
    }
    let head_file = head_path(path);
    match fs_err::read(&head_file) {
        Ok(head) => {
            let head: Head = serde_json::from_slice(&head).map_err(|error| {
                broken(
                    count,
                    format!("head file `{}` is malformed: {error}", head_file.display()),
                )
            })?;
            if head.seq != count || head.hash != prev {
                return Err(broken(
                    count.max(1),
                    format!(
                        "the head file records {} lines ending in {}, the log has {count} ending in {prev}: the last line was edited or the log was truncated",
                        head.seq, head.hash
                    ),
                ));
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && count == 0 => {}
        Err(source) => {
            return Err(AuditError::Io {
                path: head_file,
                action: "reading the head file",
                source,
            });
        }
    }
    Ok(Verified {
        records: count,
        head: prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(code: &str) -> Decision {
        Decision {
            argv: vec!["npx".into(), "-y".into(), "x@1.0.0".into()],
            artifact: None,
            policy: None,
            signers: Vec::new(),
            verdict: Outcome::Deny,
            reasons: vec![Reason {
                code: code.into(),
                message: "because".into(),
            }],
            sandbox: None,
        }
    }

    #[test]
    fn appends_chain_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("state/audit.jsonl"));
        let first = log.append(decision("a")).unwrap();
        assert_eq!(first.prev, GENESIS);
        assert_eq!(first.seq, 1);
        let second = log.append(decision("b")).unwrap();
        let text = fs_err::read_to_string(log.path()).unwrap();
        let first_line = text.lines().next().unwrap();
        assert_eq!(second.prev, line_hash(first_line.as_bytes()));
        let verified = verify(log.path()).unwrap();
        assert_eq!(verified.records, 2);
    }

    #[test]
    fn concurrent_appends_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let log = AuditLog::new(&path);
                std::thread::spawn(move || {
                    for j in 0..5 {
                        log.append(decision(&format!("t{i}-{j}"))).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(verify(&path).unwrap().records, 40);
    }

    #[test]
    fn truncation_and_last_line_edits_are_caught_by_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        for code in ["a", "b", "c"] {
            log.append(decision(code)).unwrap();
        }
        let text = fs_err::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        fs_err::write(log.path(), format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        let error = verify(log.path()).unwrap_err();
        assert!(error.to_string().contains("truncated"), "{error}");
        let edited = lines[2].replace("\"deny\"", "\"allow\"");
        fs_err::write(
            log.path(),
            format!("{}\n{}\n{edited}\n", lines[0], lines[1]),
        )
        .unwrap();
        assert!(matches!(
            verify(log.path()),
            Err(AuditError::Broken { line: 3, .. })
        ));
    }

    #[test]
    fn a_torn_last_line_is_reported_and_blocks_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        log.append(decision("a")).unwrap();
        let mut file = fs_err::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap();
        file.write_all(b"{\"seq\":2").unwrap();
        assert!(matches!(
            log.append(decision("b")),
            Err(AuditError::Broken { line: 2, .. })
        ));
        assert!(matches!(
            verify(log.path()),
            Err(AuditError::Broken { line: 2, .. })
        ));
    }
}
