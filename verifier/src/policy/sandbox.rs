//! `[sandbox]` and a package rule's `[packages.sandbox]`: what a verified server may touch
//! while it runs (the file shape, with spans and JSON Schema, and its validation into
//! [`mcpin_sandbox::SandboxPolicy`]). The rules themselves live in `mcpin-sandbox`.

use mcpin_sandbox::{ArgAccess, Mode, PathTemplate, Ports, SandboxOverride, SandboxPolicy};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::Checker;

/// `[sandbox]` (and `[packages.sandbox]`) as written. In `[packages.sandbox]` each key set
/// replaces the global one for that package.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SandboxFile {
    /// `off` (default), `enforce` (refuse to launch where the kernel cannot enforce every
    /// rule), or `best-effort` (enforce what the kernel can, warn in the audit record).
    #[serde(default)]
    #[schemars(with = "Option<ModeName>")]
    pub mode: Option<Mode>,
    /// Readable (and executable) paths: absolute, `${HOME}/…`, `${INSTALL}` (the verified
    /// tree), `${RUNTIME}` (the interpreter's own files), `${TMP}`. Default:
    /// `["${INSTALL}", "${RUNTIME}"]`; a list must name both.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub fs_read: Option<Spanned<Vec<Spanned<String>>>>,
    /// Readable and writable paths. Default: `["${TMP}"]` (a private directory per launch,
    /// removed when the server exits, and the server's `TMPDIR`).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub fs_write: Option<Spanned<Vec<Spanned<String>>>>,
    /// What the server's directory arguments (absolute or `~/…` paths of existing directories,
    /// as server-filesystem takes them) are granted: `none` (default), `read`, `read-write`.
    #[serde(default)]
    #[schemars(with = "Option<ArgAccessName>")]
    pub fs_from_args: Option<ArgAccess>,
    /// TCP connect: `"none"` (default), `"all"`, or `["tcp:443", …]`.
    #[serde(default)]
    #[schemars(with = "Option<PortsName>")]
    pub network: Option<Spanned<PortsFile>>,
    /// TCP listen: `"none"` (default), `"all"`, or `["tcp:8080", …]`.
    #[serde(default)]
    #[schemars(with = "Option<PortsName>")]
    pub tcp_bind: Option<Spanned<PortsFile>>,
}

/// `network` / `tcp-bind` as written.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PortsFile {
    Word(String),
    List(Vec<String>),
}

#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum ModeName {
    Off,
    Enforce,
    BestEffort,
}

#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum ArgAccessName {
    None,
    Read,
    ReadWrite,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum PortsName {
    /// `none` or `all`.
    Word(WordName),
    /// `tcp:<port>` entries.
    List(Vec<String>),
}

#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum WordName {
    None,
    All,
}

/// The validated global `[sandbox]`.
pub(super) fn sandbox_policy(file: &SandboxFile, check: &mut Checker) -> SandboxPolicy {
    let over = sandbox_override(file, check);
    SandboxPolicy::default().with_override(&over)
}

/// The validated keys of a `[sandbox]` or `[packages.sandbox]` table.
pub(super) fn sandbox_override(file: &SandboxFile, check: &mut Checker) -> SandboxOverride {
    let fs_read = file
        .fs_read
        .as_ref()
        .map(|list| templates(list, "fs-read", check));
    if let (Some(written), Some(read)) = (&file.fs_read, &fs_read) {
        for required in [PathTemplate::Install, PathTemplate::Runtime] {
            if !read.contains(&required) {
                check.error(
                    written.span(),
                    format!(
                        "fs-read must name {required}: the server cannot start without its own files and its interpreter"
                    ),
                );
            }
        }
    }
    let fs_write = file
        .fs_write
        .as_ref()
        .map(|list| templates(list, "fs-write", check));
    if let Some(written) = &file.fs_write {
        for entry in written.get_ref() {
            if matches!(entry.get_ref().as_str(), "${INSTALL}" | "${RUNTIME}") {
                check.error(
                    entry.span(),
                    "the verified tree and the interpreter are never writable",
                );
            }
        }
    }
    SandboxOverride {
        mode: file.mode,
        fs_read,
        fs_write,
        fs_from_args: file.fs_from_args,
        network: file
            .network
            .as_ref()
            .and_then(|ports| self::ports(ports, check)),
        tcp_bind: file
            .tcp_bind
            .as_ref()
            .and_then(|ports| self::ports(ports, check)),
    }
}

fn templates(
    list: &Spanned<Vec<Spanned<String>>>,
    key: &str,
    check: &mut Checker,
) -> Vec<PathTemplate> {
    list.get_ref()
        .iter()
        .filter_map(|entry| {
            entry
                .get_ref()
                .parse::<PathTemplate>()
                .map_err(|why| check.error(entry.span(), format!("{key}: {why}")))
                .ok()
        })
        .collect()
}

fn ports(written: &Spanned<PortsFile>, check: &mut Checker) -> Option<Ports> {
    match written.get_ref() {
        PortsFile::Word(word) => Ports::parse_word(word),
        PortsFile::List(list) => Ports::parse_list(list.iter().map(String::as_str)),
    }
    .map_err(|why| check.error(written.span(), why))
    .ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use mcpin_sandbox::{ArgAccess, Mode, PathTemplate, Ports, SandboxPolicy};

    use crate::policy::{Policy, PolicyError};

    const HEAD: &str = r#"version = 1
[[signers]]
id = "k"
issuer = "https://token.actions.githubusercontent.com"
san = "x"

[[packages]]
ecosystem = "npm"
name = "@modelcontextprotocol/server-filesystem"
require-any = ["k"]
"#;

    fn parse(extra: &str) -> Result<Policy, PolicyError> {
        Policy::parse(Path::new("policy.toml"), &format!("{HEAD}{extra}"))
    }

    fn errors(extra: &str) -> Vec<(usize, String)> {
        match parse(extra) {
            Err(PolicyError::Invalid { diagnostics, .. }) => diagnostics
                .into_iter()
                .map(|d| (d.line, d.message))
                .collect(),
            other => panic!("expected errors for {extra:?}, got {other:?}"),
        }
    }

    #[test]
    fn the_issue_example_parses_with_its_package_override() {
        let policy = parse(
            r#"[packages.sandbox]
network = ["tcp:443"]

[sandbox]
mode = "enforce"
fs-read = ["${INSTALL}", "${RUNTIME}", "/etc/ssl", "/usr/share/zoneinfo"]
fs-write = ["${TMP}"]
fs-from-args = "read-write"
network = "none"
"#,
        )
        .unwrap();
        assert_eq!(policy.sandbox.mode, Mode::Enforce);
        assert_eq!(policy.sandbox.fs_from_args, ArgAccess::ReadWrite);
        assert_eq!(policy.sandbox.network, Ports::None);
        assert_eq!(policy.sandbox.fs_read.len(), 4);
        let rule = policy.packages.iter().next().unwrap().unwrap();
        let package = policy.sandbox_for(&rule);
        assert_eq!(package.network, Ports::Tcp(vec![443]));
        assert_eq!(package.mode, Mode::Enforce);
        assert_eq!(package.fs_write, vec![PathTemplate::Tmp]);
    }

    #[test]
    fn without_a_section_the_sandbox_is_off() {
        let policy = parse("").unwrap();
        assert_eq!(policy.sandbox.mode, Mode::Off);
        let rule = policy.packages.iter().next().unwrap().unwrap();
        assert_eq!(policy.sandbox_for(&rule), SandboxPolicy::default());
    }

    #[test]
    fn mistakes_point_at_their_line() {
        let found = errors(
            r#"[sandbox]
mode = "enforce"
fs-read = ["${INSTALL}", "relative/x"]
fs-write = ["${INSTALL}", "${HOME}"]
network = ["udp:53"]
tcp-bind = "some"
"#,
        );
        let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        let line_of = |needle: &str| {
            found
                .iter()
                .find(|(_, m)| m.contains(needle))
                .unwrap_or_else(|| panic!("no error with {needle:?}: {messages:?}"))
                .0
        };
        assert_eq!(line_of("not an absolute path"), 13);
        assert_eq!(line_of("must name ${RUNTIME}"), 13);
        assert_eq!(line_of("never writable"), 14);
        assert_eq!(line_of("whole home directory"), 14);
        assert_eq!(line_of("UDP"), 15);
        assert_eq!(line_of("\"none\", \"all\""), 16);
        assert!(
            errors("[sandbox]\nmode = \"strict\"\n")[0]
                .1
                .contains("unknown variant")
        );
        assert!(
            errors("[sandbox]\nfs-exec = []\n")[0]
                .1
                .contains("unknown field")
        );
    }
}
