//! The launch side of mcpin.
//!
//! What it does: parses how agent configs call `npx`, `uvx` and `docker` ([`grammar`]) into a
//! typed request or a refusal with a stable code; sanitizes the environment a server is started
//! with ([`env`]); makes an installed tree read-only, digests it and re-checks it before launch
//! ([`tree`]); execs the interpreter in place of the shim ([`exec`]); keeps a hash-chained,
//! append-only audit log of decisions ([`audit`]); finds the policy file ([`locate`]); and rewrites
//! agent configs to launch through the shim, reversibly ([`wrap`]).
//!
//! What it does not do: fetch packages, verify signatures or decide policy. Those live in the
//! registry client and the verifier; wrap reaches them through the [`wrap::Resolver`] and
//! [`wrap::Gate`] traits, and nothing here ever turns a launch request into an allow by itself.

pub mod audit;
pub mod env;
pub mod exec;
pub mod grammar;
pub mod locate;
pub mod tree;
pub mod wrap;
