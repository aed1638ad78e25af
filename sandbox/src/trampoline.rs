//! Starting a sandboxed server from a process that must stay its parent (the runtime guard,
//! `mcpin tools capture`). The workspace forbids `unsafe`, so no `pre_exec` hook can restrict
//! the child between fork and exec; instead the child is mcpin itself, in a hidden
//! subcommand, that restricts itself with [`enter`] and execs the server:
//!
//! ```text
//! mcpin __sandbox-exec '<record as JSON>' -- PROGRAM ARGS…
//! ```
//!
//! The subcommand can only take privileges away (Landlock cannot be undone), so anyone may run
//! it. `mcpin run` without a guard calls [`enter`] itself right before its own `exec`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::plan::Record;

/// The hidden subcommand.
pub const EXEC_SUBCOMMAND: &str = "__sandbox-exec";

/// Why a process could not enter its sandbox. The server must not start.
#[derive(Debug, thiserror::Error)]
pub enum EnterError {
    #[error("the sandbox record does not parse: {0}")]
    Record(#[from] serde_json::Error),
    #[error("starting the reaper of `{dir}`: {source}")]
    Reaper {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Restrict(#[from] crate::landlock::RestrictError),
}

/// A command that starts `program args` under `record` through the trampoline in `mcpin`.
/// The caller sets the environment (the server's), stdio and process group as it would for the
/// server itself.
pub fn command(mcpin: &Path, record: &Record, program: &Path, args: &[OsString]) -> Command {
    let mut command = Command::new(mcpin);
    command
        .arg(EXEC_SUBCOMMAND)
        .arg(serde_json::to_string(record).expect("a record serializes"))
        .arg("--")
        .arg(program)
        .args(args);
    command
}

/// Enters the sandbox of `record` in the calling thread: starts the reaper of its `${TMP}`
/// (watching this process, which is about to exec the server), then applies the rules. Call
/// it last before `exec`: afterwards this process can reach only what the server may.
pub fn enter(record: &Record, mcpin: &Path) -> Result<(), EnterError> {
    if let Some(dir) = &record.plan.tmp {
        crate::tmp::spawn_reaper(mcpin, dir).map_err(|source| EnterError::Reaper {
            dir: dir.clone(),
            source,
        })?;
    }
    crate::landlock::restrict(record)?;
    Ok(())
}

/// [`enter`] with the record as the trampoline received it.
pub fn enter_json(record: &str, mcpin: &Path) -> Result<(), EnterError> {
    let record: Record = serde_json::from_str(record)?;
    enter(&record, mcpin)
}

/// The capture sandbox ([`crate::SandboxPolicy::capture`]: read everything, no TCP) around
/// `program args`, writing only to `writable` when given (`mcpin review`'s scratch directory,
/// which its caller removes), else only to a fresh private `${TMP}` (the server's `TMPDIR`,
/// removed by the reaper). Returns the trampoline command (it inherits our environment unless
/// the caller replaces it) and the record.
pub fn capture(
    mcpin: &Path,
    program: &std::ffi::OsStr,
    args: &[OsString],
    writable: Option<&Path>,
) -> Result<(Command, Record), crate::Refusal> {
    let mut policy = crate::SandboxPolicy::capture();
    let tmp = match writable {
        Some(dir) => {
            policy.fs_write = vec![crate::PathTemplate::Absolute(dir.to_owned())];
            None
        }
        None => Some(crate::tmp::create().map_err(|error| {
            crate::Refusal::new(
                "sandbox-failed",
                format!(
                    "cannot make the private directory in {}: {error}",
                    crate::tmp::ROOT
                ),
            )
        })?),
    };
    let canonical = |path: &Path| fs_err::canonicalize(path).ok();
    let plan = crate::resolve(
        &policy,
        &crate::Facts {
            install: None,
            runtime: &[],
            tmp: tmp.as_deref(),
            home: None,
            args: &[],
            protected: &[],
            canonical: &canonical,
        },
    )?;
    let record = crate::landlock::decide(&plan, crate::landlock::support())?;
    let mut command = self::command(mcpin, &record, Path::new(program), args);
    if let Some(tmp) = &tmp {
        command.env("TMPDIR", tmp);
    }
    Ok((command, record))
}
