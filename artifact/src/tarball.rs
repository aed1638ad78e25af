//! gzip tarballs: npm packages and Python sdists.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::read::GzDecoder;
use tar::EntryType;

use crate::unpacked::{Unpacked, UnpackedFile, copy_exact, create_file};
use crate::zipfile::{checked_entry_path, read_bounded};
use crate::{ArtifactError, Digests, HashingReader, Identified, Limits, Metadata, npm, python};

pub(crate) fn identify(
    path: &Path,
    file_name: String,
    limits: &Limits,
) -> Result<Identified, ArtifactError> {
    let mut package_json = None;
    let mut pkg_info = None;
    let digests = walk(path, limits, |file, reader| {
        let wanted = match file.path.split('/').collect::<Vec<_>>().as_slice() {
            ["package", "package.json"] => &mut package_json,
            [_, "PKG-INFO"] => &mut pkg_info,
            _ => return Ok(()),
        };
        *wanted = Some((
            file.path.to_owned(),
            read_bounded(reader, file.size, file.path, limits)?,
        ));
        Ok(())
    })?;

    if let Some((path, bytes)) = package_json {
        let package = npm::package_info(&path, &bytes, file_name, digests.size)?;
        let metadata = Metadata { path, bytes };
        Ok(Identified {
            package,
            digests,
            metadata,
        })
    } else if let Some((path, bytes)) = pkg_info {
        let package = python::sdist_info(&path, &bytes, file_name, digests.size)?;
        let metadata = Metadata { path, bytes };
        Ok(Identified {
            package,
            digests,
            metadata,
        })
    } else {
        Err(ArtifactError::NotAPackage(format!(
            "`{file_name}` has neither package/package.json (npm) nor <name>-<version>/PKG-INFO (sdist)"
        )))
    }
}

/// Unpacks an npm package tarball into `dest`, which must not exist yet, with the
/// first path component (`package/`) stripped, as npm does. It refuses exactly
/// what [`identify`](crate::identify) refuses, before or while writing, and
/// writes nothing outside `dest`. Returns the digests of the tarball bytes it
/// read and every file it wrote with the digest of the bytes written: unpack into
/// a staging directory and move it into place only once the tarball digests equal
/// the verified ones.
pub fn unpack_npm_tarball(
    tarball: &Path,
    dest: &Path,
    limits: &Limits,
) -> Result<Unpacked, ArtifactError> {
    fs_err::create_dir(dest)?;
    let mut files = Vec::new();
    let digests = walk(tarball, limits, |file, reader| {
        let Some((_, relative)) = file.path.split_once('/') else {
            return Err(ArtifactError::UnsafeEntry {
                path: file.path.to_owned(),
                why: "file outside the package directory",
            });
        };
        let target = dest.join(relative);
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let executable = file.mode & 0o111 != 0;
        let mut out = create_file(&target, executable)?;
        let sha256 = copy_exact(reader, &mut out, file.size, file.path)?;
        files.push(UnpackedFile {
            path: relative.to_owned(),
            size: file.size,
            sha256,
            executable,
        });
        Ok(())
    })?;
    Ok(Unpacked { digests, files })
}

/// A regular file met while walking a tarball.
struct FileEntry<'a> {
    /// Checked and normalized (`/`-separated, no `.`, `..` or empty components).
    path: &'a str,
    size: u64,
    mode: u32,
}

/// Streams a gzip tarball once: hashes every byte, checks every entry (type,
/// path, duplicates, count, expansion) and hands each regular file to `visit`.
/// Returns the digests of the whole file.
fn walk(
    path: &Path,
    limits: &Limits,
    mut visit: impl FnMut(&FileEntry, &mut dyn Read) -> Result<(), ArtifactError>,
) -> Result<Digests, ArtifactError> {
    let file = fs_err::File::open(path)?;
    let compressed = Rc::new(Cell::new(0));
    let tripped = Rc::new(Cell::new(None));
    let counted = CountingReader {
        inner: HashingReader::new(file),
        count: compressed.clone(),
    };
    let guard = ExpansionGuard {
        inner: GzDecoder::new(counted),
        compressed,
        expanded: 0,
        limits: limits.clone(),
        tripped: tripped.clone(),
    };
    let mut archive = tar::Archive::new(guard);
    walk_entries(&mut archive, limits, &mut visit)
        .map_err(|error| tripped.take().unwrap_or(error))?;

    // Read the gzip stream to its end (verifying its CRC), then the raw file to
    // its end, so the digests cover every byte and truncation is caught.
    let mut guard = archive.into_inner();
    io::copy(&mut guard, &mut io::sink())
        .map_err(|error| tripped.take().unwrap_or_else(|| corrupt(error)))?;
    Ok(guard.inner.into_inner().inner.finish()?)
}

fn walk_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    limits: &Limits,
    visit: &mut impl FnMut(&FileEntry, &mut dyn Read) -> Result<(), ArtifactError>,
) -> Result<(), ArtifactError> {
    let mut seen = HashSet::new();
    let mut count = 0u64;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArtifactError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw_path = String::from_utf8(entry.path_bytes().into_owned()).map_err(|error| {
            ArtifactError::UnsafeEntry {
                path: String::from_utf8_lossy(error.as_bytes()).into_owned(),
                why: "path is not UTF-8",
            }
        })?;
        let unsafe_entry = |why| ArtifactError::UnsafeEntry {
            path: raw_path.clone(),
            why,
        };
        let is_file = match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous => true,
            EntryType::Directory => false,
            // pax global headers carry metadata only (git archive writes one).
            EntryType::XGlobalHeader => continue,
            EntryType::Symlink | EntryType::Link => {
                return Err(unsafe_entry("links are not allowed in packages"));
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                return Err(unsafe_entry("device and fifo entries are not allowed"));
            }
            _ => return Err(unsafe_entry("unsupported tar entry type")),
        };
        let normalized = checked_entry_path(&raw_path)?;
        if !seen.insert(normalized.clone()) {
            return Err(unsafe_entry("the same path appears twice"));
        }
        if is_file {
            let file = FileEntry {
                path: &normalized,
                size: entry.size(),
                mode: entry.header().mode().unwrap_or(0o644),
            };
            visit(&file, &mut entry)?;
        }
    }
    Ok(())
}

fn corrupt(error: io::Error) -> ArtifactError {
    ArtifactError::Corrupt(format!("truncated or corrupt gzip/tar data: {error}"))
}

struct CountingReader<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Stops decompression once the output grows out of proportion to the input
/// or past the absolute cap. The reason is left in `tripped`, because the tar
/// reader may wrap the I/O error it sees.
struct ExpansionGuard<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    expanded: u64,
    limits: Limits,
    tripped: Rc<Cell<Option<ArtifactError>>>,
}

impl<R: Read> Read for ExpansionGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.expanded += n as u64;
        let compressed = self.compressed.get().max(1);
        let trip = if self.expanded > self.limits.max_expanded_bytes {
            Some(ArtifactError::TooLarge {
                limit: self.limits.max_expanded_bytes,
            })
        } else if self.expanded > self.limits.ratio_grace_bytes
            && self.expanded / compressed > self.limits.max_ratio
        {
            Some(ArtifactError::CompressionRatio {
                limit: self.limits.max_ratio,
                compressed,
                expanded: self.expanded,
            })
        } else {
            None
        };
        if let Some(reason) = trip {
            let message = reason.to_string();
            self.tripped.set(Some(reason));
            return Err(io::Error::other(message));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn example() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/mcpin-example-hello-mcp-0.1.0.tgz")
    }

    #[test]
    fn unpacks_the_package_directory_and_reports_the_digests_read() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("hello");
        let unpacked = unpack_npm_tarball(&example(), &dest, &Limits::default()).unwrap();
        assert_eq!(
            unpacked.digests,
            crate::identify(&example()).unwrap().digests
        );
        let server = unpacked
            .files
            .iter()
            .find(|f| f.path == "server.js")
            .unwrap();
        let bytes = fs_err::read(dest.join("server.js")).unwrap();
        assert_eq!(server.size, bytes.len() as u64);
        assert_eq!(server.sha256, hex::encode(sha2::Sha256::digest(&bytes)));
        let manifest = fs_err::read_to_string(dest.join("package.json")).unwrap();
        assert!(manifest.contains("@mcpin-example/hello-mcp"));
        assert!(dest.join("server.js").is_file());
    }

    #[test]
    fn refuses_to_unpack_over_an_existing_directory_or_outside_it() {
        let dir = tempfile::tempdir().unwrap();
        assert!(unpack_npm_tarball(&example(), dir.path(), &Limits::default()).is_err());

        let evil = dir.path().join("evil.tgz");
        let gz = flate2::write::GzEncoder::new(
            fs_err::File::create(&evil).unwrap(),
            flate2::Compression::fast(),
        );
        let mut builder = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        let name = b"package/../../escaped.js";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(1);
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
        builder.into_inner().unwrap().finish().unwrap();

        let dest = dir.path().join("a").join("b");
        fs_err::create_dir(dir.path().join("a")).unwrap();
        let error = unpack_npm_tarball(&evil, &dest, &Limits::default()).unwrap_err();
        assert!(
            matches!(error, ArtifactError::UnsafeEntry { .. }),
            "{error}"
        );
        assert!(!dir.path().join("escaped.js").exists());
        assert!(!dir.path().join("a").join("escaped.js").exists());
    }
}
