//! gzip tarballs: npm packages and Python sdists.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::read::GzDecoder;
use tar::EntryType;

use crate::zipfile::{checked_entry_path, read_bounded};
use crate::{ArtifactError, HashingReader, Identified, Limits, Metadata, npm, python};

pub(crate) fn identify(
    path: &Path,
    file_name: String,
    limits: &Limits,
) -> Result<Identified, ArtifactError> {
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
    let found = walk(&mut archive, limits).map_err(|error| tripped.take().unwrap_or(error))?;

    // Read the gzip stream to its end (verifying its CRC), then the raw file to
    // its end, so the digests cover every byte and truncation is caught.
    let mut guard = archive.into_inner();
    io::copy(&mut guard, &mut io::sink())
        .map_err(|error| tripped.take().unwrap_or_else(|| corrupt(error)))?;
    let digests = guard.inner.into_inner().inner.finish()?;

    if let Some((path, bytes)) = found.package_json {
        let package = npm::package_info(&path, &bytes, file_name, digests.size)?;
        let metadata = Metadata { path, bytes };
        Ok(Identified {
            package,
            digests,
            metadata,
        })
    } else if let Some((path, bytes)) = found.pkg_info {
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

#[derive(Default)]
struct Found {
    package_json: Option<(String, Vec<u8>)>,
    pkg_info: Option<(String, Vec<u8>)>,
}

fn walk<R: Read>(archive: &mut tar::Archive<R>, limits: &Limits) -> Result<Found, ArtifactError> {
    let mut found = Found::default();
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
        match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous | EntryType::Directory => {}
            // pax global headers carry metadata only (git archive writes one).
            EntryType::XGlobalHeader => continue,
            EntryType::Symlink | EntryType::Link => {
                return Err(unsafe_entry("links are not allowed in packages"));
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                return Err(unsafe_entry("device and fifo entries are not allowed"));
            }
            _ => return Err(unsafe_entry("unsupported tar entry type")),
        }
        let normalized = checked_entry_path(&raw_path)?;
        if !seen.insert(normalized.clone()) {
            return Err(unsafe_entry("the same path appears twice"));
        }
        let components: Vec<&str> = normalized.split('/').collect();
        let wanted = match components.as_slice() {
            ["package", "package.json"] => &mut found.package_json,
            [_, "PKG-INFO"] => &mut found.pkg_info,
            _ => continue,
        };
        let declared_size = entry.size();
        let bytes = read_bounded(&mut entry, declared_size, &normalized, limits)?;
        *wanted = Some((normalized, bytes));
    }
    Ok(found)
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
