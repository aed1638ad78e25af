//! The environment the server starts with. The rules are defined once, in
//! [`mcpin_verifier::launch::env`] (the launch rules judge them with the rest of `[launch]`);
//! this module names them for the launcher's callers ([`crate::exec::Launch`] takes a
//! [`SanitizedEnv`]).

pub use mcpin_verifier::launch::env::{
    BASE_ALLOW, DEFAULT_STRIP, DOCKER_CLIENT, EnvError, EnvLists, EnvRules, SanitizedEnv, Stripped,
};
