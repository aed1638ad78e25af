//! The launcher grammar: how agent configs call `npx`, `uvx` and `docker`, parsed into a
//! [`LaunchRequest`] or refused with a [`Refusal`] carrying a stable code.
//!
//! The rules follow the accept / pin / refuse table in DESIGN.md (and CLIENTS.md):
//! an exact version is accepted (the policy then decides), a floating one (bare name,
//! tag, range, `image:tag`) is reported as a [`FloatingSpec`] to resolve and pin once
//! at wrap time, and anything that lets the launch fetch code from somewhere other
//! than the registry artifact named in the argv, or changes how it is resolved, is
//! refused. Unknown options are refused too: the grammar fails closed.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The package ecosystem an artifact comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Npm,
    Pypi,
    Oci,
}

/// The launcher program named in the argv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Launcher {
    Npx,
    Uvx,
    Docker,
}

impl Launcher {
    /// Recognizes a launcher from a command path: `npx`, `/usr/bin/npx`, `C:\…\npx.cmd`, `uvx.exe`.
    pub fn from_command(command: &str) -> Option<Launcher> {
        let base = command.rsplit(['/', '\\']).next().unwrap_or(command);
        let lower = base.to_ascii_lowercase();
        let stem = [".cmd", ".exe", ".bat"]
            .iter()
            .find_map(|ext| lower.strip_suffix(ext))
            .unwrap_or(&lower);
        match stem {
            "npx" => Some(Launcher::Npx),
            "uvx" => Some(Launcher::Uvx),
            "docker" => Some(Launcher::Docker),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Launcher::Npx => "npx",
            Launcher::Uvx => "uvx",
            Launcher::Docker => "docker",
        }
    }
}

/// How a package's version is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum VersionSpec {
    /// One exact version (npm semver, PEP 440 `==X`) or an OCI digest `sha256:<hex>`.
    Exact(String),
    /// A bare name, dist-tag, range or image tag: resolve once, then pin.
    Floating(String),
}

/// A package named in the argv with its version spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageRef {
    pub ecosystem: Ecosystem,
    /// npm: the package name (`@scope/x`); PyPI: the normalized project name; OCI: the repository.
    pub name: String,
    /// PyPI extras (`pkg[a,b]`), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
    pub version: VersionSpec,
}

/// A floating spec and where it sits in the argv, so wrap can pin it in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FloatingSpec {
    pub package: PackageRef,
    /// Index into [`LaunchRequest::argv`] of the token holding the spec.
    pub argv_index: usize,
    /// Text before the spec within that token (`--package=`, `--from=`), kept on rewrite.
    pub token_prefix: String,
    /// For OCI: the image as written without digest (`ghcr.io/x/y:tag`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl FloatingSpec {
    /// The argv token that pins this spec to `resolved` (a version, or `sha256:<hex>` for OCI).
    pub fn pinned_token(&self, resolved: &str) -> String {
        let package = &self.package;
        let body = match package.ecosystem {
            Ecosystem::Npm => format!("{}@{resolved}", package.name),
            Ecosystem::Pypi if package.extras.is_empty() => format!("{}=={resolved}", package.name),
            Ecosystem::Pypi => {
                format!("{}[{}]=={resolved}", package.name, package.extras.join(","))
            }
            Ecosystem::Oci => format!(
                "{}@{resolved}",
                self.image.as_deref().unwrap_or(&package.name)
            ),
        };
        format!("{}{body}", self.token_prefix)
    }
}

/// A `-e` flag of `docker run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerEnv {
    pub name: String,
    /// `None` for `-e NAME`: the value comes from the docker CLI's (the config's) environment.
    pub value: Option<String>,
}

/// A `-v host:container:ro` bind mount (only read-only mounts are accepted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerVolume {
    pub host: String,
    pub container: String,
}

/// The parts of a `docker run` that the launch keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerRun {
    /// The image as written, without the digest.
    pub image: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>` when given; authoritative over the tag.
    pub digest: Option<String>,
    pub env: Vec<DockerEnv>,
    pub volumes: Vec<DockerVolume>,
    pub network: Option<String>,
    pub remove: bool,
    /// Other accepted options, verbatim (`--init`, `--read-only`, `--name x`, …).
    pub other_options: Vec<String>,
    /// Where `run` and the image are in [`LaunchRequest::argv`]: the options between them
    /// are passed on as written, the image is replaced by the verified reference.
    pub run_index: usize,
    pub image_index: usize,
}

/// An accepted launcher argv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchRequest {
    pub launcher: Launcher,
    /// The argv came wrapped in `cmd /c` (Windows configs).
    pub via_cmd: bool,
    /// The whole argv as given, launcher first.
    pub argv: Vec<String>,
    /// The server package.
    pub package: PackageRef,
    /// The command to run: npx `-p` bin, uvx `--from` command; `None` when inferred from the package.
    pub command: Option<String>,
    /// uvx `--with` packages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<PackageRef>,
    /// uvx `--python` constraint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerRun>,
    /// Arguments passed on to the server.
    pub server_args: Vec<String>,
    /// Specs to resolve and pin (empty when every version is exact).
    pub floating: Vec<FloatingSpec>,
}

impl LaunchRequest {
    /// True when every package version (and image digest) is exact.
    pub fn is_pinned(&self) -> bool {
        self.floating.is_empty()
    }

    /// The argv with each floating spec replaced by its resolution (same order as `floating`).
    ///
    /// Panics if `resolved` does not have one entry per floating spec: a caller bug.
    pub fn pinned_argv(&self, resolved: &[String]) -> Vec<String> {
        assert_eq!(
            resolved.len(),
            self.floating.len(),
            "one resolution per floating spec"
        );
        let mut argv = self.argv.clone();
        for (spec, version) in self.floating.iter().zip(resolved) {
            argv[spec.argv_index] = spec.pinned_token(version);
        }
        argv
    }
}

/// Why an argv is refused. Each code is stable and documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalCode {
    EmptyArgv,
    LauncherUnsupported,
    LauncherGitSpec,
    LauncherRemoteSpec,
    LauncherLocalSpec,
    LauncherInvalidName,
    LauncherInvalidSpec,
    LauncherMissingPackage,
    NpmAlias,
    NpxCall,
    NpxMultiplePackages,
    NpxConfigFlag,
    NpxUnknownOption,
    UvxEditable,
    UvxRequirementsFile,
    UvxIndexFlag,
    UvxResolutionFlag,
    UvxUnknownOption,
    DockerNotRun,
    DockerGlobalOption,
    DockerNotInteractive,
    DockerPrivileged,
    DockerCapAdd,
    DockerDevice,
    DockerHostNamespace,
    DockerNetwork,
    DockerSocketMount,
    DockerWritableMount,
    DockerDetach,
    DockerTty,
    DockerEntrypoint,
    DockerEnvFile,
    DockerSecurityOpt,
    DockerUnknownOption,
    DockerInvalidImage,
    MissingValue,
}

impl RefusalCode {
    /// Every code, for documentation and the uniqueness test.
    pub const ALL: &[RefusalCode] = &[
        RefusalCode::EmptyArgv,
        RefusalCode::LauncherUnsupported,
        RefusalCode::LauncherGitSpec,
        RefusalCode::LauncherRemoteSpec,
        RefusalCode::LauncherLocalSpec,
        RefusalCode::LauncherInvalidName,
        RefusalCode::LauncherInvalidSpec,
        RefusalCode::LauncherMissingPackage,
        RefusalCode::NpmAlias,
        RefusalCode::NpxCall,
        RefusalCode::NpxMultiplePackages,
        RefusalCode::NpxConfigFlag,
        RefusalCode::NpxUnknownOption,
        RefusalCode::UvxEditable,
        RefusalCode::UvxRequirementsFile,
        RefusalCode::UvxIndexFlag,
        RefusalCode::UvxResolutionFlag,
        RefusalCode::UvxUnknownOption,
        RefusalCode::DockerNotRun,
        RefusalCode::DockerGlobalOption,
        RefusalCode::DockerNotInteractive,
        RefusalCode::DockerPrivileged,
        RefusalCode::DockerCapAdd,
        RefusalCode::DockerDevice,
        RefusalCode::DockerHostNamespace,
        RefusalCode::DockerNetwork,
        RefusalCode::DockerSocketMount,
        RefusalCode::DockerWritableMount,
        RefusalCode::DockerDetach,
        RefusalCode::DockerTty,
        RefusalCode::DockerEntrypoint,
        RefusalCode::DockerEnvFile,
        RefusalCode::DockerSecurityOpt,
        RefusalCode::DockerUnknownOption,
        RefusalCode::DockerInvalidImage,
        RefusalCode::MissingValue,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RefusalCode::EmptyArgv => "launcher-empty-argv",
            RefusalCode::LauncherUnsupported => "launcher-unsupported",
            RefusalCode::LauncherGitSpec => "launcher-git-spec",
            RefusalCode::LauncherRemoteSpec => "launcher-remote-spec",
            RefusalCode::LauncherLocalSpec => "launcher-local-spec",
            RefusalCode::LauncherInvalidName => "launcher-invalid-name",
            RefusalCode::LauncherInvalidSpec => "launcher-invalid-spec",
            RefusalCode::LauncherMissingPackage => "launcher-missing-package",
            RefusalCode::NpmAlias => "npm-alias",
            RefusalCode::NpxCall => "npx-call",
            RefusalCode::NpxMultiplePackages => "npx-multiple-packages",
            RefusalCode::NpxConfigFlag => "npx-config-flag",
            RefusalCode::NpxUnknownOption => "npx-unknown-option",
            RefusalCode::UvxEditable => "uvx-editable",
            RefusalCode::UvxRequirementsFile => "uvx-requirements-file",
            RefusalCode::UvxIndexFlag => "uvx-index-flag",
            RefusalCode::UvxResolutionFlag => "uvx-resolution-flag",
            RefusalCode::UvxUnknownOption => "uvx-unknown-option",
            RefusalCode::DockerNotRun => "docker-not-run",
            RefusalCode::DockerGlobalOption => "docker-global-option",
            RefusalCode::DockerNotInteractive => "docker-not-interactive",
            RefusalCode::DockerPrivileged => "docker-privileged",
            RefusalCode::DockerCapAdd => "docker-cap-add",
            RefusalCode::DockerDevice => "docker-device",
            RefusalCode::DockerHostNamespace => "docker-host-namespace",
            RefusalCode::DockerNetwork => "docker-network",
            RefusalCode::DockerSocketMount => "docker-socket-mount",
            RefusalCode::DockerWritableMount => "docker-writable-mount",
            RefusalCode::DockerDetach => "docker-detach",
            RefusalCode::DockerTty => "docker-tty",
            RefusalCode::DockerEntrypoint => "docker-entrypoint",
            RefusalCode::DockerEnvFile => "docker-env-file",
            RefusalCode::DockerSecurityOpt => "docker-security-opt",
            RefusalCode::DockerUnknownOption => "docker-unknown-option",
            RefusalCode::DockerInvalidImage => "docker-invalid-image",
            RefusalCode::MissingValue => "launcher-missing-value",
        }
    }
}

/// A refused argv: a stable code and a reason naming the token at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{reason} [{}]", code.code())]
pub struct Refusal {
    pub code: RefusalCode,
    pub reason: String,
}

fn refuse<T>(code: RefusalCode, reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        code,
        reason: reason.into(),
    })
}

/// Parses a launcher argv (`npx …`, `uvx …`, `docker run …`, or any of them after `cmd /c`).
pub fn parse(argv: &[String]) -> Result<LaunchRequest, Refusal> {
    let Some(first) = argv.first() else {
        return refuse(RefusalCode::EmptyArgv, "the launcher command line is empty");
    };
    let (via_cmd, start) = if is_cmd(first) {
        match argv.get(1).map(|s| s.to_ascii_lowercase()) {
            Some(flag) if flag == "/c" => (true, 2),
            _ => {
                return refuse(
                    RefusalCode::LauncherUnsupported,
                    "`cmd` is accepted only as `cmd /c npx|uvx|docker …`",
                );
            }
        }
    } else {
        (false, 0)
    };
    let Some(command) = argv.get(start) else {
        return refuse(RefusalCode::EmptyArgv, "`cmd /c` names no command");
    };
    let Some(launcher) = Launcher::from_command(command) else {
        return refuse(
            RefusalCode::LauncherUnsupported,
            format!("`{command}` is not npx, uvx or docker; mcpin launches only registry packages"),
        );
    };
    let mut parser = Parser {
        argv,
        pos: start + 1,
    };
    let mut request = match launcher {
        Launcher::Npx => parser.npx()?,
        Launcher::Uvx => parser.uvx()?,
        Launcher::Docker => parser.docker()?,
    };
    request.via_cmd = via_cmd;
    Ok(request)
}

fn is_cmd(command: &str) -> bool {
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command);
    base.eq_ignore_ascii_case("cmd") || base.eq_ignore_ascii_case("cmd.exe")
}

struct Parser<'a> {
    argv: &'a [String],
    pos: usize,
}

/// An option token split into name and inline value (`--from=x`, `-px`).
struct Opt<'a> {
    name: &'a str,
    inline: Option<&'a str>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.argv.get(self.pos).map(String::as_str)
    }

    /// The value of an option: inline (`--x=v`) or the next token. Returns it with its argv
    /// index and the prefix before it within the token.
    fn value(
        &mut self,
        opt: &Opt<'a>,
        token: &'a str,
    ) -> Result<(&'a str, usize, String), Refusal> {
        if let Some(value) = opt.inline {
            let prefix = token[..token.len() - value.len()].to_owned();
            return Ok((value, self.pos - 1, prefix));
        }
        match self.argv.get(self.pos) {
            Some(value) => {
                self.pos += 1;
                Ok((value.as_str(), self.pos - 1, String::new()))
            }
            None => refuse(
                RefusalCode::MissingValue,
                format!("option `{}` needs a value", opt.name),
            ),
        }
    }

    fn rest(&self) -> Vec<String> {
        self.argv[self.pos.min(self.argv.len())..].to_vec()
    }

    fn base(&self, launcher: Launcher, package: PackageRef) -> LaunchRequest {
        LaunchRequest {
            launcher,
            via_cmd: false,
            argv: self.argv.to_vec(),
            package,
            command: None,
            with: Vec::new(),
            python: None,
            docker: None,
            server_args: Vec::new(),
            floating: Vec::new(),
        }
    }

    // ---- npx ----------------------------------------------------------------------------

    fn npx(&mut self) -> Result<LaunchRequest, Refusal> {
        let mut package: Option<(PackageRef, usize, String)> = None;
        while let Some(token) = self.peek() {
            if !token.starts_with('-') || token == "-" {
                break;
            }
            self.pos += 1;
            if token == "--" {
                break;
            }
            let opt = split_opt(token, &["p"]);
            match opt.name {
                "-y" | "--yes" | "-q" | "--quiet" | "--silent" | "--no-install" => {}
                "-p" | "--package" => {
                    let (value, index, prefix) = self.value(&opt, token)?;
                    if package.is_some() {
                        return refuse(
                            RefusalCode::NpxMultiplePackages,
                            "more than one `-p/--package`: only a single package may be launched",
                        );
                    }
                    package = Some((npm_spec(value)?, index, prefix));
                }
                "-c" | "--call" => {
                    return refuse(
                        RefusalCode::NpxCall,
                        "`npx -c/--call` runs an arbitrary shell command",
                    );
                }
                name if NPM_CONFIG_FLAGS.contains(&name) => {
                    return refuse(
                        RefusalCode::NpxConfigFlag,
                        format!("`{name}` changes how npm resolves packages"),
                    );
                }
                name => {
                    return refuse(
                        RefusalCode::NpxUnknownOption,
                        format!("unrecognized npx option `{name}`"),
                    );
                }
            }
        }
        let mut request;
        match package {
            Some((package_ref, index, prefix)) => {
                let Some(bin) = self.peek() else {
                    return refuse(
                        RefusalCode::LauncherMissingPackage,
                        "`npx -p PACKAGE` needs the command to run after it",
                    );
                };
                self.pos += 1;
                request = self.base(Launcher::Npx, package_ref);
                request.command = Some(bin.to_owned());
                push_floating(&mut request, index, prefix, None);
            }
            None => {
                let Some(spec) = self.peek() else {
                    return refuse(
                        RefusalCode::LauncherMissingPackage,
                        "npx names no package to run",
                    );
                };
                self.pos += 1;
                request = self.base(Launcher::Npx, npm_spec(spec)?);
                push_floating(&mut request, self.pos - 1, String::new(), None);
            }
        }
        request.server_args = self.rest();
        Ok(request)
    }

    // ---- uvx ----------------------------------------------------------------------------

    fn uvx(&mut self) -> Result<LaunchRequest, Refusal> {
        let mut from: Option<(PackageRef, usize, String)> = None;
        let mut with: Vec<(PackageRef, usize, String)> = Vec::new();
        let mut python = None;
        while let Some(token) = self.peek() {
            if !token.starts_with('-') || token == "-" {
                break;
            }
            self.pos += 1;
            if token == "--" {
                break;
            }
            let opt = split_opt(token, &["p", "w", "i", "f", "c"]);
            match opt.name {
                "-q" | "--quiet" | "--no-config" | "--isolated" | "--offline" | "--no-progress" => {
                }
                "--from" => {
                    let (value, index, prefix) = self.value(&opt, token)?;
                    from = Some((pypi_requirement(value)?, index, prefix));
                }
                "-w" | "--with" => {
                    let (value, index, prefix) = self.value(&opt, token)?;
                    if value.contains(',') {
                        return refuse(
                            RefusalCode::LauncherInvalidSpec,
                            format!(
                                "`--with {value}`: give one package per `--with` so each can be pinned"
                            ),
                        );
                    }
                    with.push((pypi_requirement(value)?, index, prefix));
                }
                "-p" | "--python" => {
                    let (value, ..) = self.value(&opt, token)?;
                    if looks_like_path(value) {
                        return refuse(
                            RefusalCode::LauncherLocalSpec,
                            format!("`--python {value}` names an interpreter path, not a version"),
                        );
                    }
                    python = Some(value.to_owned());
                }
                "--with-editable" => {
                    return refuse(
                        RefusalCode::UvxEditable,
                        "`--with-editable` runs code from a local directory",
                    );
                }
                "--with-requirements" => {
                    return refuse(
                        RefusalCode::UvxRequirementsFile,
                        "`--with-requirements`: uvx does not enforce the file's hashes",
                    );
                }
                "--index" | "--default-index" | "-i" | "--index-url" | "--extra-index-url"
                | "-f" | "--find-links" | "--no-index" | "--index-strategy"
                | "--keyring-provider" => {
                    return refuse(
                        RefusalCode::UvxIndexFlag,
                        format!("`{}` changes where packages come from", opt.name),
                    );
                }
                "--prerelease"
                | "--refresh"
                | "--refresh-package"
                | "--upgrade"
                | "-U"
                | "--upgrade-package"
                | "--reinstall"
                | "--reinstall-package"
                | "-c"
                | "--constraints"
                | "--constraint"
                | "--overrides"
                | "--build-constraints"
                | "--config-file"
                | "--exclude-newer"
                | "--resolution" => {
                    return refuse(
                        RefusalCode::UvxResolutionFlag,
                        format!("`{}` changes how packages are resolved", opt.name),
                    );
                }
                name => {
                    return refuse(
                        RefusalCode::UvxUnknownOption,
                        format!("unrecognized uvx option `{name}`"),
                    );
                }
            }
        }
        let Some(target) = self.peek() else {
            return refuse(
                RefusalCode::LauncherMissingPackage,
                "uvx names no command or package to run",
            );
        };
        self.pos += 1;
        let mut request = match from {
            Some((package, index, prefix)) => {
                if !is_command_name(target) {
                    return refuse(
                        RefusalCode::LauncherInvalidName,
                        format!(
                            "`{target}` is not a command name (with `--from`, uvx runs a command of that package)"
                        ),
                    );
                }
                let mut request = self.base(Launcher::Uvx, package);
                request.command = Some(target.to_owned());
                push_floating(&mut request, index, prefix, None);
                request
            }
            None => {
                let mut request = self.base(Launcher::Uvx, pypi_requirement(target)?);
                push_floating(&mut request, self.pos - 1, String::new(), None);
                request
            }
        };
        for (package, index, prefix) in with {
            if let VersionSpec::Floating(_) = package.version {
                request.floating.push(FloatingSpec {
                    package: package.clone(),
                    argv_index: index,
                    token_prefix: prefix,
                    image: None,
                });
            }
            request.with.push(package);
        }
        request.python = python;
        request.server_args = self.rest();
        Ok(request)
    }

    // ---- docker -------------------------------------------------------------------------

    fn docker(&mut self) -> Result<LaunchRequest, Refusal> {
        let run_index = self.pos;
        match self.peek() {
            Some("run") => self.pos += 1,
            Some(token) if token.starts_with('-') => {
                return refuse(
                    RefusalCode::DockerGlobalOption,
                    format!(
                        "docker global option `{token}` (context, host or config) is not accepted"
                    ),
                );
            }
            Some(token) => {
                return refuse(
                    RefusalCode::DockerNotRun,
                    format!("`docker {token}`: only `docker run` launches a server"),
                );
            }
            None => return refuse(RefusalCode::DockerNotRun, "`docker` without `run`"),
        }
        let mut interactive = false;
        let mut remove = false;
        let mut env = Vec::new();
        let mut volumes = Vec::new();
        let mut network = None;
        let mut other_options = Vec::new();
        while let Some(token) = self.peek() {
            if !token.starts_with('-') || token == "-" {
                break;
            }
            self.pos += 1;
            if token == "--" {
                break;
            }
            // Combined short flags: -it, -ti, -id.
            if !token.starts_with("--")
                && token.len() > 2
                && token[1..].chars().all(|c| "idt".contains(c))
            {
                for flag in token[1..].chars() {
                    match flag {
                        'i' => interactive = true,
                        _ => docker_flag_refusal(&format!("-{flag}"))?,
                    }
                }
                continue;
            }
            let opt = split_opt(token, &["e", "v", "u", "w", "m"]);
            match opt.name {
                "-i" | "--interactive" => interactive = true,
                "--rm" => remove = true,
                "--init" | "--read-only" => other_options.push(token.to_owned()),
                "-e" | "--env" => {
                    let (value, ..) = self.value(&opt, token)?;
                    env.push(match value.split_once('=') {
                        Some((name, value)) => DockerEnv {
                            name: name.to_owned(),
                            value: Some(value.to_owned()),
                        },
                        None => DockerEnv {
                            name: value.to_owned(),
                            value: None,
                        },
                    });
                }
                "-v" | "--volume" => {
                    let (value, ..) = self.value(&opt, token)?;
                    volumes.push(docker_volume(value)?);
                }
                "--network" | "--net" => {
                    let (value, ..) = self.value(&opt, token)?;
                    match value {
                        "none" | "bridge" => network = Some(value.to_owned()),
                        "host" => {
                            return refuse(
                                RefusalCode::DockerHostNamespace,
                                "`--network host` shares the host's network namespace",
                            );
                        }
                        other => {
                            return refuse(
                                RefusalCode::DockerNetwork,
                                format!(
                                    "`--network {other}`: only `none` and `bridge` are accepted"
                                ),
                            );
                        }
                    }
                }
                "--pid" | "--ipc" | "--uts" | "--userns" | "--cgroupns" => {
                    let (value, ..) = self.value(&opt, token)?;
                    if value == "host" || value.starts_with("container:") {
                        return refuse(
                            RefusalCode::DockerHostNamespace,
                            format!("`{} {value}` shares another namespace", opt.name),
                        );
                    }
                    other_options.push(format!("{}={value}", opt.name));
                }
                "--name" | "-u" | "--user" | "-w" | "--workdir" | "-m" | "--memory" | "--cpus"
                | "--cap-drop" | "--pull" | "--platform" | "--stop-timeout" => {
                    let (value, ..) = self.value(&opt, token)?;
                    other_options.push(format!("{}={value}", opt.name));
                }
                name => docker_flag_refusal(name)?,
            }
        }
        if !interactive {
            return refuse(
                RefusalCode::DockerNotInteractive,
                "`docker run` needs `-i`: an MCP server speaks over stdin",
            );
        }
        let Some(image_token) = self.peek() else {
            return refuse(
                RefusalCode::LauncherMissingPackage,
                "`docker run` names no image",
            );
        };
        self.pos += 1;
        let image_index = self.pos - 1;
        let (image, tag, digest) = docker_image(image_token)?;
        let repository = image.clone();
        let written = match &tag {
            Some(tag) => format!("{image}:{tag}"),
            None => image.clone(),
        };
        let version = match &digest {
            Some(digest) => VersionSpec::Exact(digest.clone()),
            None => VersionSpec::Floating(tag.clone().unwrap_or_else(|| "latest".to_owned())),
        };
        let mut request = self.base(
            Launcher::Docker,
            PackageRef {
                ecosystem: Ecosystem::Oci,
                name: repository,
                extras: Vec::new(),
                version,
            },
        );
        push_floating(&mut request, image_index, String::new(), Some(written));
        request.docker = Some(DockerRun {
            image,
            tag,
            digest,
            env,
            volumes,
            network,
            remove,
            other_options,
            run_index,
            image_index,
        });
        request.server_args = self.rest();
        Ok(request)
    }
}

/// Records the main package's floating spec, if it is floating.
fn push_floating(
    request: &mut LaunchRequest,
    argv_index: usize,
    token_prefix: String,
    image: Option<String>,
) {
    if let VersionSpec::Floating(_) = request.package.version {
        request.floating.push(FloatingSpec {
            package: request.package.clone(),
            argv_index,
            token_prefix,
            image,
        });
    }
}

/// npm config flags that change what gets resolved or from where.
const NPM_CONFIG_FLAGS: &[&str] = &[
    "--registry",
    "--userconfig",
    "--globalconfig",
    "--prefix",
    "--cache",
    "--workspace",
    "-w",
    "--workspaces",
    "--include-workspace-root",
    "--location",
    "--global",
    "-g",
    "--offline",
    "--prefer-offline",
    "--prefer-online",
    "--before",
    "--scope",
    "--ignore-scripts",
    "--foreground-scripts",
    "--script-shell",
    "--node-options",
];

fn docker_flag_refusal(name: &str) -> Result<(), Refusal> {
    let (code, why) = match name {
        "--privileged" => (
            RefusalCode::DockerPrivileged,
            "gives the container full host access",
        ),
        "--cap-add" => (RefusalCode::DockerCapAdd, "adds kernel capabilities"),
        "--device" => (RefusalCode::DockerDevice, "exposes a host device"),
        "-d" | "--detach" => (
            RefusalCode::DockerDetach,
            "detaches the server from the agent's stdio",
        ),
        "-t" | "--tty" => (
            RefusalCode::DockerTty,
            "a TTY alters the protocol byte stream",
        ),
        "--entrypoint" => (
            RefusalCode::DockerEntrypoint,
            "replaces the image's signed entry point",
        ),
        "--env-file" => (
            RefusalCode::DockerEnvFile,
            "reads unreviewed environment from a file",
        ),
        "--security-opt" => (
            RefusalCode::DockerSecurityOpt,
            "weakens the container's confinement",
        ),
        "--mount" => (
            RefusalCode::DockerUnknownOption,
            "use `-v host:container:ro` instead",
        ),
        _ => (
            RefusalCode::DockerUnknownOption,
            "is not a recognized `docker run` option",
        ),
    };
    refuse(code, format!("`{name}` {why}"))
}

/// Splits `--name=value` and short options with a glued value (`-pfoo` for `p` in `glued`).
fn split_opt<'a>(token: &'a str, glued: &[&str]) -> Opt<'a> {
    if let Some(long) = token.strip_prefix("--") {
        if let Some((name, _)) = long.split_once('=') {
            let name_len = 2 + name.len();
            return Opt {
                name: &token[..name_len],
                inline: Some(&token[name_len + 1..]),
            };
        }
        return Opt {
            name: token,
            inline: None,
        };
    }
    if token.len() > 2 && glued.contains(&&token[1..2]) {
        let value = &token[2..];
        return Opt {
            name: &token[..2],
            inline: Some(value.strip_prefix('=').unwrap_or(value)),
        };
    }
    Opt {
        name: token,
        inline: None,
    }
}

fn looks_like_path(spec: &str) -> bool {
    spec.starts_with('.')
        || spec.starts_with('/')
        || spec.starts_with('~')
        || spec.starts_with('\\')
        || spec.as_bytes().get(1) == Some(&b':')
        || spec.starts_with("file:")
}

fn is_command_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.')
}

// ---- npm specs ----------------------------------------------------------------------------

/// Classifies an npm package spec the way `npm-package-arg` does, refusing non-registry specs.
fn npm_spec(spec: &str) -> Result<PackageRef, Refusal> {
    if spec.contains("npm:") {
        return refuse(
            RefusalCode::NpmAlias,
            format!("`{spec}` is an `npm:` alias: name the real package"),
        );
    }
    const GIT_PREFIXES: &[&str] = &[
        "git+",
        "git:",
        "git@",
        "github:",
        "gitlab:",
        "bitbucket:",
        "gist:",
    ];
    if GIT_PREFIXES.iter().any(|p| spec.starts_with(p)) {
        return refuse(
            RefusalCode::LauncherGitSpec,
            format!("`{spec}` fetches from git, not from the registry"),
        );
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return refuse(
            RefusalCode::LauncherRemoteSpec,
            format!("`{spec}` downloads a tarball from a URL"),
        );
    }
    let lower = spec.to_ascii_lowercase();
    if looks_like_path(spec)
        || [".tgz", ".tar.gz", ".tar"]
            .iter()
            .any(|ext| lower.ends_with(ext))
    {
        return refuse(
            RefusalCode::LauncherLocalSpec,
            format!("`{spec}` is a local file or directory with no recorded hash"),
        );
    }
    let (name, version) = match spec.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('@') {
            Some((name, version)) => (&spec[..name.len() + 1], Some(version)),
            None => (spec, None),
        },
        None => match spec.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (spec, None),
        },
    };
    if !name.starts_with('@') && name.contains('/') {
        return refuse(
            RefusalCode::LauncherGitSpec,
            format!("`{spec}` is a GitHub `owner/repo` shorthand, not a registry package"),
        );
    }
    if !valid_npm_name(name) {
        return refuse(
            RefusalCode::LauncherInvalidName,
            format!("`{name}` is not a valid npm package name"),
        );
    }
    let version = match version {
        None | Some("") => VersionSpec::Floating("latest".to_owned()),
        Some(version) if version.contains('#') || version.contains(':') => {
            return refuse(
                RefusalCode::LauncherGitSpec,
                format!("`{spec}` is not a registry version"),
            );
        }
        Some(version) => npm_version(spec, version)?,
    };
    Ok(PackageRef {
        ecosystem: Ecosystem::Npm,
        name: name.to_owned(),
        extras: Vec::new(),
        version,
    })
}

fn npm_version(spec: &str, version: &str) -> Result<VersionSpec, Refusal> {
    if let Ok(parsed) = node_semver::Version::parse(version) {
        // Only the canonical form is exact; `v1.2.3` or `=1.2.3` must be written plainly.
        if parsed.to_string() == version {
            return Ok(VersionSpec::Exact(version.to_owned()));
        }
    }
    let is_tag = version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !version.starts_with(|c: char| c.is_ascii_digit() || c == 'v');
    if is_tag || node_semver::Range::parse(version).is_ok() {
        return Ok(VersionSpec::Floating(version.to_owned()));
    }
    refuse(
        RefusalCode::LauncherInvalidSpec,
        format!("`{spec}`: `{version}` is neither a version, a range nor a dist-tag"),
    )
}

fn valid_npm_name(name: &str) -> bool {
    let part_ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && !part.starts_with('_')
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~".contains(c))
    };
    if name.len() > 214 {
        return false;
    }
    match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, rest)) => part_ok(scope) && part_ok(rest),
            None => false,
        },
        None => part_ok(name),
    }
}

// ---- PyPI requirements --------------------------------------------------------------------

/// Parses a uvx requirement: `pkg`, `pkg@X`, `pkg@latest`, `pkg==X`, `pkg[extra]>=1,<2`.
fn pypi_requirement(spec: &str) -> Result<PackageRef, Refusal> {
    if spec.starts_with("git+") || spec.contains(" @ ") || spec.contains("@git+") {
        return refuse(
            RefusalCode::LauncherGitSpec,
            format!("`{spec}` fetches from a VCS or URL, not from the index"),
        );
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return refuse(
            RefusalCode::LauncherRemoteSpec,
            format!("`{spec}` downloads from a URL"),
        );
    }
    let lower = spec.to_ascii_lowercase();
    if looks_like_path(spec)
        || lower.ends_with(".whl")
        || lower.ends_with(".tar.gz")
        || lower.ends_with(".zip")
    {
        return refuse(
            RefusalCode::LauncherLocalSpec,
            format!("`{spec}` is a local path or file"),
        );
    }
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(spec.len());
    let (name, mut rest) = spec.split_at(name_end);
    if !valid_pypi_name(name) {
        return refuse(
            RefusalCode::LauncherInvalidName,
            format!("`{spec}` does not start with a valid Python package name"),
        );
    }
    let mut extras = Vec::new();
    if let Some(after) = rest.strip_prefix('[') {
        let Some((list, after)) = after.split_once(']') else {
            return refuse(
                RefusalCode::LauncherInvalidSpec,
                format!("`{spec}`: unterminated extras list"),
            );
        };
        for extra in list.split(',').map(str::trim) {
            if !valid_pypi_name(extra) {
                return refuse(
                    RefusalCode::LauncherInvalidSpec,
                    format!("`{spec}`: `{extra}` is not a valid extra name"),
                );
            }
            extras.push(mcpin_attestation::normalize_pypi_name(extra));
        }
        extras.sort();
        extras.dedup();
        rest = after;
    }
    let rest = rest.trim();
    let version = if rest.is_empty() {
        VersionSpec::Floating("latest".to_owned())
    } else if let Some(at) = rest.strip_prefix('@') {
        // uv's shorthand: `@` takes an exact version or `latest`.
        if at == "latest" {
            VersionSpec::Floating("latest".to_owned())
        } else {
            match pep440_rs::Version::from_str(at) {
                Ok(_) => VersionSpec::Exact(at.to_owned()),
                Err(error) => {
                    return refuse(
                        RefusalCode::LauncherInvalidSpec,
                        format!("`{spec}`: `{at}` is not a PEP 440 version ({error})"),
                    );
                }
            }
        }
    } else {
        match pep440_rs::VersionSpecifiers::from_str(rest) {
            Ok(specifiers) => {
                let exact = match specifiers.iter().collect::<Vec<_>>().as_slice() {
                    [only]
                        if matches!(
                            only.operator(),
                            pep440_rs::Operator::Equal | pep440_rs::Operator::ExactEqual
                        ) =>
                    {
                        Some(only.version().to_string())
                    }
                    _ => None,
                };
                match exact {
                    Some(version) => VersionSpec::Exact(version),
                    None => VersionSpec::Floating(rest.to_owned()),
                }
            }
            Err(error) => {
                return refuse(
                    RefusalCode::LauncherInvalidSpec,
                    format!("`{spec}`: not a valid version specifier ({error})"),
                );
            }
        }
    };
    Ok(PackageRef {
        ecosystem: Ecosystem::Pypi,
        name: mcpin_attestation::normalize_pypi_name(name),
        extras,
        version,
    })
}

fn valid_pypi_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !name.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

// ---- docker ------------------------------------------------------------------------------

fn docker_volume(value: &str) -> Result<DockerVolume, Refusal> {
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, options) = match parts.as_slice() {
        [host, container] => (*host, *container, ""),
        [host, container, options] => (*host, *container, *options),
        _ => {
            return refuse(
                RefusalCode::DockerWritableMount,
                format!("`-v {value}`: expected `host:container:ro`"),
            );
        }
    };
    if host.ends_with("docker.sock") || container.ends_with("docker.sock") {
        return refuse(
            RefusalCode::DockerSocketMount,
            format!("`-v {value}` mounts the docker socket: root on the host"),
        );
    }
    if !options
        .split(',')
        .any(|option| option == "ro" || option == "readonly")
    {
        return refuse(
            RefusalCode::DockerWritableMount,
            format!("`-v {value}` is writable: add `:ro`"),
        );
    }
    Ok(DockerVolume {
        host: host.to_owned(),
        container: container.to_owned(),
    })
}

/// Splits `[registry/]name[:tag][@sha256:<hex>]`.
fn docker_image(token: &str) -> Result<(String, Option<String>, Option<String>), Refusal> {
    let invalid = |why: &str| {
        refuse(
            RefusalCode::DockerInvalidImage,
            format!("`{token}` is not a valid image reference: {why}"),
        )
    };
    let (rest, digest) = match token.split_once('@') {
        Some((rest, digest)) => {
            let Some(hex) = digest.strip_prefix("sha256:") else {
                return invalid("the digest must be sha256");
            };
            if hex.len() != 64
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return invalid("the digest must be 64 lowercase hex digits");
            }
            (rest, Some(digest.to_owned()))
        }
        None => (token, None),
    };
    // A colon after the last slash is a tag; before it, a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].split_once(':') {
        Some((_, tag)) => (&rest[..rest.len() - tag.len() - 1], Some(tag.to_owned())),
        None => (rest, None),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_./:".contains(c))
    {
        return invalid("bad repository name");
    }
    if let Some(tag) = &tag
        && (tag.is_empty()
            || tag.len() > 128
            || !tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        return invalid("bad tag");
    }
    Ok((name.to_owned(), tag, digest))
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Oci => "oci",
        })
    }
}

#[cfg(test)]
mod tests;
