//! Refusals: the stable codes and the reasons that name the token at fault.

use serde::Serialize;

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
    UvxMultipleFrom,
    UvxPython,
    DockerNotRun,
    DockerGlobalOption,
    DockerNotInteractive,
    DockerPrivileged,
    DockerCapAdd,
    DockerDevice,
    DockerHostNamespace,
    DockerNetwork,
    DockerMountSource,
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
        RefusalCode::UvxMultipleFrom,
        RefusalCode::UvxPython,
        RefusalCode::DockerNotRun,
        RefusalCode::DockerGlobalOption,
        RefusalCode::DockerNotInteractive,
        RefusalCode::DockerPrivileged,
        RefusalCode::DockerCapAdd,
        RefusalCode::DockerDevice,
        RefusalCode::DockerHostNamespace,
        RefusalCode::DockerNetwork,
        RefusalCode::DockerMountSource,
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
            RefusalCode::UvxMultipleFrom => "uvx-multiple-from",
            RefusalCode::UvxPython => "uvx-python",
            RefusalCode::DockerNotRun => "docker-not-run",
            RefusalCode::DockerGlobalOption => "docker-global-option",
            RefusalCode::DockerNotInteractive => "docker-not-interactive",
            RefusalCode::DockerPrivileged => "docker-privileged",
            RefusalCode::DockerCapAdd => "docker-cap-add",
            RefusalCode::DockerDevice => "docker-device",
            RefusalCode::DockerHostNamespace => "docker-host-namespace",
            RefusalCode::DockerNetwork => "docker-network",
            RefusalCode::DockerMountSource => "docker-mount-source",
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

    /// What the argv did to be refused, for `docs/reference/codes.md`.
    pub fn description(self) -> &'static str {
        match self {
            RefusalCode::EmptyArgv => "nothing after `--` (or after `cmd /c`)",
            RefusalCode::LauncherUnsupported => {
                "the command is not npx, uvx or docker (`node server.js`, `cmd /k`)"
            }
            RefusalCode::LauncherGitSpec => {
                "a git spec: `github:`, `owner/repo`, `git+https://…`, `pkg @ url`"
            }
            RefusalCode::LauncherRemoteSpec => "a tarball or wheel URL",
            RefusalCode::LauncherLocalSpec => {
                "a local file, directory, `file:` spec, or `--python /path`"
            }
            RefusalCode::LauncherInvalidName => {
                "not a valid npm or PyPI name, or a `--from` command that is not a plain name"
            }
            RefusalCode::LauncherInvalidSpec => {
                "not a version, range or tag; `--with a,b` (give one package per `--with`)"
            }
            RefusalCode::LauncherMissingPackage => "no package, image or command named",
            RefusalCode::NpmAlias => "an npm alias (`a@npm:b@1`)",
            RefusalCode::NpxCall => "`-c` / `--call` (runs a shell command)",
            RefusalCode::NpxMultiplePackages => "more than one `-p`",
            RefusalCode::NpxConfigFlag => {
                "an npm config flag that changes resolution: `--registry`, `--userconfig`, \
                 `--prefix`, `--cache`, `--global`, …"
            }
            RefusalCode::NpxUnknownOption => "any other npx option before the package",
            RefusalCode::UvxEditable => "`--with-editable`",
            RefusalCode::UvxRequirementsFile => {
                "`--with-requirements` (uvx does not enforce its hashes)"
            }
            RefusalCode::UvxIndexFlag => {
                "an index flag: `--index`, `-i`, `--index-url`, `--extra-index-url`, `-f`, \
                 `--no-index`, …"
            }
            RefusalCode::UvxResolutionFlag => {
                "a resolution flag: `--prerelease`, `--refresh`, `--upgrade`, `-c/--constraints`, \
                 `--overrides`, …"
            }
            RefusalCode::UvxUnknownOption => "any other uvx option",
            RefusalCode::UvxMultipleFrom => "a second `--from` (the last one would win silently)",
            RefusalCode::UvxPython => {
                "`--python` (the interpreter is pinned by the system config or the policy)"
            }
            RefusalCode::DockerNotRun => "a docker command other than `run` (`exec`, `compose`, …)",
            RefusalCode::DockerGlobalOption => {
                "a docker option before `run` (`-H`, `--context`, `--config`)"
            }
            RefusalCode::DockerNotInteractive => "no `-i` (the server speaks over stdin)",
            RefusalCode::DockerPrivileged => "`--privileged`",
            RefusalCode::DockerCapAdd => "`--cap-add`",
            RefusalCode::DockerDevice => "`--device`",
            RefusalCode::DockerHostNamespace => {
                "a host namespace: `--network host`, `--pid/--ipc/--uts/--userns/--cgroupns host` \
                 or `container:`"
            }
            RefusalCode::DockerNetwork => "a network other than `none` or `bridge`",
            RefusalCode::DockerMountSource => {
                "a `-v` source that is not an absolute path (it would name a docker volume)"
            }
            RefusalCode::DockerWritableMount => {
                "a `-v` without `:ro` (`--mount` is refused as an unknown option)"
            }
            RefusalCode::DockerDetach => "`-d` / `--detach`",
            RefusalCode::DockerTty => "`-t` / `--tty` (a terminal alters the stdio byte stream)",
            RefusalCode::DockerEntrypoint => "`--entrypoint`",
            RefusalCode::DockerEnvFile => "`--env-file`",
            RefusalCode::DockerSecurityOpt => "`--security-opt`",
            RefusalCode::DockerUnknownOption => "any other `docker run` option",
            RefusalCode::DockerInvalidImage => {
                "a bad repository or tag, or a digest that is not `sha256:<64 hex>`"
            }
            RefusalCode::MissingValue => "an option without its value",
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

pub(super) fn refuse<T>(code: RefusalCode, reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        code,
        reason: reason.into(),
    })
}
