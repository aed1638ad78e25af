//! `mcpin doctor`: what a launch from here would use, where each thing comes from, and what is
//! wrong with it. It reads and resolves exactly as `mcpin run` does (the same settings, policy
//! lookup, interpreter resolution and client locations) but changes nothing: the rollback
//! state is only read, the store is not created, no config is rewritten.

use std::ffi::OsString;
use std::path::Path;

use mcpin_registry_client::store;
use mcpin_verifier::gate::{self, PolicyLoad, StateAccess};
use serde::Serialize;

use crate::interpreter::{Resolver, SearchEnv, Tool};
use crate::locate::{self, PolicyLocation};
use crate::pipeline::{Access, RunSettings};
use crate::wrap::{self, Client, ClientDirs};

/// Everything doctor looked at, by section.
#[derive(Debug, Serialize)]
pub struct Report {
    pub sections: Vec<Section>,
}

#[derive(Debug, Serialize)]
pub struct Section {
    pub name: &'static str,
    pub items: Vec<Item>,
}

/// One thing mcpin would use: what it is, where that came from, and what is wrong with it.
#[derive(Debug, Serialize)]
pub struct Item {
    pub name: String,
    pub value: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Item {
    fn ok(name: impl Into<String>, value: impl Into<String>, source: impl Into<String>) -> Item {
        Item {
            name: name.into(),
            value: value.into(),
            source: source.into(),
            problem: None,
        }
    }

    fn problem(
        name: impl Into<String>,
        value: impl Into<String>,
        source: impl Into<String>,
        problem: impl Into<String>,
    ) -> Item {
        Item {
            problem: Some(problem.into()),
            ..Item::ok(name, value, source)
        }
    }
}

impl Report {
    /// Whether anything is wrong.
    pub fn has_problems(&self) -> bool {
        self.sections
            .iter()
            .flat_map(|s| &s.items)
            .any(|item| item.problem.is_some())
    }

    /// The report for people: one line per item, problems marked.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for section in &self.sections {
            text.push_str(&format!("{}\n", section.name));
            for item in &section.items {
                let mark = if item.problem.is_some() {
                    "FAIL"
                } else {
                    "ok  "
                };
                text.push_str(&format!(
                    "  {mark} {:<14} {}  ({})\n",
                    item.name, item.value, item.source
                ));
                if let Some(problem) = &item.problem {
                    text.push_str(&format!("       {problem}\n"));
                }
            }
        }
        text
    }
}

/// What the launch settings could not even be resolved from (system config, flags), if so.
pub struct Inputs<'a> {
    /// `Some` in system mode: the config file.
    pub system_config: Option<&'a Path>,
    pub settings: Result<&'a RunSettings, String>,
    pub audit_log: Option<&'a Path>,
    /// The environment a launch from here would get (for interpreter resolution).
    pub env: &'a [(OsString, OsString)],
}

/// Looks at everything a launch from the current directory would use.
pub fn inspect(inputs: &Inputs) -> Report {
    let mut sections = vec![Section {
        name: "mode",
        items: vec![match inputs.system_config {
            Some(path) => Item::ok(
                "mode",
                "system",
                format!(
                    "{} (root-owned; pins policy, key, state, store, audit log, interpreters)",
                    path.display()
                ),
            ),
            None => Item::ok(
                "mode",
                "per-user",
                format!("no {}", crate::system::SYSTEM_CONFIG),
            ),
        }],
    }];
    let settings = match &inputs.settings {
        Ok(settings) => settings,
        Err(why) => {
            sections[0].items.push(Item::problem(
                "settings",
                "unusable",
                "flags, environment and system config",
                why.clone(),
            ));
            return Report { sections };
        }
    };
    sections.push(policy_section(settings));
    sections.push(Section {
        name: "store and logs",
        items: vec![
            store_item(settings),
            Item::ok(
                "state dir",
                settings.state_dir.display().to_string(),
                "rollback state (written only for signed policies)",
            ),
            audit_item(inputs.audit_log),
        ],
    });
    sections.push(interpreters_section(settings, inputs.env));
    sections.push(registries_section(settings));
    sections.push(clients_section(&settings.dirs));
    Report { sections }
}

fn policy_section(settings: &RunSettings) -> Section {
    let mut items = Vec::new();
    let source = if settings.policy.is_some() {
        "--policy / system config"
    } else {
        "system file, then the user's"
    };
    let found = locate::find_policy(
        settings.policy.as_deref(),
        &settings.dirs,
        Path::new(locate::SYSTEM_POLICY),
    );
    let path = match found {
        PolicyLocation::Found(path) => path,
        PolicyLocation::Missing { searched } => {
            let searched: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
            items.push(Item::problem(
                "policy",
                "none",
                source,
                format!(
                    "no policy file (looked at {}): every launch is refused",
                    searched.join(", ")
                ),
            ));
            return Section {
                name: "policy",
                items,
            };
        }
    };
    items.push(match &settings.policy_root_key {
        Some(key) => Item::ok(
            "policy-root",
            key.id().to_string(),
            "the policy must be signed by it",
        ),
        None => Item::problem(
            "policy-root",
            "none",
            "--policy-root-key / MCPIN_POLICY_ROOT_KEY / system config",
            "the policy's signature is not checked and rollback is not tracked",
        ),
    });
    // Read only: doctor never moves the rollback state.
    let loaded = gate::load_policy(
        &path,
        settings.policy_root_key.as_ref(),
        &settings.state_dir,
        StateAccess::ReadOnly,
    );
    let shown = path.display().to_string();
    items.push(match loaded {
        Ok(PolicyLoad::Loaded(loaded)) => {
            let policy = &loaded.policy;
            let mut problems = Vec::new();
            if loaded.version_check.is_rollback() {
                problems.push(format!(
                    "version {} is older than version {} seen before",
                    policy.version,
                    loaded.version_check.last_seen.unwrap_or_default()
                ));
            }
            if let Some(expires) = policy.expires
                && jiff::Timestamp::now() >= expires
            {
                problems.push(format!("expired at {expires}"));
            }
            let value = format!(
                "`{}` version {}, {} signer(s), {} package rule(s){}",
                policy.name,
                policy.version,
                policy.signers.len(),
                policy.packages.len(),
                policy
                    .expires
                    .map(|e| format!(", expires {e}"))
                    .unwrap_or_default()
            );
            if problems.is_empty() {
                Item::ok("policy", value, shown)
            } else {
                Item::problem("policy", value, shown, problems.join("; "))
            }
        }
        Ok(PolicyLoad::Refused { verdict, .. }) => Item::problem(
            "policy",
            "refused",
            shown,
            verdict
                .reasons
                .iter()
                .map(|r| format!("{} [{}]", r.message, r.code))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(error) => Item::problem("policy", "unreadable", shown, error.to_string()),
    });
    Section {
        name: "policy",
        items,
    }
}

fn store_item(settings: &RunSettings) -> Item {
    let root = &settings.registry.store;
    let shown = root.display().to_string();
    let source = match settings.access {
        Access::ReadOnly => "system store (read only: `sudo mcpin install` fills it)",
        Access::ReadWrite if settings.registry.owner.system => "system store",
        Access::ReadWrite => "--store / MCPIN_STORE / $XDG_DATA_HOME/mcpin/store",
    };
    if !root.exists() {
        return Item::ok(
            "store",
            shown,
            format!("{source}; created at the first fetch"),
        );
    }
    match store::check_private_dir(root, &settings.registry.owner) {
        Ok(()) => Item::ok("store", shown, source),
        Err(unsafe_path) => Item::problem("store", shown, source, unsafe_path.to_string()),
    }
}

fn audit_item(path: Option<&Path>) -> Item {
    let Some(path) = path else {
        return Item::problem(
            "audit log",
            "none",
            "--audit-log / system config / $XDG_STATE_HOME",
            "neither XDG_STATE_HOME nor HOME is set: launches cannot be recorded, so they are refused",
        );
    };
    let shown = path.display().to_string();
    if !path.exists() {
        return Item::ok("audit log", shown, "created at the first decision");
    }
    match crate::audit::verify(path) {
        Ok(verified) => Item::ok(
            "audit log",
            shown,
            format!("{} record(s), chain intact", verified.records),
        ),
        Err(error) => Item::problem("audit log", shown, "hash-chained log", error.to_string()),
    }
}

fn interpreters_section(settings: &RunSettings, env: &[(OsString, OsString)]) -> Section {
    let mut search = SearchEnv::from_vars(env);
    if settings.path.is_some() {
        search.path = settings.path.clone();
    }
    // Doctor does not load the policy's pins twice: the system's pins, else the PATH search;
    // a policy pin is shown by `mcpin policy check`.
    let resolver = Resolver::new(
        &settings.interpreters,
        &search,
        Some(crate::interpreter::cache_dir(&settings.registry.store)),
    );
    let items = [Tool::Node, Tool::Python, Tool::Docker]
        .into_iter()
        .map(|tool| {
            let resolved = match tool {
                Tool::Python => resolver.resolve_python("3"),
                other => resolver.resolve(other),
            };
            match resolved {
                Ok(found) => Item::ok(
                    tool.name(),
                    format!("{} (sha256:{})", found.path.display(), found.sha256),
                    match found.origin {
                        crate::interpreter::Origin::Pinned => "pinned (system config)",
                        crate::interpreter::Origin::Path => "first fitting absolute PATH entry",
                    },
                ),
                Err(error) => Item::problem(
                    tool.name(),
                    "none",
                    "pins, else absolute PATH entries",
                    error.to_string(),
                ),
            }
        })
        .collect();
    Section {
        name: "interpreters",
        items,
    }
}

fn registries_section(settings: &RunSettings) -> Section {
    let registry = &settings.registry;
    let offline = if registry.http.offline {
        " (offline: the store only)"
    } else {
        ""
    };
    Section {
        name: "registries",
        items: vec![
            Item::ok(
                "npm",
                format!(
                    "{}{offline}",
                    mcpin_registry_client::redact(&registry.npm.registry)
                ),
                "--npm-registry / MCPIN_NPM_REGISTRY / ~/.npmrc (never the project's .npmrc)",
            ),
            Item::ok(
                "pypi",
                mcpin_registry_client::redact(&registry.pypi_index),
                "--pypi-index / MCPIN_PYPI_INDEX",
            ),
            Item::ok(
                "mcp",
                mcpin_registry_client::redact(&registry.mcp_registry),
                "--mcp-registry / MCPIN_MCP_REGISTRY",
            ),
        ],
    }
}

fn clients_section(dirs: &crate::locate::BaseDirs) -> Section {
    let project = std::env::current_dir().ok();
    let Some(client_dirs) = ClientDirs::from_env(dirs, project) else {
        return Section {
            name: "agent configs",
            items: vec![Item::problem(
                "clients",
                "none",
                "HOME",
                "HOME is not set: client configs cannot be found",
            )],
        };
    };
    let discovery = wrap::discover(Client::ALL, &client_dirs, None);
    let mut items: Vec<Item> = discovery
        .found
        .iter()
        .map(|location| {
            Item::ok(
                location.client.name(),
                location.path.display().to_string(),
                "found (`mcpin wrap --all --dry-run` shows what it would change)",
            )
        })
        .collect();
    if items.is_empty() {
        items.push(Item::ok(
            "clients",
            "no config found",
            "every documented location (docs/guides/wrap.md)",
        ));
    }
    Section {
        name: "agent configs",
        items,
    }
}
