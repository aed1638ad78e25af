//! The audit log: one JSON line per launch decision (`"event": "launch"`) and per event of the
//! runtime guard (`tool-call`, `tool-drift`, `approval`, `guard-stop`), hash-chained.
//!
//! Each record carries `seq` (1, 2, …), `time`, `user`, `host`, `event` and `prev`, the `sha256:` of the previous line's bytes
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

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev` of the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The decision's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Deny,
}

/// One reason behind a decision, with its stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    /// A verdict, refusal or sandbox code (the codes reference lists them).
    pub code: String,
    /// The reason in words.
    pub message: String,
}

/// The artifact a decision was about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArtifactRef {
    /// The package URL (`pkg:npm/…@…`, `pkg:pypi/…`, `pkg:oci/…`).
    pub purl: String,
    /// Algorithm → hex digest (`sha256`, `sha512`).
    pub digests: std::collections::BTreeMap<String, String>,
}

/// The policy a decision was made under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyRef {
    /// The policy file as read.
    pub path: String,
    /// The policy's `version`, when it was loaded.
    pub version: Option<String>,
    /// `sha256:<hex>` of the policy file's bytes.
    pub digest: String,
}

/// What the caller knows about a decision; the log adds time, user (the real uid's account
/// name from the password database, never `$USER`), host, seq and prev.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    /// The launcher command line as the agent gave it (`npx -y pkg@1.2.3 ARGS…`).
    pub argv: Vec<String>,
    /// The artifact judged; absent for a refusal before it was identified.
    pub artifact: Option<ArtifactRef>,
    /// The policy judged against; absent for a refusal before it was loaded.
    pub policy: Option<PolicyRef>,
    /// Identities of the signers whose signatures were accepted (key ids, certificate SANs).
    pub signers: Vec<String>,
    /// The program exec'd (the interpreter or the docker client) and its sha256, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<ProgramRef>,
    /// `allow` or `deny`.
    pub verdict: Outcome,
    /// Every check made, passed or failed, in order.
    pub reasons: Vec<Reason>,
    /// The effective sandbox rules (after `${…}` expansion) and how they were enforced: see
    /// docs/sandbox.md, "The audit record".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub sandbox: Option<mcpin_sandbox::Record>,
}

impl Decision {
    /// A refusal known only by its argv and one reason (before the pipeline ran).
    pub fn refused(argv: &[String], code: &str, message: String) -> Decision {
        Decision {
            argv: argv.to_vec(),
            artifact: None,
            policy: None,
            signers: Vec::new(),
            program: None,
            verdict: Outcome::Deny,
            reasons: vec![Reason {
                code: code.to_owned(),
                message,
            }],
            sandbox: None,
        }
    }
}

/// An executable, by its canonical path and the sha256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramRef {
    /// Its canonical path.
    pub path: String,
    /// The sha256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// The `event` of a launch decision record (records written before events existed have none).
pub const LAUNCH_EVENT: &str = "launch";

fn launch_event() -> String {
    LAUNCH_EVENT.to_owned()
}

/// A launch decision as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Position in the log, from 1.
    pub seq: u64,
    /// RFC 3339, UTC, seconds.
    pub time: String,
    /// The account of the real uid, from the password database (never `$USER`).
    pub user: String,
    /// The host name.
    pub host: String,
    /// What the record is: `launch`, or a runtime guard event (records written before events
    /// existed have none: launches).
    #[serde(default = "launch_event")]
    pub event: String,
    #[serde(flatten)]
    pub decision: Decision,
    /// `sha256:` of the previous record's line (the chain `mcpin audit verify` checks).
    pub prev: String,
}

/// The fields every record has, whatever its event.
#[derive(Debug, Deserialize)]
struct Common {
    seq: u64,
    #[allow(dead_code)]
    time: String,
    #[serde(default = "launch_event")]
    event: String,
    prev: String,
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
        let mut written = None;
        self.append_with(1, |seq, prev, stamp| {
            let record = Record {
                seq,
                time: stamp.time.clone(),
                user: stamp.user.clone(),
                host: stamp.host.clone(),
                event: launch_event(),
                decision: decision.clone(),
                prev: prev.to_owned(),
            };
            let line = serde_json::to_vec(&record).expect("records serialize");
            written = Some(record);
            line
        })?;
        Ok(written.expect("one record was written"))
    }

    /// Appends one record per event (JSON objects with an `event` key, as the runtime guard
    /// makes them) under one lock and one sync.
    pub fn append_events(&self, events: &[serde_json::Value]) -> Result<(), AuditError> {
        let mut events = events.iter();
        self.append_with(events.len(), |seq, prev, stamp| {
            let fields = events.next().expect("one event per record");
            let record = EventRecord {
                seq,
                time: &stamp.time,
                user: &stamp.user,
                host: &stamp.host,
                fields,
                prev,
            };
            serde_json::to_vec(&record).expect("records serialize")
        })
    }

    /// Takes the lock, then makes `count` lines with `line(seq, prev, stamp)`, chaining each to
    /// the one before, writes them at once, syncs, and moves the head.
    fn append_with(
        &self,
        count: usize,
        mut line: impl FnMut(u64, &str, &Stamp) -> Vec<u8>,
    ) -> Result<(), AuditError> {
        if count == 0 {
            return Ok(());
        }
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
        let last = last_line(&mut file).map_err(self.io("reading the last record"))?;
        let (mut seq, mut prev) = match last {
            Some(line) => {
                // The line after the last one the head file vouches for.
                let head_seq = fs_err::read(head_path(&self.path))
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<Head>(&bytes).ok())
                    .map_or(0, |head| head.seq);
                let broken = |why: &str| AuditError::Broken {
                    path: self.path.clone(),
                    line: head_seq + 1,
                    why: format!("{why}; run `mcpin audit verify`"),
                };
                let body = line
                    .strip_suffix(b"\n")
                    .ok_or_else(|| broken("the last record is incomplete (a torn write)"))?;
                let common: Common = serde_json::from_slice(body)
                    .map_err(|_| broken("the last record is not a valid audit record"))?;
                (common.seq, line_hash(body))
            }
            None => (0, GENESIS.to_owned()),
        };
        let stamp = Stamp {
            time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            user: crate::locate::Account::current().name,
            host: rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
        };
        let mut lines = Vec::new();
        for _ in 0..count {
            seq += 1;
            let mut record = line(seq, &prev, &stamp);
            prev = line_hash(&record);
            record.push(b'\n');
            lines.extend_from_slice(&record);
        }
        file.write_all(&lines)
            .map_err(self.io("writing a record"))?;
        file.sync_data().map_err(self.io("syncing"))?;
        let head = serde_json::to_vec(&Head { seq, hash: prev }).expect("heads serialize");
        mcpin_artifact::write_atomic(&head_path(&self.path), &head, 0o600)
            .map_err(self.io("writing the head file"))?;
        // Dropping the file releases the lock.
        Ok(())
    }
}

/// When and by whom records are written.
struct Stamp {
    time: String,
    user: String,
    host: String,
}

/// A guard event as written: the common fields around the event's own.
#[derive(Serialize)]
struct EventRecord<'a> {
    seq: u64,
    time: &'a str,
    user: &'a str,
    host: &'a str,
    #[serde(flatten)]
    fields: &'a serde_json::Value,
    prev: &'a str,
}

impl mcpin_guard::AuditSink for AuditLog {
    fn append(&mut self, records: &[serde_json::Value]) -> Result<(), String> {
        self.append_events(records)
            .map_err(|error| error.to_string())
    }
}

/// The last line of the log, with its newline if it has one; reads only the tail.
fn last_line(file: &mut std::fs::File) -> std::io::Result<Option<Vec<u8>>> {
    let length = file.seek(SeekFrom::End(0))?;
    if length == 0 {
        return Ok(None);
    }
    const CHUNK: u64 = 64 * 1024;
    let mut tail: Vec<u8> = Vec::new();
    let mut start = length;
    loop {
        let from = start.saturating_sub(CHUNK);
        let mut chunk = vec![0; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
        // The newline that ends the line before the last one (the last may end in one too).
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(index) = body.iter().rposition(|b| *b == b'\n') {
            return Ok(Some(tail[index + 1..].to_vec()));
        }
        if start == 0 {
            return Ok(Some(tail));
        }
    }
}

/// The complete records from byte `offset` on (a torn last line is left for later), and the
/// offset after the last complete one: for `mcpin audit show`, and `--follow` from there.
pub fn read_from(
    path: &Path,
    offset: u64,
) -> Result<(Vec<serde_json::Map<String, serde_json::Value>>, u64), AuditError> {
    let io = |action: &'static str| {
        move |source| AuditError::Io {
            path: path.to_owned(),
            action,
            source,
        }
    };
    let mut file = fs_err::File::open(path).map_err(io("opening"))?;
    let length = file.metadata().map_err(io("reading"))?.len();
    if length < offset {
        return Err(AuditError::Broken {
            path: path.to_owned(),
            line: 0,
            why: format!("the log shrank below byte {offset}: it was truncated or replaced"),
        });
    }
    file.seek(SeekFrom::Start(offset)).map_err(io("reading"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io("reading"))?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let records = bytes[..complete]
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_slice(line).map_err(|error| AuditError::Broken {
                path: path.to_owned(),
                line: 0,
                why: format!("a record is not a JSON object: {error}"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((records, offset + complete as u64))
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
        let record: Common = serde_json::from_slice(line)
            .map_err(|error| broken(number, format!("not a valid audit record: {error}")))?;
        if record.event == LAUNCH_EVENT {
            serde_json::from_slice::<Record>(line)
                .map_err(|error| broken(number, format!("not a valid launch record: {error}")))?;
        }
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
        Decision::refused(
            &["npx".into(), "-y".into(), "x@1.0.0".into()],
            code,
            "because".into(),
        )
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
    fn guard_events_chain_with_launch_records() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        log.append(decision("a")).unwrap();
        let events = [
            serde_json::json!({"event": "tool-call", "tool": "t", "decision": "allowed"}),
            serde_json::json!({"event": "tool-drift", "tool": "u"}),
        ];
        log.append_events(&events).unwrap();
        log.append(decision("b")).unwrap();
        assert_eq!(verify(log.path()).unwrap().records, 4);
        let text = fs_err::read_to_string(log.path()).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let kinds: Vec<&str> = records
            .iter()
            .map(|r| r["event"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["launch", "tool-call", "tool-drift", "launch"]);
        assert_eq!(records[1]["seq"], 2);
        assert_eq!(
            records[2]["prev"],
            line_hash(text.lines().nth(1).unwrap().as_bytes())
        );
        // A launch record is still checked field by field.
        let edited = text.replacen("\"verdict\":\"deny\"", "\"verdict\":\"maybe\"", 1);
        fs_err::write(log.path(), edited).unwrap();
        assert!(matches!(
            verify(log.path()),
            Err(AuditError::Broken { line: 1, .. })
        ));
    }

    #[test]
    fn the_tail_is_found_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        let big = "x".repeat(100_000);
        log.append_events(&[serde_json::json!({"event": "e", "pad": big})])
            .unwrap();
        log.append_events(&[serde_json::json!({"event": "e", "pad": big})])
            .unwrap();
        assert_eq!(verify(log.path()).unwrap().records, 2);
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
