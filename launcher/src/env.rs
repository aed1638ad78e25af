//! Environment sanitizing: variables that make an interpreter or the dynamic linker load code
//! before the server's own (`NODE_OPTIONS=--require …`, `PYTHONPATH` + `sitecustomize.py`,
//! `LD_PRELOAD`, …) are stripped or, if the policy says so, make the launch fail.
//!
//! The policy input is [`EnvPolicy`]: two lists of names, exact (`LD_PRELOAD`) or prefix
//! patterns ending in `*` (`DYLD_*`). A name on the deny list refuses the launch; a name on the
//! strip list is removed and reported. Deny wins over strip.

use std::collections::BTreeMap;
use std::ffi::OsString;

use serde::Serialize;

/// Variables that inject code into node, Python, the shell or the dynamic linker.
pub const DEFAULT_STRIP: &[&str] = &[
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_REPL_EXTERNAL_MODULE",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONBREAKPOINT",
    "PYTHONWARNINGS",
    "PYTHONINSPECT",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "DYLD_*",
    "BASH_ENV",
    "ENV",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
];

/// What to do with dangerous variables. The policy file's `[launch.env]` table maps onto this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPolicy {
    /// Removed from the server's environment (and reported).
    pub strip: Vec<String>,
    /// Present at all → the launch is refused.
    pub deny: Vec<String>,
}

impl Default for EnvPolicy {
    fn default() -> Self {
        EnvPolicy {
            strip: DEFAULT_STRIP.iter().map(|s| (*s).to_owned()).collect(),
            deny: Vec::new(),
        }
    }
}

/// A variable removed from the environment, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stripped {
    pub name: String,
    pub reason: String,
}

/// The environment to start the server with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizedEnv {
    pub vars: BTreeMap<OsString, OsString>,
    pub stripped: Vec<Stripped>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A variable on the policy's deny list is set. Stable code `env-denied`.
    #[error("environment variable {name} is denied by policy: {reason} [env-denied]")]
    Denied { name: String, reason: String },
}

/// True when `name` matches `pattern` (exact, or prefix when the pattern ends in `*`).
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Why a variable is dangerous, for the report.
fn reason(name: &str, value: &str) -> String {
    if name == "NODE_OPTIONS" {
        let loads = value.split_whitespace().find(|flag| {
            [
                "--require",
                "-r",
                "--import",
                "--loader",
                "--experimental-loader",
                "--env-file",
            ]
            .iter()
            .any(|f| *flag == *f || flag.starts_with(&format!("{f}=")))
        });
        if let Some(flag) = loads {
            return format!("NODE_OPTIONS `{flag}` loads code before the server");
        }
        return "NODE_OPTIONS can load code before the server".to_owned();
    }
    format!("{name} can load code before the server")
}

impl EnvPolicy {
    /// Filters `vars`: strips what the policy strips, refuses what it denies.
    /// Names that are not valid UTF-8 are stripped: no pattern can vouch for them.
    pub fn sanitize<I>(&self, vars: I) -> Result<SanitizedEnv, EnvError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut kept = BTreeMap::new();
        let mut stripped = Vec::new();
        for (name, value) in vars {
            let Some(text) = name.to_str() else {
                stripped.push(Stripped {
                    name: name.to_string_lossy().into_owned(),
                    reason: "the name is not valid UTF-8".to_owned(),
                });
                continue;
            };
            let value_text = value.to_string_lossy();
            if self.deny.iter().any(|p| matches(p, text)) {
                return Err(EnvError::Denied {
                    name: text.to_owned(),
                    reason: reason(text, &value_text),
                });
            }
            if self.strip.iter().any(|p| matches(p, text)) {
                stripped.push(Stripped {
                    name: text.to_owned(),
                    reason: reason(text, &value_text),
                });
                continue;
            }
            kept.insert(name, value);
        }
        Ok(SanitizedEnv {
            vars: kept,
            stripped,
        })
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

    #[test]
    fn default_policy_strips_code_loading_variables_and_keeps_the_rest() {
        let env = EnvPolicy::default()
            .sanitize(vars(&[
                ("PATH", "/usr/bin"),
                (
                    "NODE_OPTIONS",
                    "--max-old-space-size=100 --require /tmp/x.js",
                ),
                ("PYTHONPATH", "/tmp/evil"),
                ("LD_PRELOAD", "/tmp/x.so"),
                ("DYLD_INSERT_LIBRARIES", "/tmp/x.dylib"),
                ("BASH_ENV", "/tmp/rc"),
                ("GITHUB_TOKEN", "secret"),
            ]))
            .unwrap();
        let kept: Vec<_> = env.vars.keys().map(|k| k.to_str().unwrap()).collect();
        assert_eq!(kept, ["GITHUB_TOKEN", "PATH"]);
        let names: Vec<_> = env.stripped.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "NODE_OPTIONS",
                "PYTHONPATH",
                "LD_PRELOAD",
                "DYLD_INSERT_LIBRARIES",
                "BASH_ENV"
            ]
        );
        assert!(
            env.stripped[0].reason.contains("`--require`"),
            "{:?}",
            env.stripped[0]
        );
    }

    #[test]
    fn deny_list_refuses_and_wins_over_strip() {
        let policy = EnvPolicy {
            strip: vec!["LD_*".into()],
            deny: vec!["LD_PRELOAD".into()],
        };
        let error = policy
            .sanitize(vars(&[("LD_PRELOAD", "/x.so")]))
            .unwrap_err();
        assert_eq!(
            error,
            EnvError::Denied {
                name: "LD_PRELOAD".into(),
                reason: "LD_PRELOAD can load code before the server".into()
            }
        );
        assert!(error.to_string().contains("[env-denied]"));
        let env = policy.sanitize(vars(&[("LD_LIBRARY_PATH", "/x")])).unwrap();
        assert!(env.vars.is_empty());
        assert_eq!(env.stripped.len(), 1);
    }

    #[test]
    fn node_options_reason_names_the_flag() {
        assert!(
            reason("NODE_OPTIONS", "--import=data:text/javascript,x").contains("`--import=data")
        );
        assert!(reason("NODE_OPTIONS", "-r ./x.js").contains("`-r`"));
        assert_eq!(
            reason("NODE_OPTIONS", "--inspect"),
            "NODE_OPTIONS can load code before the server"
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_stripped() {
        use std::os::unix::ffi::OsStringExt;
        let name = OsString::from_vec(vec![0xff, b'X']);
        let env = EnvPolicy::default()
            .sanitize([(name, OsString::from("1"))])
            .unwrap();
        assert!(env.vars.is_empty());
        assert_eq!(env.stripped.len(), 1);
    }
}
