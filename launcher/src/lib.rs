//! The launch side of mcpin.
//!
//! What it does: parses how agent configs call `npx`, `uvx` and `docker` ([`grammar`]) into a
//! typed request or a refusal with a stable code; sanitizes the environment a server is started
//! with ([`env`], the rules over what [`inputs`] gathers); makes an installed tree read-only, digests it and re-checks it before launch
//! ([`tree`]); confines the server to what the policy's `[sandbox]` grants ([`sandbox`]); execs
//! the interpreter in place of the shim ([`exec`]); keeps a hash-chained,
//! append-only audit log of decisions ([`audit`]); finds the policy file ([`locate`]); and rewrites
//! agent configs to launch through the shim, reversibly ([`wrap`]).
//!
//! [`pipeline`] runs a launch end to end: policy, fetch (registry client), verdict (verifier),
//! [`install`] of exactly the signed lock, and the interpreter command.
//!
//! What it does not do: fetch packages, verify signatures or decide policy itself. Those live
//! in the registry client and the verifier, which the pipeline calls; nothing here turns a
//! launch request into an allow without an allow verdict.

pub mod audit;
pub mod doctor;
pub mod env;
pub mod exec;
pub mod grammar;
pub mod inputs;
pub mod install;
pub mod interpreter;
pub mod locate;
pub mod pipeline;
pub mod sandbox;
mod snapshot;
pub mod system;
pub mod tree;
pub mod wrap;
