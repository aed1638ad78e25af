//! Python core metadata (`METADATA`, `PKG-INFO`) and `entry_points.txt`.

use mcpin_attestation::{Ecosystem, EntryPoint, PackageInfo};

use crate::ArtifactError;

pub(crate) fn wheel_info(
    metadata_path: &str,
    metadata: &[u8],
    entry_points: Option<&[u8]>,
    file_name: String,
    size: u64,
) -> Result<PackageInfo, ArtifactError> {
    let mut info = core_metadata(metadata_path, metadata, file_name, size)?;
    if let Some(entry_points) = entry_points {
        info.entry_points = console_scripts(entry_points);
    }
    Ok(info)
}

pub(crate) fn sdist_info(
    path: &str,
    pkg_info: &[u8],
    file_name: String,
    size: u64,
) -> Result<PackageInfo, ArtifactError> {
    core_metadata(path, pkg_info, file_name, size)
}

/// The first non-empty value of header `key` in the RFC 822-style header block of
/// Python core metadata (`METADATA`, `PKG-INFO`); names compare case-insensitively.
pub fn core_metadata_field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(key))
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Reads `Name` and `Version` from the header block of core metadata.
fn core_metadata(
    path: &str,
    bytes: &[u8],
    file_name: String,
    size: u64,
) -> Result<PackageInfo, ArtifactError> {
    let invalid = |why: String| ArtifactError::Metadata {
        path: path.to_owned(),
        why,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8".into()))?;
    let header = |key: &str| core_metadata_field(text, key);
    let name = header("Name").ok_or_else(|| invalid("no `Name` header".into()))?;
    let version = header("Version").ok_or_else(|| invalid("no `Version` header".into()))?;
    let purl = crate::purl(
        "pypi",
        None,
        &mcpin_attestation::normalize_pypi_name(&name),
        &version,
    )
    .map_err(|error| invalid(error.to_string()))?;
    Ok(PackageInfo {
        ecosystem: Ecosystem::Pypi,
        name,
        version,
        purl,
        file_name,
        size,
        entry_points: Vec::new(),
        mcp_name: None,
    })
}

/// `[console_scripts]` of an `entry_points.txt` (an INI file).
pub(crate) fn console_scripts(bytes: &[u8]) -> Vec<EntryPoint> {
    let text = String::from_utf8_lossy(bytes);
    let mut in_section = false;
    let mut scripts = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[console_scripts]";
        } else if in_section
            && !line.starts_with('#')
            && !line.starts_with(';')
            && let Some((name, target)) = line.split_once('=')
        {
            scripts.push(EntryPoint {
                name: name.trim().to_owned(),
                target: target.trim().to_owned(),
            });
        }
    }
    scripts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_scripts_are_read_from_their_section_only() {
        let scripts = console_scripts(
            b"[gui_scripts]\nx = a:b\n[console_scripts]\nmcp-server-time = mcp_server_time:main\n",
        );
        assert_eq!(
            scripts,
            vec![EntryPoint {
                name: "mcp-server-time".into(),
                target: "mcp_server_time:main".into()
            }]
        );
    }
}
