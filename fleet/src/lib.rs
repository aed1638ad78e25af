//! Policy for a fleet of machines.
//!
//! What it does:
//! - [`compile`]: turns the approved launch command lines of a policy (`[[servers]]`) into each
//!   agent client's own managed allowlist (Claude Code, VS Code and Copilot, goose, Windsurf),
//!   so that every string match a client makes lands on `<mcpin> run -- <pinned argv>`; checks
//!   every file it writes against the client's documented schema.
//! - [`publish`]: lays out a signed policy and the files its signature pins, as a directory
//!   for any static HTTPS host or as one OCI artifact.
//! - [`pull`]: fetches such a policy over HTTPS or from an OCI registry through the one
//!   registry client, verifies it with the system's policy-root key (signature, the files it
//!   pins, rollback, expiry) and installs it, atomically file by file, where system mode reads
//!   it; records when, for the policy's `max-age` (freeze-attack defence).
//!
//! What it does not do: judge a launch (the verifier), start anything (the launcher), or trust
//! a byte before its signature and digest are checked.

pub mod compile;
pub mod distribution;
pub mod publish;
pub mod pull;
