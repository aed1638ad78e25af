//! The `[sandbox]` policy section, validated (the verifier reads the file shape with spans and
//! builds these).

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `mode`: whether and how strictly the sandbox applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// No sandbox: the server runs with the user's privileges.
    #[default]
    Off,
    /// Refuse to launch where the kernel cannot enforce every rule.
    Enforce,
    /// Enforce what the kernel can; launch with a warning in the audit record otherwise.
    BestEffort,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Off => "off",
            Mode::Enforce => "enforce",
            Mode::BestEffort => "best-effort",
        })
    }
}

/// `fs-from-args`: what the server's directory arguments are granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArgAccess {
    #[default]
    None,
    Read,
    ReadWrite,
}

/// A path in `fs-read` / `fs-write`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathTemplate {
    /// `${INSTALL}`: the verified, installed tree of this package.
    Install,
    /// `${RUNTIME}`: the interpreter's own files (binary, libraries, standard library).
    Runtime,
    /// `${TMP}`: a private directory per launch, removed when the server exits.
    Tmp,
    /// `${HOME}/<relative>`: below the account's home directory (password database, never
    /// `$HOME`). `${HOME}` alone is refused: it holds `~/.ssh`, `~/.aws` and mcpin's own state.
    Home(PathBuf),
    /// An absolute path.
    Absolute(PathBuf),
}

impl FromStr for PathTemplate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "${INSTALL}" => return Ok(PathTemplate::Install),
            "${RUNTIME}" => return Ok(PathTemplate::Runtime),
            "${TMP}" => return Ok(PathTemplate::Tmp),
            "${HOME}" | "${HOME}/" | "~" | "~/" => {
                return Err(format!(
                    "`{text}` would grant the whole home directory (~/.ssh, ~/.aws, mcpin's own state): name a directory below it, e.g. `${{HOME}}/projects`"
                ));
            }
            _ => {}
        }
        if let Some(rest) = text.strip_prefix("${HOME}/") {
            let rest = Path::new(rest);
            plain_components(rest, text)?;
            return Ok(PathTemplate::Home(rest.to_owned()));
        }
        if text.contains("${") {
            return Err(format!(
                "`{text}`: the only variables are ${{INSTALL}}, ${{RUNTIME}}, ${{TMP}} (each alone) and ${{HOME}}/…"
            ));
        }
        if text.starts_with('~') {
            return Err(format!("`{text}`: write `${{HOME}}/…` instead of `~`"));
        }
        let path = Path::new(text);
        if !path.is_absolute() {
            return Err(format!(
                "`{text}` is not an absolute path (a relative path would depend on the directory the agent starts in)"
            ));
        }
        plain_components(path, text)?;
        Ok(PathTemplate::Absolute(path.to_owned()))
    }
}

/// Refuses `.` and `..`: a grant names one place, compared after resolution.
fn plain_components(path: &Path, text: &str) -> Result<(), String> {
    if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(format!("`{text}`: `.` and `..` are not allowed in a grant"));
    }
    Ok(())
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathTemplate::Install => f.write_str("${INSTALL}"),
            PathTemplate::Runtime => f.write_str("${RUNTIME}"),
            PathTemplate::Tmp => f.write_str("${TMP}"),
            PathTemplate::Home(rest) => write!(f, "${{HOME}}/{}", rest.display()),
            PathTemplate::Absolute(path) => write!(f, "{}", path.display()),
        }
    }
}

impl Serialize for PathTemplate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PathTemplate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `network` (TCP connect) or `tcp-bind`: none, all, or these ports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Ports {
    #[default]
    None,
    All,
    /// Sorted, without duplicates.
    Tcp(Vec<u16>),
}

impl Ports {
    /// Parses `"none"`, `"all"`, or a list of `"tcp:<port>"`.
    pub fn parse_list<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Ports, String> {
        let mut ports = Vec::new();
        for entry in entries {
            ports.push(parse_port(entry)?);
        }
        ports.sort_unstable();
        ports.dedup();
        Ok(if ports.is_empty() {
            Ports::None
        } else {
            Ports::Tcp(ports)
        })
    }

    /// Parses the string form, `"none"` or `"all"`.
    pub fn parse_word(word: &str) -> Result<Ports, String> {
        match word {
            "none" => Ok(Ports::None),
            "all" => Ok(Ports::All),
            other => Err(format!(
                "`{other}`: write \"none\", \"all\" or a list of \"tcp:<port>\""
            )),
        }
    }

    pub fn allows(&self, port: u16) -> bool {
        match self {
            Ports::None => false,
            Ports::All => true,
            Ports::Tcp(ports) => ports.contains(&port),
        }
    }
}

fn parse_port(entry: &str) -> Result<u16, String> {
    let Some(number) = entry.strip_prefix("tcp:") else {
        return Err(if entry.starts_with("udp:") {
            format!(
                "`{entry}`: Landlock restricts TCP only; UDP cannot be limited to ports (see docs/sandbox.md)"
            )
        } else {
            format!("`{entry}`: write \"tcp:<port>\", e.g. \"tcp:443\"")
        });
    };
    match number.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("`{entry}`: the port must be 1 to 65535")),
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ports::None => f.write_str("none"),
            Ports::All => f.write_str("all"),
            Ports::Tcp(ports) => {
                let list: Vec<String> = ports.iter().map(|p| format!("tcp:{p}")).collect();
                f.write_str(&list.join(", "))
            }
        }
    }
}

impl Serialize for Ports {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Ports::None => serializer.serialize_str("none"),
            Ports::All => serializer.serialize_str("all"),
            Ports::Tcp(ports) => serializer.collect_seq(ports.iter().map(|p| format!("tcp:{p}"))),
        }
    }
}

impl<'de> Deserialize<'de> for Ports {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Word(String),
            List(Vec<String>),
        }
        match Written::deserialize(deserializer)? {
            Written::Word(word) => Ports::parse_word(&word),
            Written::List(list) => Ports::parse_list(list.iter().map(String::as_str)),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The validated `[sandbox]` section (serialized as written, for the compiled policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SandboxPolicy {
    pub mode: Mode,
    /// Readable (and executable) paths. Default: `${INSTALL}`, `${RUNTIME}`.
    pub fs_read: Vec<PathTemplate>,
    /// Readable and writable paths. Default: `${TMP}`.
    pub fs_write: Vec<PathTemplate>,
    pub fs_from_args: ArgAccess,
    /// TCP ports the server may connect to. Default: none.
    pub network: Ports,
    /// TCP ports the server may listen on. Default: none.
    pub tcp_bind: Ports,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        SandboxPolicy {
            mode: Mode::Off,
            fs_read: vec![PathTemplate::Install, PathTemplate::Runtime],
            fs_write: vec![PathTemplate::Tmp],
            fs_from_args: ArgAccess::None,
            network: Ports::None,
            tcp_bind: Ports::None,
        }
    }
}

/// A package rule's `[packages.sandbox]`: each key set replaces the global one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SandboxOverride {
    pub mode: Option<Mode>,
    pub fs_read: Option<Vec<PathTemplate>>,
    pub fs_write: Option<Vec<PathTemplate>>,
    pub fs_from_args: Option<ArgAccess>,
    pub network: Option<Ports>,
    pub tcp_bind: Option<Ports>,
}

impl SandboxPolicy {
    /// This policy with a package rule's override applied key by key.
    pub fn with_override(&self, package: &SandboxOverride) -> SandboxPolicy {
        SandboxPolicy {
            mode: package.mode.unwrap_or(self.mode),
            fs_read: package
                .fs_read
                .clone()
                .unwrap_or_else(|| self.fs_read.clone()),
            fs_write: package
                .fs_write
                .clone()
                .unwrap_or_else(|| self.fs_write.clone()),
            fs_from_args: package.fs_from_args.unwrap_or(self.fs_from_args),
            network: package
                .network
                .clone()
                .unwrap_or_else(|| self.network.clone()),
            tcp_bind: package
                .tcp_bind
                .clone()
                .unwrap_or_else(|| self.tcp_bind.clone()),
        }
    }

    /// The sandbox `mcpin tools capture` runs servers under: everything readable, writes only to
    /// a private temporary directory, no TCP (enforced where the kernel can).
    pub fn capture() -> SandboxPolicy {
        SandboxPolicy {
            mode: Mode::BestEffort,
            fs_read: vec![PathTemplate::Absolute(PathBuf::from("/"))],
            fs_write: vec![PathTemplate::Tmp],
            fs_from_args: ArgAccess::None,
            network: Ports::None,
            tcp_bind: Ports::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_refuse_what_would_be_ambiguous() {
        assert_eq!(
            "${INSTALL}".parse::<PathTemplate>(),
            Ok(PathTemplate::Install)
        );
        assert_eq!(
            "${HOME}/.config/srv".parse::<PathTemplate>(),
            Ok(PathTemplate::Home(".config/srv".into()))
        );
        assert_eq!(
            "/etc/ssl".parse::<PathTemplate>(),
            Ok(PathTemplate::Absolute("/etc/ssl".into()))
        );
        for bad in [
            "${HOME}",
            "~",
            "~/x",
            "relative/dir",
            "/a/../b",
            "${HOME}/../x",
            "${INSTALL}/sub",
            "${USER}",
        ] {
            assert!(bad.parse::<PathTemplate>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn ports_parse_round_trip_and_refuse_udp() {
        assert_eq!(
            Ports::parse_list(["tcp:443", "tcp:80", "tcp:443"]),
            Ok(Ports::Tcp(vec![80, 443]))
        );
        assert!(Ports::parse_list(["udp:53"]).unwrap_err().contains("UDP"));
        assert!(Ports::parse_list(["tcp:0"]).is_err());
        assert!(Ports::parse_list(["443"]).is_err());
        assert!(Ports::parse_word("some").is_err());
        let json = serde_json::to_string(&Ports::Tcp(vec![443])).unwrap();
        assert_eq!(json, r#"["tcp:443"]"#);
        assert_eq!(
            serde_json::from_str::<Ports>(&json).unwrap(),
            Ports::Tcp(vec![443])
        );
        assert_eq!(
            serde_json::from_str::<Ports>(r#""all""#).unwrap(),
            Ports::All
        );
    }

    #[test]
    fn a_package_override_replaces_only_the_keys_it_sets() {
        let global = SandboxPolicy {
            mode: Mode::Enforce,
            ..SandboxPolicy::default()
        };
        let merged = global.with_override(&SandboxOverride {
            network: Some(Ports::Tcp(vec![443])),
            ..SandboxOverride::default()
        });
        assert_eq!(merged.mode, Mode::Enforce);
        assert_eq!(merged.network, Ports::Tcp(vec![443]));
        assert_eq!(merged.fs_read, global.fs_read);
    }
}
