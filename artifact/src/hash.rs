use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

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
///
/// sha512 is the slower digest (about half sha256's speed where sha256 has hardware
/// instructions). Once more than [`PARALLEL_AFTER`] bytes have passed, it moves to its own
/// thread, fed copies of the bytes in batches, while sha256 and whatever the caller does with
/// the bytes (gunzip, tar walk, writing) stay on the calling thread: one read of the input, two
/// digests at the speed of the slower one. Small inputs never start a thread.
pub struct HashingReader<R> {
    inner: R,
    sha256: Sha256,
    sha512: Sha512Lane,
    size: u64,
}

/// Bytes hashed inline before sha512 moves to its own thread (a thread costs tens of
/// microseconds; 1 MiB of sha512 costs about two milliseconds).
pub const PARALLEL_AFTER: u64 = 1 << 20;
/// Bytes handed to the sha512 thread at a time.
const BATCH: usize = 256 * 1024;
/// Batches in flight to the sha512 thread (bounds the memory to a few batches).
const IN_FLIGHT: usize = 4;

enum Sha512Lane {
    Inline(Sha512),
    Thread(Sha512Thread),
}

struct Sha512Thread {
    /// Bytes not yet sent.
    batch: Vec<u8>,
    batches: SyncSender<Vec<u8>>,
    /// Buffers the thread is done with, to be filled again.
    returned: Receiver<Vec<u8>>,
    handle: JoinHandle<Sha512>,
}

impl Sha512Lane {
    fn update(&mut self, bytes: &[u8], hashed_before: u64) {
        match self {
            Sha512Lane::Inline(sha512) if hashed_before < PARALLEL_AFTER => sha512.update(bytes),
            Sha512Lane::Inline(sha512) => {
                // No thread to be had: stay on this one.
                if let Some(thread) = Sha512Thread::spawn(sha512) {
                    *self = Sha512Lane::Thread(thread);
                }
                self.update(bytes, 0);
            }
            Sha512Lane::Thread(thread) => thread.update(bytes),
        }
    }

    fn finalize(self) -> String {
        let sha512 = match self {
            Sha512Lane::Inline(sha512) => sha512,
            Sha512Lane::Thread(thread) => thread.finish(),
        };
        hex::encode(sha512.finalize())
    }
}

impl Sha512Thread {
    /// Starts the thread with the digest state so far (taken from `sha512` only once the thread
    /// exists, so a failed spawn loses nothing).
    fn spawn(sha512: &mut Sha512) -> Option<Sha512Thread> {
        let (batches, incoming) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (give_back, returned) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let (state_in, state_out) = std::sync::mpsc::sync_channel::<Sha512>(1);
        let spawned = std::thread::Builder::new()
            .name("sha512".into())
            .spawn(move || {
                let mut sha512 = state_out.recv().expect("the state is sent after spawning");
                for mut batch in incoming {
                    sha512.update(&batch);
                    batch.clear();
                    // The reader may be gone already (it is finishing): then the buffer is freed.
                    let _ = give_back.try_send(batch);
                }
                sha512
            });
        match spawned {
            Ok(handle) => {
                state_in
                    .send(std::mem::take(sha512))
                    .expect("the thread waits for its state");
                Some(Sha512Thread {
                    batch: Vec::with_capacity(BATCH),
                    batches,
                    returned,
                    handle,
                })
            }
            Err(_) => None,
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = bytes.len().min(BATCH - self.batch.len());
            self.batch.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.batch.len() == BATCH {
                let next = match self.returned.try_recv() {
                    Ok(buffer) => buffer,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        Vec::with_capacity(BATCH)
                    }
                };
                let full = std::mem::replace(&mut self.batch, next);
                self.batches
                    .send(full)
                    .expect("the sha512 thread runs until the sender is dropped");
            }
        }
    }

    fn finish(self) -> Sha512 {
        if !self.batch.is_empty() {
            self.batches
                .send(self.batch)
                .expect("the sha512 thread runs until the sender is dropped");
        }
        drop(self.batches);
        match self.handle.join() {
            Ok(sha512) => sha512,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            sha256: Sha256::new(),
            sha512: Sha512Lane::Inline(Sha512::new()),
            size: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.size
    }

    /// Reads the rest of the stream and returns the digests of everything read.
    pub fn finish(mut self) -> io::Result<Digests> {
        let mut buffer = vec![0u8; 64 * 1024];
        while self.read(&mut buffer)? != 0 {}
        Ok(Digests {
            size: self.size,
            sha256: hex::encode(self.sha256.finalize()),
            sha512: self.sha512.finalize(),
        })
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha256.update(&buf[..n]);
        self.sha512.update(&buf[..n], self.size);
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

    /// Reads in uneven pieces, so batches and the switch to the thread fall mid-read.
    struct Uneven<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Uneven<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.step = self.step % 70_001 + 9_973;
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn the_threaded_digests_equal_the_one_pass_digests() {
        // Below, at and well past the point where sha512 moves to its thread.
        for len in [
            0,
            1,
            PARALLEL_AFTER as usize - 1,
            PARALLEL_AFTER as usize,
            PARALLEL_AFTER as usize + 1,
            PARALLEL_AFTER as usize + 3 * BATCH + 17,
            PARALLEL_AFTER as usize + (IN_FLIGHT + 3) * BATCH,
        ] {
            let bytes: Vec<u8> = (0..len as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            let digests = digest_reader(Uneven {
                bytes: &bytes,
                step: 0,
            })
            .unwrap();
            assert_eq!(digests.size, len as u64);
            assert_eq!(digests.sha256, hex::encode(Sha256::digest(&bytes)), "{len}");
            assert_eq!(digests.sha512, hex::encode(Sha512::digest(&bytes)), "{len}");
        }
    }

    #[test]
    fn an_error_midway_is_returned_and_the_thread_ends() {
        struct Failing(u64);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 > 3 * PARALLEL_AFTER {
                    return Err(io::Error::other("disk gone"));
                }
                buf.fill(7);
                self.0 += buf.len() as u64;
                Ok(buf.len())
            }
        }
        let error = digest_reader(Failing(0)).unwrap_err();
        assert_eq!(error.to_string(), "disk gone");
    }
}
