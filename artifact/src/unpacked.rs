//! What an unpack wrote, computed from the archive bytes as they were written (never by
//! reading the disk afterwards), so an installer can describe the tree it expects.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::{ArtifactError, Digests};

/// One regular file an unpack wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedFile {
    /// Relative to the destination directory, `/`-separated, checked (no `..`, no absolute).
    pub path: String,
    pub size: u64,
    /// Lowercase hex sha256 of the bytes written.
    pub sha256: String,
    /// Whether the archive marked it executable (any `x` bit).
    pub executable: bool,
}

/// The result of unpacking an archive: the digests of the archive bytes read, and every
/// file written, in archive order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    pub digests: Digests,
    pub files: Vec<UnpackedFile>,
}

/// Copies exactly `size` bytes from `reader` to `out`, hashing them; a short or long
/// source is an error (an archive whose header lies about a size is corrupt).
pub(crate) fn copy_exact(
    reader: &mut dyn Read,
    out: &mut impl Write,
    size: u64,
    path: &str,
) -> Result<String, ArtifactError> {
    let mut hasher = Sha256::new();
    let mut limited = reader.take(size + 1);
    let mut buffer = [0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        let n = match limited.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(ArtifactError::Corrupt(format!("reading `{path}`: {error}")));
            }
        };
        written += n as u64;
        if written > size {
            return Err(ArtifactError::Corrupt(format!(
                "`{path}` holds more bytes than its header declares ({size})"
            )));
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])?;
    }
    if written != size {
        return Err(ArtifactError::Corrupt(format!(
            "`{path}` ends after {written} of its {size} declared bytes"
        )));
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Creates `path` (which must not exist) with `0o755` or `0o644` by the archive's `x` bits.
pub(crate) fn create_file(path: &std::path::Path, executable: bool) -> io::Result<fs_err::File> {
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    options.open(path)
}
