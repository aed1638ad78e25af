//! The policy cache: a policy's compiled form ([`CompiledPolicy`]), kept in the state
//! directory so that a run whose policy has not changed skips parsing the TOML. Every run still
//! reads and hashes the policy and checks its signature; the cache is used only when it was
//! compiled from bytes with that same sha256, by this version of mcpin.
//!
//! Who can write it decides whether it may be used, as for the rollback state beside it:
//! - the cache file and every directory above it must be owned by the user or root and
//!   writable by nobody else (the store's rule, [`check_private_dir`]); a cache someone else
//!   could have written is ignored;
//! - in system mode an unprivileged run (read-only state) uses only a cache root wrote, in a
//!   directory chain only root can write, and never writes one.
//!
//! So only the user and root can have written a cache the user's runs read. In per-user mode
//! the user also chooses the policy and the policy-root key (flags, environment), so a cache
//! they wrote decides nothing they could not decide already; in system mode only root's
//! cache is read. A cache whose bytes are damaged is refused when its structure is checked, or,
//! for a rule record, when that rule is looked up (`policy-rules-unreadable`: nothing is
//! allowed).

use std::path::{Path, PathBuf};

use mcpin_registry_client::store::{Owner, check_not_shared, check_private_dir};
use sha2::{Digest, Sha256};

use super::StateAccess;
use crate::policy::{CompiledPolicy, cache_dir};

const MAGIC: &[u8; 8] = b"MCPINPC1";
/// A cache written by another version of mcpin is ignored (its checks may differ).
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `<state dir>/policy-cache/<sha256 of the policy path as given>`: one file per policy path,
/// replaced when the policy changes.
fn file_for(state_dir: &Path, policy: &Path) -> PathBuf {
    let name = hex::encode(Sha256::digest(policy.as_os_str().as_encoded_bytes()));
    cache_dir(state_dir).join(name)
}

/// Who may have written a cache this run trusts.
fn trusted_writer(access: StateAccess) -> Owner {
    match access {
        StateAccess::Record => Owner::current(),
        // System mode, unprivileged: root's, checked all the way up.
        StateAccess::ReadOnly => Owner::system(),
    }
}

/// The trailer after the compiled bytes: the policy's sha256, the version, its length, magic.
fn trailer(policy_sha256: &[u8; 32]) -> Vec<u8> {
    let mut trailer = policy_sha256.to_vec();
    trailer.extend_from_slice(VERSION.as_bytes());
    trailer.push(VERSION.len() as u8);
    trailer.extend_from_slice(MAGIC);
    trailer
}

/// The compiled form of the policy at `policy` whose bytes hash to `policy_sha256`, if a
/// trustworthy cache holds it.
pub(super) fn read(
    state_dir: &Path,
    access: StateAccess,
    policy: &Path,
    policy_sha256: &[u8; 32],
) -> Option<CompiledPolicy> {
    let file = file_for(state_dir, policy);
    let owner = trusted_writer(access);
    check_private_dir(file.parent()?, &owner).ok()?;
    check_not_shared(&file, &owner).ok()?;
    let mut bytes = fs_err::read(&file).ok()?;
    let expected = trailer(policy_sha256);
    if !bytes.ends_with(&expected) {
        return None;
    }
    bytes.truncate(bytes.len() - expected.len());
    CompiledPolicy::from_bytes(bytes).ok()
}

/// Keeps `compiled` for the next run (only runs that may record state). Only a speed-up: a
/// cache that cannot be written costs a parse next time.
pub(super) fn write(
    state_dir: &Path,
    policy: &Path,
    policy_sha256: &[u8; 32],
    compiled: &CompiledPolicy,
) {
    let file = file_for(state_dir, policy);
    let Some(dir) = file.parent() else { return };
    if mcpin_registry_client::store::create_private_dir_all(dir).is_err()
        || check_private_dir(dir, &Owner::current()).is_err()
    {
        return;
    }
    let mut bytes = compiled.as_bytes().to_vec();
    bytes.extend_from_slice(&trailer(policy_sha256));
    // Readable by everyone, like the policy it comes from: in system mode users read root's.
    let _ = mcpin_artifact::write_atomic(&file, &bytes, 0o644);
}
