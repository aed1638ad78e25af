//! PyPI requirements as uvx takes them (`pkg==X`, `pkg@X`, `pkg[extra]==X`).

use std::str::FromStr;

use super::{Ecosystem, PackageRef, Refusal, RefusalCode, VersionSpec, looks_like_path, refuse};

/// Parses a uvx requirement: `pkg`, `pkg@X`, `pkg@latest`, `pkg==X`, `pkg[extra]>=1,<2`.
pub(super) fn pypi_requirement(spec: &str) -> Result<PackageRef, Refusal> {
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

pub(super) fn valid_pypi_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !name.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}
