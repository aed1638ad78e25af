//! The install record is a cache, authenticated: it names the tree a verified package and
//! interpreter produce, so a warm launch need not unpack again, and a per-store secret makes it
//! useless to forge.
//!
//! The secret (32 random bytes, `<store>/keys/install.key`, mode `0600`, in a `0700`
//! directory) keys an HMAC-SHA256 over every record, and the install key itself (the tree's
//! directory name) is an HMAC over the artifact digest, the lock digest and the interpreter's
//! path and digest. Without the secret nobody can name the directory a launch will use before
//! it exists (a tree planted in advance is never found), nor write a record that authenticates
//! (an edited record, or a tree edited together with a recomputed record, is discarded).

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use mcpin_registry_client::store::{self, Owner, UnsafePath};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::interpreter::Interpreter;
use crate::tree::TreeManifest;

const KEY_LEN: usize = 32;
const HEADER: &str = "mcpin-install-record-v1";

/// The store's install secret.
pub struct StoreSecret([u8; KEY_LEN]);

impl std::fmt::Debug for StoreSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreSecret(..)")
    }
}

/// Why the secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Unsafe(#[from] UnsafePath),
    #[error("install secret `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("install secret `{path}` is not {KEY_LEN} bytes; remove it (installs are rebuilt)")]
    Malformed { path: PathBuf },
}

/// `<store>/keys/install.key`.
pub fn secret_path(store: &Path) -> PathBuf {
    store.join("keys").join("install.key")
}

impl StoreSecret {
    /// Reads the secret, creating it (atomically, once, even with concurrent launches) if the
    /// store has none. It must be a regular file that only `owner` can read.
    pub fn open_or_create(store: &Path, owner: &Owner) -> Result<StoreSecret, SecretError> {
        let path = secret_path(store);
        let dir = path.parent().expect("the secret has a parent");
        let io = |source| SecretError::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            store::create_private_dir_all(dir).map_err(io)?;
            // The system store's secret is read by every user and written by root alone: its
            // records are protected by ownership, the secret only derives install keys.
            let (dir_mode, file_mode) = if owner.system {
                (0o755, 0o644)
            } else {
                (0o700, 0o600)
            };
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs_err::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode))
                    .map_err(io)?;
            }
            let mut key = [0u8; KEY_LEN];
            rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut key)
                .map_err(|e| io(std::io::Error::other(e.to_string())))?;
            // persist_noclobber: the first writer wins, the others read it.
            let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(file_mode))
                    .map_err(io)?;
            }
            tmp.write_all(&key).map_err(io)?;
            tmp.as_file().sync_all().map_err(io)?;
            match tmp.persist_noclobber(&path) {
                Ok(_) => {}
                Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(io(error.error)),
            }
        }
        store::check_not_shared(dir, owner)?;
        store::check_private_file(&path, owner)?;
        let bytes = fs_err::read(&path).map_err(io)?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| SecretError::Malformed { path: path.clone() })?;
        Ok(StoreSecret(key))
    }

    fn mac(&self, domain: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(b"\0");
        mac
    }

    /// The directory name of the install of `artifact_sha256` + `lock_digest` for
    /// `interpreter`: 64 hex characters nobody without the secret can predict.
    pub fn install_key(
        &self,
        artifact_sha256: &str,
        lock_digest: &str,
        interpreter: &Interpreter,
    ) -> String {
        let mut mac = self.mac("mcpin install key v1");
        for field in [
            artifact_sha256.as_bytes(),
            lock_digest.as_bytes(),
            interpreter.path.as_os_str().as_encoded_bytes(),
            interpreter.sha256.as_bytes(),
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The record's bytes on disk: a header line with the MAC, then the JSON.
    pub fn seal(&self, record: &InstallRecord) -> Vec<u8> {
        let json = serde_json::to_vec(record).expect("an install record serializes");
        let mut mac = self.mac(HEADER);
        mac.update(&json);
        let mut bytes =
            format!("{HEADER} {}\n", hex::encode(mac.finalize().into_bytes())).into_bytes();
        bytes.extend_from_slice(&json);
        bytes
    }

    /// The record in `bytes` if its MAC verifies, else why not.
    pub fn open(&self, bytes: &[u8]) -> Result<InstallRecord, String> {
        let newline = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("no header line")?;
        let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "header is not UTF-8")?;
        let tag = header
            .strip_prefix(HEADER)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or("not an mcpin install record v1")?;
        let tag = hex::decode(tag).map_err(|_| "the MAC is not hex")?;
        let json = &bytes[newline + 1..];
        let mut mac = self.mac(HEADER);
        mac.update(json);
        mac.verify_slice(&tag).map_err(
            |_| "its MAC does not verify (edited, or written with another store's secret)",
        )?;
        serde_json::from_slice(json).map_err(|e| format!("authenticated but unreadable: {e}"))
    }
}

/// What a tree must look like, and for what it was installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRecord {
    /// The install key this record was written for (its file name, checked again).
    pub key: String,
    pub artifact_sha256: String,
    /// `sha256:` of the canonical lock, or `none`.
    pub lock_digest: String,
    pub interpreter_path: PathBuf,
    pub interpreter_sha256: String,
    /// Computed from the verified archive bytes as they were unpacked (plus the files mcpin
    /// wrote itself: console scripts and compiled bytecode).
    pub tree: TreeManifest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpreter::{Origin, Tool};

    fn interpreter() -> Interpreter {
        Interpreter {
            tool: Tool::Node,
            path: "/usr/bin/node".into(),
            sha256: "a".repeat(64),
            origin: Origin::Path,
            python: None,
        }
    }

    #[cfg(unix)]
    #[test]
    fn keys_and_records_depend_on_the_secret_and_every_field() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let owner = Owner::current();
        let secret = StoreSecret::open_or_create(dir.path(), &owner).unwrap();
        let again = StoreSecret::open_or_create(dir.path(), &owner).unwrap();
        assert_eq!(secret.0, again.0, "created once, then read");
        let mode = fs_err::metadata(secret_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let other = StoreSecret([7; KEY_LEN]);
        let key = secret.install_key("s", "l", &interpreter());
        assert_eq!(key.len(), 64);
        assert_ne!(key, other.install_key("s", "l", &interpreter()));
        let mut python = interpreter();
        python.sha256 = "b".repeat(64);
        assert_ne!(key, secret.install_key("s", "l", &python));
        assert_ne!(key, secret.install_key("s", "m", &interpreter()));

        let record = InstallRecord {
            key: key.clone(),
            artifact_sha256: "s".into(),
            lock_digest: "l".into(),
            interpreter_path: "/usr/bin/node".into(),
            interpreter_sha256: "a".repeat(64),
            tree: TreeManifest::from_entries([]),
        };
        let sealed = secret.seal(&record);
        assert_eq!(secret.open(&sealed).unwrap(), record);
        assert!(other.open(&sealed).is_err());
        let edited = String::from_utf8(sealed)
            .unwrap()
            .replace("/usr/bin/node", "/tmp/evil/node");
        assert!(secret.open(edited.as_bytes()).is_err());

        // A secret others can read is refused.
        fs_err::set_permissions(
            secret_path(dir.path()),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let error = StoreSecret::open_or_create(dir.path(), &owner).unwrap_err();
        assert!(matches!(error, SecretError::Unsafe(_)), "{error}");
    }
}
