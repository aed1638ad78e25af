//! ed25519 keys in PEM files: private keys as PKCS#8 (`PRIVATE KEY`, or
//! `ENCRYPTED PRIVATE KEY` with a passphrase), public keys as SPKI (`PUBLIC KEY`).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, PrivateKeyInfo,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use pkcs8::der::Decode;
use pkcs8::{EncryptedPrivateKeyInfo, ObjectIdentifier, SubjectPublicKeyInfoRef};
use sha2::{Digest, Sha256};

const ED25519_OID: ObjectIdentifier = ed25519_dalek::pkcs8::ALGORITHM_OID;

/// Why a key could not be read or written. Messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("`{0}` is not a PEM file")]
    NotPem(PathBuf),
    #[error("`{path}` holds a `{label}` PEM block; expected {expected}")]
    WrongPemLabel {
        path: PathBuf,
        label: String,
        expected: &'static str,
    },
    #[error(
        "`{path}` is not an ed25519 key (its algorithm is {algorithm}); mcpin keys are ed25519"
    )]
    WrongKeyType { path: PathBuf, algorithm: String },
    #[error("`{0}` is encrypted: give its passphrase (--passphrase-env VAR)")]
    PassphraseRequired(PathBuf),
    #[error("cannot decrypt `{0}`: wrong passphrase or unsupported encryption")]
    Decrypt(PathBuf),
    #[error("`{path}` is malformed: {why}")]
    Malformed { path: PathBuf, why: String },
    #[error("`{0}` already exists; refusing to overwrite a key")]
    Exists(PathBuf),
}

/// A key id: lowercase hex sha256 of the public key's SPKI DER encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    fn of(key: &VerifyingKey) -> Self {
        let der = key
            .to_public_key_der()
            .expect("an ed25519 public key always encodes");
        KeyId(hex::encode(Sha256::digest(der.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A private signing key. Deliberately not `Debug`: it is never printed.
pub struct SecretKey {
    key: SigningKey,
    id: KeyId,
}

/// A public verifying key with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: KeyId,
}

impl SecretKey {
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut rand_core::OsRng))
    }

    fn from_signing_key(key: SigningKey) -> Self {
        let id = KeyId::of(&key.verifying_key());
        SecretKey { key, id }
    }

    /// Reads a PKCS#8 PEM private key. An encrypted key needs `passphrase`.
    pub fn load(path: &Path, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let pem = fs_err::read_to_string(path)?;
        let (label, der) = decode_pem(path, &pem)?;
        let malformed = |why: String| KeyError::Malformed {
            path: path.to_owned(),
            why,
        };
        let plain_der = match label.as_str() {
            "PRIVATE KEY" => der,
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase =
                    passphrase.ok_or_else(|| KeyError::PassphraseRequired(path.to_owned()))?;
                let encrypted = EncryptedPrivateKeyInfo::from_der(&der)
                    .map_err(|error| malformed(error.to_string()))?;
                encrypted
                    .decrypt(passphrase)
                    .map_err(|_| KeyError::Decrypt(path.to_owned()))?
                    .as_bytes()
                    .to_vec()
            }
            _ => {
                return Err(KeyError::WrongPemLabel {
                    path: path.to_owned(),
                    label,
                    expected: "a PKCS#8 `PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`",
                });
            }
        };
        let info =
            PrivateKeyInfo::from_der(&plain_der).map_err(|error| malformed(error.to_string()))?;
        check_algorithm(path, info.algorithm.oid)?;
        let key =
            SigningKey::from_pkcs8_der(&plain_der).map_err(|error| malformed(error.to_string()))?;
        Ok(Self::from_signing_key(key))
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
            id: self.id.clone(),
        }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.key.sign(message).to_bytes()
    }

    /// Writes `PREFIX.key` (mode 0600, encrypted when `passphrase` is given) and
    /// `PREFIX.pub`. Refuses to overwrite either file.
    pub fn write_pair(&self, prefix: &Path, passphrase: Option<&str>) -> Result<(), KeyError> {
        let private_path = with_suffix(prefix, "key");
        let public_path = with_suffix(prefix, "pub");
        for path in [&private_path, &public_path] {
            if path.exists() {
                return Err(KeyError::Exists(path.clone()));
            }
        }
        let malformed = |why: String| KeyError::Malformed {
            path: private_path.clone(),
            why,
        };
        let private_pem = match passphrase {
            Some(passphrase) => self.encrypted_pem(passphrase),
            None => self.pkcs8_v1_der().and_then(|der| {
                der.to_pem("PRIVATE KEY", LineEnding::LF)
                    .map_err(Into::into)
            }),
        }
        .map_err(|error| malformed(error.to_string()))?;
        let public_pem = self
            .key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| malformed(error.to_string()))?;
        write_new(&private_path, private_pem.as_bytes(), 0o600)?;
        write_new(&public_path, public_pem.as_bytes(), 0o644)?;
        Ok(())
    }
}

impl SecretKey {
    /// PKCS#8 v1 (RFC 5208, private seed only), as `openssl genpkey` writes it.
    /// ed25519-dalek writes v2 (with the public key), which openssl 3.0 refuses.
    fn pkcs8_v1_der(&self) -> pkcs8::Result<pkcs8::SecretDocument> {
        ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_der()
    }

    /// PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC: what `openssl pkcs8 -topk8`
    /// writes, so openssl and other tools read our keys. (The pkcs8 crate's default,
    /// scrypt, exceeds openssl's default scrypt memory limit.)
    fn encrypted_pem(&self, passphrase: &str) -> pkcs8::Result<zeroize::Zeroizing<String>> {
        use rand_core::RngCore;
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        rand_core::OsRng.fill_bytes(&mut salt);
        rand_core::OsRng.fill_bytes(&mut iv);
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(
            PBKDF2_ITERATIONS,
            &salt,
            &iv,
        )?;
        let plain = self.pkcs8_v1_der()?;
        let encrypted =
            PrivateKeyInfo::try_from(plain.as_bytes())?.encrypt_with_params(params, passphrase)?;
        encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .map_err(Into::into)
    }
}

/// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
const PBKDF2_ITERATIONS: u32 = 600_000;

impl PublicKey {
    /// Reads an SPKI PEM public key.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = fs_err::read_to_string(path)?;
        let (label, der) = decode_pem(path, &pem)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::WrongPemLabel {
                path: path.to_owned(),
                label,
                expected: "an SPKI `PUBLIC KEY`",
            });
        }
        let malformed = |why: String| KeyError::Malformed {
            path: path.to_owned(),
            why,
        };
        let spki = SubjectPublicKeyInfoRef::from_der(&der)
            .map_err(|error| malformed(error.to_string()))?;
        check_algorithm(path, spki.algorithm.oid)?;
        let key = VerifyingKey::from_public_key_der(&der)
            .map_err(|error| malformed(error.to_string()))?;
        Ok(PublicKey {
            id: KeyId::of(&key),
            key,
        })
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(message, &signature).is_ok()
    }
}

fn decode_pem(path: &Path, pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    let (label, der) = pkcs8::der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|_| KeyError::NotPem(path.to_owned()))?;
    Ok((label.to_owned(), der))
}

fn check_algorithm(path: &Path, oid: ObjectIdentifier) -> Result<(), KeyError> {
    if oid == ED25519_OID {
        return Ok(());
    }
    let algorithm = match oid.to_string().as_str() {
        "1.2.840.10045.2.1" => "ECDSA (id-ecPublicKey)".to_owned(),
        "1.2.840.113549.1.1.1" => "RSA".to_owned(),
        "1.3.101.113" => "Ed448".to_owned(),
        other => format!("OID {other}"),
    };
    Err(KeyError::WrongKeyType {
        path: path.to_owned(),
        algorithm,
    })
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes a new file atomically, never replacing one. The temporary file is
/// created 0600, so a private key is never readable by others, not even briefly.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.as_file().sync_all()?;
    file.persist_noclobber(path).map_err(|error| {
        if error.error.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.to_owned())
        } else {
            KeyError::Io(error.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem_files_with_and_without_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let secret = SecretKey::generate();
        secret.write_pair(&dir.path().join("plain"), None).unwrap();
        secret
            .write_pair(&dir.path().join("locked"), Some("hunter2"))
            .unwrap();

        let plain = SecretKey::load(&dir.path().join("plain.key"), None).unwrap();
        assert_eq!(plain.id(), secret.id());
        let locked = SecretKey::load(&dir.path().join("locked.key"), Some("hunter2")).unwrap();
        assert_eq!(locked.id(), secret.id());
        let public = PublicKey::load(&dir.path().join("plain.pub")).unwrap();
        assert_eq!(public.id(), secret.id());

        assert!(matches!(
            SecretKey::load(&dir.path().join("locked.key"), None),
            Err(KeyError::PassphraseRequired(_))
        ));
        assert!(matches!(
            SecretKey::load(&dir.path().join("locked.key"), Some("wrong")),
            Err(KeyError::Decrypt(_))
        ));
        assert!(matches!(
            PublicKey::load(&dir.path().join("plain.key")),
            Err(KeyError::WrongPemLabel { .. })
        ));
        assert!(matches!(
            secret.write_pair(&dir.path().join("plain"), None),
            Err(KeyError::Exists(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn private_keys_are_created_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        SecretKey::generate()
            .write_pair(&dir.path().join("k"), None)
            .unwrap();
        let mode = std::fs::metadata(dir.path().join("k.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
