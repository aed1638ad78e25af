//! zip archives: Python wheels and MCPB bundles, plus the entry checks shared with tarballs.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::{ArtifactError, Identified, Limits, Metadata, digest_reader, mcpb, python};

pub(crate) fn identify(
    path: &Path,
    file_name: String,
    limits: &Limits,
) -> Result<Identified, ArtifactError> {
    // One handle for both passes, so the bytes hashed are the bytes parsed.
    let mut file = fs_err::File::open(path)?;
    let digests = digest_reader(&mut file)?;
    file.seek(SeekFrom::Start(0))?;
    let mut archive = zip::ZipArchive::new(file.into_file())?;
    let names = check_entries(&mut archive, limits)?;

    let dist_info_dirs: Vec<&str> = names
        .iter()
        .filter_map(|name| name.strip_suffix("/METADATA"))
        .filter(|dir| dir.ends_with(".dist-info") && !dir.contains('/'))
        .collect();
    match dist_info_dirs.as_slice() {
        [dir] => {
            let metadata_path = format!("{dir}/METADATA");
            let metadata = read_zip_entry(&mut archive, &metadata_path, limits)?;
            let entry_points_path = format!("{dir}/entry_points.txt");
            let entry_points = if names.contains(&entry_points_path) {
                Some(read_zip_entry(&mut archive, &entry_points_path, limits)?)
            } else {
                None
            };
            let package = python::wheel_info(
                &metadata_path,
                &metadata,
                entry_points.as_deref(),
                file_name,
                digests.size,
            )?;
            Ok(Identified {
                package,
                digests,
                metadata: Metadata {
                    path: metadata_path,
                    bytes: metadata,
                },
            })
        }
        [] if names.contains("manifest.json") => {
            let manifest = read_zip_entry(&mut archive, "manifest.json", limits)?;
            let package = mcpb::manifest_info(&manifest, file_name, digests.size)?;
            Ok(Identified {
                package,
                digests,
                metadata: Metadata {
                    path: "manifest.json".to_owned(),
                    bytes: manifest,
                },
            })
        }
        [] => Err(ArtifactError::NotAPackage(format!(
            "`{file_name}` is a zip with neither *.dist-info/METADATA (wheel) nor manifest.json (MCPB)"
        ))),
        _ => Err(ArtifactError::NotAPackage(format!(
            "`{file_name}` has several .dist-info directories: {}",
            dist_info_dirs.join(", ")
        ))),
    }
}

/// Checks every entry's name, type and declared sizes without decompressing anything.
pub(crate) fn check_entries<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    limits: &Limits,
) -> Result<HashSet<String>, ArtifactError> {
    if archive.len() as u64 > limits.max_entries {
        return Err(ArtifactError::TooManyEntries {
            limit: limits.max_entries,
        });
    }
    let mut names = HashSet::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index)?;
        let raw_name = entry.name()?.into_owned();
        let unsafe_entry = |why| ArtifactError::UnsafeEntry {
            path: raw_name.clone(),
            why,
        };
        if entry.is_symlink() {
            return Err(unsafe_entry("links are not allowed in packages"));
        }
        let normalized = checked_entry_path(&raw_name)?;
        if entry.enclosed_name().is_none() {
            return Err(unsafe_entry("path escapes the archive"));
        }
        total = total.saturating_add(entry.size());
        if total > limits.max_expanded_bytes {
            return Err(ArtifactError::TooLarge {
                limit: limits.max_expanded_bytes,
            });
        }
        let compressed = entry.compressed_size().max(1);
        if entry.size() > limits.ratio_grace_bytes && entry.size() / compressed > limits.max_ratio {
            return Err(ArtifactError::CompressionRatio {
                limit: limits.max_ratio,
                compressed,
                expanded: entry.size(),
            });
        }
        if !names.insert(normalized) {
            return Err(unsafe_entry("the same path appears twice"));
        }
    }
    Ok(names)
}

pub(crate) fn read_zip_entry<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    limits: &Limits,
) -> Result<Vec<u8>, ArtifactError> {
    let mut entry = archive.by_name(name)?;
    let declared = entry.size();
    read_bounded(&mut entry, declared, name, limits)
}

/// Rejects absolute paths, `..` components, backslashes and NUL bytes, and
/// returns the path with `.` and empty components removed, `/`-separated.
pub(crate) fn checked_entry_path(raw: &str) -> Result<String, ArtifactError> {
    let unsafe_entry = |why| ArtifactError::UnsafeEntry {
        path: raw.to_owned(),
        why,
    };
    if raw.contains('\0') {
        return Err(unsafe_entry("path contains a NUL byte"));
    }
    if raw.contains('\\') {
        return Err(unsafe_entry("path contains a backslash"));
    }
    let bytes = raw.as_bytes();
    if raw.starts_with('/') || (bytes.len() >= 2 && bytes[1] == b':') {
        return Err(unsafe_entry("absolute path"));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_entry("path traverses out of the archive (`..`)")),
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(unsafe_entry("empty path"));
    }
    Ok(parts.join("/"))
}

/// Reads one metadata entry into memory, refusing anything over the metadata cap
/// whatever its header claims.
pub(crate) fn read_bounded(
    reader: &mut (impl Read + ?Sized),
    declared_size: u64,
    path: &str,
    limits: &Limits,
) -> Result<Vec<u8>, ArtifactError> {
    let too_large = || ArtifactError::MetadataTooLarge {
        path: path.to_owned(),
        limit: limits.max_metadata_bytes,
    };
    if declared_size > limits.max_metadata_bytes {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared_size as usize);
    reader
        .take(limits.max_metadata_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| ArtifactError::Corrupt(format!("reading `{path}`: {error}")))?;
    if bytes.len() as u64 > limits.max_metadata_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::checked_entry_path;

    #[test]
    fn entry_paths_are_confined() {
        assert_eq!(
            checked_entry_path("package/./a//b.js").unwrap(),
            "package/a/b.js"
        );
        for bad in [
            "/etc/passwd",
            "../x",
            "package/../../x",
            "C:/x",
            "a\\..\\b",
            "",
            "./",
            "a\0b",
        ] {
            assert!(checked_entry_path(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
