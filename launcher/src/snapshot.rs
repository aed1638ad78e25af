//! What identifies a file's state without reading it, for one file (an interpreter's digest
//! cache) or every path of an installed tree (the warm launch check).
//!
//! A [`FileState`] is the device, inode, size, mode, owner, mtime and ctime of a path, not
//! following symlinks. Any write, truncate, chmod, chown, link, rename or replacement by a
//! process without root changes the ctime of the inode it touches (or gives the path another
//! inode), and a directory's mtime and ctime change whenever an entry is added, removed or
//! renamed in it. ctime cannot be set back without root: `utimensat` sets only atime and
//! mtime, and setting the clock needs `CAP_SYS_TIME`. So an equal state means unchanged bytes,
//! as far as any non-root process is concerned.
//!
//! One caveat: timestamps come from a coarse clock (a kernel tick), so a second change within
//! the tick of the first could leave them equal. A state with an mtime or ctime in the last
//! two seconds ([`FileState::is_recent`]) is therefore never recorded.

use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags};
use serde::{Deserialize, Serialize};

use crate::tree::{Entry, TreeManifest};

/// The state of one path (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileState {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    uid: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// Bytes one [`FileState`] takes in a sealed tree snapshot.
const ENCODED: usize = 8 * 3 + 4 * 2 + 8 * 4;

impl FileState {
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileState {
        use std::os::unix::fs::MetadataExt;
        FileState {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            uid: meta.uid(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    fn of_stat(stat: &rustix::fs::Stat) -> FileState {
        FileState {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
            size: stat.st_size as u64,
            mode: stat.st_mode as u32,
            uid: stat.st_uid,
            mtime: (stat.st_mtime as i64, stat.st_mtime_nsec as i64),
            ctime: (stat.st_ctime as i64, stat.st_ctime_nsec as i64),
        }
    }

    /// Changed within the last two seconds (or in the future), to the nanosecond: whole
    /// seconds would stretch the window to almost three.
    pub(crate) fn is_recent(&self) -> bool {
        let nanos =
            |(secs, nanos): (i64, i64)| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        // A clock before 1970 makes everything recent: nothing is recorded.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        nanos(self.mtime).max(nanos(self.ctime)) >= now - 2_000_000_000
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for value in [self.dev, self.ino, self.size] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        for value in [self.mode, self.uid] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        for value in [self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1] {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }

    fn decode(bytes: &[u8; ENCODED]) -> FileState {
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
        let i64_at = |at: usize| u64_at(at) as i64;
        FileState {
            dev: u64_at(0),
            ino: u64_at(8),
            size: u64_at(16),
            mode: u32_at(24),
            uid: u32_at(28),
            mtime: (i64_at(32), i64_at(40)),
            ctime: (i64_at(48), i64_at(56)),
        }
    }
}

/// The state of an installed tree: its root directory, then every entry of its manifest, in
/// the manifest's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeSnapshot(Vec<FileState>);

impl TreeSnapshot {
    /// Takes the state of `root` and of every path `manifest` lists (`lstat`, each relative to
    /// its parent directory's descriptor, so each call resolves one name). A path that is
    /// missing, or a directory that is not one any more, is an error: the tree differs.
    pub(crate) fn take(root: &Path, manifest: &TreeManifest) -> std::io::Result<TreeSnapshot> {
        let open_dir = |at: &OwnedFd, name: &str| {
            rustix::fs::openat(
                at,
                name,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
        };
        let root_fd = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut states = Vec::with_capacity(manifest.entries.len() + 1);
        states.push(FileState::of_stat(&rustix::fs::fstat(&root_fd)?));
        // The open directories from the root down to the last directory entry: the manifest
        // lists a directory before what it holds.
        let mut open: Vec<(String, OwnedFd)> = vec![(String::new(), root_fd)];
        for (path, entry) in &manifest.entries {
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            while open.last().is_some_and(|(dir, _)| dir != parent) {
                open.pop();
            }
            let Some((_, parent_fd)) = open.last() else {
                return Err(std::io::Error::other(format!(
                    "`{path}` comes before its directory"
                )));
            };
            let stat = rustix::fs::statat(parent_fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            states.push(FileState::of_stat(&stat));
            if matches!(entry, Entry::Dir { .. }) {
                let fd = open_dir(parent_fd, name)?;
                open.push((path.clone(), fd));
            }
        }
        Ok(TreeSnapshot(states))
    }

    /// Whether any path changed within the last two seconds (then it is not recorded).
    pub(crate) fn is_recent(&self) -> bool {
        self.0.iter().any(FileState::is_recent)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.0.len() * ENCODED);
        for state in &self.0 {
            state.encode(&mut bytes);
        }
        bytes
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<TreeSnapshot> {
        if !bytes.len().is_multiple_of(ENCODED) {
            return None;
        }
        Some(TreeSnapshot(
            bytes
                .chunks_exact(ENCODED)
                .map(|chunk| FileState::decode(chunk.try_into().expect("exact chunks")))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_means_the_last_two_seconds_to_the_nanosecond() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let at = |ago_ms: i64| {
            let t = now.as_nanos() as i64 - ago_ms * 1_000_000;
            let time = (t.div_euclid(1_000_000_000), t.rem_euclid(1_000_000_000));
            FileState {
                dev: 0,
                ino: 0,
                size: 0,
                mode: 0,
                uid: 0,
                mtime: time,
                ctime: time,
            }
        };
        assert!(at(1_500).is_recent());
        assert!(at(-5_000).is_recent(), "in the future");
        // 2.5 s ago is not recent, whatever the fraction of the second (whole seconds made
        // this recent about half the time).
        assert!(!at(2_500).is_recent());
        assert!(!at(60_000).is_recent());
    }

    #[test]
    fn states_round_trip_and_follow_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs_err::create_dir_all(root.join("a/b")).unwrap();
        fs_err::write(root.join("a/b/c.js"), "1").unwrap();
        fs_err::write(root.join("a/d.js"), "22").unwrap();
        fs_err::write(root.join("z"), "").unwrap();
        std::os::unix::fs::symlink("a/d.js", root.join("link")).unwrap();
        let manifest = TreeManifest::compute(root).unwrap();
        let snapshot = TreeSnapshot::take(root, &manifest).unwrap();
        assert_eq!(snapshot.0.len(), manifest.entries.len() + 1);
        let by_path = |path: &str| FileState::of(&fs_err::symlink_metadata(path).unwrap());
        assert_eq!(snapshot.0[0], by_path(root.to_str().unwrap()));
        for ((path, _), state) in manifest.entries.iter().zip(&snapshot.0[1..]) {
            assert_eq!(*state, by_path(root.join(path).to_str().unwrap()), "{path}");
        }
        assert_eq!(TreeSnapshot::decode(&snapshot.encode()).unwrap(), snapshot);
        assert!(snapshot.is_recent());
        assert!(TreeSnapshot::decode(&[0; ENCODED + 1]).is_none());
        fs_err::remove_file(root.join("z")).unwrap();
        assert!(
            TreeSnapshot::take(root, &manifest).is_err(),
            "a path is gone"
        );
    }
}
