//! The environment rules, the one definition every launch uses (`mcpin run`, `mcpin wrap`'s
//! gate, docker `-e` names, the docker client's own environment).
//!
//! The server's environment is an allowlist. mcpin cannot tell an agent config's `env` from
//! the environment the agent itself was started with (it receives one merged environment), so
//! one rule holds for every variable:
//!
//! 1. a name on the deny list (`[launch] env-deny`) refuses the launch;
//! 2. a name on the strip list ([`DEFAULT_STRIP`] plus `[launch] env-strip`; for docker also
//!    [`DOCKER_CLIENT`]) is removed and reported with why it is dangerous;
//! 3. a name on the allow list ([`BASE_ALLOW`] plus `[launch] env-allow`) is kept; the base
//!    names get sanitized values (below);
//! 4. everything else is dropped and reported by name (never by value).
//!
//! Patterns are exact names (`LD_PRELOAD`) or prefixes ending in `*` (`LC_*`, `DYLD_*`).
//!
//! Base values: `HOME` is the account's home directory from the password database (never the
//! caller's `$HOME`: node looks for modules a package does not ship in `$HOME/.node_modules`);
//! `PATH` keeps its absolute entries only; `TMPDIR` must be absolute; `LANG`, `LC_*` and `TERM`
//! must not contain `/` (glibc reads a locale value with a slash as a path to locale files).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;

use serde::Serialize;

/// Names every server gets (values sanitized as the module says).
pub const BASE_ALLOW: &[&str] = &[
    "HOME", "PATH", "LANG", "LC_*", "TERM", "TMPDIR", "USER", "LOGNAME",
];

/// Removed even when an allow pattern matches: each loads code into the interpreter or the
/// dynamic linker, weakens TLS, redirects name resolution or configures a package manager.
pub const DEFAULT_STRIP: &[(&str, &str)] = &[
    ("NODE_OPTIONS", "can load code before the server"),
    (
        "NODE_PATH",
        "adds module directories the signed tree does not have",
    ),
    (
        "NODE_REPL_EXTERNAL_MODULE",
        "can load code before the server",
    ),
    (
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "turns off TLS certificate checks",
    ),
    ("NODE_EXTRA_CA_CERTS", "adds trusted TLS roots"),
    ("NODE_V8_COVERAGE", "makes node write files where it points"),
    ("NODE_ICU_DATA", "loads ICU data from where it points"),
    (
        "NODE_REDIRECT_WARNINGS",
        "makes node write files where it points",
    ),
    ("PYTHONPATH", "can load code before the server"),
    ("PYTHONSTARTUP", "can load code before the server"),
    ("PYTHONHOME", "can load code before the server"),
    ("PYTHONUSERBASE", "can load code before the server"),
    ("PYTHONBREAKPOINT", "can load code before the server"),
    ("PYTHONWARNINGS", "can load code before the server"),
    ("PYTHONINSPECT", "can load code before the server"),
    ("LD_*", "can load code before the server (dynamic linker)"),
    ("DYLD_*", "can load code before the server (dynamic linker)"),
    (
        "GCONV_PATH",
        "can load code before the server (glibc charset modules)",
    ),
    ("GLIBC_TUNABLES", "changes how glibc behaves"),
    ("LOCPATH", "loads locale data from where it points"),
    ("NLSPATH", "loads message catalogs from where it points"),
    ("HOSTALIASES", "redirects host name resolution"),
    ("RES_OPTIONS", "changes host name resolution"),
    ("SSL_CERT_FILE", "replaces the trusted TLS roots"),
    ("SSL_CERT_DIR", "replaces the trusted TLS roots"),
    ("REQUESTS_CA_BUNDLE", "replaces the trusted TLS roots"),
    ("CURL_CA_BUNDLE", "replaces the trusted TLS roots"),
    (
        "npm_config_*",
        "configures npm for anything the server starts",
    ),
    (
        "NPM_CONFIG_*",
        "configures npm for anything the server starts",
    ),
    ("UV_*", "configures uv for anything the server starts"),
    ("PIP_*", "configures pip for anything the server starts"),
    ("BASH_ENV", "can load code before the server (shell)"),
    ("ENV", "can load code before the server (shell)"),
    ("PERL5OPT", "can load code before the server"),
    ("PERL5LIB", "can load code before the server"),
    ("RUBYOPT", "can load code before the server"),
    ("RUBYLIB", "can load code before the server"),
    ("JAVA_TOOL_OPTIONS", "can load code before the server"),
    ("_JAVA_OPTIONS", "can load code before the server"),
];

/// Variables the docker client reads to choose where it connects and what it loads (`DOCKER_HOST`
/// may be `ssh://…`, which makes the client run `ssh`; `DOCKER_CONFIG` holds contexts, plugins
/// and credential helpers). Stripped from a docker launch; `[launch] docker-host` pins the host.
pub const DOCKER_CLIENT: &[&str] = &["DOCKER_*"];

/// The policy's lists (`[launch] env-allow`, `env-strip`, `env-deny`): exact names or `PREFIX*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvLists {
    pub allow: Vec<String>,
    pub strip: Vec<String>,
    pub deny: Vec<String>,
}

/// What the rules do with one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// On the deny list: the launch is refused.
    Deny,
    /// On the strip list: removed, for this reason.
    Strip(String),
    /// On the allow list.
    Allow,
    /// On no list: dropped.
    Drop,
}

/// The rules for one launch: the policy's lists over the built-in ones.
#[derive(Debug, Clone)]
pub struct EnvRules<'a> {
    lists: &'a EnvLists,
    docker: bool,
}

/// A variable removed because it is dangerous, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stripped {
    pub name: String,
    pub reason: String,
}

/// The environment to start the server (or the docker client) with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SanitizedEnv {
    pub vars: BTreeMap<OsString, OsString>,
    /// Removed as dangerous (strip list, or a base variable with an unsafe value).
    pub stripped: Vec<Stripped>,
    /// Removed because no allow pattern names them.
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A variable on the policy's deny list is set. Stable code `env-denied`.
    #[error("environment variable {name} is denied by policy [env-denied]")]
    Denied { name: String },
}

/// True when `name` matches `pattern` (exact, or prefix when the pattern ends in `*`).
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Whether `pattern` is a valid list entry: a variable name, optionally ending in `*`.
pub fn valid_pattern(pattern: &str) -> bool {
    let name = pattern.strip_suffix('*').unwrap_or(pattern);
    (name.is_empty() && pattern == "*")
        || (name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Why `NODE_OPTIONS` is dangerous, naming the flag that loads code when there is one.
fn node_options_reason(value: &str) -> Option<String> {
    const LOADS: &[&str] = &[
        "--require",
        "-r",
        "--import",
        "--loader",
        "--experimental-loader",
        "--env-file",
    ];
    let flag = value.split_whitespace().find(|flag| {
        LOADS
            .iter()
            .any(|f| *flag == *f || flag.starts_with(&format!("{f}=")))
    })?;
    Some(format!("`{flag}` loads code before the server"))
}

impl<'a> EnvRules<'a> {
    /// The rules for a server launched directly (node, python).
    pub fn server(lists: &'a EnvLists) -> EnvRules<'a> {
        EnvRules {
            lists,
            docker: false,
        }
    }

    /// The rules for the docker client (and for `docker run -e` names).
    pub fn docker(lists: &'a EnvLists) -> EnvRules<'a> {
        EnvRules {
            lists,
            docker: true,
        }
    }

    /// What the rules do with `name`. Deny wins over strip, strip over allow.
    pub fn classify(&self, name: &str) -> Class {
        if self.lists.deny.iter().any(|p| matches(p, name)) {
            return Class::Deny;
        }
        if let Some((_, why)) = DEFAULT_STRIP.iter().find(|(p, _)| matches(p, name)) {
            return Class::Strip(format!("{name} {why}"));
        }
        if self.docker && DOCKER_CLIENT.iter().any(|p| matches(p, name)) {
            return Class::Strip(format!(
                "{name} chooses where the docker client connects or what it loads (pin the host with [launch] docker-host)"
            ));
        }
        if self.lists.strip.iter().any(|p| matches(p, name)) {
            return Class::Strip(format!("{name} is on the policy's env-strip list"));
        }
        let allowed = BASE_ALLOW
            .iter()
            .copied()
            .chain(self.lists.allow.iter().map(String::as_str))
            .any(|p| matches(p, name));
        if allowed { Class::Allow } else { Class::Drop }
    }

    /// Applies the rules to `vars` (the environment mcpin was started with). `home` is the
    /// account's home directory, the only value `HOME` gets.
    pub fn sanitize<I>(&self, vars: I, home: Option<&Path>) -> Result<SanitizedEnv, EnvError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut env = SanitizedEnv::default();
        for (name, value) in vars {
            let Some(text) = name.to_str() else {
                env.stripped.push(Stripped {
                    name: name.to_string_lossy().into_owned(),
                    reason: "the name is not valid UTF-8: no pattern can vouch for it".to_owned(),
                });
                continue;
            };
            match self.classify(text) {
                Class::Deny => {
                    return Err(EnvError::Denied {
                        name: text.to_owned(),
                    });
                }
                Class::Strip(reason) => {
                    let reason = match text {
                        "NODE_OPTIONS" => node_options_reason(&value.to_string_lossy())
                            .map_or(reason, |why| format!("NODE_OPTIONS {why}")),
                        _ => reason,
                    };
                    env.stripped.push(Stripped {
                        name: text.to_owned(),
                        reason,
                    });
                }
                Class::Drop => env.dropped.push(text.to_owned()),
                Class::Allow => match base_value(text, &value) {
                    BaseValue::Keep => {
                        env.vars.insert(name, value);
                    }
                    BaseValue::Replace(sanitized) => {
                        env.stripped.push(Stripped {
                            name: text.to_owned(),
                            reason: format!("{text}: relative and empty entries removed"),
                        });
                        env.vars.insert(name, sanitized);
                    }
                    BaseValue::Unsafe(why) => env.stripped.push(Stripped {
                        name: text.to_owned(),
                        reason: format!("{text} {why}"),
                    }),
                },
            }
        }
        // HOME is the account's, whatever the caller said.
        let home_key = OsString::from("HOME");
        match home {
            Some(home) => {
                if env
                    .vars
                    .get(&home_key)
                    .is_some_and(|v| Path::new(v) != home)
                {
                    env.stripped.push(Stripped {
                        name: "HOME".to_owned(),
                        reason: format!(
                            "HOME is the account's home directory {}, not the caller's",
                            home.display()
                        ),
                    });
                }
                env.vars.insert(home_key, home.as_os_str().to_owned());
            }
            None => {
                if env.vars.remove(&home_key).is_some() {
                    env.stripped.push(Stripped {
                        name: "HOME".to_owned(),
                        reason: "the account has no home directory in the password database"
                            .to_owned(),
                    });
                }
            }
        }
        env.dropped.sort();
        Ok(env)
    }
}

enum BaseValue {
    Keep,
    Replace(OsString),
    Unsafe(&'static str),
}

/// The sanitized value of a base variable (policy-allowed names are kept as they are).
fn base_value(name: &str, value: &OsStr) -> BaseValue {
    match name {
        "PATH" => {
            let entries: Vec<_> = std::env::split_paths(value).collect();
            let absolute: Vec<_> = entries.iter().filter(|e| e.is_absolute()).collect();
            if absolute.len() == entries.len() {
                BaseValue::Keep
            } else if absolute.is_empty() {
                BaseValue::Unsafe("has no absolute entry")
            } else {
                match std::env::join_paths(absolute) {
                    Ok(joined) => BaseValue::Replace(joined),
                    Err(_) => BaseValue::Unsafe("cannot be rebuilt from its absolute entries"),
                }
            }
        }
        "TMPDIR" if !Path::new(value).is_absolute() => BaseValue::Unsafe("is not an absolute path"),
        "LANG" | "TERM" if value.as_encoded_bytes().contains(&b'/') => {
            BaseValue::Unsafe("contains `/` (read as a path to locale or terminal files)")
        }
        _ if name.starts_with("LC_") && value.as_encoded_bytes().contains(&b'/') => {
            BaseValue::Unsafe("contains `/` (read as a path to locale files)")
        }
        _ => BaseValue::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn kept(env: &SanitizedEnv) -> Vec<(&str, &str)> {
        env.vars
            .iter()
            .map(|(k, v)| (k.to_str().unwrap(), v.to_str().unwrap()))
            .collect()
    }

    fn stripped(env: &SanitizedEnv) -> Vec<&str> {
        env.stripped.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn only_base_and_policy_allowed_names_reach_the_server() {
        let lists = EnvLists {
            allow: vec!["GITHUB_PERSONAL_ACCESS_TOKEN".into(), "MCP_*".into()],
            ..EnvLists::default()
        };
        let env = EnvRules::server(&lists)
            .sanitize(
                vars(&[
                    ("PATH", "/usr/bin:/bin"),
                    ("HOME", "/home/u"),
                    ("LANG", "C.UTF-8"),
                    ("LC_ALL", "C"),
                    ("TERM", "xterm"),
                    ("TMPDIR", "/tmp"),
                    ("USER", "u"),
                    ("LOGNAME", "u"),
                    ("GITHUB_PERSONAL_ACCESS_TOKEN", "ghp"),
                    ("MCP_MODE", "stdio"),
                    ("AWS_SECRET_ACCESS_KEY", "s"),
                    ("HTTPS_PROXY", "http://attacker:8080"),
                ]),
                Some(Path::new("/home/u")),
            )
            .unwrap();
        assert_eq!(
            kept(&env),
            [
                ("GITHUB_PERSONAL_ACCESS_TOKEN", "ghp"),
                ("HOME", "/home/u"),
                ("LANG", "C.UTF-8"),
                ("LC_ALL", "C"),
                ("LOGNAME", "u"),
                ("MCP_MODE", "stdio"),
                ("PATH", "/usr/bin:/bin"),
                ("TERM", "xterm"),
                ("TMPDIR", "/tmp"),
                ("USER", "u"),
            ]
        );
        assert_eq!(env.dropped, ["AWS_SECRET_ACCESS_KEY", "HTTPS_PROXY"]);
        assert!(env.stripped.is_empty(), "{:?}", env.stripped);
    }

    #[test]
    fn code_loading_tls_and_package_manager_variables_are_stripped_even_when_allowed() {
        // The issue's list: each of these reached the server before.
        let names = [
            "NODE_OPTIONS",
            "NODE_TLS_REJECT_UNAUTHORIZED",
            "NODE_EXTRA_CA_CERTS",
            "SSL_CERT_FILE",
            "NODE_V8_COVERAGE",
            "HOSTALIASES",
            "GCONV_PATH",
            "npm_config_registry",
            "UV_INDEX_URL",
            "LD_PRELOAD",
            "DYLD_INSERT_LIBRARIES",
            "PYTHONPATH",
        ];
        // Even a policy that allows everything does not let them through.
        let lists = EnvLists {
            allow: vec!["*".into()],
            ..EnvLists::default()
        };
        let input: Vec<(&str, &str)> = names.iter().map(|n| (*n, "x")).collect();
        let env = EnvRules::server(&lists)
            .sanitize(vars(&input), None)
            .unwrap();
        assert!(env.vars.is_empty(), "{:?}", kept(&env));
        assert_eq!(stripped(&env), names);
        let node = EnvRules::server(&lists)
            .sanitize(
                vars(&[(
                    "NODE_OPTIONS",
                    "--max-old-space-size=100 --require /tmp/x.js",
                )]),
                None,
            )
            .unwrap();
        assert_eq!(
            node.stripped[0].reason,
            "NODE_OPTIONS `--require` loads code before the server"
        );
    }

    #[test]
    fn base_values_are_sanitized_and_home_is_the_accounts() {
        let lists = EnvLists::default();
        let env = EnvRules::server(&lists)
            .sanitize(
                vars(&[
                    ("PATH", ":node_modules/.bin:/usr/bin::./bin:/bin"),
                    ("HOME", "/repo/evil-home"),
                    ("TMPDIR", "tmp"),
                    ("LANG", "../../repo/locale"),
                    ("LC_CTYPE", "/repo/locale"),
                    ("TERM", "xterm-256color"),
                ]),
                Some(Path::new("/home/u")),
            )
            .unwrap();
        assert_eq!(
            kept(&env),
            [
                ("HOME", "/home/u"),
                ("PATH", "/usr/bin:/bin"),
                ("TERM", "xterm-256color")
            ]
        );
        assert_eq!(
            stripped(&env),
            ["PATH", "TMPDIR", "LANG", "LC_CTYPE", "HOME"]
        );
        let no_account = EnvRules::server(&lists)
            .sanitize(vars(&[("HOME", "/repo/evil-home")]), None)
            .unwrap();
        assert!(no_account.vars.is_empty());
        let only_relative = EnvRules::server(&lists)
            .sanitize(vars(&[("PATH", "node_modules/.bin")]), None)
            .unwrap();
        assert!(only_relative.vars.is_empty());
    }

    #[test]
    fn deny_wins_over_strip_and_allow() {
        let lists = EnvLists {
            allow: vec!["LD_PRELOAD".into()],
            strip: vec!["API_*".into()],
            deny: vec!["LD_PRELOAD".into()],
        };
        let rules = EnvRules::server(&lists);
        let error = rules
            .sanitize(vars(&[("LD_PRELOAD", "/x.so")]), None)
            .unwrap_err();
        assert_eq!(
            error,
            EnvError::Denied {
                name: "LD_PRELOAD".into()
            }
        );
        assert!(error.to_string().contains("[env-denied]"));
        assert_eq!(
            rules.classify("API_KEY"),
            Class::Strip("API_KEY is on the policy's env-strip list".into())
        );
    }

    #[test]
    fn docker_client_variables_are_stripped_from_docker_launches_only() {
        let lists = EnvLists {
            allow: vec!["DOCKER_HOST".into()],
            ..EnvLists::default()
        };
        let host = vars(&[("DOCKER_HOST", "ssh://attacker@example")]);
        let docker = EnvRules::docker(&lists)
            .sanitize(host.clone(), None)
            .unwrap();
        assert!(docker.vars.is_empty());
        assert_eq!(stripped(&docker), ["DOCKER_HOST"]);
        let server = EnvRules::server(&lists).sanitize(host, None).unwrap();
        assert_eq!(server.vars.len(), 1);
    }

    #[test]
    fn patterns() {
        for ok in ["LD_PRELOAD", "LC_*", "_JAVA_OPTIONS", "npm_config_*", "*"] {
            assert!(valid_pattern(ok), "{ok}");
        }
        for bad in ["", "1X", "A-B", "A*B", "**", "A B", "LC_*="] {
            assert!(!valid_pattern(bad), "{bad}");
        }
        assert!(matches("LC_*", "LC_ALL"));
        assert!(!matches("LC_*", "LANG"));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_stripped() {
        use std::os::unix::ffi::OsStringExt;
        let name = OsString::from_vec(vec![0xff, b'X']);
        let env = EnvRules::server(&EnvLists::default())
            .sanitize([(name, OsString::from("1"))], None)
            .unwrap();
        assert!(env.vars.is_empty());
        assert_eq!(env.stripped.len(), 1);
    }
}
