//! `mcpin wrap` / `mcpin unwrap`: rewrite agent configs so every stdio server launched with
//! npx, uvx or docker starts as `<absolute mcpin> run -- <original argv>`, and back.
//!
//! - Edits are made in place on a lossless syntax tree, so comments, trailing commas, key order
//!   and indentation survive (JSON and JSONC via `jsonc-parser`'s CST, YAML via `yaml-edit`).
//! - Floating versions are resolved once through a [`Resolver`] and pinned in the argv; each
//!   server's [`LaunchRequest`] is shown to a [`Gate`] (the policy), whose verdict is reported.
//!   With `strict`, a config that would contain a refused, unpinned or not-allowed server (or
//!   any server when no gate is connected) is not written.
//! - Before the first change, the original bytes are copied beside the file
//!   (`<file>.mcpin-backup`) and a record of what was rewritten is kept (`<file>.mcpin-wrap.json`).
//!   Unwrap restores the backup byte for byte while the file is exactly as wrap left it;
//!   if it was edited since, each wrapped entry is restored individually instead.
//! - Writes are atomic (temp file + rename, mode kept). Wrapping twice changes nothing.

mod clients;
mod json;
mod resolve;
mod yaml;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use clients::{Client, ClientDirs, Syntax};
pub use resolve::ToolResolver;

use crate::audit::{Outcome, Reason};
use crate::grammar::{self, Ecosystem, FloatingSpec, LaunchRequest, Refusal};

/// Turns a floating spec into one exact version (or `sha256:` digest for OCI).
pub trait Resolver {
    fn resolve(&self, spec: &FloatingSpec) -> Result<String, ResolveError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum ResolveError {
    #[error("no {ecosystem} resolver is connected")]
    Unsupported { ecosystem: Ecosystem },
    #[error("nothing published matches `{spec}`")]
    NoMatch { spec: String },
    #[error("resolving `{spec}`: {message}")]
    Failed { spec: String, message: String },
}

/// The policy's verdict on one server, at wrap time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateVerdict {
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
}

/// The install-time gate: the policy engine decides whether a (pinned) launch is allowed.
pub trait Gate {
    fn check(&self, request: &LaunchRequest) -> GateVerdict;
}

/// How to wrap.
pub struct WrapOptions<'a> {
    /// Absolute path of the `mcpin` binary written into configs.
    pub mcpin: PathBuf,
    pub resolver: Option<&'a dyn Resolver>,
    pub gate: Option<&'a dyn Gate>,
    pub strict: bool,
    pub dry_run: bool,
}

/// What happened to one server entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Wrapped,
    AlreadyWrapped,
    /// Not npx / uvx / docker (`node server.js`, a remote URL entry): left alone.
    LeftAlone,
    Unwrapped,
}

/// A pin made at wrap time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub from: String,
    pub to: String,
}

/// The report for one server entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerReport {
    /// Where the entry is, e.g. `mcpServers.filesystem`.
    pub name: String,
    pub action: Action,
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_argv: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<Pin>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pin_errors: Vec<ResolveError>,
    /// `None` when no gate is connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<GateVerdict>,
}

impl ServerReport {
    /// Why strict mode would refuse to write this server, if it would.
    pub fn strict_blocker(&self) -> Option<String> {
        if self.action != Action::Wrapped {
            return None;
        }
        if let Some(refusal) = &self.refusal {
            return Some(format!("refused: {refusal}"));
        }
        if let Some(error) = self.pin_errors.first() {
            return Some(format!("not pinned: {error}"));
        }
        match &self.verdict {
            None => Some("not checked: no policy gate is connected".to_owned()),
            Some(verdict) if verdict.outcome != Outcome::Allow => Some(format!(
                "denied by policy: {}",
                verdict
                    .reasons
                    .iter()
                    .map(|r| r.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(_) => None,
        }
    }
}

/// The report for one config file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub client: Client,
    pub path: PathBuf,
    pub servers: Vec<ServerReport>,
    /// Unified diff of the change (empty when nothing changes).
    pub diff: String,
    /// True when the file was (or, in a dry run, would be) rewritten.
    pub changed: bool,
    pub written: bool,
    /// Strict mode refused to write; one line per offending server.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// Unwrap restored the original bytes exactly (false: entry by entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact_restore: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    #[error("`{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Stable code `config-parse`.
    #[error("`{path}` is not valid {syntax}: {message} [config-parse]")]
    Parse {
        path: PathBuf,
        syntax: &'static str,
        message: String,
    },
    /// Stable code `config-shape`.
    #[error("`{path}`: {message} [config-shape]")]
    Shape { path: PathBuf, message: String },
    /// Stable code `wrap-record`.
    #[error("wrap record `{path}` is unreadable: {message} [wrap-record]")]
    Record { path: PathBuf, message: String },
}

/// A server entry found in a config: its location and its current argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub argv: Vec<String>,
}

/// What wrap records beside the config so unwrap can undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrapRecord {
    version: u32,
    /// sha256 of the backup (the bytes before the first wrap).
    original_sha256: String,
    /// sha256 of the file as wrap last wrote it; `None` once it was edited in between.
    wrapped_sha256: Option<String>,
    entries: Vec<RecordedEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedEntry {
    name: String,
    original_argv: Vec<String>,
    wrapped_argv: Vec<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `<file>.mcpin-backup`: the original bytes.
pub fn backup_path(path: &Path) -> PathBuf {
    sibling(path, ".mcpin-backup")
}

/// `<file>.mcpin-wrap.json`: what was rewritten.
pub fn record_path(path: &Path) -> PathBuf {
    sibling(path, ".mcpin-wrap.json")
}

/// The argv after `--` when `argv` is already `<mcpin> run -- …`, with `<mcpin>` named
/// `mcpin` (`mcpin.exe`) or exactly the binary doing the wrapping.
fn wrapped_inner<'a>(argv: &'a [String], mcpin: &Path) -> Option<&'a [String]> {
    let command = argv.first()?;
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command);
    let is_mcpin =
        base == "mcpin" || base.eq_ignore_ascii_case("mcpin.exe") || Path::new(command) == mcpin;
    (is_mcpin && argv.get(1)? == "run" && argv.get(2)? == "--").then(|| &argv[3..])
}

fn read_text(path: &Path) -> Result<String, WrapError> {
    let bytes = fs_err::read(path).map_err(|source| WrapError::Io {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| WrapError::Parse {
        path: path.to_owned(),
        syntax: "UTF-8 text",
        message: "the file is not UTF-8".into(),
    })
}

fn read_record(path: &Path) -> Result<Option<WrapRecord>, WrapError> {
    let record_file = record_path(path);
    match fs_err::read(&record_file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| WrapError::Record {
                path: record_file,
                message: error.to_string(),
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(WrapError::Io {
            path: record_file,
            source,
        }),
    }
}

/// Fails if `path` no longer holds `expected`: the client (Claude Code rewrites
/// `~/.claude.json` all the time) saved it while we worked; rerunning is safe.
fn ensure_unchanged(path: &Path, expected: &str) -> Result<(), WrapError> {
    if read_text(path)? == expected {
        return Ok(());
    }
    Err(WrapError::Shape {
        path: path.to_owned(),
        message: "the file changed while it was being rewritten (the client saved it); nothing was written, run the command again".into(),
    })
}

/// Replaces `path` atomically, keeping its permission bits (configs may hold
/// secrets: new files, the backup and the record, are 0600).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WrapError> {
    mcpin_artifact::write_atomic(path, bytes, 0o600).map_err(|source| WrapError::Io {
        path: path.to_owned(),
        source,
    })
}

fn unified_diff(path: &Path, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &format!("{name} (mcpin)"))
        .to_string()
}

/// An edit to apply to one entry.
pub(crate) struct Edit {
    pub name: String,
    pub argv: Vec<String>,
}

/// The syntax-specific part: find entries and rewrite their argv in place.
/// How many leading and trailing elements `old` and `new` share (not overlapping):
/// the args editors keep those as written and touch only the run between.
fn common_ends(old: &[String], new: &[String]) -> (usize, usize) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    (prefix, suffix)
}

pub(crate) trait Document {
    fn entries(&self) -> Result<Vec<Entry>, String>;
    fn apply(&mut self, edits: &[Edit]) -> Result<String, String>;
}

fn open_document(client: Client, path: &Path, text: &str) -> Result<Box<dyn Document>, WrapError> {
    match client.syntax(path) {
        Syntax::Json => json::JsonDocument::parse(client, text)
            .map(|doc| Box::new(doc) as Box<dyn Document>)
            .map_err(|message| WrapError::Parse {
                path: path.to_owned(),
                syntax: "JSON",
                message,
            }),
        Syntax::Yaml => yaml::YamlConfig::parse(client, text)
            .map(|doc| Box::new(doc) as Box<dyn Document>)
            .map_err(|message| WrapError::Parse {
                path: path.to_owned(),
                syntax: "YAML",
                message,
            }),
    }
}

/// Wraps every npx / uvx / docker stdio entry of one config file.
pub fn wrap_file(
    client: Client,
    path: &Path,
    options: &WrapOptions<'_>,
) -> Result<FileReport, WrapError> {
    let text = read_text(path)?;
    let mut document = open_document(client, path, &text)?;
    let shape = |message| WrapError::Shape {
        path: path.to_owned(),
        message,
    };
    let entries = document.entries().map_err(shape)?;
    let mcpin = options.mcpin.to_string_lossy().into_owned();
    let mut servers = Vec::new();
    let mut edits = Vec::new();
    for entry in entries {
        let mut report = ServerReport {
            name: entry.name.clone(),
            action: Action::LeftAlone,
            argv: entry.argv.clone(),
            new_argv: None,
            refusal: None,
            pins: Vec::new(),
            pin_errors: Vec::new(),
            verdict: None,
        };
        if wrapped_inner(&entry.argv, &options.mcpin).is_some() {
            report.action = Action::AlreadyWrapped;
            servers.push(report);
            continue;
        }
        let launches_package = match grammar::parse(&entry.argv) {
            Ok(request) => {
                let mut resolved = Vec::new();
                for spec in &request.floating {
                    let result = match options.resolver {
                        Some(resolver) => resolver.resolve(spec),
                        None => Err(ResolveError::Unsupported {
                            ecosystem: spec.package.ecosystem,
                        }),
                    };
                    match result {
                        Ok(version) => resolved.push(version),
                        Err(error) => report.pin_errors.push(error),
                    }
                }
                let (argv, request) =
                    if report.pin_errors.is_empty() && !request.floating.is_empty() {
                        let pinned = request.pinned_argv(&resolved);
                        for spec in &request.floating {
                            report.pins.push(Pin {
                                from: entry.argv[spec.argv_index].clone(),
                                to: pinned[spec.argv_index].clone(),
                            });
                        }
                        // Re-parse so the gate sees exactly what the config will launch.
                        let request = grammar::parse(&pinned).map_err(|refusal| {
                            shape(format!(
                                "pinning `{}` produced an unparsable argv: {refusal}",
                                entry.name
                            ))
                        })?;
                        (pinned, request)
                    } else {
                        (entry.argv.clone(), request)
                    };
                report.verdict = options.gate.map(|gate| gate.check(&request));
                Some(argv)
            }
            // Refused entries are wrapped too: at launch `mcpin run` refuses them, instead of
            // the agent running them unchecked.
            Err(refusal) if refusal.code != grammar::RefusalCode::LauncherUnsupported => {
                report.refusal = Some(refusal);
                Some(entry.argv.clone())
            }
            Err(_) => None,
        };
        if let Some(argv) = launches_package {
            let mut new_argv = vec![mcpin.clone(), "run".to_owned(), "--".to_owned()];
            new_argv.extend(argv);
            report.action = Action::Wrapped;
            report.new_argv = Some(new_argv.clone());
            edits.push(Edit {
                name: entry.name.clone(),
                argv: new_argv,
            });
        }
        servers.push(report);
    }
    let new_text = if edits.is_empty() {
        text.clone()
    } else {
        document.apply(&edits).map_err(shape)?
    };
    let mut report = FileReport {
        client,
        path: path.to_owned(),
        diff: unified_diff(path, &text, &new_text),
        changed: new_text != text,
        written: false,
        blocked: Vec::new(),
        exact_restore: None,
        servers,
    };
    if options.strict {
        report.blocked = report
            .servers
            .iter()
            .filter_map(|s| s.strict_blocker().map(|why| format!("{}: {why}", s.name)))
            .collect();
    }
    if !report.changed || options.dry_run || !report.blocked.is_empty() {
        return Ok(report);
    }

    let record = read_record(path)?;
    let current_sha = sha256_hex(text.as_bytes());
    let already_wrapped = report
        .servers
        .iter()
        .any(|s| s.action == Action::AlreadyWrapped);
    let mut record = match record {
        // The file carries no wrap of ours: it is the original. Back it up (again).
        _ if !already_wrapped => {
            write_atomic(&backup_path(path), text.as_bytes())?;
            WrapRecord {
                version: 1,
                original_sha256: current_sha.clone(),
                wrapped_sha256: None,
                entries: Vec::new(),
            }
        }
        Some(record) => record,
        None => {
            return Err(WrapError::Record {
                path: record_path(path),
                message: "the config has wrapped entries but no wrap record; run `mcpin unwrap` first or restore it by hand".into(),
            });
        }
    };
    // Exact restore stays possible only if the file is byte-identical to what we last wrote.
    let exact = record.wrapped_sha256.as_deref() == Some(current_sha.as_str()) || !already_wrapped;
    for server in &report.servers {
        if let (Action::Wrapped, Some(new_argv)) = (server.action, &server.new_argv) {
            record.entries.retain(|e| e.name != server.name);
            record.entries.push(RecordedEntry {
                name: server.name.clone(),
                original_argv: server.argv.clone(),
                wrapped_argv: new_argv.clone(),
            });
        }
    }
    record.wrapped_sha256 = exact.then(|| sha256_hex(new_text.as_bytes()));
    let record_bytes = serde_json::to_vec_pretty(&record).expect("records serialize");
    ensure_unchanged(path, &text)?;
    write_atomic(&record_path(path), &record_bytes)?;
    write_atomic(path, new_text.as_bytes())?;
    report.written = true;
    Ok(report)
}

/// Undoes [`wrap_file`]: restores the backup byte for byte if the file is exactly as wrap left
/// it, otherwise turns each `<mcpin> run -- ARGV` entry back into its original argv.
pub fn unwrap_file(
    client: Client,
    path: &Path,
    mcpin: &Path,
    dry_run: bool,
) -> Result<FileReport, WrapError> {
    let text = read_text(path)?;
    let record = read_record(path)?;
    let current_sha = sha256_hex(text.as_bytes());
    let backup = backup_path(path);
    let exact = match &record {
        Some(record) if record.wrapped_sha256.as_deref() == Some(current_sha.as_str()) => {
            let bytes = fs_err::read(&backup).map_err(|source| WrapError::Io {
                path: backup.clone(),
                source,
            })?;
            if sha256_hex(&bytes) != record.original_sha256 {
                return Err(WrapError::Record {
                    path: backup.clone(),
                    message: "the backup does not match the recorded original (sha256 differs)"
                        .into(),
                });
            }
            Some(String::from_utf8(bytes).map_err(|_| WrapError::Record {
                path: backup.clone(),
                message: "the backup is not UTF-8".into(),
            })?)
        }
        _ => None,
    };
    let document = open_document(client, path, &text)?;
    let shape = |message| WrapError::Shape {
        path: path.to_owned(),
        message,
    };
    let entries = document.entries().map_err(shape)?;
    let mut servers = Vec::new();
    let mut edits = Vec::new();
    for entry in entries {
        let Some(inner) = wrapped_inner(&entry.argv, mcpin) else {
            continue;
        };
        // The recorded original (before pinning) wins if the entry is still as wrap wrote it.
        let original = record
            .as_ref()
            .and_then(|r| {
                r.entries
                    .iter()
                    .find(|e| e.name == entry.name && e.wrapped_argv == entry.argv)
            })
            .map(|e| e.original_argv.clone())
            .unwrap_or_else(|| inner.to_vec());
        if original.is_empty() {
            return Err(shape(format!(
                "`{}` runs `mcpin run --` with no command",
                entry.name
            )));
        }
        servers.push(ServerReport {
            name: entry.name.clone(),
            action: Action::Unwrapped,
            argv: entry.argv.clone(),
            new_argv: Some(original.clone()),
            refusal: None,
            pins: Vec::new(),
            pin_errors: Vec::new(),
            verdict: None,
        });
        edits.push(Edit {
            name: entry.name,
            argv: original,
        });
    }
    let mut document = document;
    let new_text = match &exact {
        Some(original) => original.clone(),
        None if edits.is_empty() => text.clone(),
        None => document.apply(&edits).map_err(shape)?,
    };
    let mut report = FileReport {
        client,
        path: path.to_owned(),
        diff: unified_diff(path, &text, &new_text),
        changed: new_text != text,
        written: false,
        blocked: Vec::new(),
        exact_restore: Some(exact.is_some()),
        servers,
    };
    if dry_run || !report.changed {
        return Ok(report);
    }
    ensure_unchanged(path, &text)?;
    write_atomic(path, new_text.as_bytes())?;
    for leftover in [record_path(path), backup] {
        match fs_err::remove_file(&leftover) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(WrapError::Io {
                    path: leftover,
                    source,
                });
            }
        }
    }
    report.written = true;
    Ok(report)
}
