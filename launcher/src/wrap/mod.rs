//! `mcpin wrap` / `mcpin unwrap`: rewrite agent configs so every stdio server launched with
//! npx, uvx or docker starts as `<absolute mcpin> run -- <original argv>`, and back.
//!
//! - A run over many files is planned first (every file read, parsed and rewritten in memory),
//!   then applied. If any file fails (it does not parse, repeats a key, is read-only, strict mode
//!   refuses it), nothing is written unless `keep_going`; the report names every file either way.
//! - Edits splice only the changed literals into the text (see `edit`), so comments, trailing
//!   commas, key order, quoting and indentation survive, and an entry-by-entry unwrap gives the
//!   original bytes back.
//! - Floating versions are resolved once through a [`Resolver`] and pinned in the argv; each
//!   server's [`LaunchRequest`] and `env` are shown to a [`Gate`] (the policy), whose verdict is
//!   reported. With `strict`, a config that would contain a refused, unpinned, not-allowed,
//!   unreadable or unwrappable server (or any server when no gate is connected) is not written.
//! - What wrap changed is recorded in mcpin's state directory ([`RecordStore`]), keyed by the
//!   config's canonical path. Unwrap restores the original bytes while the file is exactly as
//!   wrap left it, else each wrapped entry individually.
//! - Writes go to the symlink's target (the link stays), atomically, keeping the mode; a
//!   read-only config is refused unless `force`.

mod clients;
mod edit;
mod equivalent;
mod json;
mod record;
mod resolve;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use clients::{Client, ClientDirs, ClientEnv, Discovery, Format, Location, Syntax, discover};
pub use record::{RecordLock, RecordStore};
pub use resolve::ToolResolver;

use crate::audit::{Outcome, Reason};
use crate::grammar::{self, Ecosystem, FloatingSpec, LaunchRequest, Refusal};
use record::{RecordedEntry, WrapRecord};

/// The version of the `--json` report.
pub const SCHEMA_VERSION: u32 = 1;

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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateVerdict {
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
    /// The tools signed for an allowed server: the config's servers are linted against each
    /// other with them (tool names defined twice, one server naming another's tools).
    #[serde(skip)]
    pub signed_tools: Option<mcpin_attestation::ToolsPayload>,
}

/// The install-time gate: the policy decides whether a (pinned) launch with the entry's
/// environment is allowed, as `mcpin run` will decide it.
pub trait Gate {
    fn check(&self, request: &LaunchRequest, env: &BTreeMap<String, String>) -> GateVerdict;
}

/// How a run writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Plan and report; write nothing.
    pub dry_run: bool,
    /// Write the files that planned cleanly even when others failed.
    pub keep_going: bool,
    /// Rewrite read-only configs too.
    pub force: bool,
}

/// How to wrap.
pub struct WrapOptions<'a> {
    /// Absolute path of the `mcpin` binary written into configs.
    pub mcpin: PathBuf,
    pub resolver: Option<&'a dyn Resolver>,
    pub gate: Option<&'a dyn Gate>,
    pub strict: bool,
    pub run: RunOptions,
}

/// What happened to one server entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Wrapped,
    AlreadyWrapped,
    /// Not npx / uvx / docker (`node server.js`): left alone.
    LeftAlone,
    /// Launches a package through another runner (`npm exec`, `sh -c "npx …"`): mcpin cannot
    /// wrap it; left as it is and reported.
    UnsupportedLauncher,
    /// The command, args or env are not plain strings mcpin can read; left as is and reported.
    Unreadable,
    Unwrapped,
}

/// A pin made at wrap time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub from: String,
    pub to: String,
}

/// The report for one server entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerReport {
    /// Where the entry is, e.g. `mcpServers.filesystem`.
    pub name: String,
    pub action: Action,
    /// Empty for an unreadable entry.
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_argv: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// Why an entry is unreadable, or which runner it launches through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<Pin>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pin_errors: Vec<ResolveError>,
    /// `None` when no gate is connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<GateVerdict>,
}

impl ServerReport {
    fn new(name: String, action: Action, argv: Vec<String>) -> ServerReport {
        ServerReport {
            name,
            action,
            argv,
            new_argv: None,
            refusal: None,
            problem: None,
            pins: Vec::new(),
            pin_errors: Vec::new(),
            verdict: None,
        }
    }

    /// Why strict mode would refuse to write this server, if it would.
    pub fn strict_blocker(&self) -> Option<String> {
        match self.action {
            Action::Wrapped => {}
            Action::UnsupportedLauncher | Action::Unreadable | Action::AlreadyWrapped
                if self.problem.is_some() =>
            {
                return Some(format!(
                    "not checked: {}",
                    self.problem.as_deref().unwrap_or("cannot be read")
                ));
            }
            _ => return None,
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

/// What became of one config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    /// Rewritten (in a dry run: would be).
    Wrapped,
    Unwrapped,
    Unchanged,
    /// `--strict` refused to write it.
    Refused,
    /// It could not be read, parsed or written.
    Failed,
    /// Not written: another file failed, or the recorded config is gone.
    Skipped,
}

/// Stable kebab-case codes for a file's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCode {
    ConfigParse,
    ConfigDuplicateKey,
    ConfigShape,
    ConfigReadOnly,
    ConfigNotWritable,
    ConfigChanged,
    ConfigMissing,
    WrapRecord,
    Io,
    StrictRefused,
    RunAborted,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::ConfigParse => "config-parse",
            ReasonCode::ConfigDuplicateKey => "config-duplicate-key",
            ReasonCode::ConfigShape => "config-shape",
            ReasonCode::ConfigReadOnly => "config-read-only",
            ReasonCode::ConfigNotWritable => "config-not-writable",
            ReasonCode::ConfigChanged => "config-changed",
            ReasonCode::ConfigMissing => "config-missing",
            ReasonCode::WrapRecord => "wrap-record",
            ReasonCode::Io => "io",
            ReasonCode::StrictRefused => "strict-refused",
            ReasonCode::RunAborted => "run-aborted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReason {
    pub code: ReasonCode,
    pub message: String,
}

/// The report for one config file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub client: Client,
    /// The path the config was found at.
    pub path: PathBuf,
    /// The file actually read and written, when `path` is a symlink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<PathBuf>,
    pub format: Format,
    pub status: FileStatus,
    /// True when the file was rewritten (false in a dry run).
    pub written: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<StatusReason>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub servers: Vec<ServerReport>,
    /// Unified diff of the change (empty when nothing changes).
    pub diff: String,
    /// Strict mode refused to write; one line per offending server.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// Unwrap restored the original bytes exactly (false: entry by entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact_restore: Option<bool>,
    /// The servers of this config, with their signed tools, linted against each other (see
    /// `mcpin tools lint` with several captures).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cross: Vec<mcpin_tools::CrossFinding>,
}

impl FileReport {
    fn new(location: &Location) -> FileReport {
        FileReport {
            client: location.client,
            path: location.path.clone(),
            target: None,
            format: location.format,
            status: FileStatus::Unchanged,
            written: false,
            reason: None,
            warnings: Vec::new(),
            servers: Vec::new(),
            diff: String::new(),
            blocked: Vec::new(),
            exact_restore: None,
            cross: Vec::new(),
        }
    }

    fn fail(mut self, error: &WrapError) -> FileReport {
        self.status = FileStatus::Failed;
        self.written = false;
        self.reason = Some(StatusReason {
            code: error.code(),
            message: error.to_string(),
        });
        self
    }
}

/// A client named on the command line that has no config file.
#[derive(Debug, Clone, Serialize)]
pub struct MissingClient {
    pub client: Client,
    pub searched: Vec<PathBuf>,
}

/// The report of one `wrap` or `unwrap` run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub schema_version: u32,
    /// `wrap` or `unwrap`.
    pub command: &'static str,
    pub dry_run: bool,
    pub files: Vec<FileReport>,
    pub clients_without_config: Vec<MissingClient>,
}

#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    /// Stable code `io`.
    #[error("`{path}`: {source} [io]")]
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
    /// Stable code `config-duplicate-key`.
    #[error("`{path}`: {message} [config-duplicate-key]")]
    DuplicateKey { path: PathBuf, message: String },
    /// Stable code `config-shape`.
    #[error("`{path}`: {message} [config-shape]")]
    Shape { path: PathBuf, message: String },
    /// Stable code `config-read-only`.
    #[error(
        "`{path}` is read-only{detail}; mcpin leaves it alone (pass --force to rewrite it anyway) [config-read-only]"
    )]
    ReadOnly { path: PathBuf, detail: String },
    /// Stable code `config-not-writable`.
    #[error(
        "`{path}` cannot be replaced: its folder `{dir}` is not writable by you (an administrator's file?) [config-not-writable]"
    )]
    NotWritable { path: PathBuf, dir: PathBuf },
    /// Stable code `config-changed`.
    #[error(
        "`{path}` changed while mcpin was working (the client saved it); it was not written, run the command again [config-changed]"
    )]
    Changed { path: PathBuf },
    /// Stable code `wrap-record`.
    #[error("wrap record `{path}` is unusable: {message} [wrap-record]")]
    Record { path: PathBuf, message: String },
}

impl WrapError {
    pub fn code(&self) -> ReasonCode {
        match self {
            WrapError::Io { .. } => ReasonCode::Io,
            WrapError::Parse { .. } => ReasonCode::ConfigParse,
            WrapError::DuplicateKey { .. } => ReasonCode::ConfigDuplicateKey,
            WrapError::Shape { .. } => ReasonCode::ConfigShape,
            WrapError::ReadOnly { .. } => ReasonCode::ConfigReadOnly,
            WrapError::NotWritable { .. } => ReasonCode::ConfigNotWritable,
            WrapError::Changed { .. } => ReasonCode::ConfigChanged,
            WrapError::Record { .. } => ReasonCode::WrapRecord,
        }
    }
}

/// What the editors report for a file they cannot take.
#[derive(Debug)]
pub(crate) enum DocError {
    Parse(String),
    DuplicateKey(String),
    Shape(String),
}

/// A server entry found in a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// Command and arguments are plain strings.
    Launch {
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        has_args: bool,
    },
    /// An entry a client may launch whose command, args or env mcpin cannot read.
    Unreadable(String),
}

/// Set one entry's argv; `drop_args`: remove the `args` key (wrap added it).
pub(crate) struct Edit {
    pub name: String,
    pub argv: Vec<String>,
    pub drop_args: bool,
}

/// The syntax-specific part: the entries of a parsed file, and the text with edits applied.
pub(crate) trait Document {
    fn entries(&self) -> &[Entry];
    fn apply(&self, text: &str, edits: &[Edit]) -> Result<String, String>;
}

/// `type` values of entries that are not launched (`streamable-http`, `streamableHttp`, …).
pub(crate) fn is_remote_type(kind: &str) -> bool {
    let normalized: String = kind
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    ["http", "sse", "streamablehttp", "ws", "websocket"].contains(&normalized.as_str())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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

fn open_document(
    location: &Location,
    path: &Path,
    text: &str,
) -> Result<(Box<dyn Document>, Vec<String>), WrapError> {
    let (syntax, result) = match location.format.syntax() {
        Syntax::Json => {
            let stem = location
                .path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("");
            let parsed = json::JsonDocument::parse(location.format, text, stem);
            let warnings = match &parsed {
                // Claude Desktop reads its config with a strict JSON parser and ignores a file
                // with comments or trailing commas.
                Ok(document) if document.not_strict && location.client == Client::ClaudeDesktop => {
                    vec![
                        "the file has comments or trailing commas: Claude Desktop reads strict JSON only and ignores this file"
                            .to_owned(),
                    ]
                }
                _ => Vec::new(),
            };
            (
                "JSON",
                parsed.map(|d| (Box::new(d) as Box<dyn Document>, warnings)),
            )
        }
        Syntax::Yaml => (
            "YAML",
            yaml::YamlConfig::parse(location.format, text)
                .map(|d| (Box::new(d) as Box<dyn Document>, Vec::new())),
        ),
    };
    result.map_err(|error| match error {
        DocError::Parse(message) => WrapError::Parse {
            path: path.to_owned(),
            syntax,
            message,
        },
        DocError::DuplicateKey(message) => WrapError::DuplicateKey {
            path: path.to_owned(),
            message,
        },
        DocError::Shape(message) => WrapError::Shape {
            path: path.to_owned(),
            message,
        },
    })
}

/// Refuses to plan a write mcpin should not or cannot make.
fn check_writable(path: &Path, force: bool) -> Result<(), WrapError> {
    let metadata = fs_err::metadata(path).map_err(|source| WrapError::Io {
        path: path.to_owned(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    #[cfg(unix)]
    {
        use rustix::fs::{Access, access};
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        let writable = access(path, Access::WRITE_OK).is_ok() && mode & 0o222 != 0;
        if !writable && !force {
            return Err(WrapError::ReadOnly {
                path: path.to_owned(),
                detail: format!(" (mode {mode:04o})"),
            });
        }
        if access(dir, Access::WRITE_OK | Access::EXEC_OK).is_err() {
            return Err(WrapError::NotWritable {
                path: path.to_owned(),
                dir: dir.to_owned(),
            });
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        if metadata.permissions().readonly() && !force {
            return Err(WrapError::ReadOnly {
                path: path.to_owned(),
                detail: String::new(),
            });
        }
    }
    Ok(())
}

/// A planned rewrite of one file.
struct Write {
    /// The file read and replaced (the symlink's target).
    target: PathBuf,
    /// The text it held when planned, and the new text (`None`: only the record changes).
    old: String,
    new: Option<String>,
    record: RecordChange,
}

enum RecordChange {
    Keep,
    Save(Box<WrapRecord>),
    Remove,
}

/// Reads a config, following symlinks (the report names the target): `(target, text)`.
fn open(location: &Location, report: &mut FileReport) -> Result<(PathBuf, String), WrapError> {
    let target = fs_err::canonicalize(&location.path).map_err(|source| WrapError::Io {
        path: location.path.clone(),
        source,
    })?;
    if target != location.path
        && fs_err::symlink_metadata(&location.path).is_ok_and(|m| m.file_type().is_symlink())
    {
        report.target = Some(target.clone());
    }
    let text = read_text(&target)?;
    Ok((target, text))
}

/// Reads, judges and rewrites (in memory) one config.
fn plan_wrap(
    location: &Location,
    options: &WrapOptions<'_>,
    records: &RecordStore,
    report: &mut FileReport,
) -> Result<Option<Write>, WrapError> {
    let (target, text) = open(location, report)?;
    let (document, warnings) = open_document(location, &location.path, &text)?;
    report.warnings = warnings;
    let mcpin = options.mcpin.to_string_lossy().into_owned();
    let mut edits = Vec::new();
    let mut had_args = BTreeMap::new();
    for entry in document.entries() {
        let (argv, env, has_args) = match &entry.kind {
            EntryKind::Unreadable(problem) => {
                let mut server =
                    ServerReport::new(entry.name.clone(), Action::Unreadable, Vec::new());
                server.problem = Some(problem.clone());
                report.servers.push(server);
                continue;
            }
            EntryKind::Launch {
                argv,
                env,
                has_args,
            } => (argv, env, *has_args),
        };
        let mut server = ServerReport::new(entry.name.clone(), Action::LeftAlone, argv.clone());
        if wrapped_inner(argv, &options.mcpin).is_some() {
            server.action = Action::AlreadyWrapped;
            // Any program can be called `mcpin`: only this binary is known to check the launch.
            if Path::new(&argv[0]) != options.mcpin {
                server.problem = Some(format!(
                    "runs `{}`, not this mcpin (`{}`); unwrap and wrap again to check it",
                    argv[0],
                    options.mcpin.display()
                ));
            }
            report.servers.push(server);
            continue;
        }
        let launch = match grammar::parse(argv) {
            Ok(request) => {
                let (argv, request) =
                    pin(&request, argv, options.resolver, &mut server).map_err(|message| {
                        WrapError::Shape {
                            path: location.path.clone(),
                            message,
                        }
                    })?;
                server.verdict = options.gate.map(|gate| gate.check(&request, env));
                Some(argv)
            }
            // Refused entries are wrapped too: at launch `mcpin run` refuses them, instead of
            // the agent running them unchecked.
            Err(refusal) if refusal.code != grammar::RefusalCode::LauncherUnsupported => {
                server.refusal = Some(refusal);
                Some(argv.clone())
            }
            Err(_) => {
                if let Some(runner) = equivalent::launcher_equivalent(argv) {
                    server.action = Action::UnsupportedLauncher;
                    server.problem = Some(format!(
                        "launches a package through `{runner}`, which mcpin cannot check; write it as `npx …`, `uvx …` or `docker run …` so wrap can"
                    ));
                }
                None
            }
        };
        if let Some(argv) = launch {
            let mut new_argv = vec![mcpin.clone(), "run".to_owned(), "--".to_owned()];
            new_argv.extend(argv);
            server.action = Action::Wrapped;
            server.new_argv = Some(new_argv.clone());
            had_args.insert(entry.name.clone(), has_args);
            edits.push(Edit {
                name: entry.name.clone(),
                argv: new_argv,
                drop_args: false,
            });
        }
        report.servers.push(server);
    }
    let signed: Vec<mcpin_tools::Server<'_>> = report
        .servers
        .iter()
        .filter_map(|server| {
            let payload = server.verdict.as_ref()?.signed_tools.as_ref()?;
            Some(mcpin_tools::Server {
                label: &server.name,
                payload,
            })
        })
        .collect();
    report.cross = mcpin_tools::cross_server(&signed);
    let new_text = if edits.is_empty() {
        text.clone()
    } else {
        document
            .apply(&text, &edits)
            .map_err(|message| WrapError::Shape {
                path: location.path.clone(),
                message,
            })?
    };
    report.diff = unified_diff(&location.path, &text, &new_text);
    if options.strict {
        report.blocked = report
            .servers
            .iter()
            .filter_map(|s| s.strict_blocker().map(|why| format!("{}: {why}", s.name)))
            .collect();
    }
    if !report.blocked.is_empty() {
        report.status = FileStatus::Refused;
        report.reason = Some(StatusReason {
            code: ReasonCode::StrictRefused,
            message: format!(
                "--strict: {} server(s) would not be checked or allowed at launch",
                report.blocked.len()
            ),
        });
        return Ok(None);
    }
    if new_text == text {
        return Ok(None);
    }
    report.status = FileStatus::Wrapped;
    check_writable(&target, options.run.force)?;

    let previous = records.load(&target)?;
    let current_sha = sha256_hex(text.as_bytes());
    let already_wrapped = report
        .servers
        .iter()
        .any(|s| s.action == Action::AlreadyWrapped);
    let mut record = match previous {
        Some(record) if already_wrapped => record,
        // No wrapped entry: the file is the original (again).
        _ if !already_wrapped => {
            let mut record = WrapRecord::new(
                target.clone(),
                location.path.clone(),
                location.client,
                location.format,
            );
            record.original = Some(text.clone());
            record.original_sha256 = Some(current_sha.clone());
            record
        }
        // Wrapped entries nobody recorded: unwrap will restore entry by entry.
        _ => WrapRecord::new(
            target.clone(),
            location.path.clone(),
            location.client,
            location.format,
        ),
    };
    // An exact restore stays possible only while the file is byte-identical to what was written.
    let exact = record.original.is_some()
        && (!already_wrapped || record.wrapped_sha256.as_deref() == Some(current_sha.as_str()));
    for server in &report.servers {
        if let (Action::Wrapped, Some(new_argv)) = (server.action, &server.new_argv) {
            record.entries.retain(|e| e.name != server.name);
            record.entries.push(RecordedEntry {
                name: server.name.clone(),
                original_argv: server.argv.clone(),
                wrapped_argv: new_argv.clone(),
                had_args: had_args.get(&server.name).copied().unwrap_or(true),
            });
        }
    }
    record.location = location.path.clone();
    record.wrapped_sha256 = exact.then(|| sha256_hex(new_text.as_bytes()));
    Ok(Some(Write {
        target,
        old: text,
        new: Some(new_text),
        record: RecordChange::Save(Box::new(record)),
    }))
}

/// Resolves and pins `request`'s floating specs; returns the argv to launch and the request the
/// gate judges (parsed from exactly that argv).
fn pin(
    request: &LaunchRequest,
    argv: &[String],
    resolver: Option<&dyn Resolver>,
    server: &mut ServerReport,
) -> Result<(Vec<String>, LaunchRequest), String> {
    let mut resolved = Vec::new();
    for spec in &request.floating {
        let result = match resolver {
            Some(resolver) => resolver.resolve(spec),
            None => Err(ResolveError::Unsupported {
                ecosystem: spec.package.ecosystem,
            }),
        };
        match result {
            Ok(version) => resolved.push(version),
            Err(error) => server.pin_errors.push(error),
        }
    }
    if !server.pin_errors.is_empty() || request.floating.is_empty() {
        return Ok((argv.to_vec(), request.clone()));
    }
    let pinned = request.pinned_argv(&resolved);
    for spec in &request.floating {
        server.pins.push(Pin {
            from: argv[spec.argv_index].clone(),
            to: pinned[spec.argv_index].clone(),
        });
    }
    let request = grammar::parse(&pinned).map_err(|refusal| {
        format!(
            "pinning `{}` produced an unparsable argv: {refusal}",
            server.name
        )
    })?;
    Ok((pinned, request))
}

/// Plans undoing the wrap of one config.
fn plan_unwrap(
    location: &Location,
    mcpin: &Path,
    force: bool,
    records: &RecordStore,
    report: &mut FileReport,
) -> Result<Option<Write>, WrapError> {
    if !location.path.exists() {
        let recorded = records
            .list()?
            .iter()
            .any(|r| r.location == location.path || r.path == location.path);
        if recorded {
            report.status = FileStatus::Skipped;
            report.reason = Some(StatusReason {
                code: ReasonCode::ConfigMissing,
                message: "the file is gone; its wrap record is kept".into(),
            });
            return Ok(None);
        }
    }
    let (target, text) = open(location, report)?;
    let record = records.load(&target)?;
    let current_sha = sha256_hex(text.as_bytes());
    let exact = match &record {
        Some(record) if record.wrapped_sha256.as_deref() == Some(current_sha.as_str()) => {
            match (&record.original, &record.original_sha256) {
                (Some(original), Some(sha)) if sha256_hex(original.as_bytes()) == *sha => {
                    Some(original.clone())
                }
                _ => {
                    return Err(WrapError::Record {
                        path: records.dir().to_owned(),
                        message: format!(
                            "the original of `{}` does not match its recorded sha256",
                            target.display()
                        ),
                    });
                }
            }
        }
        _ => None,
    };
    let parsed = open_document(location, &location.path, &text);
    let document = match (parsed, &exact) {
        (Ok((document, _)), _) => Some(document),
        // The file is byte for byte what wrap wrote: its original can go back without parsing.
        (Err(_), Some(_)) => None,
        (Err(error), None) => return Err(error),
    };
    let mut edits = Vec::new();
    for entry in document.iter().flat_map(|d| d.entries()) {
        let EntryKind::Launch { argv, .. } = &entry.kind else {
            continue;
        };
        let Some(inner) = wrapped_inner(argv, mcpin) else {
            continue;
        };
        // The recorded original (before pinning) wins if the entry is still as wrap wrote it.
        let recorded = record.as_ref().and_then(|r| {
            r.entries
                .iter()
                .find(|e| e.name == entry.name && e.wrapped_argv == *argv)
        });
        let original = recorded.map_or_else(|| inner.to_vec(), |e| e.original_argv.clone());
        if original.is_empty() {
            return Err(WrapError::Shape {
                path: location.path.clone(),
                message: format!("`{}` runs `mcpin run --` with no command", entry.name),
            });
        }
        let mut server = ServerReport::new(entry.name.clone(), Action::Unwrapped, argv.clone());
        server.new_argv = Some(original.clone());
        report.servers.push(server);
        edits.push(Edit {
            name: entry.name.clone(),
            drop_args: original.len() == 1 && recorded.is_some_and(|e| !e.had_args),
            argv: original,
        });
    }
    let new_text = match (&exact, &document) {
        (Some(original), _) => original.clone(),
        (None, Some(document)) if !edits.is_empty() => {
            document
                .apply(&text, &edits)
                .map_err(|message| WrapError::Shape {
                    path: location.path.clone(),
                    message,
                })?
        }
        _ => text.clone(),
    };
    report.exact_restore = Some(exact.is_some());
    report.diff = unified_diff(&location.path, &text, &new_text);
    let record_change = if record.is_some() {
        RecordChange::Remove
    } else {
        RecordChange::Keep
    };
    if new_text == text {
        // Only a stale record to drop.
        return Ok(
            matches!(record_change, RecordChange::Remove).then(|| Write {
                target,
                old: text,
                new: None,
                record: record_change,
            }),
        );
    }
    report.status = FileStatus::Unwrapped;
    check_writable(&target, force)?;
    Ok(Some(Write {
        target,
        old: text,
        new: Some(new_text),
        record: record_change,
    }))
}

/// Writes one planned file: the record first (so a crash leaves one that still describes the
/// file), then the config; a failed config write puts the previous record back.
fn apply_write(write: &Write, records: &RecordStore) -> Result<(), WrapError> {
    if read_text(&write.target)? != write.old {
        return Err(WrapError::Changed {
            path: write.target.clone(),
        });
    }
    let previous = records.load(&write.target)?;
    if let RecordChange::Save(record) = &write.record {
        records.save(record)?;
    }
    if let Some(new) = &write.new {
        let written = mcpin_artifact::write_atomic(&write.target, new.as_bytes(), 0o600);
        if let Err(source) = written {
            records.restore(&write.target, previous.as_ref())?;
            return Err(WrapError::Io {
                path: write.target.clone(),
                source,
            });
        }
    }
    if let RecordChange::Remove = write.record {
        records.remove(&write.target)?;
    }
    Ok(())
}

/// Plans every file, then writes them unless one failed (or `keep_going`).
fn run(
    command: &'static str,
    locations: &[Location],
    run: RunOptions,
    records: &RecordStore,
    mut plan: impl FnMut(&Location, &mut FileReport) -> Result<Option<Write>, WrapError>,
) -> Result<RunReport, WrapError> {
    let _lock = if run.dry_run {
        None
    } else {
        Some(records.lock()?)
    };
    let mut planned = Vec::new();
    for location in locations {
        let mut report = FileReport::new(location);
        let write = match plan(location, &mut report) {
            Ok(write) => write,
            Err(error) => {
                report = report.fail(&error);
                None
            }
        };
        planned.push((report, write));
    }
    let failed = planned
        .iter()
        .any(|(report, _)| matches!(report.status, FileStatus::Failed | FileStatus::Refused));
    let mut files = Vec::new();
    for (mut report, write) in planned {
        match write {
            Some(_) if failed && !run.keep_going => {
                report.status = FileStatus::Skipped;
                report.reason = Some(StatusReason {
                    code: ReasonCode::RunAborted,
                    message:
                        "not written because another file failed (fix it, or pass --keep-going)"
                            .into(),
                });
            }
            Some(write) if !run.dry_run => match apply_write(&write, records) {
                Ok(()) => report.written = write.new.is_some(),
                Err(error) => report = report.fail(&error),
            },
            _ => {}
        }
        files.push(report);
    }
    Ok(RunReport {
        schema_version: SCHEMA_VERSION,
        command,
        dry_run: run.dry_run,
        files,
        clients_without_config: Vec::new(),
    })
}

/// Wraps every npx / uvx / docker stdio entry of `locations`.
pub fn wrap(
    locations: &[Location],
    options: &WrapOptions<'_>,
    records: &RecordStore,
) -> Result<RunReport, WrapError> {
    run(
        "wrap",
        locations,
        options.run,
        records,
        |location, report| plan_wrap(location, options, records, report),
    )
}

/// Undoes [`wrap`] for `locations`.
pub fn unwrap(
    locations: &[Location],
    mcpin: &Path,
    options: RunOptions,
    records: &RecordStore,
) -> Result<RunReport, WrapError> {
    run("unwrap", locations, options, records, |location, report| {
        plan_unwrap(location, mcpin, options.force, records, report)
    })
}

/// The configs wrap has records of (for `unwrap`), optionally only those of `clients`.
pub fn recorded_locations(
    records: &RecordStore,
    clients: Option<&[Client]>,
) -> Result<Vec<Location>, WrapError> {
    Ok(records
        .list()?
        .into_iter()
        .filter(|r| clients.is_none_or(|c| c.contains(&r.client)))
        .map(|r| Location {
            client: r.client,
            path: r.location,
            format: r.format,
        })
        .collect())
}

/// `a` then the locations of `b` that name another file (by canonical path).
pub fn merge_locations(a: Vec<Location>, b: Vec<Location>) -> Vec<Location> {
    let key = |l: &Location| fs_err::canonicalize(&l.path).unwrap_or_else(|_| l.path.clone());
    let mut seen: BTreeSet<PathBuf> = a.iter().map(key).collect();
    let mut merged = a;
    for location in b {
        if seen.insert(key(&location)) {
            merged.push(location);
        }
    }
    merged
}

#[cfg(test)]
mod tests;
