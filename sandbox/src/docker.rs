//! The sandbox plan as `docker run` flags. A container already has its own filesystem, so
//! `${INSTALL}` and `${RUNTIME}` (the image) need no grant; what the plan decides is the rest:
//!
//! | plan | docker |
//! |---|---|
//! | always | `--read-only`, `--cap-drop=ALL`, `--security-opt=no-new-privileges` |
//! | `${TMP}` in `fs-write` | `--tmpfs=/tmp:rw,nosuid,nodev` (in the container, gone with it) |
//! | `network = "none"` | `--network=none` |
//! | `network = "all"` | the daemon's default network |
//! | `network = ["tcp:443"]` | not expressible: docker has no per-port egress filter (`enforce` refuses, `best-effort` warns and uses the default network) |
//! | bind mounts (`-v SRC:DST:ro`) | `SRC` must lie inside an `fs-read` or `fs-write` grant |
//!
//! `tcp-bind` needs no flag: the launcher grammar refuses `-p`, so nothing the container
//! listens on is published.

use std::path::Path;

use crate::plan::{Plan, Record, Refusal};
use crate::policy::{Mode, Ports};

/// What the docker launch asks for, as the launcher grammar read it.
pub struct DockerArgv<'a> {
    /// Accepted options in canonical long form (`--network=bridge`, `--volume=…`).
    pub options: &'a [String],
    /// Bind-mount sources, every symlink resolved (`None`: does not exist).
    pub mounts: &'a [(String, Option<&'a Path>)],
}

/// The flags to put before the user's options, and the audit record, or the refusal.
pub fn flags(
    plan: &Plan,
    uses_tmp: bool,
    argv: &DockerArgv<'_>,
) -> Result<(Vec<String>, Record), Refusal> {
    let mut flags = vec![
        "--read-only".to_owned(),
        "--cap-drop=ALL".to_owned(),
        "--security-opt=no-new-privileges".to_owned(),
    ];
    let mut warnings = Vec::new();
    if uses_tmp {
        flags.push("--tmpfs=/tmp:rw,nosuid,nodev".to_owned());
    }
    let written_network = argv
        .options
        .iter()
        .find_map(|o| o.strip_prefix("--network="));
    match &plan.connect {
        Ports::None => {
            if let Some(network) = written_network.filter(|n| *n != "none") {
                return Err(Refusal::new(
                    "sandbox-docker-conflict",
                    format!(
                        "the argv asks for `--network {network}` but the sandbox allows no network"
                    ),
                ));
            }
            if written_network.is_none() {
                flags.push("--network=none".to_owned());
            }
        }
        Ports::All => {}
        Ports::Tcp(_) => {
            let why = format!(
                "docker cannot limit a container's connections to ports ({}): it only has none or a whole network",
                plan.connect
            );
            if plan.mode == Mode::Enforce {
                return Err(Refusal::new(
                    "sandbox-docker-unsupported",
                    format!("{why}; use network = \"none\" or \"all\" for this image"),
                ));
            }
            warnings.push(format!(
                "best-effort: {why}; the container has the daemon's default network"
            ));
        }
    }
    for (written, resolved) in argv.mounts {
        let inside = resolved.is_some_and(|source| {
            plan.read
                .iter()
                .chain(&plan.write)
                .any(|grant| source.starts_with(&grant.path))
        });
        if !inside {
            return Err(Refusal::new(
                "sandbox-mount-denied",
                format!(
                    "the bind mount source `{written}` is not inside an fs-read or fs-write grant"
                ),
            ));
        }
    }
    Ok((
        flags,
        Record {
            plan: plan.clone(),
            enforcement: "docker".to_owned(),
            landlock_abi: None,
            warnings,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Grant;

    fn plan(mode: Mode, connect: Ports) -> Plan {
        Plan {
            mode,
            read: vec![Grant {
                path: "/srv/data".into(),
                from: "fs-read: /srv/data".to_owned(),
            }],
            write: Vec::new(),
            connect,
            bind: Ports::None,
            tmp: None,
            missing: Vec::new(),
        }
    }

    #[test]
    fn the_plan_maps_to_docker_flags() {
        let argv = DockerArgv {
            options: &[],
            mounts: &[("/srv/data/x".to_owned(), Some(Path::new("/srv/data/x")))],
        };
        let (mapped, record) = flags(&plan(Mode::Enforce, Ports::None), true, &argv).unwrap();
        assert_eq!(
            mapped,
            [
                "--read-only",
                "--cap-drop=ALL",
                "--security-opt=no-new-privileges",
                "--tmpfs=/tmp:rw,nosuid,nodev",
                "--network=none"
            ]
        );
        assert_eq!(record.enforcement, "docker");
        let (all, _) = flags(&plan(Mode::Enforce, Ports::All), false, &argv).unwrap();
        assert!(!all.iter().any(|f| f.starts_with("--network")));
    }

    #[test]
    fn what_docker_cannot_express_is_refused_or_warned() {
        let argv = DockerArgv {
            options: &[],
            mounts: &[],
        };
        let ports = Ports::Tcp(vec![443]);
        let refusal = flags(&plan(Mode::Enforce, ports.clone()), false, &argv).unwrap_err();
        assert_eq!(refusal.code, "sandbox-docker-unsupported");
        let (_, record) = flags(&plan(Mode::BestEffort, ports), false, &argv).unwrap();
        assert!(record.warnings[0].contains("cannot limit"));
        let bridge = DockerArgv {
            options: &["--network=bridge".to_owned()],
            mounts: &[],
        };
        let refusal = flags(&plan(Mode::Enforce, Ports::None), false, &bridge).unwrap_err();
        assert_eq!(refusal.code, "sandbox-docker-conflict");
        let outside = DockerArgv {
            options: &[],
            mounts: &[("/home/u/x".to_owned(), Some(Path::new("/home/u/x")))],
        };
        let refusal = flags(&plan(Mode::Enforce, Ports::None), false, &outside).unwrap_err();
        assert_eq!(refusal.code, "sandbox-mount-denied");
    }
}
