//! The SPEC grammar of `mcpin fetch`:
//!
//! ```text
//! npm:NAME[@VERSION|@TAG|@RANGE]      npm:@modelcontextprotocol/server-filesystem@2026.8.31
//! pypi:NAME[SPECIFIERS]               pypi:mcp-server-time==2026.10.19
//! oci:HOST/REPO@sha256:HEX            oci:ghcr.io/owner/image@sha256:…
//! oci:HOST/REPO[:TAG]                 oci:ghcr.io/owner/image:1.0
//! mcp:NAME[@VERSION]                  mcp:io.github.owner/name@1.0.0
//! ```

use std::fmt;

use crate::Error;
use crate::oci::Reference;

/// A parsed SPEC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// `requirement` is an exact version, a dist-tag or a semver range; "latest" when absent.
    Npm {
        name: String,
        requirement: String,
    },
    /// `specifiers` are PEP 440 version specifiers; empty means the newest release.
    Pypi {
        name: String,
        specifiers: String,
    },
    Oci(Reference),
    /// `version` is "latest" when absent.
    Mcp {
        name: String,
        version: String,
    },
}

fn invalid(spec: &str, reason: impl Into<String>) -> Error {
    Error::Spec {
        spec: spec.to_owned(),
        reason: reason.into(),
    }
}

impl Spec {
    /// Parses `ecosystem:rest`.
    pub fn parse(spec: &str) -> Result<Spec, Error> {
        let (ecosystem, rest) = spec.split_once(':').ok_or_else(|| {
            invalid(
                spec,
                "expected ECOSYSTEM:PACKAGE with ECOSYSTEM one of npm, pypi, oci, mcp",
            )
        })?;
        match ecosystem {
            "npm" => {
                let (name, requirement) = split_at_version(rest);
                validate_npm_name(name).map_err(|reason| invalid(spec, reason))?;
                Ok(Spec::Npm {
                    name: name.to_owned(),
                    requirement: requirement.unwrap_or("latest").trim().to_owned(),
                })
            }
            "pypi" => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                    .unwrap_or(rest.len());
                let (name, specifiers) = rest.split_at(end);
                if name.is_empty() {
                    return Err(invalid(spec, "missing the project name"));
                }
                let specifiers = specifiers.trim();
                if !specifiers.is_empty() {
                    specifiers
                        .parse::<pep440_rs::VersionSpecifiers>()
                        .map_err(|error| invalid(spec, error.to_string()))?;
                }
                Ok(Spec::Pypi {
                    name: name.to_owned(),
                    specifiers: specifiers.to_owned(),
                })
            }
            "oci" => Reference::parse(rest)
                .map(Spec::Oci)
                .map_err(|reason| invalid(spec, reason)),
            "mcp" => {
                let (name, version) = split_at_version(rest);
                if !name.contains('/') || name.starts_with('/') || name.ends_with('/') {
                    return Err(invalid(
                        spec,
                        "an MCP server name looks like io.github.owner/name",
                    ));
                }
                Ok(Spec::Mcp {
                    name: name.to_owned(),
                    version: version.unwrap_or("latest").to_owned(),
                })
            }
            other => Err(invalid(
                spec,
                format!("unknown ecosystem `{other}` (expected npm, pypi, oci or mcp)"),
            )),
        }
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Npm { name, requirement } => write!(f, "npm:{name}@{requirement}"),
            Spec::Pypi { name, specifiers } => write!(f, "pypi:{name}{specifiers}"),
            Spec::Oci(reference) => write!(f, "oci:{reference}"),
            Spec::Mcp { name, version } => write!(f, "mcp:{name}@{version}"),
        }
    }
}

/// `@scope/name@1.2.3` → (`@scope/name`, Some(`1.2.3`)); a leading `@` is the scope.
fn split_at_version(rest: &str) -> (&str, Option<&str>) {
    match rest[1.min(rest.len())..].rfind('@') {
        Some(at) => {
            let at = at + 1.min(rest.len());
            (&rest[..at], Some(&rest[at + 1..]))
        }
        None => (rest, None),
    }
}

fn validate_npm_name(name: &str) -> Result<(), String> {
    let bare = match name.strip_prefix('@') {
        Some(scoped) => {
            let (scope, bare) = scoped
                .split_once('/')
                .ok_or("a scoped npm name looks like @scope/name")?;
            if scope.is_empty() {
                return Err("empty npm scope".into());
            }
            bare
        }
        None => name,
    };
    if bare.is_empty() || name.len() > 214 {
        return Err("an npm package name is 1 to 214 characters".into());
    }
    if name.chars().any(|c| {
        c.is_ascii_uppercase()
            || c.is_whitespace()
            || matches!(c, '~' | '\'' | '!' | '(' | ')' | '*' | '%' | ':' | '\\')
    }) || bare.contains('/')
        || bare.starts_with('.')
        || bare.starts_with('_')
    {
        return Err(format!("`{name}` is not a valid npm package name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(
            Spec::parse("npm:@scope/name@1.2.3").unwrap(),
            Spec::Npm {
                name: "@scope/name".into(),
                requirement: "1.2.3".into()
            }
        );
        assert_eq!(
            Spec::parse("npm:left-pad").unwrap(),
            Spec::Npm {
                name: "left-pad".into(),
                requirement: "latest".into()
            }
        );
        assert_eq!(
            Spec::parse("npm:@scope/name@^1.2").unwrap().to_string(),
            "npm:@scope/name@^1.2"
        );
        assert_eq!(
            Spec::parse("pypi:mcp-server-time==2026.10.19").unwrap(),
            Spec::Pypi {
                name: "mcp-server-time".into(),
                specifiers: "==2026.10.19".into()
            }
        );
        assert_eq!(
            Spec::parse("mcp:io.github.owner/name@1.0.0").unwrap(),
            Spec::Mcp {
                name: "io.github.owner/name".into(),
                version: "1.0.0".into()
            }
        );
        assert!(matches!(
            Spec::parse("oci:ghcr.io/o/i:1.0").unwrap(),
            Spec::Oci(_)
        ));
    }

    #[test]
    fn rejects_malformed_specs() {
        for bad in [
            "left-pad",
            "cargo:serde",
            "npm:@/x",
            "npm:Bad Name",
            "npm:@scope",
            "pypi:==1.0",
            "pypi:name=>1",
            "mcp:noslash",
            "oci:",
        ] {
            assert!(matches!(Spec::parse(bad), Err(Error::Spec { .. })), "{bad}");
        }
    }
}
