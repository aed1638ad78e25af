//! npm package specs, classified the way `npm-package-arg` does.

use super::{Ecosystem, PackageRef, Refusal, RefusalCode, VersionSpec, looks_like_path, refuse};

/// Classifies an npm package spec the way `npm-package-arg` does, refusing non-registry specs.
pub(super) fn npm_spec(spec: &str) -> Result<PackageRef, Refusal> {
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

pub(super) fn npm_version(spec: &str, version: &str) -> Result<VersionSpec, Refusal> {
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

pub(super) fn valid_npm_name(name: &str) -> bool {
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
