//! `${TMP}`: a private directory per launch, and the reaper that removes it when the server
//! exits.
//!
//! The directory is made with `mkdtemp` semantics (random name, mode 0700) directly in
//! [`ROOT`], never in `$TMPDIR`: the caller's environment is the attacker's. The server gets it
//! as its `TMPDIR`. Whoever execs the server (mcpin itself, or the trampoline) first starts a
//! reaper: `mcpin __sandbox-reap DIR` in its own process group, with a pidfd of the exec'ing
//! process as its stdin. A pid survives `exec`, so the pidfd becomes readable when the server
//! exits, and the reaper then removes the directory (without following symlinks).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where launch directories are made.
pub const ROOT: &str = "/tmp";
/// Their name prefix; the reaper removes nothing else.
pub const PREFIX: &str = "mcpin-sandbox-";
/// The hidden subcommand that waits for the server and removes its directory.
pub const REAP_SUBCOMMAND: &str = "__sandbox-reap";

/// Makes a fresh private directory in [`ROOT`].
pub fn create() -> io::Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir_in(ROOT)?
        .keep();
    Ok(dir)
}

/// Starts the reaper of `dir`, watching the calling process (which is about to exec the
/// server). `mcpin` is the mcpin binary that has the hidden subcommand.
#[cfg(target_os = "linux")]
pub fn spawn_reaper(mcpin: &Path, dir: &Path) -> io::Result<()> {
    use std::os::unix::process::CommandExt;

    use rustix::process::{PidfdFlags, getpid, pidfd_open};
    let pidfd = pidfd_open(getpid(), PidfdFlags::empty())?;
    Command::new(mcpin)
        .arg(REAP_SUBCOMMAND)
        .arg(dir)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::from(pidfd))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // A signal to the agent's process group must not take the reaper with it.
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// Without pidfds the directory is removed only by the system's tmp cleaning.
#[cfg(not(target_os = "linux"))]
pub fn spawn_reaper(_mcpin: &Path, _dir: &Path) -> io::Result<()> {
    Ok(())
}

/// The reaper: waits until the process behind the pidfd on stdin exits, then removes `dir`,
/// which must be one of ours (in [`ROOT`], named [`PREFIX`]…, a directory, not a symlink).
#[cfg(target_os = "linux")]
pub fn reap(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsFd;

    use rustix::event::{PollFd, PollFlags, poll};
    let ours = dir.parent() == Some(Path::new(ROOT))
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PREFIX));
    if !ours {
        return Err(io::Error::other(format!(
            "`{}` is not a sandbox directory",
            dir.display()
        )));
    }
    let stdin = io::stdin();
    let pidfd = stdin.as_fd();
    loop {
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, None) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    let meta = fs_err::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::other(format!(
            "`{}` is not a directory",
            dir.display()
        )));
    }
    fs_err::remove_dir_all(dir)
}

#[cfg(not(target_os = "linux"))]
pub fn reap(_dir: &Path) -> io::Result<()> {
    Ok(())
}
