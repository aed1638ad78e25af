//! The agent clients `mcpin wrap` knows, every place each one documents for its MCP configs,
//! the shape of the server entries in each file, and finding the files that exist.
//!
//! Each location below names its source. Only the current platform's locations are listed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// An agent client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    #[serde(rename = "vscode")]
    VsCode,
    Windsurf,
    Zed,
    Goose,
    Continue,
    Cline,
}

/// Where the stdio server entries are in a config file, and in what syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// JSON, `mcpServers.<name>` (Claude Desktop, Cursor, Windsurf, Cline, a project `.mcp.json`,
    /// Claude Code's `managed-mcp.json`, Copilot's `mcp-config.json`).
    McpServers,
    /// Claude Code's JSON: `mcpServers.<name>` and `projects.<dir>.mcpServers.<name>`.
    ClaudeCode,
    /// VS Code's JSONC `mcp.json`: `servers.<name>`.
    VsCode,
    /// Zed's JSONC settings: `context_servers.<name>` (a `command` string, or `{path, args, env}`).
    Zed,
    /// goose's YAML: `extensions.<name>` with `cmd`, `args`, `envs`, `env_keys`.
    Goose,
    /// Continue's YAML (`config.yaml` and block files): a `mcpServers` list.
    ContinueYaml,
    /// Continue's JSON block files: a Claude-style file, or one server named after the file.
    ContinueJson,
}

/// The syntax of a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// JSON or JSONC; both are edited in place with comments and trailing commas kept.
    Json,
    Yaml,
}

impl Format {
    pub fn syntax(self) -> Syntax {
        match self {
            Format::Goose | Format::ContinueYaml => Syntax::Yaml,
            _ => Syntax::Json,
        }
    }

    /// The key holding an entry's environment.
    pub(crate) fn env_key(self) -> &'static str {
        match self {
            Format::Goose => "envs",
            _ => "env",
        }
    }

    /// The key holding an entry's command.
    pub(crate) fn command_key(self) -> &'static str {
        match self {
            Format::Goose => "cmd",
            _ => "command",
        }
    }

    /// Object paths (`*` matches every key) whose members are server entries, in JSON files.
    pub(crate) fn json_server_maps(self) -> &'static [&'static [&'static str]] {
        match self {
            Format::ClaudeCode | Format::ContinueJson => {
                &[&["mcpServers"], &["projects", "*", "mcpServers"]]
            }
            Format::VsCode => &[&["servers"]],
            Format::Zed => &[&["context_servers"]],
            Format::McpServers => &[&["mcpServers"]],
            Format::Goose | Format::ContinueYaml => &[],
        }
    }
}

/// One config file a client reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub client: Client,
    pub path: PathBuf,
    pub format: Format,
}

impl Client {
    pub const ALL: &[Client] = &[
        Client::ClaudeDesktop,
        Client::ClaudeCode,
        Client::Cursor,
        Client::VsCode,
        Client::Windsurf,
        Client::Zed,
        Client::Goose,
        Client::Continue,
        Client::Cline,
    ];

    /// The name used on the command line (`claude-desktop`, `vscode`, …).
    pub fn name(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "claude-desktop",
            Client::ClaudeCode => "claude-code",
            Client::Cursor => "cursor",
            Client::VsCode => "vscode",
            Client::Windsurf => "windsurf",
            Client::Zed => "zed",
            Client::Goose => "goose",
            Client::Continue => "continue",
            Client::Cline => "cline",
        }
    }

    pub fn from_name(name: &str) -> Option<Client> {
        Client::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The format of a file of this client named on the command line (`--config`).
    pub fn format_for(self, path: &Path) -> Format {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        match self {
            Client::ClaudeCode => Format::ClaudeCode,
            Client::VsCode if name == "mcp-config.json" || name == ".mcp.json" => {
                Format::McpServers
            }
            Client::VsCode => Format::VsCode,
            Client::Zed => Format::Zed,
            Client::Goose => Format::Goose,
            Client::Continue if yaml => Format::ContinueYaml,
            Client::Continue => Format::ContinueJson,
            Client::ClaudeDesktop | Client::Cursor | Client::Windsurf | Client::Cline => {
                Format::McpServers
            }
        }
    }

    /// Every config file location of this client on this platform (existing or not; VS Code
    /// profiles and Continue block folders are listed from disk), most general first.
    pub fn locations(self, dirs: &ClientDirs) -> Vec<Location> {
        let home = &dirs.home;
        let at = |path: PathBuf, format: Format| Location {
            client: self,
            path,
            format,
        };
        let project = |rel: &str| dirs.project.as_ref().map(|p| p.join(rel));
        let mut found = Vec::new();
        match self {
            // modelcontextprotocol.io "Connect to local MCP servers" (macOS, Windows); Linux has
            // no official build, community builds use the XDG location.
            Client::ClaudeDesktop => {
                found.push(at(
                    dirs.app_config("Claude").join("claude_desktop_config.json"),
                    Format::McpServers,
                ));
            }
            Client::ClaudeCode => {
                // code.claude.com/docs/en/mcp (scopes): user and local scope in `~/.claude.json`,
                // which moves to `$CLAUDE_CONFIG_DIR/.claude.json` when that is set.
                let state = match &dirs.env.claude_config_dir {
                    Some(dir) => dir.join(".claude.json"),
                    None => home.join(".claude.json"),
                };
                found.push(at(state, Format::ClaudeCode));
                // code.claude.com/docs/en/managed-mcp: the administrator's file.
                found.push(at(dirs.managed_claude_code(), Format::McpServers));
                // Project scope.
                found.extend(project(".mcp.json").map(|p| at(p, Format::McpServers)));
            }
            // cursor.com/docs/context/mcp: global `~/.cursor/mcp.json`, project `.cursor/mcp.json`.
            Client::Cursor => {
                found.push(at(home.join(".cursor/mcp.json"), Format::McpServers));
                found.extend(project(".cursor/mcp.json").map(|p| at(p, Format::McpServers)));
            }
            Client::VsCode => {
                // microsoft/vscode-docs docs/agents/reference/mcp-configuration.md: the user
                // profile's `mcp.json` (every profile: `User/profiles/<id>/mcp.json`), the workspace
                // `.vscode/mcp.json`; VS Code also reads the portable workspace `.mcp.json` and
                // Copilot's `$COPILOT_HOME/mcp-config.json` (default `~/.copilot`). Code - Insiders
                // and VSCodium are the same code with their own user folder.
                for app in ["Code", "Code - Insiders", "VSCodium"] {
                    let user = dirs.app_config(app).join("User");
                    found.push(at(user.join("mcp.json"), Format::VsCode));
                    for profile in sorted_children(&user.join("profiles")) {
                        found.push(at(profile.join("mcp.json"), Format::VsCode));
                    }
                }
                let copilot = dirs
                    .env
                    .copilot_home
                    .clone()
                    .unwrap_or_else(|| home.join(".copilot"));
                found.push(at(copilot.join("mcp-config.json"), Format::McpServers));
                found.extend(project(".vscode/mcp.json").map(|p| at(p, Format::VsCode)));
                found.extend(project(".mcp.json").map(|p| at(p, Format::McpServers)));
            }
            // docs.windsurf.com/windsurf/cascade/mcp (editor) and /plugins/cascade/mcp (plugins).
            Client::Windsurf => {
                found.push(at(
                    home.join(".codeium/windsurf/mcp_config.json"),
                    Format::McpServers,
                ));
                found.push(at(
                    home.join(".codeium/mcp_config.json"),
                    Format::McpServers,
                ));
            }
            Client::Zed => {
                // zed.dev/docs/configuring-zed and zed-industries/zed crates/paths/src/paths.rs
                // `config_dir()`: `%APPDATA%\Zed` on Windows, `$XDG_CONFIG_HOME/zed` on Linux,
                // always `~/.config/zed` on macOS; the Flatpak keeps it in its sandbox's
                // `$FLATPAK_XDG_CONFIG_HOME`, `~/.var/app/dev.zed.Zed/config`.
                let user = if cfg!(windows) {
                    dirs.app_data().join("Zed")
                } else if cfg!(target_os = "macos") {
                    home.join(".config/zed")
                } else {
                    dirs.xdg_config().join("zed")
                };
                found.push(at(user.join("settings.json"), Format::Zed));
                if cfg!(target_os = "linux") {
                    found.push(at(
                        home.join(".var/app/dev.zed.Zed/config/zed/settings.json"),
                        Format::Zed,
                    ));
                }
                found.extend(project(".zed/settings.json").map(|p| at(p, Format::Zed)));
            }
            // aaif-goose/goose documentation/docs/guides/config-files.md.
            Client::Goose => {
                let config = if cfg!(windows) {
                    dirs.app_data().join("Block/goose/config/config.yaml")
                } else {
                    dirs.xdg_config().join("goose/config.yaml")
                };
                found.push(at(config, Format::Goose));
            }
            Client::Continue => {
                // continuedev/continue core/config/loadLocalAssistants.ts and
                // core/context/mcp/json/loadJsonMcpConfigs.ts: `config.yaml`, then every YAML
                // and JSON file under `mcpServers/` (walked recursively) in the global folder
                // (`$CONTINUE_GLOBAL_DIR`, default `~/.continue`) and in the workspace's
                // `.continue`.
                let global = dirs
                    .env
                    .continue_global_dir
                    .clone()
                    .unwrap_or_else(|| home.join(".continue"));
                found.push(at(global.join("config.yaml"), Format::ContinueYaml));
                let mut blocks = vec![global.join("mcpServers")];
                blocks.extend(project(".continue/mcpServers"));
                for dir in blocks {
                    for file in continue_blocks(&dir) {
                        let format = self.format_for(&file);
                        found.push(at(file, format));
                    }
                }
            }
            Client::Cline => {
                // cline sdk packages/shared/src/storage/paths.ts `resolveMcpSettingsPath()`: the
                // file shared by the CLI and the extension, `$CLINE_MCP_SETTINGS_PATH`, else
                // `$CLINE_DATA_DIR/settings/…`, else `$CLINE_DIR/data/settings/…`, else
                // `~/.cline/data/settings/cline_mcp_settings.json`.
                let env = &dirs.env;
                let shared = env.cline_mcp_settings_path.clone().unwrap_or_else(|| {
                    env.cline_data_dir
                        .clone()
                        .or_else(|| env.cline_dir.as_ref().map(|d| d.join("data")))
                        .unwrap_or_else(|| home.join(".cline/data"))
                        .join("settings/cline_mcp_settings.json")
                });
                found.push(at(shared, Format::McpServers));
                // docs.cline.bot/mcp/configuring-mcp-servers: the extension's global storage
                // in whichever VS Code-family editor it is installed in.
                for app in ["Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf"] {
                    found.push(at(
                        dirs.app_config(app).join(
                            "User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                        ),
                        Format::McpServers,
                    ));
                }
            }
        }
        found
    }
}

/// Subdirectories of `dir`, sorted (none when it does not exist).
fn sorted_children(dir: &Path) -> Vec<PathBuf> {
    let mut children: Vec<PathBuf> = fs_err::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    children.sort();
    children
}

/// Files left beside configs by mcpin before records moved to the state directory; they are
/// never configs.
fn is_legacy_mcpin_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".mcpin-wrap.json") || name.ends_with(".mcpin-backup")
}

/// Continue's block files under `dir`: `*.yaml`, `*.yml` and `*.json`, walked recursively
/// (directory symlinks are not followed, so a loop cannot trap the walk), sorted.
fn continue_blocks(dir: &Path) -> Vec<PathBuf> {
    const MAX_DEPTH: usize = 16;
    let mut files = Vec::new();
    let mut pending = vec![(dir.to_owned(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        for entry in fs_err::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth < MAX_DEPTH {
                    pending.push((path, depth + 1));
                }
                continue;
            }
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ["yaml", "yml", "json"].contains(&ext) && !is_legacy_mcpin_file(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Environment variables that move a client's files.
#[derive(Debug, Clone, Default)]
pub struct ClientEnv {
    /// `CLAUDE_CONFIG_DIR`
    pub claude_config_dir: Option<PathBuf>,
    /// `COPILOT_HOME`
    pub copilot_home: Option<PathBuf>,
    /// `CONTINUE_GLOBAL_DIR`
    pub continue_global_dir: Option<PathBuf>,
    /// `CLINE_MCP_SETTINGS_PATH`
    pub cline_mcp_settings_path: Option<PathBuf>,
    /// `CLINE_DATA_DIR`
    pub cline_data_dir: Option<PathBuf>,
    /// `CLINE_DIR`
    pub cline_dir: Option<PathBuf>,
}

/// The directories config locations are relative to.
#[derive(Debug, Clone)]
pub struct ClientDirs {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, if set.
    pub config: Option<PathBuf>,
    /// `%APPDATA%` (Windows), if set.
    pub app_data: Option<PathBuf>,
    /// The project directory for project-scoped configs (usually the current directory).
    pub project: Option<PathBuf>,
    pub env: ClientEnv,
    /// Where system-wide files live, `/` (tests point it elsewhere).
    pub system_root: PathBuf,
}

impl ClientDirs {
    /// From the base directories and the clients' variables; empty and relative values are
    /// ignored (a relative path would name a file in whatever directory mcpin runs in). `None`
    /// without a home directory.
    pub fn from_env(
        base: &crate::locate::BaseDirs,
        project: Option<PathBuf>,
    ) -> Option<ClientDirs> {
        let absolute = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        let home = base.home.clone().or_else(|| absolute("USERPROFILE"))?;
        Some(ClientDirs {
            home,
            config: base.xdg_config_home.clone(),
            app_data: absolute("APPDATA"),
            project,
            env: ClientEnv {
                claude_config_dir: absolute("CLAUDE_CONFIG_DIR"),
                copilot_home: absolute("COPILOT_HOME"),
                continue_global_dir: absolute("CONTINUE_GLOBAL_DIR"),
                cline_mcp_settings_path: absolute("CLINE_MCP_SETTINGS_PATH"),
                cline_data_dir: absolute("CLINE_DATA_DIR"),
                cline_dir: absolute("CLINE_DIR"),
            },
            system_root: PathBuf::from("/"),
        })
    }

    fn xdg_config(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| self.home.join(".config"))
    }

    fn app_data(&self) -> PathBuf {
        self.app_data
            .clone()
            .unwrap_or_else(|| self.home.join("AppData/Roaming"))
    }

    /// An Electron app's data folder: `%APPDATA%\<app>`, `~/Library/Application Support/<app>`,
    /// `$XDG_CONFIG_HOME/<app>`.
    fn app_config(&self, app: &str) -> PathBuf {
        if cfg!(windows) {
            self.app_data().join(app)
        } else if cfg!(target_os = "macos") {
            self.home.join("Library/Application Support").join(app)
        } else {
            self.xdg_config().join(app)
        }
    }

    /// Claude Code's `managed-mcp.json`.
    fn managed_claude_code(&self) -> PathBuf {
        if cfg!(windows) {
            PathBuf::from(r"C:\Program Files\ClaudeCode\managed-mcp.json")
        } else if cfg!(target_os = "macos") {
            self.system_root
                .join("Library/Application Support/ClaudeCode/managed-mcp.json")
        } else {
            self.system_root.join("etc/claude-code/managed-mcp.json")
        }
    }
}

/// The config files of some clients that exist, and the clients that have none.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub found: Vec<Location>,
    /// Clients with no config file, with every place looked at.
    pub missing: Vec<(Client, Vec<PathBuf>)>,
}

/// Finds the config files of `clients`. A file read by several clients (a project `.mcp.json`)
/// or reached through several paths (symlinks) is listed once, for the first. Nothing under
/// `exclude` (mcpin's own state) is ever a config.
pub fn discover(clients: &[Client], dirs: &ClientDirs, exclude: Option<&Path>) -> Discovery {
    let exclude = exclude.map(|dir| fs_err::canonicalize(dir).unwrap_or_else(|_| dir.to_owned()));
    let mut seen = BTreeSet::new();
    let mut discovery = Discovery::default();
    for &client in clients {
        let candidates = client.locations(dirs);
        let mut any = false;
        for location in &candidates {
            if !location.path.is_file() {
                continue;
            }
            let canonical =
                fs_err::canonicalize(&location.path).unwrap_or_else(|_| location.path.clone());
            if exclude
                .as_ref()
                .is_some_and(|dir| canonical.starts_with(dir))
            {
                continue;
            }
            any = true;
            if seen.insert(canonical) {
                discovery.found.push(location.clone());
            }
        }
        if !any {
            discovery
                .missing
                .push((client, candidates.into_iter().map(|l| l.path).collect()));
        }
    }
    discovery
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(root: &Path) -> ClientDirs {
        ClientDirs {
            home: root.join("home"),
            config: None,
            app_data: None,
            project: Some(root.join("project")),
            env: ClientEnv::default(),
            system_root: root.join("sys"),
        }
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "{}").unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn every_documented_linux_location_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let dirs = dirs(root);
        let expected: &[(Client, &str, Format)] = &[
            (
                Client::ClaudeDesktop,
                "home/.config/Claude/claude_desktop_config.json",
                Format::McpServers,
            ),
            (Client::ClaudeCode, "home/.claude.json", Format::ClaudeCode),
            (
                Client::ClaudeCode,
                "sys/etc/claude-code/managed-mcp.json",
                Format::McpServers,
            ),
            (Client::ClaudeCode, "project/.mcp.json", Format::McpServers),
            (Client::Cursor, "home/.cursor/mcp.json", Format::McpServers),
            (
                Client::Cursor,
                "project/.cursor/mcp.json",
                Format::McpServers,
            ),
            (
                Client::VsCode,
                "home/.config/Code/User/mcp.json",
                Format::VsCode,
            ),
            (
                Client::VsCode,
                "home/.config/Code/User/profiles/1a2b/mcp.json",
                Format::VsCode,
            ),
            (
                Client::VsCode,
                "home/.config/Code - Insiders/User/mcp.json",
                Format::VsCode,
            ),
            (
                Client::VsCode,
                "home/.config/VSCodium/User/mcp.json",
                Format::VsCode,
            ),
            (
                Client::VsCode,
                "home/.copilot/mcp-config.json",
                Format::McpServers,
            ),
            (Client::VsCode, "project/.vscode/mcp.json", Format::VsCode),
            (
                Client::Windsurf,
                "home/.codeium/windsurf/mcp_config.json",
                Format::McpServers,
            ),
            (
                Client::Windsurf,
                "home/.codeium/mcp_config.json",
                Format::McpServers,
            ),
            (Client::Zed, "home/.config/zed/settings.json", Format::Zed),
            (
                Client::Zed,
                "home/.var/app/dev.zed.Zed/config/zed/settings.json",
                Format::Zed,
            ),
            (Client::Zed, "project/.zed/settings.json", Format::Zed),
            (
                Client::Goose,
                "home/.config/goose/config.yaml",
                Format::Goose,
            ),
            (
                Client::Continue,
                "home/.continue/config.yaml",
                Format::ContinueYaml,
            ),
            (
                Client::Continue,
                "home/.continue/mcpServers/a.json",
                Format::ContinueJson,
            ),
            (
                Client::Continue,
                "home/.continue/mcpServers/nested/b.yml",
                Format::ContinueYaml,
            ),
            (
                Client::Continue,
                "project/.continue/mcpServers/c.yaml",
                Format::ContinueYaml,
            ),
            (
                Client::Cline,
                "home/.cline/data/settings/cline_mcp_settings.json",
                Format::McpServers,
            ),
            (
                Client::Cline,
                "home/.config/Cursor/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                Format::McpServers,
            ),
            (
                Client::Cline,
                "home/.config/Windsurf/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                Format::McpServers,
            ),
        ];
        for (_, rel, _) in expected {
            touch(&root.join(rel));
        }
        // mcpin's old records beside a Continue block are not configs.
        touch(&root.join("home/.continue/mcpServers/a.json.mcpin-wrap.json"));
        let found = discover(Client::ALL, &dirs, None).found;
        let got: Vec<(Client, PathBuf, Format)> = found
            .iter()
            .map(|l| (l.client, l.path.clone(), l.format))
            .collect();
        for (client, rel, format) in expected {
            let path = root.join(rel);
            let expected = (*client, path.clone(), *format);
            // The project `.mcp.json` is Claude Code's first; VS Code reads it too.
            assert!(got.contains(&expected), "{rel} not found: {got:#?}");
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
    }

    #[test]
    fn environment_overrides_move_the_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mut dirs = dirs(tmp.path());
        dirs.env.claude_config_dir = Some(tmp.path().join("cc"));
        dirs.env.copilot_home = Some(tmp.path().join("cp"));
        dirs.env.continue_global_dir = Some(tmp.path().join("ct"));
        dirs.env.cline_data_dir = Some(tmp.path().join("cl"));
        let paths = |dirs: &ClientDirs, client: Client| -> Vec<PathBuf> {
            client.locations(dirs).into_iter().map(|l| l.path).collect()
        };
        assert_eq!(
            paths(&dirs, Client::ClaudeCode)[0],
            tmp.path().join("cc/.claude.json")
        );
        assert!(paths(&dirs, Client::VsCode).contains(&tmp.path().join("cp/mcp-config.json")));
        assert_eq!(
            paths(&dirs, Client::Continue)[0],
            tmp.path().join("ct/config.yaml")
        );
        assert_eq!(
            paths(&dirs, Client::Cline)[0],
            tmp.path().join("cl/settings/cline_mcp_settings.json")
        );
        dirs.env.cline_mcp_settings_path = Some(tmp.path().join("x.json"));
        assert_eq!(paths(&dirs, Client::Cline)[0], tmp.path().join("x.json"));
    }

    #[test]
    fn a_named_client_without_config_is_reported_and_excluded_state_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs(tmp.path());
        let state = tmp.path().join("home/.cursor");
        touch(&state.join("mcp.json"));
        let discovery = discover(&[Client::Goose, Client::Cursor], &dirs, Some(&state));
        assert!(discovery.found.is_empty());
        let missing: Vec<Client> = discovery.missing.iter().map(|(c, _)| *c).collect();
        assert_eq!(missing, [Client::Goose, Client::Cursor]);
        assert!(
            discovery.missing[0]
                .1
                .iter()
                .any(|p| p.ends_with("goose/config.yaml"))
        );
    }
}
