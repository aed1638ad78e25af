use std::io::{self, Read};

use sha2::{Digest, Sha256, Sha512};

/// The size and digests of an artifact's (or any stored blob's) exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Digests {
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
    /// Lowercase hex.
    pub sha512: String,
}

/// A reader that hashes (sha256 and sha512) and counts every byte that passes through it.
pub struct HashingReader<R> {
    inner: R,
    sha256: Sha256,
    sha512: Sha512,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            sha256: Sha256::new(),
            sha512: Sha512::new(),
            size: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.size
    }

    /// Reads the rest of the stream and returns the digests of everything read.
    pub fn finish(mut self) -> io::Result<Digests> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(Digests {
            size: self.size,
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
        })
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha256.update(&buf[..n]);
        self.sha512.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Hashes a whole stream in one pass with bounded memory.
pub fn digest_reader(reader: impl Read) -> io::Result<Digests> {
    HashingReader::new(reader).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_known_input() {
        let digests = digest_reader(&b"abc"[..]).unwrap();
        assert_eq!(digests.size, 3);
        assert_eq!(
            digests.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digests.sha512.starts_with("ddaf35a193617aba"));
    }
}
