//! Interpreter pins: which `node`, `python` and `docker` a launch may exec, named by the
//! system config (`/etc/mcpin/config.toml` `[interpreters]`) or the policy
//! (`[launch.interpreters]`). One type for both, so the rule is written once.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// An interpreter named by the system config or the policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Pin {
    /// Absolute path of the program.
    pub path: PathBuf,
    /// Lowercase hex sha256 of the program's bytes; when set, the file must hash to it.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Pins by tool; `None` means "search the absolute entries of `PATH`".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterpreterPins {
    /// The `node` npm servers run with.
    #[serde(default)]
    pub node: Option<Pin>,
    /// The `python` PyPI servers run with; its version must fit the signed lock's target.
    #[serde(default)]
    pub python: Option<Pin>,
    /// The `docker` client docker launches exec.
    #[serde(default)]
    pub docker: Option<Pin>,
}

impl InterpreterPins {
    /// Every pin's path is absolute and every digest is 64 hex digits.
    pub fn check(&self) -> Result<(), String> {
        for (name, pin) in self.iter() {
            if !pin.path.is_absolute() {
                return Err(format!(
                    "{name}: `{}` must be an absolute path",
                    pin.path.display()
                ));
            }
            if let Some(sha256) = &pin.sha256
                && (sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(format!("{name}: sha256 must be 64 hex digits"));
            }
        }
        Ok(())
    }

    /// These pins, with `fallback`'s for the tools these leave unpinned (the system config
    /// wins over the policy).
    pub fn or(&self, fallback: &InterpreterPins) -> InterpreterPins {
        InterpreterPins {
            node: self.node.clone().or_else(|| fallback.node.clone()),
            python: self.python.clone().or_else(|| fallback.python.clone()),
            docker: self.docker.clone().or_else(|| fallback.docker.clone()),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&'static str, &Pin)> {
        [
            ("node", &self.node),
            ("python", &self.python),
            ("docker", &self.docker),
        ]
        .into_iter()
        .filter_map(|(name, pin)| Some((name, pin.as_ref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_absolute_with_hex_digests_and_the_system_wins() {
        let pin = |path: &str, sha256: Option<&str>| Pin {
            path: path.into(),
            sha256: sha256.map(str::to_owned),
        };
        let system = InterpreterPins {
            node: Some(pin("/usr/bin/node", None)),
            ..Default::default()
        };
        let policy = InterpreterPins {
            node: Some(pin("/opt/node", None)),
            python: Some(pin("/usr/bin/python3.11", Some(&"a".repeat(64)))),
            docker: None,
        };
        assert!(system.check().is_ok() && policy.check().is_ok());
        let merged = system.or(&policy);
        assert_eq!(merged.node.unwrap().path, PathBuf::from("/usr/bin/node"));
        assert!(merged.python.is_some() && merged.docker.is_none());
        assert!(
            InterpreterPins {
                node: Some(pin("node", None)),
                ..Default::default()
            }
            .check()
            .is_err()
        );
        assert!(
            InterpreterPins {
                node: Some(pin("/n", Some("xyz"))),
                ..Default::default()
            }
            .check()
            .is_err()
        );
    }
}
