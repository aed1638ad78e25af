//! `mcpin policy compile`: from the policy's `[[servers]]` (the approved launch command lines,
//! signed with the policy), each agent client's own managed allowlist. Clients that allow
//! servers by their command line compare strings; every entry written here is the exact
//! command `mcpin wrap` writes, `<mcpin> run -- <argv>`, so a match can only start the shim
//! with pinned arguments. A project config (`.mcp.json`, `.vscode/mcp.json`) that names another
//! package, or calls `mcpin run --policy ./evil.toml`, matches no entry.
//!
//! Every server is checked first: the launcher grammar must accept it with exact versions, the
//! launch rules must allow it, and a `[[packages]]` rule must name it (and its version). A
//! server that would be refused at launch is a compile error, never an allowlist entry.

mod schema;

use std::path::{Path, PathBuf};

use mcpin_attestation::Ecosystem;
use mcpin_launcher::grammar::{self, LaunchRequest, VersionSpec};
use mcpin_verifier::policy::{Policy, Server};
use mcpin_verifier::verdict::Outcome;
use serde::Serialize;
use serde_json::{Value, json};

pub use schema::{SchemaError, check};

/// Version of the `--json` report of `mcpin policy compile`.
pub const SCHEMA_VERSION: u32 = 1;

/// The agent clients `mcpin policy compile` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Claude Code: `managed-mcp.json` and managed settings (`allowedMcpServers`,
    /// `deniedMcpServers`, `allowManagedMcpServersOnly`).
    ClaudeCode,
    /// VS Code: Copilot managed settings (`allowedMcpServers`, `deniedMcpServers`).
    Vscode,
    /// GitHub Copilot (CLI and IDEs): the same Copilot managed settings.
    Copilot,
    /// goose: a `GOOSE_ALLOWLIST` YAML file.
    Goose,
    /// Windsurf: the team MCP whitelist entries (admin portal).
    Windsurf,
    /// Cursor: no documented managed allowlist; the wrapped `mcp.json`, not enforced.
    Cursor,
    /// Claude Desktop: no documented managed allowlist for config-file servers; the wrapped
    /// `claude_desktop_config.json`, not enforced.
    ClaudeDesktop,
}

impl Target {
    pub const ALL: &'static [Target] = &[
        Target::ClaudeCode,
        Target::Vscode,
        Target::Copilot,
        Target::Goose,
        Target::Windsurf,
        Target::Cursor,
        Target::ClaudeDesktop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::ClaudeCode => "claude-code",
            Target::Vscode => "vscode",
            Target::Copilot => "copilot",
            Target::Goose => "goose",
            Target::Windsurf => "windsurf",
            Target::Cursor => "cursor",
            Target::ClaudeDesktop => "claude-desktop",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// What an output file is, which decides the schema it is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Claude Code `managed-mcp.json`.
    ClaudeManagedMcp,
    /// Claude Code managed settings (`managed-settings.json`).
    ClaudeManagedSettings,
    /// Copilot managed settings (`managed-settings.json`), read by VS Code and Copilot.
    CopilotManagedSettings,
    /// goose `GOOSE_ALLOWLIST` YAML.
    GooseAllowlist,
    /// Windsurf team whitelist entries: `[{serverId, serverConfig}]`.
    WindsurfWhitelist,
    /// A `{"mcpServers": {…}}` config (Cursor, Claude Desktop).
    McpServersConfig,
}

/// Where a file goes on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deploy {
    /// `macos`, `linux`, `windows`, or a channel (`server`, `admin-portal`, `url`, `user`).
    pub on: &'static str,
    pub location: &'static str,
}

/// One file `mcpin policy compile` writes.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub target: Target,
    /// Relative to `--out`: `<target>/<file name>`.
    pub file: String,
    pub format: Format,
    /// Whether the client itself enforces it (a managed allowlist) or it is only a config a
    /// user can edit.
    pub enforced: bool,
    pub deploy: Vec<Deploy>,
    pub note: &'static str,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// A `[[servers]]` entry that passed every check.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovedServer {
    pub name: String,
    /// The launcher argv, as the policy lists it.
    pub argv: Vec<String>,
    /// `<mcpin> run -- <argv>`: what every allowlist entry matches.
    pub wrapped: Vec<String>,
    /// `ecosystem:name@version` of the package it launches.
    pub package: String,
}

/// The result: every approved server and every output file (not yet written).
#[derive(Debug, Clone, Serialize)]
pub struct Compiled {
    pub servers: Vec<ApprovedServer>,
    pub outputs: Vec<Output>,
}

/// A server the policy lists that would not be allowed at launch, or cannot be written for a
/// target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerProblem {
    pub server: String,
    pub problem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// `--mcpin` is not an absolute path (`compile-mcpin-path`).
    #[error(
        "`--mcpin {0}` must be the absolute path of mcpin on the machines (as `mcpin wrap` writes it)"
    )]
    RelativeMcpin(PathBuf),
    /// The mcpin path is not UTF-8 (`compile-mcpin-path`).
    #[error("the mcpin path `{0}` is not UTF-8")]
    NotUtf8(PathBuf),
    /// The policy lists no `[[servers]]` (`compile-no-servers`).
    #[error(
        "policy `{0}` lists no [[servers]]: nothing to allow (add the approved launch command lines)"
    )]
    NoServers(String),
    /// Servers `mcpin run` would refuse, or a target cannot express (`compile-server-refused`).
    #[error("{} server(s) cannot be allowed:\n{}", .0.len(), .0.iter().map(|p| format!("  {}: {}", p.server, p.problem)).collect::<Vec<_>>().join("\n"))]
    Servers(Vec<ServerProblem>),
    /// A file failed its client's schema check: a bug in mcpin, never written (`compile-schema`).
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

impl CompileError {
    /// Its stable code.
    pub fn code(&self) -> crate::Code {
        use crate::Code;
        match self {
            CompileError::RelativeMcpin(_) | CompileError::NotUtf8(_) => Code::CompileMcpinPath,
            CompileError::NoServers(_) => Code::CompileNoServers,
            CompileError::Servers(_) => Code::CompileServerRefused,
            CompileError::Schema(_) => Code::CompileSchema,
        }
    }
}

/// Checks every `[[servers]]` entry of `policy` and writes (in memory) each target's files
/// for the shim at `mcpin`.
pub fn compile(
    policy: &Policy,
    targets: &[Target],
    mcpin: &Path,
) -> Result<Compiled, CompileError> {
    if !mcpin.is_absolute() {
        return Err(CompileError::RelativeMcpin(mcpin.to_owned()));
    }
    let mcpin = mcpin
        .to_str()
        .ok_or_else(|| CompileError::NotUtf8(mcpin.to_owned()))?
        .to_owned();
    if policy.servers.is_empty() {
        return Err(CompileError::NoServers(policy.path.display().to_string()));
    }
    let mut problems = Vec::new();
    let mut servers = Vec::new();
    for server in &policy.servers {
        match approve(policy, server, &mcpin) {
            Ok(approved) => servers.push(approved),
            Err(problem) => problems.push(ServerProblem {
                server: server.name.clone(),
                problem,
            }),
        }
    }
    if targets.contains(&Target::Goose) {
        problems.extend(goose_problems(&servers));
    }
    if !problems.is_empty() {
        return Err(CompileError::Servers(problems));
    }
    let mut targets = targets.to_vec();
    targets.sort();
    targets.dedup();
    let mut outputs = Vec::new();
    for target in targets {
        for output in outputs_for(target, &servers, &mcpin) {
            check(output.format, &output.bytes).map_err(|mut error| {
                error.file = output.file.clone();
                error
            })?;
            outputs.push(output);
        }
    }
    Ok(Compiled { servers, outputs })
}

/// Why `server` cannot be allowed, or its approved form.
fn approve(policy: &Policy, server: &Server, mcpin: &str) -> Result<ApprovedServer, String> {
    if let Some(arg) = server.argv.iter().find(|arg| arg.contains("${")) {
        return Err(format!(
            "`{arg}` holds a `${{…}}` reference, which Claude Code expands before matching: write the literal value"
        ));
    }
    let request = grammar::parse(&server.argv).map_err(|refusal| {
        format!(
            "`mcpin run` refuses it [{}]: {}",
            refusal.code.code(),
            refusal.reason
        )
    })?;
    if !request.is_pinned() {
        let floating: Vec<String> = request
            .floating
            .iter()
            .map(|spec| request.argv[spec.argv_index].clone())
            .collect();
        return Err(format!(
            "`{}` is not an exact version or digest: pin it (`mcpin wrap` pins floating versions)",
            floating.join("`, `")
        ));
    }
    if !request.with.is_empty() {
        return Err(
            "uvx --with adds packages outside the signed lock (`mcpin run` refuses it)".to_owned(),
        );
    }
    let decision = mcpin_launcher::inputs::judge(&policy.launch, &request, std::iter::empty());
    let failed: Vec<String> = decision
        .verdict
        .reasons
        .iter()
        .filter(|reason| reason.outcome == Outcome::Fail)
        .map(|reason| format!("{} [{}]", reason.message, reason.code))
        .collect();
    if !failed.is_empty() {
        return Err(format!("the launch rules deny it: {}", failed.join("; ")));
    }
    let (ecosystem, name, version) = requested_package(&request)?;
    let rules = policy
        .packages
        .matching(ecosystem, &name)
        .map_err(|error| error.to_string())?;
    if rules.is_empty() {
        return Err(format!(
            "no [[packages]] rule names {ecosystem} package `{name}` (it would be denied: no-matching-rule)"
        ));
    }
    let version_allowed = rules.iter().any(|rule| {
        rule.version
            .as_ref()
            .is_none_or(|req| req.matches(&version))
    });
    if !version_allowed {
        return Err(format!(
            "version {version} of `{name}` satisfies no [[packages]] rule that names it (it would be denied: version-not-allowed)"
        ));
    }
    let mut wrapped = vec![mcpin.to_owned(), "run".to_owned(), "--".to_owned()];
    wrapped.extend(server.argv.iter().cloned());
    Ok(ApprovedServer {
        name: server.name.clone(),
        argv: server.argv.clone(),
        wrapped,
        package: format!("{ecosystem}:{name}@{version}"),
    })
}

/// The package the launch asks for, named as the judge compares it.
fn requested_package(request: &LaunchRequest) -> Result<(Ecosystem, String, String), String> {
    let package = &request.package;
    let VersionSpec::Exact(version) = &package.version else {
        return Err("the version is not exact".to_owned());
    };
    match &request.docker {
        Some(docker) => {
            let digest = docker
                .digest
                .as_ref()
                .ok_or("the image is not pinned by digest")?;
            let reference =
                mcpin_registry_client::oci::Reference::parse(&format!("{}@{digest}", docker.image))
                    .map_err(|why| format!("`{}`: {why}", docker.image))?;
            Ok((
                Ecosystem::Oci,
                format!("{}/{}", reference.registry, reference.repository),
                digest.clone(),
            ))
        }
        None => Ok((package.ecosystem, package.name.clone(), version.clone())),
    }
}

/// goose compares one command string, the command and its arguments joined by spaces: an
/// argument with whitespace (or an empty one) has no unambiguous form there.
fn goose_problems(servers: &[ApprovedServer]) -> Vec<ServerProblem> {
    servers
        .iter()
        .filter_map(|server| {
            let bad = server
                .wrapped
                .iter()
                .find(|arg| arg.is_empty() || arg.chars().any(char::is_whitespace))?;
            Some(ServerProblem {
                server: server.name.clone(),
                problem: format!(
                    "goose: the argument `{bad}` is empty or holds whitespace, which goose's allowlist (one command string, arguments joined by spaces) cannot express; leave out --target goose"
                ),
            })
        })
        .collect()
}

/// Where Claude Code reads managed files (code.claude.com/docs/en/managed-mcp, "managed-mcp.json";
/// code.claude.com/docs/en/settings, managed settings).
const CLAUDE_CODE_MANAGED_MCP: &[Deploy] = &[
    Deploy {
        on: "macos",
        location: "/Library/Application Support/ClaudeCode/managed-mcp.json",
    },
    Deploy {
        on: "linux",
        location: "/etc/claude-code/managed-mcp.json",
    },
    Deploy {
        on: "windows",
        location: r"C:\Program Files\ClaudeCode\managed-mcp.json",
    },
];
const CLAUDE_CODE_MANAGED_SETTINGS: &[Deploy] = &[
    Deploy {
        on: "macos",
        location: "/Library/Application Support/ClaudeCode/managed-settings.json",
    },
    Deploy {
        on: "linux",
        location: "/etc/claude-code/managed-settings.json",
    },
    Deploy {
        on: "windows",
        location: r"C:\Program Files\ClaudeCode\managed-settings.json",
    },
];
/// Copilot managed settings, file-based channel (code.visualstudio.com/docs/enterprise/ai-settings,
/// "Deliver managed settings from a file"; docs.github.com/en/copilot/how-tos/administer-copilot/
/// manage-for-enterprise/manage-agents/configure-enterprise-managed-settings).
const COPILOT_MANAGED_SETTINGS: &[Deploy] = &[
    Deploy {
        on: "macos",
        location: "/Library/Application Support/GitHubCopilot/managed-settings.json",
    },
    Deploy {
        on: "linux",
        location: "/etc/github-copilot/managed-settings.json",
    },
    Deploy {
        on: "windows",
        location: r"%ProgramFiles%\GitHubCopilot\managed-settings.json",
    },
    Deploy {
        on: "server",
        location: "copilot/managed-settings.json in the enterprise's .github-private repository",
    },
];
const GOOSE_ALLOWLIST: &[Deploy] = &[Deploy {
    on: "url",
    location: "any HTTPS URL; set GOOSE_ALLOWLIST to it in the environment goose starts with",
}];
const WINDSURF_WHITELIST: &[Deploy] = &[Deploy {
    on: "admin-portal",
    location: "Windsurf team settings, MCP servers whitelist: one entry per element, Server ID and Server Config (JSON)",
}];
const CURSOR_CONFIG: &[Deploy] = &[Deploy {
    on: "user",
    location: "~/.cursor/mcp.json (%USERPROFILE%\\.cursor\\mcp.json)",
}];
const CLAUDE_DESKTOP_CONFIG: &[Deploy] = &[
    Deploy {
        on: "macos",
        location: "~/Library/Application Support/Claude/claude_desktop_config.json",
    },
    Deploy {
        on: "windows",
        location: r"%APPDATA%\Claude\claude_desktop_config.json",
    },
];

fn output(
    target: Target,
    file_name: &str,
    format: Format,
    enforced: bool,
    deploy: &[Deploy],
    note: &'static str,
    bytes: Vec<u8>,
) -> Output {
    use sha2::Digest;
    Output {
        target,
        file: format!("{}/{file_name}", target.name()),
        format,
        enforced,
        deploy: deploy.to_vec(),
        note,
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        bytes,
    }
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes
}

/// `allowedMcpServers`: every wrapped server; `deniedMcpServers`: the same servers started
/// without the shim (deny rules win over allow rules in both clients).
fn matcher_lists(servers: &[ApprovedServer]) -> (Value, Value) {
    let allowed = servers
        .iter()
        .map(|s| json!({ "serverCommand": s.wrapped }))
        .collect();
    let denied = servers
        .iter()
        .map(|s| json!({ "serverCommand": s.argv }))
        .collect();
    (Value::Array(allowed), Value::Array(denied))
}

/// `{"mcpServers": {name: {command, args}}}`, with `"type": "stdio"` where the client documents it.
fn mcp_servers(servers: &[ApprovedServer], with_type: bool) -> Value {
    let entries = servers
        .iter()
        .map(|s| {
            let mut entry = serde_json::Map::new();
            if with_type {
                entry.insert("type".into(), json!("stdio"));
            }
            entry.insert("command".into(), json!(s.wrapped[0]));
            entry.insert("args".into(), json!(s.wrapped[1..]));
            (s.name.clone(), Value::Object(entry))
        })
        .collect();
    json!({ "mcpServers": Value::Object(entries) })
}

fn outputs_for(target: Target, servers: &[ApprovedServer], mcpin: &str) -> Vec<Output> {
    match target {
        Target::ClaudeCode => {
            let (allowed, denied) = matcher_lists(servers);
            vec![
                output(
                    target,
                    "managed-mcp.json",
                    Format::ClaudeManagedMcp,
                    true,
                    CLAUDE_CODE_MANAGED_MCP,
                    "fixed deployment: Claude Code loads only these servers and users cannot add others",
                    pretty(&mcp_servers(servers, true)),
                ),
                output(
                    target,
                    "managed-settings.json",
                    Format::ClaudeManagedSettings,
                    true,
                    CLAUDE_CODE_MANAGED_SETTINGS,
                    "approved catalog: only servers whose exact command matches load; merge these keys into an existing managed-settings.json",
                    pretty(&json!({
                        "allowManagedMcpServersOnly": true,
                        "allowedMcpServers": allowed,
                        "deniedMcpServers": denied,
                    })),
                ),
            ]
        }
        Target::Vscode | Target::Copilot => {
            let (allowed, denied) = matcher_lists(servers);
            vec![output(
                target,
                "managed-settings.json",
                Format::CopilotManagedSettings,
                true,
                COPILOT_MANAGED_SETTINGS,
                "Copilot managed settings (VS Code and Copilot CLI): only servers whose exact command matches run; merge these keys into an existing managed-settings.json",
                pretty(&json!({
                    "allowedMcpServers": allowed,
                    "deniedMcpServers": denied,
                })),
            )]
        }
        Target::Goose => vec![output(
            target,
            "allowlist.yaml",
            Format::GooseAllowlist,
            true,
            GOOSE_ALLOWLIST,
            "goose checks an extension's command against it when the extension is installed",
            goose_yaml(servers, mcpin).into_bytes(),
        )],
        Target::Windsurf => {
            let entries: Vec<Value> = servers
                .iter()
                .map(|s| {
                    json!({
                        "serverId": s.name,
                        "serverConfig": {
                            "command": regex_literal(&s.wrapped[0]),
                            "args": s.wrapped[1..].iter().map(|a| regex_literal(a)).collect::<Vec<_>>(),
                        }
                    })
                })
                .collect();
            vec![output(
                target,
                "whitelist.json",
                Format::WindsurfWhitelist,
                true,
                WINDSURF_WHITELIST,
                "Windsurf anchors every pattern and matches the command and each argument; regex characters are escaped so each pattern matches its literal only",
                pretty(&Value::Array(entries)),
            )]
        }
        Target::Cursor => vec![output(
            target,
            "mcp.json",
            Format::McpServersConfig,
            false,
            CURSOR_CONFIG,
            "NOT ENFORCED: Cursor documents no managed allowlist; this is the wrapped config, which a user or a project's .cursor/mcp.json can override",
            pretty(&mcp_servers(servers, false)),
        )],
        Target::ClaudeDesktop => vec![output(
            target,
            "claude_desktop_config.json",
            Format::McpServersConfig,
            false,
            CLAUDE_DESKTOP_CONFIG,
            "NOT ENFORCED: Claude Desktop documents no managed allowlist for config-file servers; this is the wrapped config, which the user can edit",
            pretty(&mcp_servers(servers, false)),
        )],
    }
}

/// A regular expression matching exactly `literal` (after the client anchors it): the
/// characters that have a meaning in JavaScript, RE2, Python and Rust expressions are escaped
/// with a backslash, and nothing else is (escaping other characters is an error in some of them).
pub fn regex_literal(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The goose allowlist: `extensions: [{id, command}]`, each command the wrapped argv joined by
/// single spaces (goose joins `cmd` and `args` that way), as double-quoted YAML scalars.
fn goose_yaml(servers: &[ApprovedServer], mcpin: &str) -> String {
    let quote = |text: &str| serde_json::to_string(text).expect("strings serialize");
    let mut yaml = format!(
        "# goose extension allowlist (GOOSE_ALLOWLIST), written by `mcpin policy compile`.\n\
         # Every command starts the mcpin shim ({mcpin}) with a pinned launch.\n\
         extensions:\n"
    );
    for server in servers {
        yaml.push_str(&format!(
            "  - id: {}\n    command: {}\n",
            quote(&server.name),
            quote(&server.wrapped.join(" "))
        ));
    }
    yaml
}
