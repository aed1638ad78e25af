//! Writing files so that a crash or a concurrent reader never sees half of one.

use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes` atomically: the bytes go to a temporary file in
/// the same directory, are synced, and the temporary file is renamed over
/// `path`, so readers see the old file or the new one, never a part of either.
/// A file that already exists keeps its permission bits; a new one gets
/// `new_file_mode` (the temporary file is 0600 until then, so secrets never
/// show with wider permissions).
pub fn write_atomic(path: &Path, bytes: &[u8], new_file_mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let permissions = match std::fs::metadata(path) {
            Ok(existing) => existing.permissions(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                std::fs::Permissions::from_mode(new_file_mode)
            }
            Err(error) => return Err(error),
        };
        file.as_file().set_permissions(permissions)?;
    }
    #[cfg(not(unix))]
    let _ = new_file_mode;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn new_files_get_the_mode_and_replaced_files_keep_theirs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

        write_atomic(&path, b"one", 0o640).unwrap();
        assert_eq!(mode(&path), 0o640);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, b"two", 0o644).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
