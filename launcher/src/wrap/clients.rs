//! The agent clients `mcpin wrap` knows, where they keep their MCP configs (as each client's
//! own documentation gives it), and where in each file the stdio server entries live.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// An agent client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    VsCode,
    Windsurf,
    Zed,
    Goose,
    Continue,
    Cline,
}

/// The syntax of a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Syntax {
    /// JSON or JSONC; both are edited in place with comments and trailing commas kept.
    Json,
    Yaml,
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

    /// The syntax of a config file of this client at `path`.
    pub fn syntax(self, path: &Path) -> Syntax {
        let yaml = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"));
        if yaml { Syntax::Yaml } else { Syntax::Json }
    }

    /// Object paths (`*` matches every key) whose members are server entries, in JSON files.
    pub(crate) fn json_server_maps(self) -> &'static [&'static [&'static str]] {
        match self {
            Client::ClaudeCode => &[&["mcpServers"], &["projects", "*", "mcpServers"]],
            Client::VsCode => &[&["servers"]],
            Client::Zed => &[&["context_servers"]],
            _ => &[&["mcpServers"]],
        }
    }

    /// Every config file location of this client (existing or not), most general first.
    pub fn locations(self, dirs: &ClientDirs) -> Vec<PathBuf> {
        let home = &dirs.home;
        let config = dirs.config.clone().unwrap_or_else(|| home.join(".config"));
        let mac = cfg!(target_os = "macos");
        let app_support = home.join("Library/Application Support");
        let code_user = if mac {
            app_support.join("Code/User")
        } else {
            config.join("Code/User")
        };
        let project = |rel: &str| dirs.project.as_ref().map(|p| p.join(rel));
        let mut paths = match self {
            Client::ClaudeDesktop if mac => {
                vec![app_support.join("Claude/claude_desktop_config.json")]
            }
            // Linux has no official build; community builds use the XDG location.
            Client::ClaudeDesktop => vec![config.join("Claude/claude_desktop_config.json")],
            Client::ClaudeCode => vec![home.join(".claude.json")],
            Client::Cursor => vec![home.join(".cursor/mcp.json")],
            Client::VsCode => vec![code_user.join("mcp.json")],
            Client::Windsurf => vec![
                home.join(".codeium/windsurf/mcp_config.json"),
                home.join(".codeium/mcp_config.json"),
            ],
            Client::Zed => vec![config.join("zed/settings.json")],
            Client::Goose => vec![config.join("goose/config.yaml")],
            Client::Continue => vec![home.join(".continue/config.yaml")],
            Client::Cline => vec![
                code_user
                    .join("globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"),
                home.join(".cline/data/settings/cline_mcp_settings.json"),
            ],
        };
        if let (Client::Continue, Some(blocks)) = (self, project(".continue/mcpServers")) {
            // Block files: YAML, or Claude/Cursor-format JSON.
            let mut files: Vec<PathBuf> = fs_err::read_dir(&blocks)
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| {
                    path.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| ["yaml", "yml", "json"].contains(&e))
                })
                .collect();
            files.sort();
            paths.extend(files);
        }
        paths.extend(match self {
            Client::ClaudeCode => project(".mcp.json"),
            Client::Cursor => project(".cursor/mcp.json"),
            Client::VsCode => project(".vscode/mcp.json"),
            Client::Zed => project(".zed/settings.json"),
            _ => None,
        });
        paths
    }
}

/// The directories config locations are relative to.
#[derive(Debug, Clone)]
pub struct ClientDirs {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, if set.
    pub config: Option<PathBuf>,
    /// The project directory for project-scoped configs (usually the current directory).
    pub project: Option<PathBuf>,
}
