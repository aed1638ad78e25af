//! What wrap remembers so unwrap can undo it: one record per config, in mcpin's state directory
//! (`<state>/wrap/<sha256 of the config's canonical path>.json`, mode 0600 in a 0700 folder),
//! never beside the config, where a client could read it as a config of its own (Continue loads
//! every `*.json` under `.continue/mcpServers/`). A record holds the config's original bytes
//! (configs may hold secrets, hence the modes), the hash of what wrap wrote, and each wrapped
//! entry's original and wrapped argv.

use std::path::{Path, PathBuf};

use fs4::FileExt;
use serde::{Deserialize, Serialize};

use super::{Client, Format, WrapError, sha256_hex};

const VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WrapRecord {
    pub version: u32,
    /// The config's canonical path (symlinks resolved): the key.
    pub path: PathBuf,
    /// The path the config was found at (a symlink, perhaps), for reports.
    pub location: PathBuf,
    pub client: Client,
    pub format: Format,
    /// The bytes before the first wrap; `None` when the file already held wrapped entries
    /// mcpin had no record of (then unwrap restores entry by entry).
    pub original: Option<String>,
    pub original_sha256: Option<String>,
    /// sha256 of the file as wrap last wrote it; `None` once it was edited in between.
    pub wrapped_sha256: Option<String>,
    pub entries: Vec<RecordedEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordedEntry {
    pub name: String,
    pub original_argv: Vec<String>,
    pub wrapped_argv: Vec<String>,
    /// The entry had an `args` key before wrap (wrap adds one when it had none).
    pub had_args: bool,
}

impl WrapRecord {
    pub(crate) fn new(path: PathBuf, location: PathBuf, client: Client, format: Format) -> Self {
        WrapRecord {
            version: VERSION,
            path,
            location,
            client,
            format,
            original: None,
            original_sha256: None,
            wrapped_sha256: None,
            entries: Vec::new(),
        }
    }
}

/// The folder of wrap records.
#[derive(Debug, Clone)]
pub struct RecordStore {
    dir: PathBuf,
}

/// Held while a wrap or unwrap plans and writes: runs on one machine do not interleave.
pub struct RecordLock {
    _file: fs_err::File,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WrapError + '_ {
    move |source| WrapError::Io {
        path: path.to_owned(),
        source,
    }
}

fn path_bytes(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().into_owned().into_bytes()
    }
}

impl RecordStore {
    /// Records under `<state_dir>/wrap`.
    pub fn new(state_dir: &Path) -> RecordStore {
        RecordStore {
            dir: state_dir.join("wrap"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_for(&self, canonical: &Path) -> PathBuf {
        self.dir
            .join(format!("{}.json", sha256_hex(&path_bytes(canonical))))
    }

    fn ensure_dir(&self) -> Result<(), WrapError> {
        fs_err::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io(&self.dir))?;
        }
        Ok(())
    }

    pub fn lock(&self) -> Result<RecordLock, WrapError> {
        self.ensure_dir()?;
        let path = self.dir.join(".lock");
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        FileExt::lock(file.file()).map_err(io(&path))?;
        Ok(RecordLock { _file: file })
    }

    fn read(&self, file: &Path) -> Result<WrapRecord, WrapError> {
        let bytes = fs_err::read(file).map_err(io(file))?;
        let record: WrapRecord =
            serde_json::from_slice(&bytes).map_err(|error| WrapError::Record {
                path: file.to_owned(),
                message: error.to_string(),
            })?;
        if record.version != VERSION {
            return Err(WrapError::Record {
                path: file.to_owned(),
                message: format!("version {} (this mcpin reads {VERSION})", record.version),
            });
        }
        Ok(record)
    }

    /// The record of the config at `canonical`, if there is one.
    pub(crate) fn load(&self, canonical: &Path) -> Result<Option<WrapRecord>, WrapError> {
        let file = self.file_for(canonical);
        if !file.is_file() {
            return Ok(None);
        }
        let record = self.read(&file)?;
        if record.path != canonical {
            return Err(WrapError::Record {
                path: file,
                message: format!("it records `{}`", record.path.display()),
            });
        }
        Ok(Some(record))
    }

    /// Every record, sorted by path.
    pub(crate) fn list(&self) -> Result<Vec<WrapRecord>, WrapError> {
        let entries = match fs_err::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(WrapError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut records = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(&self.dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                records.push(self.read(&path)?);
            }
        }
        records.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(records)
    }

    pub(crate) fn save(&self, record: &WrapRecord) -> Result<(), WrapError> {
        self.ensure_dir()?;
        let file = self.file_for(&record.path);
        let bytes = serde_json::to_vec_pretty(record).map_err(|error| WrapError::Record {
            path: file.clone(),
            message: error.to_string(),
        })?;
        mcpin_artifact::write_atomic(&file, &bytes, 0o600).map_err(io(&file))
    }

    pub(crate) fn remove(&self, canonical: &Path) -> Result<(), WrapError> {
        let file = self.file_for(canonical);
        match fs_err::remove_file(&file) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(WrapError::Io { path: file, source }),
        }
    }

    /// Puts back what was stored for `canonical` before a failed write: `previous`, or nothing.
    pub(crate) fn restore(
        &self,
        canonical: &Path,
        previous: Option<&WrapRecord>,
    ) -> Result<(), WrapError> {
        match previous {
            Some(record) => self.save(record),
            None => self.remove(canonical),
        }
    }
}
