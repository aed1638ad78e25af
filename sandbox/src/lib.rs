//! What a verified MCP server may touch while it runs.
//!
//! Signing proves who wrote a server; it does not stop a verified but buggy or malicious server
//! from reading `~/.ssh` or calling home. This crate holds:
//!
//! - [`SandboxPolicy`]: the validated `[sandbox]` policy section (the verifier parses the file
//!   into it, with spans), with `${INSTALL}`, `${RUNTIME}`, `${TMP}` and `${HOME}/…` templates;
//! - [`resolve`]: the effective rules of one launch ([`Plan`]), from the policy and facts the
//!   launcher gathered (the install tree, the interpreter's files, the server's arguments,
//!   mcpin's own directories). It does no I/O and is the one place the grant rules live:
//!   which arguments count, what may never be granted;
//! - [`landlock`] (Linux): the kernel's Landlock ABI, and [`landlock::restrict`], which applies
//!   a plan to the calling thread (with `no_new_privs`) right before it execs the server;
//! - [`docker`]: the same plan as `docker run` flags;
//! - [`tmp`]: the private `${TMP}` directory and the reaper that removes it when the server
//!   exits;
//! - [`trampoline`]: how a process that must stay the server's parent (the runtime guard, tool
//!   capture) starts it sandboxed: through a hidden `mcpin` subcommand that restricts itself and
//!   execs, since the workspace forbids `unsafe` (no `pre_exec`).
//!
//! It does not decide whether a package may run (the verifier does) or build the server's
//! command line (the launcher does).

pub mod docker;
pub mod landlock;
mod plan;
mod policy;
pub mod tmp;
pub mod trampoline;

pub use plan::{ArgFact, Facts, Grant, Plan, Record, Refusal, resolve};
pub use policy::{ArgAccess, Mode, PathTemplate, Ports, SandboxOverride, SandboxPolicy};

/// The Landlock ABI `enforce` needs: filesystem rights including truncate and device ioctl
/// (ABI 5), TCP connect and bind (ABI 4), and the abstract-socket and signal scopes (ABI 6).
pub const ENFORCE_MIN_ABI: u8 = 6;
