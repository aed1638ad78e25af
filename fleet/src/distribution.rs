//! What travels with a signed policy, and how it is laid out where it is published.
//!
//! A distributed policy is the policy file, its signature (`POLICY.sigstore.json`) and every
//! file that signature pins (`files` in the policy predicate: the signer keys and trusted root
//! the policy names, and every file of its `[store] dir`), each at its path relative to the
//! policy. Nothing else: the signature says which files exist and what each holds, so a
//! publisher cannot add, drop or change a file without signing again.
//!
//! - On a static HTTPS host: the same tree, the policy at `URL`, the signature at
//!   `URL.sigstore.json` and each file at its relative path beside it.
//! - In an OCI registry: one artifact manifest (artifactType [`POLICY_ARTIFACT_TYPE`]) whose
//!   layers are the files, each titled (`org.opencontainers.image.title`) with its relative
//!   path; the policy layer has [`POLICY_MEDIA_TYPE`], the signature the Sigstore bundle type.

use std::collections::BTreeMap;

use mcpin_verifier::policy::{Policy, PolicyPredicate};

/// `artifactType` of a policy pushed to an OCI registry.
pub const POLICY_ARTIFACT_TYPE: &str = "application/vnd.mcpin.policy.v1";
/// Media type of the policy file's layer.
pub const POLICY_MEDIA_TYPE: &str = "application/vnd.mcpin.policy.v1+toml";
/// Media type of the other files' layers (keys, trusted root, store files).
pub const FILE_MEDIA_TYPE: &str = "application/octet-stream";
/// At most this many files travel with one policy.
pub const MAX_FILES: usize = 4096;
/// Largest file (policy, signature or pinned file) fetched.
pub const MAX_FILE_BYTES: u64 = mcpin_registry_client::attestations::MAX_FILE_BYTES;

/// A signed policy and the files its signature pins, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// The policy's file name where it was published (`policy.toml`).
    pub policy_name: String,
    pub policy: Vec<u8>,
    pub signature: Vec<u8>,
    /// Every pinned file: relative path → bytes.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// `path` is a plain relative path with `/` separators, as signatures pin them: no `.` or `..`
/// segments, no empty ones, no backslash, no leading `/`, nothing that is not UTF-8 text.
pub fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && !segment.contains(['\\', '\0'])
                && !segment.chars().any(char::is_control)
        })
}

/// The sha256 (hex) of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Checks that the files `pins` lists are exactly what a distributed `policy` needs: every file
/// it names by path is named relative to it and pinned, and every pinned file is one it names
/// (a key, the trusted root, or a file below its store directory). Returns why not.
pub fn check_complete(policy: &Policy, pins: &PolicyPredicate) -> Result<(), String> {
    let mut named_files = Vec::new();
    let mut store_dirs = Vec::new();
    for named in &policy.named_files {
        let Some(relative) = named.distributable() else {
            return Err(format!(
                "{} `{}` is absolute or outside the policy's directory: a distributed policy names its files relative to itself",
                named.what, named.written
            ));
        };
        if named.is_dir {
            store_dirs.push(format!("{relative}/"));
        } else if pins.files.contains_key(&relative) {
            named_files.push(relative);
        } else {
            return Err(format!(
                "{} `{}` is not among the files the policy's signature pins: sign the policy again with `mcpin policy sign`",
                named.what, named.written
            ));
        }
    }
    for path in pins.files.keys() {
        if !is_plain_relative(path) {
            return Err(format!(
                "the signature pins `{path}`, which is not a plain relative path"
            ));
        }
        let named = named_files.contains(path)
            || store_dirs.iter().any(|dir| path.starts_with(dir.as_str()));
        if !named {
            return Err(format!(
                "the signature pins `{path}`, which the policy does not name (a key, the trusted root or a file of its store directory)"
            ));
        }
    }
    if pins.files.len() > MAX_FILES {
        return Err(format!(
            "the signature pins {} files (at most {MAX_FILES})",
            pins.files.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths() {
        for ok in [
            "keys/a.pub",
            "bundles/abc/x.sigstore.json",
            "trusted_root.json",
        ] {
            assert!(is_plain_relative(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "./a",
            "a//b",
            "a\\b",
            "a/",
            "a\nb",
        ] {
            assert!(!is_plain_relative(bad), "{bad:?}");
        }
    }
}
