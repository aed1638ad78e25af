//! Starting the server: exec the interpreter in place of the shim, so the agent's signals reach
//! the server and its exit code comes back unchanged. Where the shim must stay in between
//! (a runtime guard reading the protocol stream), [`Launch::supervise`] runs the server in its
//! own process group and forwards SIGTERM, SIGINT and SIGHUP to the whole group, so `npm exec`-
//! style orphans cannot happen. [`Launch::guard`] does the same with the runtime guard
//! (`mcpin-guard`) relaying the server's stdin and stdout.
//!
//! A sandboxed launch ([`crate::sandbox::Armed`]) enters its sandbox right before the exec
//! (after the audit record is written), or, when the server is spawned as a child, through
//! mcpin's hidden trampoline subcommand ([`mcpin_sandbox::trampoline`]), so both ways start it
//! restricted while the parent stays unrestricted.
//!
//! Which program is exec'd is decided elsewhere: [`crate::interpreter`] resolves it (pinned,
//! or from absolute `PATH` entries only) and [`crate::install::Installed::command`] builds its
//! arguments.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::Command;

use crate::env::SanitizedEnv;
use crate::sandbox::Armed;

/// A program to start with exactly the given environment (nothing inherited), in its sandbox
/// when the policy has one.
#[derive(Debug)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: SanitizedEnv,
    pub sandbox: Option<Armed>,
}

impl Launch {
    /// The command, with the environment replaced by the sanitized one. With a sandbox, the
    /// command is the trampoline, which enters the sandbox and execs the server.
    pub fn command(&self) -> Command {
        let mut command = match &self.sandbox {
            Some(armed) => mcpin_sandbox::trampoline::command(
                &armed.mcpin,
                &armed.record,
                &self.program,
                &self.args,
            ),
            None => {
                let mut command = Command::new(&self.program);
                command.args(&self.args);
                command
            }
        };
        command.env_clear().envs(&self.env.vars);
        command
    }

    /// Replaces this process with the server (in its sandbox, entered here: this process has
    /// nothing left to write). Returns only if entering the sandbox or the exec failed.
    #[cfg(unix)]
    pub fn exec(&self) -> io::Error {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(&self.program);
        command.args(&self.args).env_clear().envs(&self.env.vars);
        if let Some(armed) = &self.sandbox
            && let Err(error) = mcpin_sandbox::trampoline::enter(&armed.record, &armed.mcpin)
        {
            return io::Error::other(format!("entering the sandbox: {error} [sandbox-failed]"));
        }
        let error = command.exec();
        io::Error::new(
            error.kind(),
            format!("executing `{}`: {error}", self.program.display()),
        )
    }

    /// Runs the server as a child in its own process group and waits for it. SIGTERM, SIGINT
    /// and SIGHUP sent to the shim are forwarded to the whole group. The exit code is passed
    /// through; death by signal N becomes 128 + N, as shells report it.
    #[cfg(unix)]
    pub fn supervise(&self) -> io::Result<i32> {
        use std::os::unix::process::{CommandExt, ExitStatusExt};

        use rustix::process::{Pid, Signal, kill_process_group};
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use signal_hook::iterator::Signals;

        // Register before spawning so a signal arriving in between is not lost.
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        let handle = signals.handle();
        let mut child = self.command().process_group(0).spawn().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("starting `{}`: {error}", self.program.display()),
            )
        })?;
        let group = Pid::from_child(&child);
        let forwarder = std::thread::spawn(move || {
            for signal in signals.forever() {
                if let Some(signal) = Signal::from_named_raw(signal) {
                    // The group may already be gone; nothing else to do then.
                    let _ = kill_process_group(group, signal);
                }
            }
        });
        let status = child.wait();
        handle.close();
        let _ = forwarder.join();
        let status = status?;
        Ok(status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
    }
}

/// How a guarded server ended.
#[derive(Debug)]
pub struct Guarded {
    /// The server's exit code (128 + N for death by signal N).
    pub code: i32,
    pub ended: mcpin_guard::Ended,
}

impl Launch {
    /// Runs the server as a child in its own process group with the runtime guard between it
    /// and our stdin/stdout (stderr passes through). Signals are forwarded as by
    /// [`supervise`](Self::supervise); when the guard stops the server, the group gets SIGTERM
    /// and, [`STOP_GRACE`] later, SIGKILL.
    #[cfg(unix)]
    pub fn guard(
        &self,
        config: mcpin_guard::Config,
        audit: Box<dyn mcpin_guard::AuditSink>,
    ) -> io::Result<Guarded> {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        use std::process::Stdio;

        use rustix::process::{Pid, Signal, kill_process_group};
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use signal_hook::iterator::Signals;

        let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        let handle = signals.handle();
        let mut child = self
            .command()
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("starting `{}`: {error}", self.program.display()),
                )
            })?;
        let group = Pid::from_child(&child);
        let forwarder = std::thread::spawn(move || {
            for signal in signals.forever() {
                if let Some(signal) = Signal::from_named_raw(signal) {
                    let _ = kill_process_group(group, signal);
                }
            }
        });
        let streams = mcpin_guard::Streams {
            client_in: Box::new(io::stdin()),
            client_out: Box::new(io::stdout()),
            server_in: Box::new(child.stdin.take().expect("stdin is piped")),
            server_out: Box::new(child.stdout.take().expect("stdout is piped")),
        };
        let reaped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = {
            let reaped = std::sync::Arc::clone(&reaped);
            Box::new(move || {
                let _ = kill_process_group(group, Signal::TERM);
                let reaped = std::sync::Arc::clone(&reaped);
                std::thread::spawn(move || {
                    std::thread::sleep(STOP_GRACE);
                    // Only while the leader is unreaped is the group id surely still ours.
                    if !reaped.load(std::sync::atomic::Ordering::SeqCst) {
                        let _ = kill_process_group(group, Signal::KILL);
                    }
                });
            })
        };
        let ended = mcpin_guard::run(config, streams, audit, stop);
        if matches!(ended, mcpin_guard::Ended::Stopped(_)) {
            // Children that outlive a stopped server go with it.
            let _ = kill_process_group(group, Signal::KILL);
        }
        let status = child.wait();
        reaped.store(true, std::sync::atomic::Ordering::SeqCst);
        handle.close();
        let _ = forwarder.join();
        let status = status?;
        Ok(Guarded {
            code: status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            ended,
        })
    }
}

/// How long a server the guard stops gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
