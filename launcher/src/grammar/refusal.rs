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
