//! The launcher grammar: how agent configs call `npx`, `uvx` and `docker`, parsed into a
//! [`LaunchRequest`] or refused with a [`Refusal`] carrying a stable code.
//!
//! The rules follow how agent clients' documented configs call servers (npx, uvx and
//! `docker run -i --rm`), and every refusal code is listed in `docs/reference/codes.md`:
//! an exact version is accepted (the policy then decides), a floating one (bare name,
//! tag, range, `image:tag`) is reported as a [`FloatingSpec`] to resolve and pin once
//! at wrap time, and anything that lets the launch fetch code from somewhere other
//! than the registry artifact named in the argv, or changes how it is resolved, is
//! refused. Unknown options are refused too: the grammar fails closed.

use serde::Serialize;

mod docker;
mod npm;
mod pypi;
mod refusal;

use docker::{docker_flag_refusal, docker_image, docker_volume};
pub use mcpin_attestation::Ecosystem;
use npm::npm_spec;
use pypi::pypi_requirement;
use refusal::refuse;
pub use refusal::{Refusal, RefusalCode};

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

impl PackageRef {
    /// What the registry client fetches for an npm or PyPI package: an exact version, or a
    /// floating spec it resolves (the highest match; `latest` is npm's dist-tag and, for PyPI,
    /// the newest release). `None` for images, which are fetched by reference.
    pub fn registry_spec(&self) -> Option<mcpin_registry_client::Spec> {
        use mcpin_registry_client::Spec;
        let name = self.name.clone();
        match (self.ecosystem, &self.version) {
            (Ecosystem::Npm, VersionSpec::Exact(v) | VersionSpec::Floating(v)) => Some(Spec::Npm {
                name,
                requirement: v.clone(),
            }),
            (Ecosystem::Pypi, VersionSpec::Exact(v)) => Some(Spec::Pypi {
                name,
                specifiers: format!("=={v}"),
            }),
            (Ecosystem::Pypi, VersionSpec::Floating(v)) => Some(Spec::Pypi {
                name,
                specifiers: if v == "latest" {
                    String::new()
                } else {
                    v.clone()
                },
            }),
            (Ecosystem::Oci | Ecosystem::Mcpb, _) => None,
        }
    }
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
            Ecosystem::Npm | Ecosystem::Mcpb => format!("{}@{resolved}", package.name),
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
    /// Every option before the image in canonical long form, in argv order (`-i` is
    /// `--interactive`, `-e X` is `--env=X`, `--net` is `--network`): what the policy's
    /// `docker-deny-flags` and the environment rules are matched against.
    pub options: Vec<String>,
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
                    if from.is_some() {
                        return refuse(
                            RefusalCode::UvxMultipleFrom,
                            format!(
                                "a second `--from {value}`: uvx would silently use the last one"
                            ),
                        );
                    }
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
                    return refuse(
                        RefusalCode::UvxPython,
                        format!(
                            "`--python {value}`: mcpin runs the interpreter the system or policy pins; remove `--python`"
                        ),
                    );
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
        let mut options = Vec::new();
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
                        'i' => {
                            interactive = true;
                            options.push("--interactive".to_owned());
                        }
                        _ => docker_flag_refusal(&format!("-{flag}"))?,
                    }
                }
                continue;
            }
            let opt = split_opt(token, &["e", "v", "u", "w", "m"]);
            let long = canonical_docker_option(opt.name);
            match opt.name {
                "-i" | "--interactive" => {
                    interactive = true;
                    options.push(long.to_owned());
                }
                "--rm" | "--init" | "--read-only" => {
                    remove |= opt.name == "--rm";
                    options.push(long.to_owned());
                }
                "-e" | "--env" => {
                    let (value, ..) = self.value(&opt, token)?;
                    options.push(format!("{long}={value}"));
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
                    options.push(format!("{long}={value}"));
                }
                "--network" | "--net" => {
                    let (value, ..) = self.value(&opt, token)?;
                    options.push(format!("{long}={value}"));
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
                    options.push(format!("{long}={value}"));
                }
                "--name" | "-u" | "--user" | "-w" | "--workdir" | "-m" | "--memory" | "--cpus"
                | "--cap-drop" | "--pull" | "--platform" | "--stop-timeout" => {
                    let (value, ..) = self.value(&opt, token)?;
                    options.push(format!("{long}={value}"));
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
            options,
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

/// The long name of an accepted `docker run` option (`-e` → `--env`, `--net` → `--network`).
fn canonical_docker_option(name: &str) -> &str {
    match name {
        "-i" => "--interactive",
        "-e" => "--env",
        "-v" => "--volume",
        "--net" => "--network",
        "-u" => "--user",
        "-w" => "--workdir",
        "-m" => "--memory",
        long => long,
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

#[cfg(test)]
mod tests;
