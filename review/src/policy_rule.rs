//! `mcpin review --approve --add-to-policy FILE`: the approved version goes into the policy
//! text as a `[[packages]]` rule for exactly this version and digest, and a `[[servers]]`
//! launch command (what `mcpin policy compile` turns into client allowlists).
//!
//! A rule that already names the package (same ecosystem, same exact name) is updated in place:
//! its `version` and `digests` become the approved ones, and a `[[servers]]` entry that launched
//! the old version launches the new one, keeping its server arguments. Everything else in the
//! file (comments, order, other keys, the rule's signers) stays as written. The caller validates
//! the result before it replaces the file.

use mcpin_attestation::{Ecosystem, PackageInfo};
use toml_edit::{Array, DocumentMut, Item, Table, value};

/// What [`add_or_update`] did to the policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum RuleChange {
    /// A new `[[packages]]` rule (1-based `rule`).
    Added { rule: usize },
    /// Rule `rule` (1-based) now names this version and digest; it named `from` before.
    Updated { rule: usize, from: Option<String> },
}

/// Why the policy text cannot take the rule.
#[derive(Debug, thiserror::Error)]
pub enum PolicyRuleError {
    #[error("the policy is not valid TOML: {0}")]
    Parse(#[from] toml_edit::TomlError),
    #[error("`{0}` in the policy is not an array of tables")]
    Shape(&'static str),
}

/// The approved package as a rule and a launch command.
pub struct Approved<'a> {
    pub package: &'a PackageInfo,
    /// Lowercase hex.
    pub sha256: &'a str,
    /// Signers a new rule requires (the approver, and each Sigstore signer the registry's
    /// provenance satisfied). An updated rule keeps its own.
    pub require_all: &'a [String],
    /// Stamped into a comment above a new rule (`YYYY-MM-DD`).
    pub date: &'a str,
}

/// `text` with the approved package added or its rule updated (see the module documentation).
pub fn add_or_update(
    text: &str,
    approved: &Approved<'_>,
) -> Result<(String, RuleChange), PolicyRuleError> {
    let mut document: DocumentMut = text.parse()?;
    let package = approved.package;
    let version = match package.ecosystem {
        Ecosystem::Pypi => format!("=={}", package.version),
        _ => package.version.clone(),
    };
    let digest = format!("sha256:{}", approved.sha256);

    let rules = array_of_tables(&mut document, "packages")?;
    let existing = rules.iter_mut().enumerate().find(|(_, rule)| {
        rule.get("ecosystem").and_then(Item::as_str) == Some(package.ecosystem.as_str())
            && rule.get("name").and_then(Item::as_str) == Some(package.name.as_str())
    });
    let (change, old_launch) = match existing {
        Some((index, rule)) => {
            let from = rule
                .get("version")
                .and_then(Item::as_str)
                .map(str::to_owned);
            // The argv that launched the version the rule named, to move its server along.
            let old_launch = from.as_deref().and_then(|old| {
                let old = old.strip_prefix("==").unwrap_or(old);
                launch_argv(package.ecosystem, &package.name, old)
            });
            if package.ecosystem != Ecosystem::Oci {
                rule["version"] = value(version);
            }
            rule["digests"] = value(Array::from_iter([digest]));
            (
                RuleChange::Updated {
                    rule: index + 1,
                    from,
                },
                old_launch,
            )
        }
        None => {
            let mut rule = Table::new();
            rule.decor_mut().set_prefix(format!(
                "\n# Added by `mcpin review --approve` on {}.\n",
                approved.date
            ));
            rule["ecosystem"] = value(package.ecosystem.as_str());
            rule["name"] = value(package.name.as_str());
            if package.ecosystem != Ecosystem::Oci {
                rule["version"] = value(version);
            }
            rule["digests"] = value(Array::from_iter([digest]));
            rule["require-all"] = value(Array::from_iter(approved.require_all.iter()));
            rules.push(rule);
            (RuleChange::Added { rule: rules.len() }, None)
        }
    };

    if let Some(argv) = launch_argv(package.ecosystem, &package.name, &package.version) {
        let servers = array_of_tables(&mut document, "servers")?;
        let launches = |server: &Table, launch: &[String]| {
            server
                .get("argv")
                .and_then(Item::as_array)
                .is_some_and(|have| {
                    have.len() >= launch.len()
                        && have.iter().zip(launch).all(|(a, b)| a.as_str() == Some(b))
                })
        };
        let moved = old_launch.as_deref().map_or(0, |old| {
            let mut moved = 0;
            for server in servers.iter_mut().filter(|server| launches(server, old)) {
                if let Some(have) = server.get_mut("argv").and_then(Item::as_array_mut) {
                    for (at, arg) in argv.iter().enumerate() {
                        have.replace(at, arg.as_str());
                    }
                    moved += 1;
                }
            }
            moved
        });
        if moved == 0 && !servers.iter().any(|server| launches(server, &argv)) {
            let mut server = Table::new();
            server.decor_mut().set_prefix("\n");
            server["name"] = value(server_name(&package.name));
            server["argv"] = value(Array::from_iter(argv.iter()));
            servers.push(server);
        }
    }
    Ok((document.to_string(), change))
}

/// The array of tables `key` (`[[key]]`), made when the policy has none.
fn array_of_tables<'d>(
    document: &'d mut DocumentMut,
    key: &'static str,
) -> Result<&'d mut toml_edit::ArrayOfTables, PolicyRuleError> {
    document
        .entry(key)
        .or_insert_with(|| Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or(PolicyRuleError::Shape(key))
}

/// How an agent config launches this exact version: `npx -y name@version`, `uvx
/// name==version`, `docker run -i --rm image@sha256:…`; `None` for an MCPB bundle.
fn launch_argv(ecosystem: Ecosystem, name: &str, version: &str) -> Option<Vec<String>> {
    let argv: Vec<String> = match ecosystem {
        Ecosystem::Npm => vec!["npx".into(), "-y".into(), format!("{name}@{version}")],
        Ecosystem::Pypi => vec!["uvx".into(), format!("{name}=={version}")],
        Ecosystem::Oci => vec![
            "docker".into(),
            "run".into(),
            "-i".into(),
            "--rm".into(),
            format!("{name}@{version}"),
        ],
        Ecosystem::Mcpb => return None,
    };
    Some(argv)
}

/// A `[[servers]]` name from a package name: its last part, with anything but letters, digits,
/// `-` and `_` turned into `-`.
fn server_name(package: &str) -> String {
    let short = package.rsplit(['/', '@']).next().unwrap_or(package);
    short
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(ecosystem: Ecosystem, name: &str, version: &str) -> PackageInfo {
        PackageInfo {
            ecosystem,
            name: name.into(),
            version: version.into(),
            purl: String::new(),
            file_name: String::new(),
            size: 0,
            entry_points: Vec::new(),
            mcp_name: None,
        }
    }

    fn approve(text: &str, package: &PackageInfo, sha: &str) -> (String, RuleChange) {
        add_or_update(
            text,
            &Approved {
                package,
                sha256: sha,
                require_all: &["team".to_owned()],
                date: "2026-11-30",
            },
        )
        .unwrap()
    }

    const POLICY: &str = r#"version = 1 # keep this comment

[[signers]]
id = "team"
public-key = "team.pub"
"#;

    #[test]
    fn a_new_package_gets_a_rule_and_a_launch_command() {
        let hello = package(Ecosystem::Npm, "@acme/hello", "1.0.0");
        let (text, change) = approve(POLICY, &hello, "aa");
        assert_eq!(change, RuleChange::Added { rule: 1 });
        assert!(text.starts_with(POLICY), "{text}");
        assert!(text.contains("# Added by `mcpin review --approve` on 2026-11-30."));
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let rule = &parsed["packages"][0];
        assert_eq!(rule["version"].as_str(), Some("1.0.0"));
        assert_eq!(rule["digests"][0].as_str(), Some("sha256:aa"));
        assert_eq!(rule["require-all"][0].as_str(), Some("team"));
        let server = &parsed["servers"][0];
        assert_eq!(server["name"].as_str(), Some("hello"));
        assert_eq!(
            server["argv"].as_array().unwrap().len(),
            3,
            "npx -y @acme/hello@1.0.0"
        );
    }

    #[test]
    fn the_next_version_updates_the_rule_and_moves_its_server() {
        let first = package(Ecosystem::Pypi, "mcp-server-time", "1.0.0");
        let (text, _) = approve(POLICY, &first, "aa");
        // The team edits the rule and the server: their edits survive the update.
        let text = text
            .replace(
                "require-all = [\"team\"]",
                "require-all = [\"team\", \"ci\"] # both",
            )
            .replace(
                "argv = [\"uvx\", \"mcp-server-time==1.0.0\"]",
                "argv = [\"uvx\", \"mcp-server-time==1.0.0\", \"--local-timezone=UTC\"]",
            );
        let next = package(Ecosystem::Pypi, "mcp-server-time", "1.1.0");
        let (updated, change) = approve(&text, &next, "bb");
        assert_eq!(
            change,
            RuleChange::Updated {
                rule: 1,
                from: Some("==1.0.0".into())
            }
        );
        let parsed: toml::Table = toml::from_str(&updated).unwrap();
        assert_eq!(parsed["packages"].as_array().unwrap().len(), 1);
        let rule = &parsed["packages"][0];
        assert_eq!(rule["version"].as_str(), Some("==1.1.0"));
        assert_eq!(rule["digests"].as_array().unwrap().len(), 1);
        assert_eq!(rule["digests"][0].as_str(), Some("sha256:bb"));
        assert!(updated.contains("require-all = [\"team\", \"ci\"] # both"));
        assert!(updated.contains("# keep this comment"));
        let servers = parsed["servers"].as_array().unwrap();
        assert_eq!(servers.len(), 1, "{updated}");
        let argv: Vec<&str> = servers[0]["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            argv,
            ["uvx", "mcp-server-time==1.1.0", "--local-timezone=UTC"]
        );
    }

    #[test]
    fn other_packages_and_their_servers_are_left_alone() {
        let a = package(Ecosystem::Npm, "a", "1.0.0");
        let (text, _) = approve(POLICY, &a, "aa");
        let b = package(Ecosystem::Npm, "b", "2.0.0");
        let (text, change) = approve(&text, &b, "bb");
        assert_eq!(change, RuleChange::Added { rule: 2 });
        // The same name in another ecosystem is another package.
        let b_pypi = package(Ecosystem::Pypi, "b", "2.0.0");
        let (text, change) = approve(&text, &b_pypi, "cc");
        assert_eq!(change, RuleChange::Added { rule: 3 });
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["servers"].as_array().unwrap().len(), 3);
        assert!(text.contains("\"npx\", \"-y\", \"a@1.0.0\""), "{text}");
    }

    #[test]
    fn a_policy_whose_packages_is_not_an_array_of_tables_is_refused() {
        let hello = package(Ecosystem::Npm, "hello", "1.0.0");
        let error = add_or_update(
            "packages = 1\n",
            &Approved {
                package: &hello,
                sha256: "aa",
                require_all: &[],
                date: "2026-11-30",
            },
        )
        .unwrap_err();
        assert!(
            matches!(error, PolicyRuleError::Shape("packages")),
            "{error}"
        );
    }
}
