//! Installed-tree integrity: make a tree read-only, describe it by a manifest with one
//! deterministic digest (paths, kinds, permission bits, contents, symlink targets), and check
//! the tree against that manifest before every launch, naming the first path that differs.
//!
//! Only directories, regular files and symlinks whose target stays inside the tree are allowed;
//! anything else (an escaping or absolute symlink, a FIFO, a device, a non-UTF-8 name) is an error.
//! Read-only is a tripwire against accidents and casual tampering by the same user, not a
//! security boundary: the digest check is what catches a change.
//!
//! An installer builds the manifest it expects with [`TreeManifest::from_entries`] from what
//! it wrote (the digests of the verified archive bytes as they were unpacked), not by reading
//! the disk afterwards; [`make_read_only`] gives every path the exact mode such a manifest
//! names ([`Entry::dir`], [`Entry::file`]).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("reading `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Stable code `tree-symlink-escapes`.
    #[error(
        "symlink `{path}` points to `{target}`, outside the installed tree [tree-symlink-escapes]"
    )]
    SymlinkEscapes { path: String, target: String },
    /// Stable code `tree-unsupported-file`.
    #[error("`{path}` is not a regular file, directory or symlink [tree-unsupported-file]")]
    Unsupported { path: String },
    /// Stable code `tree-bad-name`.
    #[error("`{path}` has a name that is not valid UTF-8 [tree-bad-name]")]
    BadName { path: PathBuf },
    /// Stable code `tree-changed`: the installed tree no longer matches what was recorded.
    #[error("installed tree changed at `{path}`: {what} [tree-changed]")]
    Changed { path: String, what: String },
}

/// What one path in the tree is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Entry {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        size: u64,
        sha256: String,
    },
    Symlink {
        target: String,
    },
}

/// Every path of a tree (relative, `/`-separated, sorted) and a digest over all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeManifest {
    /// `sha256:<hex>` over the canonical listing; equal trees have equal digests.
    pub digest: String,
    pub entries: Vec<(String, Entry)>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TreeError + '_ {
    move |source| TreeError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

impl Entry {
    /// A directory as [`make_read_only`] leaves it.
    pub fn dir() -> Entry {
        Entry::Dir {
            mode: READ_ONLY_DIR,
        }
    }

    /// A file as [`make_read_only`] leaves it.
    pub fn file(size: u64, sha256: String, executable: bool) -> Entry {
        Entry::File {
            mode: if executable {
                READ_ONLY_EXECUTABLE
            } else {
                READ_ONLY_FILE
            },
            size,
            sha256,
        }
    }
}

const READ_ONLY_DIR: u32 = 0o555;
const READ_ONLY_FILE: u32 = 0o444;
const READ_ONLY_EXECUTABLE: u32 = 0o555;

/// The order [`TreeManifest::compute`] walks in: component by component, a directory before
/// what it holds.
fn path_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

impl TreeManifest {
    /// Walks `root` without following symlinks.
    pub fn compute(root: &Path) -> Result<TreeManifest, TreeError> {
        let mut entries = Vec::new();
        walk(root, root, &mut entries)?;
        hash_files(root, &mut entries)?;
        Ok(TreeManifest::digest_of(entries))
    }

    /// The manifest of a tree holding exactly `entries` (relative `/`-separated paths), with
    /// every missing parent directory added as [`Entry::dir`].
    pub fn from_entries(entries: impl IntoIterator<Item = (String, Entry)>) -> TreeManifest {
        let mut all: std::collections::BTreeMap<String, Entry> = Default::default();
        for (path, entry) in entries {
            let mut parent = path.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                all.entry(up.to_owned()).or_insert_with(Entry::dir);
                parent = up;
            }
            all.insert(path, entry);
        }
        let mut entries: Vec<(String, Entry)> = all.into_iter().collect();
        entries.sort_by(|a, b| path_order(&a.0, &b.0));
        TreeManifest::digest_of(entries)
    }

    fn digest_of(entries: Vec<(String, Entry)>) -> TreeManifest {
        let mut hasher = Sha256::new();
        for (path, entry) in &entries {
            // NUL never occurs in paths or hex, so the fields cannot run into each other.
            let line = match entry {
                Entry::Dir { mode } => format!("d\0{path}\0{mode:o}\n"),
                Entry::File { mode, size, sha256 } => {
                    format!("f\0{path}\0{mode:o}\0{size}\0{sha256}\n")
                }
                Entry::Symlink { target } => format!("l\0{path}\0{target}\n"),
            };
            hasher.update(line.as_bytes());
        }
        TreeManifest {
            digest: format!("sha256:{}", hex::encode(hasher.finalize())),
            entries,
        }
    }

    /// Recomputes the tree at `root` and fails, naming the first differing path, unless it
    /// matches this manifest exactly.
    pub fn verify(&self, root: &Path) -> Result<(), TreeError> {
        let now = TreeManifest::compute(root)?;
        if now.digest == self.digest && now.entries == self.entries {
            return Ok(());
        }
        let mut expected = self.entries.iter().peekable();
        let mut actual = now.entries.iter().peekable();
        loop {
            match (expected.peek(), actual.peek()) {
                (Some((ep, ee)), Some((ap, ae))) if ep == ap => {
                    if ee != ae {
                        return Err(TreeError::Changed {
                            path: ep.clone(),
                            what: describe_change(ee, ae),
                        });
                    }
                    expected.next();
                    actual.next();
                }
                (Some((ep, _)), Some((ap, _))) if path_order(ep, ap).is_lt() => {
                    return Err(TreeError::Changed {
                        path: ep.clone(),
                        what: "removed".into(),
                    });
                }
                (_, Some((ap, _))) => {
                    return Err(TreeError::Changed {
                        path: ap.clone(),
                        what: "added".into(),
                    });
                }
                (Some((ep, _)), None) => {
                    return Err(TreeError::Changed {
                        path: ep.clone(),
                        what: "removed".into(),
                    });
                }
                (None, None) => {
                    // Same entries but a different recorded digest: the manifest itself was edited.
                    return Err(TreeError::Changed {
                        path: ".".into(),
                        what: format!(
                            "manifest digest {} does not match its entries ({})",
                            self.digest, now.digest
                        ),
                    });
                }
            }
        }
    }
}

fn describe_change(expected: &Entry, actual: &Entry) -> String {
    match (expected, actual) {
        (Entry::File { sha256: a, .. }, Entry::File { sha256: b, .. }) if a != b => {
            format!("contents changed (sha256 {a} → {b})")
        }
        (
            Entry::File { mode: a, .. } | Entry::Dir { mode: a },
            Entry::File { mode: b, .. } | Entry::Dir { mode: b },
        ) if std::mem::discriminant(expected) == std::mem::discriminant(actual) => {
            format!("mode changed ({a:o} → {b:o})")
        }
        (Entry::Symlink { target: a }, Entry::Symlink { target: b }) => {
            format!("symlink retargeted ({a} → {b})")
        }
        _ => "kind changed".into(),
    }
}

fn relative_name(root: &Path, path: &Path) -> Result<String, TreeError> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let mut parts = Vec::new();
    for component in relative.components() {
        match component.as_os_str().to_str() {
            Some(part) => parts.push(part),
            None => {
                return Err(TreeError::BadName {
                    path: path.to_owned(),
                });
            }
        }
    }
    Ok(parts.join("/"))
}

fn walk(root: &Path, dir: &Path, entries: &mut Vec<(String, Entry)>) -> Result<(), TreeError> {
    // The directory entry's type comes from readdir (no stat); files are stat'ed through their
    // open descriptor while they are hashed, which is most of the work on a warm launch.
    let mut children: Vec<(PathBuf, std::fs::FileType)> = fs_err::read_dir(dir)
        .map_err(io_error(dir))?
        .map(|entry| entry.and_then(|e| Ok((e.path(), e.file_type()?))))
        .collect::<Result<_, _>>()
        .map_err(io_error(dir))?;
    children.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
    for (path, kind) in children {
        let name = relative_name(root, &path)?;
        if kind.is_symlink() {
            let target = fs_err::read_link(&path).map_err(io_error(&path))?;
            let target_text = target
                .to_str()
                .ok_or_else(|| TreeError::BadName { path: path.clone() })?
                .to_owned();
            if !stays_inside(&name, &target) {
                return Err(TreeError::SymlinkEscapes {
                    path: name,
                    target: target_text,
                });
            }
            entries.push((
                name,
                Entry::Symlink {
                    target: target_text,
                },
            ));
        } else if kind.is_dir() {
            let meta = fs_err::symlink_metadata(&path).map_err(io_error(&path))?;
            if !meta.is_dir() {
                return Err(TreeError::Changed {
                    path: name,
                    what: "replaced while being read".into(),
                });
            }
            entries.push((
                name,
                Entry::Dir {
                    mode: mode_of(&meta),
                },
            ));
            walk(root, &path, entries)?;
        } else if kind.is_file() {
            // Hashed afterwards, in parallel (see `hash_files`).
            entries.push((
                name,
                Entry::File {
                    mode: 0,
                    size: 0,
                    sha256: String::new(),
                },
            ));
        } else {
            return Err(TreeError::Unsupported { path: name });
        }
    }
    Ok(())
}

/// Fills in size and sha256 of every file entry, on all cores: the re-check runs before
/// every launch, so it is on the warm path.
fn hash_files(root: &Path, entries: &mut [(String, Entry)]) -> Result<(), TreeError> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let files: Vec<(usize, &str)> = entries
        .iter()
        .enumerate()
        .filter(|(_, (_, entry))| matches!(entry, Entry::File { .. }))
        .map(|(index, (name, _))| (index, name.as_str()))
        .collect();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(files.len()));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(index, name)) = files.get(i) else {
                        break;
                    };
                    done.push((index, hash_file(&root.join(name), name, &mut buffer)));
                }
                results
                    .lock()
                    .expect("no thread panics holding it")
                    .extend(done);
            });
        }
    });
    for (index, result) in results.into_inner().expect("no thread panicked") {
        let (mode, size, sha256) = result?;
        if let Entry::File {
            mode: m,
            size: s,
            sha256: h,
        } = &mut entries[index].1
        {
            *m = mode;
            *s = size;
            *h = sha256;
        }
    }
    Ok(())
}

fn hash_file(path: &Path, name: &str, buffer: &mut [u8]) -> Result<FileFacts, TreeError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A file swapped for a symlink after readdir is not followed.
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let mut file = options.open(path).map_err(io_error(path))?;
    let meta = file.metadata().map_err(io_error(path))?;
    if !meta.is_file() {
        return Err(TreeError::Unsupported {
            path: name.to_owned(),
        });
    }
    let mode = mode_of(&meta);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = file.read(buffer).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((mode, size, hex::encode(hasher.finalize())))
}

/// Mode, size and sha256 hex of one file.
type FileFacts = (u32, u64, String);

/// True when a relative symlink at `link` (tree-relative) resolves lexically inside the tree.
fn stays_inside(link: &str, target: &Path) -> bool {
    let mut depth: usize = link.matches('/').count();
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Gives every directory under `root` (and `root` itself) mode `0o555` and every file `0o444`,
/// or `0o555` when any `x` bit was set: the modes [`Entry::dir`] and [`Entry::file`] name,
/// whatever the umask was. Symlinks are not followed. Directories are done last so their files
/// can still be reached.
pub fn make_read_only(root: &Path) -> Result<(), TreeError> {
    fn visit(path: &Path) -> Result<(), TreeError> {
        let meta = fs_err::symlink_metadata(path).map_err(io_error(path))?;
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        if meta.is_dir() {
            for entry in fs_err::read_dir(path).map_err(io_error(path))? {
                visit(&entry.map_err(io_error(path))?.path())?;
            }
        }
        let mut permissions = meta.permissions();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            permissions.set_mode(if meta.is_dir() || permissions.mode() & 0o111 != 0 {
                READ_ONLY_DIR
            } else {
                READ_ONLY_FILE
            });
        }
        #[cfg(not(unix))]
        permissions.set_readonly(true);
        fs_err::set_permissions(path, permissions).map_err(io_error(path))
    }
    visit(root)
}

/// Removes a tree [`make_read_only`] left, giving its directories write permission first.
pub fn remove_read_only(root: &Path) -> Result<(), TreeError> {
    fn visit(path: &Path) -> Result<(), TreeError> {
        let meta = fs_err::symlink_metadata(path).map_err(io_error(path))?;
        if meta.is_dir() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                    .map_err(io_error(path))?;
            }
            for entry in fs_err::read_dir(path).map_err(io_error(path))? {
                visit(&entry.map_err(io_error(path))?.path())?;
            }
        }
        Ok(())
    }
    visit(root)?;
    fs_err::remove_dir_all(root).map_err(io_error(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn sample() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs_err::create_dir_all(root.join("pkg/bin")).unwrap();
        fs_err::write(root.join("pkg/index.js"), "console.log(1)\n").unwrap();
        fs_err::write(root.join("pkg/bin/cli.js"), "#!/usr/bin/env node\n").unwrap();
        std::os::unix::fs::symlink("../pkg/bin/cli.js", root.join("pkg/link.js")).unwrap();
        dir
    }

    /// Writable again so the temp dir can be removed and files edited.
    #[cfg(unix)]
    fn make_writable(root: &Path) {
        use std::os::unix::fs::PermissionsExt;
        for path in [
            root.to_owned(),
            root.join("pkg"),
            root.join("pkg/bin"),
            root.join("pkg/index.js"),
        ] {
            let mode = fs_err::metadata(&path).unwrap().permissions().mode();
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o200)).unwrap();
        }
    }

    #[cfg(unix)]
    #[test]
    fn read_only_tree_verifies_and_names_a_changed_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = sample();
        let root = dir.path();
        make_read_only(root).unwrap();
        let mode = fs_err::metadata(root.join("pkg/index.js"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0);
        let manifest = TreeManifest::compute(root).unwrap();
        assert_eq!(
            manifest,
            TreeManifest::compute(root).unwrap(),
            "deterministic"
        );
        manifest.verify(root).unwrap();
        let names: Vec<_> = manifest.entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "pkg",
                "pkg/bin",
                "pkg/bin/cli.js",
                "pkg/index.js",
                "pkg/link.js"
            ]
        );

        make_writable(root);
        // Restoring the mode alone is already a change.
        let error = manifest.verify(root).unwrap_err();
        assert!(
            matches!(&error, TreeError::Changed { path, what } if path == "." || what.starts_with("mode")),
            "{error}"
        );

        fs_err::write(root.join("pkg/index.js"), "console.log(2)\n").unwrap();
        let mode = fs_err::metadata(root.join("pkg/index.js"))
            .unwrap()
            .permissions()
            .mode();
        fs_err::set_permissions(
            root.join("pkg/index.js"),
            std::fs::Permissions::from_mode(mode & !0o222),
        )
        .unwrap();
        fs_err::set_permissions(root.join("pkg"), std::fs::Permissions::from_mode(0o555)).unwrap();
        fs_err::set_permissions(root.join("pkg/bin"), std::fs::Permissions::from_mode(0o555))
            .unwrap();
        let error = manifest.verify(root).unwrap_err();
        match &error {
            TreeError::Changed { path, what } => {
                assert_eq!(path, "pkg/index.js");
                assert!(what.starts_with("contents changed"), "{what}");
            }
            other => panic!("{other}"),
        }
        make_writable(root);
        fs_err::write(root.join("pkg/extra.js"), "").unwrap();
        for dir in ["pkg", "pkg/bin"] {
            fs_err::set_permissions(root.join(dir), std::fs::Permissions::from_mode(0o555))
                .unwrap();
        }
        let error = manifest.verify(root).unwrap_err();
        assert!(
            matches!(&error, TreeError::Changed { path, what } if path == "pkg/extra.js" && what == "added"),
            "{error}"
        );
        make_writable(root);
    }

    #[cfg(unix)]
    #[test]
    fn escaping_symlinks_are_rejected() {
        let dir = sample();
        std::os::unix::fs::symlink("../../../etc/passwd", dir.path().join("pkg/bin/escape"))
            .unwrap();
        let error = TreeManifest::compute(dir.path()).unwrap_err();
        assert!(
            matches!(&error, TreeError::SymlinkEscapes { path, .. } if path == "pkg/bin/escape"),
            "{error}"
        );
        let dir = sample();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("abs")).unwrap();
        assert!(matches!(
            TreeManifest::compute(dir.path()),
            Err(TreeError::SymlinkEscapes { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_manifest_built_from_entries_equals_the_walked_tree() {
        use sha2::Digest as _;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files: [(&str, &[u8], bool); 4] = [
            ("a.js", b"1", false),
            ("a/b", b"22", true),
            ("a/c/d.txt", b"", false),
            ("z", b"z", false),
        ];
        for (path, bytes, _) in files {
            fs_err::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs_err::write(root.join(path), bytes).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(root.join("a/b"), std::fs::Permissions::from_mode(0o700)).unwrap();
        make_read_only(root).unwrap();
        let expected = TreeManifest::from_entries(files.iter().map(|(path, bytes, exec)| {
            (
                (*path).to_owned(),
                Entry::file(
                    bytes.len() as u64,
                    hex::encode(sha2::Sha256::digest(bytes)),
                    *exec,
                ),
            )
        }));
        assert_eq!(TreeManifest::compute(root).unwrap(), expected);
        expected.verify(root).unwrap();
        remove_read_only(root).unwrap();
        assert!(!root.exists());
    }

    #[test]
    fn stays_inside_is_lexical() {
        assert!(stays_inside("pkg/bin/x", Path::new("../../etc/passwd")));
        assert!(!stays_inside("pkg/bin/x", Path::new("../../../etc/passwd")));
        assert!(stays_inside("a/b", Path::new("c")));
        assert!(stays_inside("a/b", Path::new("../c")));
        assert!(!stays_inside("a/b", Path::new("../../c")));
        assert!(!stays_inside("a", Path::new("./../x")));
        assert!(stays_inside("a/b/c", Path::new("../x/../../y")));
    }
}
