//! Loading the policy a judgement is made under, shared by `mcpin verify --policy`, `mcpin run`
//! and `mcpin wrap`: its bytes, its signature under the policy-root key, the files it names, the
//! rollback state and the Sigstore trusted root. The judgement itself ([`crate::evaluate::judge`])
//! reads nothing.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

mod cache;

use crate::PublicKey;
use crate::policy::{
    self, Policy, PolicyError, PolicySignatureError, PolicyState, StateError, VersionCheck,
};
use crate::sigstore::{SigstoreError, TrustedRoot};
use crate::verdict::{Check, Code, Outcome, Reason, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("reading policy `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("policy `{0}` is not UTF-8")]
    NotUtf8(PathBuf),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    TrustRoot(#[from] SigstoreError),
}

/// A parsed policy with what was learned while loading it.
#[derive(Debug)]
pub struct LoadedPolicy {
    pub policy: Policy,
    /// `sha256:<hex>` of the policy file's bytes.
    pub digest: String,
    /// The policy-signature reason (pass or info), first in every verdict.
    pub signature: Reason,
    pub version_check: VersionCheck,
    /// When this policy was last pulled successfully (`mcpin policy pull`), read only when it
    /// sets `max-age`; `None` when no pull of it is recorded.
    pub refreshed: Option<jiff::Timestamp>,
    /// The Sigstore trusted root for keyless signers.
    pub root: TrustedRoot,
}

/// A policy is either usable or refused (unsigned / bad signature under a root key).
#[derive(Debug)]
pub enum PolicyLoad {
    Loaded(Box<LoadedPolicy>),
    Refused { digest: String, verdict: Verdict },
}

/// How the rollback state may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAccess {
    /// Compare, and record a newer version.
    Record,
    /// Compare only (system mode, unprivileged: a privileged step records).
    ReadOnly,
}

/// Reads, checks the signature of (when `root_key` is set), parses, and checks the files
/// the policy at `path` names against what its signature pins. Only a policy whose signature
/// verified updates the rollback state: an unsigned policy can neither lower nor raise it.
///
/// Parsing is skipped when the state directory's policy cache holds the policy compiled from
/// these exact bytes (see [`cache`]); a run that may record state writes the cache after
/// parsing. Either way the policy is loaded from its compiled form by the same code.
pub fn load_policy(
    path: &Path,
    root_key: Option<&PublicKey>,
    state_dir: &Path,
    access: StateAccess,
) -> Result<PolicyLoad, GateError> {
    let io = |source| GateError::Io {
        path: path.to_owned(),
        source,
    };
    // Hashed as it streams by: a cached policy's bytes are never needed whole.
    let mut file = fs_err::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(io(error)),
        }
    }
    drop(buffer);
    let sha256: [u8; 32] = hasher.finalize().into();
    let digest = format!("sha256:{}", hex::encode(sha256));
    let refused = |code, message: String| {
        Ok(PolicyLoad::Refused {
            digest: digest.clone(),
            verdict: Verdict::refused(Check::Policy, code, message),
        })
    };
    let pins = match root_key {
        Some(root) => {
            match policy::verify_policy_signature_sha256(path, &hex::encode(sha256), root) {
                Ok(pins) => Some(pins),
                Err(error) => {
                    let code = match error {
                        PolicySignatureError::Unsigned { .. } => Code::PolicyUnsigned,
                        _ => Code::PolicySignatureInvalid,
                    };
                    return refused(code, error.to_string());
                }
            }
        }
        None => None,
    };
    // A cache whose key files no longer hold the keys it was compiled with is stale: these
    // same bytes are parsed again, so the policy is always what parsing the file gives now.
    let cached =
        cache::read(state_dir, access, path, &sha256).and_then(|compiled| compiled.load(path).ok());
    let policy = match cached {
        Some(policy) => policy,
        None => {
            // Parse exactly the bytes that were hashed (and whose signature was checked).
            let mut bytes = Vec::new();
            file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
            file.read_to_end(&mut bytes).map_err(io)?;
            if <[u8; 32]>::from(Sha256::digest(&bytes)) != sha256 {
                return Err(io(std::io::Error::other(
                    "the policy changed while it was being read",
                )));
            }
            let text =
                std::str::from_utf8(&bytes).map_err(|_| GateError::NotUtf8(path.to_owned()))?;
            let compiled = policy::compile(path, text)?;
            if access == StateAccess::Record {
                cache::write(state_dir, path, &sha256, &compiled);
            }
            compiled.load(path).map_err(|source| PolicyError::Changed {
                path: path.to_owned(),
                source,
            })?
        }
    };
    let (signature, version_check) = match (&pins, root_key) {
        (Some(pins), Some(root)) => {
            if let Err(message) = check_pins(&policy, pins) {
                return refused(Code::PolicyReferenceChanged, message);
            }
            let signature = Reason {
                check: Check::Policy,
                code: Code::PolicySigned,
                outcome: Outcome::Pass,
                message: format!(
                    "policy signed by policy-root key {}, with the keys and trusted root it names",
                    root.id()
                ),
            };
            let state = PolicyState::new(state_dir);
            let check = match access {
                StateAccess::Record => state.observe(&policy.name, policy.version)?,
                StateAccess::ReadOnly => state.check(&policy.name, policy.version)?,
            };
            (signature, check)
        }
        _ => (
            Reason {
                check: Check::Policy,
                code: Code::PolicyRootNotConfigured,
                outcome: Outcome::Info,
                message: "no policy-root key configured: the policy's signature is not checked and its version is not tracked".into(),
            },
            VersionCheck::untracked(policy.version),
        ),
    };
    // The freeze-attack defence measures from the last successful pull of this policy.
    let refreshed = match policy.max_age {
        Some(_) => policy::PullState::new(state_dir)
            .read()?
            .filter(|record| record.name == policy.name)
            .map(|record| record.pulled_at),
        None => None,
    };
    let root = match &policy.trusted_root {
        Some(file) => TrustedRoot::from_file_pinned(
            file,
            pins.as_ref().and_then(|p| p.trusted_root_sha256.as_deref()),
        )?,
        None => TrustedRoot::production(),
    };
    Ok(PolicyLoad::Loaded(Box::new(LoadedPolicy {
        policy,
        digest,
        signature,
        version_check,
        refreshed,
        root,
    })))
}

/// Every key signer's key must be the one the signature pinned, and a trusted-root file must
/// have been pinned (its bytes are checked as they are read).
pub fn check_pins(policy: &Policy, pins: &policy::PolicyPredicate) -> Result<(), String> {
    let resign = "re-sign the policy with `mcpin policy sign` if the change is intended";
    for signer in &policy.signers {
        let crate::policy::SignerKind::Key(key) = &signer.kind else {
            continue;
        };
        match pins.signer_keys.get(&signer.id) {
            Some(pinned) if pinned == key.id().as_str() => {}
            Some(pinned) => {
                return Err(format!(
                    "signer `{}`: its key file now holds key {}, but the policy was signed with key {pinned}; {resign}",
                    signer.id,
                    key.id()
                ));
            }
            None => {
                return Err(format!(
                    "signer `{}`: the policy signature does not pin its key ({}); {resign}",
                    signer.id,
                    key.id()
                ));
            }
        }
    }
    if policy.trusted_root.is_some() && pins.trusted_root_sha256.is_none() {
        return Err(format!(
            "the policy names a trusted root that its signature does not pin; {resign}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use mcpin_attestation::Ecosystem;

    use super::*;
    use crate::SecretKey;

    /// A policy using every kind of rule and setting the compiled form carries.
    const POLICY: &str = r#"version = 3
name = "fleet"
expires = "2999-01-01T00:00:00+02:00"
max-age = "7d"

[[signers]]
id = "publisher"
public-key = "publisher.pub"

[[signers]]
id = "ci"
issuer = "https://token.actions.githubusercontent.com"
san-regex = "https://github.com/org/.+"
repository = "https://github.com/org/repo"
workflow = ".github/workflows/release.yml"

[[servers]]
name = "fs"
argv = ["npx", "-y", "@scope/server@1.2.3", "/srv"]

[approval]
signers = ["publisher"]

[[packages]]
ecosystem = "npm"
name = "@scope/server"
version = ">=1.0.0 <2.0.0"
digests = ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]
require-any = ["publisher"]

[[packages]]
ecosystem = "npm"
name = "@scope/*"
require-all = ["ci", "publisher"]
require-approval = true
tools-digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
[packages.tools]
deny = ["exec"]
[packages.sandbox]
network = ["tcp:443"]
fs-write = ["${TMP}", "${HOME}/.cache/server"]

[[packages]]
ecosystem = "pypi"
name = "Mcp_Server.Time"
version = ">=1,<3"
require-any = ["publisher"]

[[packages]]
ecosystem = "pypi"
name = "mcp-*"
require-any = ["ci"]

[[packages]]
ecosystem = "npm"
name = "*-mcp"
require-any = ["publisher"]

[[packages]]
ecosystem = "npm"
name = "@scope/server"
require-any = ["ci"]

[tools]
deny-destructive = true
allow-destructive = ["write"]
max-lint-severity = "high"

[sbom]
require = true
deny = [{ purl = "pkg:npm/lodash", versions = "<4.17.21" }]
licenses-allow = ["MIT", "Apache-2.0"]

[launch]
launchers = ["npx", "uvx"]
env-allow = ["TOKEN", "MCP_*"]
docker-mount-sources = ["/srv/data"]
rehash-installed = true
[launch.interpreters]
node = { path = "/usr/bin/node", sha256 = "2222222222222222222222222222222222222222222222222222222222222222" }

[runtime]
on-drift = "filter"
destructive = "ask"
rate-limit = "120/min"
approval-timeout = "90s"
[runtime.tools."write_file"]
rate-limit = "5/min"
destructive = "deny"
users = ["alice"]
[runtime.data-classes]
restricted = ["local"]
[runtime.tool-classes]
"lookup_*" = "restricted"

[sandbox]
mode = "enforce"
fs-read = ["${INSTALL}", "${RUNTIME}", "/etc/ssl"]
fs-from-args = "read"
tcp-bind = "all"

[store]
dir = "bundles"
url = "https://attestations.example.com/store"
oci = "registry.example.com/attestations"
"#;

    /// Names each rule above speaks about, and some no rule does.
    const NAMES: &[(Ecosystem, &str)] = &[
        (Ecosystem::Npm, "@scope/server"),
        (Ecosystem::Npm, "@scope/other"),
        (Ecosystem::Npm, "@scope/a/b"),
        (Ecosystem::Npm, "weather-mcp"),
        (Ecosystem::Npm, "-mcp"),
        (Ecosystem::Npm, "@other/server"),
        (Ecosystem::Pypi, "mcp-server-time"),
        (Ecosystem::Pypi, "MCP.Server_Time"),
        (Ecosystem::Pypi, "mcp-fetch"),
        (Ecosystem::Pypi, "weather-mcp"),
        (Ecosystem::Oci, "@scope/server"),
    ];

    struct Fixture {
        dir: tempfile::TempDir,
        policy: PathBuf,
        state: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        SecretKey::generate()
            .write_pair(&dir.path().join("publisher"), None)
            .unwrap();
        let policy = dir.path().join("policy.toml");
        fs_err::write(&policy, POLICY).unwrap();
        let state = dir.path().join("state");
        Fixture { dir, policy, state }
    }

    fn load(fixture: &Fixture, access: StateAccess) -> Policy {
        match load_policy(&fixture.policy, None, &fixture.state, access).unwrap() {
            PolicyLoad::Loaded(loaded) => loaded.policy,
            PolicyLoad::Refused { verdict, .. } => panic!("{verdict:?}"),
        }
    }

    fn sha256_of(path: &Path) -> [u8; 32] {
        Sha256::digest(fs_err::read(path).unwrap()).into()
    }

    fn cached(fixture: &Fixture, access: StateAccess) -> bool {
        cache::read(
            &fixture.state,
            access,
            &fixture.policy,
            &sha256_of(&fixture.policy),
        )
        .is_some()
    }

    /// Every rule each name finds, as the judge sees them.
    fn lookups(policy: &Policy) -> Vec<String> {
        NAMES
            .iter()
            .map(|(ecosystem, name)| format!("{:?}", policy.packages.matching(*ecosystem, name)))
            .collect()
    }

    #[test]
    fn a_cached_policy_is_the_parsed_policy() {
        let fixture = fixture();
        let parsed = Policy::parse(&fixture.policy, POLICY).unwrap();
        assert!(!cached(&fixture, StateAccess::Record));
        let first = load(&fixture, StateAccess::Record);
        assert!(
            cached(&fixture, StateAccess::Record),
            "written after parsing"
        );
        let second = load(&fixture, StateAccess::Record);
        for policy in [&first, &second] {
            assert_eq!(format!("{policy:?}"), format!("{parsed:?}"));
            assert_eq!(lookups(policy), lookups(&parsed));
        }
        // Both come from the compiled form: what it carries is what the file says.
        assert_eq!(second.sandbox.mode, mcpin_sandbox::Mode::Enforce);
        assert_eq!(second.sandbox.tcp_bind, mcpin_sandbox::Ports::All);
        let scoped = second
            .packages
            .matching(Ecosystem::Npm, "@scope/x")
            .unwrap();
        let sandbox = second.sandbox_for(&scoped[0]);
        assert_eq!(sandbox.network, mcpin_sandbox::Ports::Tcp(vec![443]));
        assert_eq!(sandbox.fs_write.len(), 2);
        assert_eq!(sandbox.fs_from_args, mcpin_sandbox::ArgAccess::Read);
        // The lookups are the rules a linear scan finds, in file order.
        for (ecosystem, name) in NAMES {
            let scanned: Vec<usize> = parsed
                .packages
                .iter()
                .map(Result::unwrap)
                .filter(|rule| rule.matches_name(*ecosystem, name))
                .map(|rule| rule.index)
                .collect();
            let found: Vec<usize> = second
                .packages
                .matching(*ecosystem, name)
                .unwrap()
                .iter()
                .map(|rule| rule.index)
                .collect();
            assert_eq!(found, scanned, "{ecosystem} {name}");
        }
        let indexes = |name| -> Vec<usize> {
            let rules = second.packages.matching(Ecosystem::Npm, name).unwrap();
            rules.iter().map(|rule| rule.index).collect()
        };
        assert_eq!(indexes("@scope/server"), [0, 1, 5]);
        assert_eq!(indexes("weather-mcp"), [4]);
        assert_eq!(second.packages.len(), 6);
    }

    #[test]
    fn a_stale_cache_is_ignored_and_replaced() {
        let fixture = fixture();
        load(&fixture, StateAccess::Record);
        // The policy changes: one rule fewer.
        let edited = POLICY.replace("name = \"*-mcp\"", "name = \"*-mcp-server\"");
        fs_err::write(&fixture.policy, &edited).unwrap();
        assert!(!cached(&fixture, StateAccess::Record));
        let policy = load(&fixture, StateAccess::Record);
        let weather = policy.packages.matching(Ecosystem::Npm, "weather-mcp");
        assert!(weather.unwrap().is_empty());
        assert!(cached(&fixture, StateAccess::Record), "replaced");
        // A read-only run (system mode, unprivileged) never writes one.
        fs_err::write(&fixture.policy, POLICY).unwrap();
        load(&fixture, StateAccess::ReadOnly);
        assert!(!cached(&fixture, StateAccess::Record));
    }

    #[test]
    fn a_replaced_key_file_is_read_again() {
        let fixture = fixture();
        load(&fixture, StateAccess::Record);
        let public = fixture.dir.path().join("publisher.pub");
        fs_err::remove_file(&public).unwrap();
        fs_err::remove_file(fixture.dir.path().join("publisher.key")).unwrap();
        let other = SecretKey::generate();
        other
            .write_pair(&fixture.dir.path().join("publisher"), None)
            .unwrap();
        let policy = load(&fixture, StateAccess::Record);
        let crate::policy::SignerKind::Key(key) = &policy.signers[0].kind else {
            panic!("a key signer");
        };
        assert_eq!(
            key.id(),
            other.id(),
            "the key now in the file, as parsing gives"
        );
    }

    /// A cache that says another policy's rules, under this policy's digest: what someone who
    /// could write the cache would plant to allow their package.
    fn plant_forged_cache(fixture: &Fixture) -> PathBuf {
        let other = POLICY.replace("@scope/server", "@evil/server");
        let compiled = crate::policy::compile(&fixture.policy, &other).unwrap();
        cache::write(
            &fixture.state,
            &fixture.policy,
            &sha256_of(&fixture.policy),
            &compiled,
        );
        let dir = crate::policy::cache_dir(&fixture.state);
        fs_err::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    fn allows_evil(fixture: &Fixture, access: StateAccess) -> bool {
        let policy = load(fixture, access);
        !policy
            .packages
            .matching(Ecosystem::Npm, "@evil/server")
            .unwrap()
            .is_empty()
    }

    #[test]
    fn a_cache_others_could_have_written_is_ignored() {
        use std::os::unix::fs::MetadataExt;
        let fixture = fixture();
        let file = plant_forged_cache(&fixture);
        let dir = file.parent().unwrap().to_owned();
        let chmod = |path: &Path, mode| {
            fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        // The file, its directory or a directory above it writable by others.
        for (path, mode, restore) in [
            (&dir, 0o775, 0o755),
            (&fixture.state, 0o757, 0o755),
            (&file, 0o620, 0o600),
        ] {
            chmod(path, mode);
            assert!(!allows_evil(&fixture, StateAccess::Record), "{mode:o}");
            chmod(path, restore);
            // A run that ignores it replaces it when it can: plant it again.
            plant_forged_cache(&fixture);
        }
        // Owned by another user (only root can make that happen here).
        if std::os::unix::fs::chown(&file, Some(4242), None).is_ok() {
            assert!(!allows_evil(&fixture, StateAccess::Record));
            assert!(!allows_evil(&fixture, StateAccess::ReadOnly));
            plant_forged_cache(&fixture);
        }
        let ours = fs_err::metadata(&file).unwrap().uid();
        // System mode, unprivileged: only a cache root wrote counts.
        assert_eq!(allows_evil(&fixture, StateAccess::ReadOnly), ours == 0);
        // Written by this user in a private directory: trusted, as the rollback state beside
        // it is. The checks above are what keep everyone else's cache out.
        assert!(allows_evil(&fixture, StateAccess::Record));
    }

    #[test]
    fn a_damaged_or_foreign_cache_is_ignored() {
        let fixture = fixture();
        let file = plant_forged_cache(&fixture);
        let bytes = fs_err::read(&file).unwrap();
        let mode = |file: &Path| {
            fs_err::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap()
        };
        // Another version of mcpin wrote it, or it was cut short, or its index is damaged.
        let version = env!("CARGO_PKG_VERSION").as_bytes();
        let at = bytes.len() - 9 - version.len();
        for damaged in [
            [&bytes[..at], b"9.9.9", &[5], b"MCPINPC1"].concat(),
            bytes[..bytes.len() / 2].to_vec(),
            [&bytes[..20], &[0xff; 4], &bytes[24..]].concat(),
        ] {
            fs_err::write(&file, &damaged).unwrap();
            mode(&file);
            assert!(!allows_evil(&fixture, StateAccess::ReadOnly));
            assert!(!allows_evil(&fixture, StateAccess::Record));
            plant_forged_cache(&fixture);
        }
    }
}
