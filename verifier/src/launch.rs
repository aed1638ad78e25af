//! The policy's launch rules, judged over what the launcher gathered: which launcher an agent
//! config may use, the docker options (as the launcher grammar normalized them), the docker
//! bind-mount sources (resolved with realpath by the launcher), and the environment ([`env`]).
//! The launcher (`mcpin run`, and `mcpin wrap`'s gate) calls [`evaluate_launch`] before it
//! starts anything and uses the environment it returns. No I/O happens here.
//!
//! Built-in docker option rules live in one place, the launcher grammar, which accepts a short
//! list of options and refuses the rest with their own codes. The policy can deny more
//! (`docker-deny-flags`, matched against the grammar's canonical long forms).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::verdict::{Check, Code, Decision, Reasons, SCHEMA_VERSION, Verdict};

pub mod env;

use env::{Class, EnvError, EnvLists, EnvRules, SanitizedEnv};

/// Host paths a bind mount may not be, lie inside, or contain: the root, the kernel's and the
/// runtime's state, the devices and the docker daemon's sockets.
pub const FORBIDDEN_MOUNTS: &[&str] = &[
    "/",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/etc/docker",
];

/// `[launch]`, validated.
#[derive(Debug, Clone, Default)]
pub struct LaunchRules {
    /// Launchers agent configs may use (`npx`, `uvx`, `docker`); empty allows none.
    pub launchers: Vec<String>,
    /// Canonical long docker options (`--network=bridge`, `--user`) that deny a launch.
    pub docker_deny_flags: Vec<String>,
    /// `env-allow`, `env-strip`, `env-deny`.
    pub env: EnvLists,
    /// Directories bind-mount sources must lie in (absolute); empty allows no bind mount.
    pub docker_mount_sources: Vec<PathBuf>,
    /// The docker daemon the docker client talks to (`DOCKER_HOST`); unset: the client's
    /// default (its configuration in the account's `~/.docker`).
    pub docker_host: Option<String>,
    /// The interpreters launches exec (the system config's pins win over these).
    pub interpreters: crate::policy::InterpreterPins,
}

/// A docker bind mount's source as written, and what it resolved to on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSource {
    pub written: String,
    /// The path with every symlink resolved; `None` when it does not exist or cannot be
    /// resolved (docker would create it).
    pub resolved: Option<PathBuf>,
    /// The resolved path is a socket (a daemon's control channel).
    pub socket: bool,
}

/// The docker part of a launch.
#[derive(Debug, Clone, Copy)]
pub struct DockerRequest<'a> {
    /// Every option between `run` and the image, in the launcher grammar's canonical long form
    /// (`--interactive`, `--env=NAME=value`, `--volume=/h:/c:ro`, `--network=none`).
    pub options: &'a [String],
    /// The `--volume` sources, resolved.
    pub mounts: &'a [MountSource],
}

/// A launch as the launcher gathered it.
#[derive(Debug, Clone)]
pub struct LaunchRequest<'a> {
    /// `npx`, `uvx`, `docker`, …
    pub launcher: &'a str,
    pub docker: Option<DockerRequest<'a>>,
    /// The environment mcpin was started with (the agent's, with the config's `env`).
    pub env: Vec<(OsString, OsString)>,
    /// The account's home directory (password database of the real uid), if it has one.
    pub home: Option<&'a Path>,
}

/// The decision, and the environment to start the server with (for docker: the docker
/// client's environment). `env` is `None` when the launch is denied.
#[derive(Debug, Clone)]
pub struct LaunchDecision {
    pub verdict: Verdict,
    pub env: Option<SanitizedEnv>,
}

/// Applies `rules` to `request`.
pub fn evaluate_launch(rules: &LaunchRules, request: LaunchRequest) -> LaunchDecision {
    let mut reasons = Reasons::default();
    let launcher = request.launcher;
    if rules.launchers.iter().any(|allowed| allowed == launcher) {
        reasons.pass(
            Check::Launch,
            Code::LauncherAllowed,
            format!("launcher `{launcher}` is allowed"),
        );
    } else {
        reasons.fail(
            Check::Launch,
            Code::LauncherNotAllowed,
            format!(
                "launcher `{launcher}` is not in [launch] launchers [{}]",
                rules.launchers.join(", ")
            ),
        );
    }
    let env_rules = match request.docker {
        Some(docker) => {
            docker_options(rules, docker.options, &mut reasons);
            docker_mounts(rules, request.home, docker.mounts, &mut reasons);
            EnvRules::docker(&rules.env)
        }
        None => EnvRules::server(&rules.env),
    };
    let env = match env_rules.sanitize(request.env, request.home) {
        Ok(mut env) => {
            report_env(&env, &mut reasons);
            if request.docker.is_some() {
                docker_client_env(rules, request.home, &mut env, &mut reasons);
            }
            Some(env)
        }
        Err(EnvError::Denied { name }) => {
            reasons.fail(
                Check::Launch,
                Code::EnvDenied,
                format!("environment variable {name} is on [launch] env-deny"),
            );
            None
        }
    };
    let decision = if reasons.failed() {
        Decision::Deny
    } else {
        Decision::Allow
    };
    LaunchDecision {
        verdict: Verdict {
            schema_version: SCHEMA_VERSION,
            decision,
            subject: None,
            sha256: None,
            reasons: reasons.0,
        },
        env: env.filter(|_| decision == Decision::Allow),
    }
}

fn report_env(env: &SanitizedEnv, reasons: &mut Reasons) {
    for stripped in &env.stripped {
        reasons.info(Check::Launch, Code::EnvStripped, stripped.reason.clone());
    }
    if !env.dropped.is_empty() {
        reasons.info(
            Check::Launch,
            Code::EnvDropped,
            format!(
                "not on the environment allowlist (base or [launch] env-allow), not passed on: {}",
                env.dropped.join(", ")
            ),
        );
    }
}

/// `--flag` matches `--flag` and `--flag=…`; `--flag=value` matches only that value.
fn flag_matches(option: &str, deny: &str) -> bool {
    option == deny || (!deny.contains('=') && option.starts_with(&format!("{deny}=")))
}

/// The policy's extra denied options, and `--env` names through the environment rules.
fn docker_options(rules: &LaunchRules, options: &[String], reasons: &mut Reasons) {
    let env_rules = EnvRules::server(&rules.env);
    for option in options {
        if rules
            .docker_deny_flags
            .iter()
            .any(|deny| flag_matches(option, deny))
        {
            reasons.fail(
                Check::Launch,
                Code::DockerFlagDenied,
                format!("docker option `{option}` is on [launch] docker-deny-flags"),
            );
        }
        let Some(entry) = option.strip_prefix("--env=") else {
            continue;
        };
        let (name, value) = match entry.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (entry, None),
        };
        match (env_rules.classify(name), value) {
            (Class::Deny, _) => reasons.fail(
                Check::Launch,
                Code::EnvDenied,
                format!("docker `-e {name}`: {name} is on [launch] env-deny"),
            ),
            (Class::Strip(why), _) => reasons.fail(
                Check::Launch,
                Code::DockerEnvDenied,
                format!("docker `-e {entry}` would set it in the container: {why}"),
            ),
            // `-e NAME` takes the value from the docker client's environment, which holds only
            // allowed names: an unlisted one reaches the container empty.
            (Class::Drop, None) => reasons.info(
                Check::Launch,
                Code::EnvDropped,
                format!("docker `-e {name}`: {name} is not on the allowlist, the container gets no value"),
            ),
            // A value written in the argv is the entry's explicit environment.
            (Class::Allow | Class::Drop, _) => {}
        }
    }
}

/// Bind-mount sources: resolved, not a socket, not one of (or inside, or a parent of) the
/// forbidden paths, and inside a `[launch] docker-mount-sources` directory.
fn docker_mounts(
    rules: &LaunchRules,
    home: Option<&Path>,
    mounts: &[MountSource],
    reasons: &mut Reasons,
) {
    let mut forbidden: Vec<PathBuf> = FORBIDDEN_MOUNTS.iter().map(PathBuf::from).collect();
    // The docker client's configuration (contexts, credentials) and a pinned socket.
    forbidden.extend(home.map(|home| home.join(".docker")));
    forbidden.extend(
        rules
            .docker_host
            .as_deref()
            .and_then(|host| host.strip_prefix("unix://"))
            .map(PathBuf::from),
    );
    for mount in mounts {
        let written = &mount.written;
        let deny = |reasons: &mut Reasons, why: String| {
            reasons.fail(
                Check::Launch,
                Code::DockerMountDenied,
                format!("docker `-v {written}:…`: {why}"),
            );
        };
        let Some(resolved) = &mount.resolved else {
            deny(
                reasons,
                "the source does not exist or cannot be resolved".to_owned(),
            );
            continue;
        };
        let shown = resolved.display();
        if mount.socket {
            deny(reasons, format!("{shown} is a socket"));
            continue;
        }
        if forbidden.contains(resolved) {
            deny(reasons, format!("{shown} is a host system path"));
            continue;
        }
        if let Some(path) = forbidden
            .iter()
            .find(|f| resolved.starts_with(f) && f.as_path() != Path::new("/"))
        {
            deny(reasons, format!("{shown} lies inside {}", path.display()));
            continue;
        }
        if let Some(path) = forbidden.iter().find(|f| f.starts_with(resolved)) {
            deny(reasons, format!("{shown} contains {}", path.display()));
            continue;
        }
        if !rules
            .docker_mount_sources
            .iter()
            .any(|allowed| resolved.starts_with(allowed))
        {
            deny(
                reasons,
                format!(
                    "{shown} is not inside a [launch] docker-mount-sources directory{}",
                    if rules.docker_mount_sources.is_empty() {
                        " (none are set: bind mounts are off)"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}

/// The docker client talks to the pinned daemon (or its default) and reads its configuration
/// from the account's `~/.docker`, never from a directory the caller names.
fn docker_client_env(
    rules: &LaunchRules,
    home: Option<&Path>,
    env: &mut SanitizedEnv,
    reasons: &mut Reasons,
) {
    let Some(home) = home else {
        reasons.fail(
            Check::Launch,
            Code::DockerConfigUnavailable,
            "the account has no home directory: the docker client would read its configuration from the current directory".to_owned(),
        );
        return;
    };
    env.vars.insert(
        "DOCKER_CONFIG".into(),
        home.join(".docker").into_os_string(),
    );
    if let Some(host) = &rules.docker_host {
        env.vars.insert("DOCKER_HOST".into(), host.into());
        reasons.info(
            Check::Launch,
            Code::DockerHostPinned,
            format!("the docker client talks to {host} ([launch] docker-host)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    fn rules() -> LaunchRules {
        LaunchRules {
            launchers: vec!["npx".into(), "docker".into()],
            docker_deny_flags: vec!["--network=bridge".into()],
            env: EnvLists {
                allow: vec!["API_KEY".into(), "TOKEN".into()],
                strip: vec!["NODE_OPTIONS".into()],
                deny: vec!["LD_PRELOAD".into()],
            },
            docker_mount_sources: vec!["/srv/data".into()],
            docker_host: Some("unix:///run/user/1000/docker.sock".into()),
            interpreters: Default::default(),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn codes(decision: &LaunchDecision) -> Vec<&'static str> {
        decision
            .verdict
            .reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect()
    }

    fn docker(options: &[&str], mounts: &[MountSource], vars: &[(&str, &str)]) -> LaunchDecision {
        let options: Vec<String> = options.iter().map(|s| s.to_string()).collect();
        evaluate_launch(
            &rules(),
            LaunchRequest {
                launcher: "docker",
                docker: Some(DockerRequest {
                    options: &options,
                    mounts,
                }),
                env: env(vars),
                home: Some(Path::new("/home/u")),
            },
        )
    }

    fn mount(written: &str, resolved: Option<&str>, socket: bool) -> MountSource {
        MountSource {
            written: written.into(),
            resolved: resolved.map(PathBuf::from),
            socket,
        }
    }

    #[test]
    fn launchers_are_allowlisted() {
        let run = |launcher| {
            evaluate_launch(
                &rules(),
                LaunchRequest {
                    launcher,
                    docker: None,
                    env: Vec::new(),
                    home: None,
                },
            )
        };
        assert!(run("npx").verdict.is_allowed());
        let uvx = run("uvx");
        assert!(!uvx.verdict.is_allowed());
        assert!(uvx.env.is_none());
        assert!(codes(&uvx).contains(&"launcher-not-allowed"));
    }

    #[test]
    fn policy_denied_options_match_the_canonical_form() {
        let ok = docker(&["--interactive", "--network=none"], &[], &[]);
        assert!(ok.verdict.is_allowed(), "{:?}", codes(&ok));
        let denied = docker(&["--interactive", "--network=bridge"], &[], &[]);
        assert!(codes(&denied).contains(&"docker-flag-denied"));
    }

    #[test]
    fn docker_env_names_go_through_the_env_rules() {
        // `-e LD_PRELOAD=/host/x` with a mount would run host code in the container.
        let preload = docker(&["--interactive", "--env=LD_PRELOAD=/host/x.so"], &[], &[]);
        assert!(!preload.verdict.is_allowed());
        assert!(codes(&preload).contains(&"env-denied"));
        let node = docker(
            &["--interactive", "--env=NODE_OPTIONS=--require /x"],
            &[],
            &[],
        );
        assert!(
            codes(&node).contains(&"docker-env-denied"),
            "{:?}",
            codes(&node)
        );
        let gconv = docker(&["--interactive", "--env=GCONV_PATH"], &[], &[]);
        assert!(codes(&gconv).contains(&"docker-env-denied"));
        // Explicit values and allowed names pass; an unlisted `-e NAME` is reported.
        let ok = docker(
            &[
                "--interactive",
                "--env=MCP_MODE=stdio",
                "--env=TOKEN",
                "--env=OTHER",
            ],
            &[],
            &[("TOKEN", "t"), ("OTHER", "o")],
        );
        assert!(ok.verdict.is_allowed(), "{:?}", codes(&ok));
        let env = ok.env.unwrap();
        assert_eq!(env.vars.get(OsStr::new("TOKEN")).unwrap(), "t");
        assert!(!env.vars.contains_key(OsStr::new("OTHER")));
        assert!(
            ok.verdict
                .reasons
                .iter()
                .any(|r| r.code == Code::EnvDropped && r.message.contains("`-e OTHER`"))
        );
    }

    #[test]
    fn docker_client_variables_are_replaced_by_the_pins() {
        let decision = docker(
            &["--interactive"],
            &[],
            &[
                ("DOCKER_HOST", "ssh://attacker@example"),
                ("DOCKER_CONFIG", "/repo/.docker"),
                ("DOCKER_CONTEXT", "evil"),
                ("DOCKER_CERT_PATH", "/repo/certs"),
                ("DOCKER_TLS_VERIFY", "1"),
            ],
        );
        let env = decision.env.unwrap();
        let vars: Vec<(&str, &str)> = env
            .vars
            .iter()
            .map(|(k, v)| (k.to_str().unwrap(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            vars,
            [
                ("DOCKER_CONFIG", "/home/u/.docker"),
                ("DOCKER_HOST", "unix:///run/user/1000/docker.sock"),
                ("HOME", "/home/u"),
            ]
        );
        assert_eq!(env.stripped.len(), 5);
        let no_home = evaluate_launch(
            &rules(),
            LaunchRequest {
                launcher: "docker",
                docker: Some(DockerRequest {
                    options: &[],
                    mounts: &[],
                }),
                env: Vec::new(),
                home: None,
            },
        );
        assert!(codes(&no_home).contains(&"docker-config-unavailable"));
    }

    #[test]
    fn bind_mounts_of_the_socket_its_parents_and_system_trees_are_refused() {
        for (written, resolved, socket) in [
            // The two: a parent of the socket, and the root.
            ("/var/run", "/run", false),
            ("/", "/", false),
            ("/var", "/var", false),
            ("/proc/1/root", "/proc/1/root", false),
            ("/sys", "/sys", false),
            ("/srv/data/docker.sock", "/srv/data/docker.sock", true),
            ("/run/user/1000", "/run/user/1000", false),
            ("/home/u", "/home/u", false),
            (
                "/home/u/.docker/config.json",
                "/home/u/.docker/config.json",
                false,
            ),
            ("/srv/data/link-to-etc", "/etc", false),
            ("/srv/other", "/srv/other", false),
        ] {
            let decision = docker(
                &["--interactive"],
                &[mount(written, Some(resolved), socket)],
                &[],
            );
            assert!(!decision.verdict.is_allowed(), "{written}");
            assert!(
                codes(&decision).contains(&"docker-mount-denied"),
                "{written}"
            );
        }
        let missing = docker(
            &["--interactive"],
            &[mount("/srv/data/new", None, false)],
            &[],
        );
        assert!(codes(&missing).contains(&"docker-mount-denied"));
        let ok = docker(
            &["--interactive"],
            &[mount("/srv/data/project", Some("/srv/data/project"), false)],
            &[],
        );
        assert!(ok.verdict.is_allowed(), "{:?}", ok.verdict.reasons);
        let none_allowed = evaluate_launch(
            &LaunchRules {
                docker_mount_sources: Vec::new(),
                ..rules()
            },
            LaunchRequest {
                launcher: "docker",
                docker: Some(DockerRequest {
                    options: &[],
                    mounts: &[mount("/srv/data/p", Some("/srv/data/p"), false)],
                }),
                env: Vec::new(),
                home: Some(Path::new("/home/u")),
            },
        );
        assert!(
            none_allowed
                .verdict
                .reasons
                .iter()
                .any(|r| r.message.contains("bind mounts are off"))
        );
    }

    #[test]
    fn environment_is_an_allowlist_and_the_deny_list_refuses() {
        let run = |vars: &[(&str, &str)]| {
            evaluate_launch(
                &rules(),
                LaunchRequest {
                    launcher: "npx",
                    docker: None,
                    env: env(vars),
                    home: None,
                },
            )
        };
        let allowed = run(&[
            ("NODE_OPTIONS", "--require x"),
            ("API_KEY", "s"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        assert!(allowed.verdict.is_allowed());
        assert!(codes(&allowed).contains(&"env-stripped"));
        assert!(codes(&allowed).contains(&"env-dropped"));
        let env = allowed.env.unwrap();
        assert_eq!(env.vars.len(), 1);
        assert_eq!(env.dropped, ["AWS_SECRET_ACCESS_KEY"]);
        let denied = run(&[("LD_PRELOAD", "/tmp/x.so")]);
        assert!(!denied.verdict.is_allowed());
        assert!(denied.env.is_none());
        assert!(codes(&denied).contains(&"env-denied"));
    }

    #[test]
    fn launch_keys_are_validated_with_their_place_in_the_file() {
        let parse = |launch: &str| {
            crate::policy::Policy::parse(
                Path::new("policy.toml"),
                &format!("version = 1\n[launch]\n{launch}\n"),
            )
        };
        let policy = parse(
            "env-allow = [\"MCP_*\", \"TOKEN\"]\ndocker-deny-flags = [\"--network=bridge\"]\n\
             docker-mount-sources = [\"/srv/data\"]\ndocker-host = \"unix:///run/docker.sock\"",
        )
        .unwrap();
        assert_eq!(policy.launch.env.allow, ["MCP_*", "TOKEN"]);
        assert_eq!(
            policy.launch.docker_mount_sources,
            [PathBuf::from("/srv/data")]
        );
        assert_eq!(
            policy.launch.docker_host.as_deref(),
            Some("unix:///run/docker.sock")
        );
        for (bad, line, message) in [
            (
                "env-allow = [\"GOOD\", \"BAD-NAME\"]",
                3,
                "not a variable name",
            ),
            ("env-deny = [\"A*B\"]", 3, "not a variable name"),
            ("docker-deny-flags = [\"-e\"]", 3, "write the long form"),
            ("docker-mount-sources = [\"data\"]", 3, "absolute paths"),
            (
                "docker-mount-sources = [\"/srv/../etc\"]",
                3,
                "absolute paths",
            ),
            ("docker-host = \"http://x\"", 3, "docker-host is"),
        ] {
            let error = parse(bad).unwrap_err().to_string();
            assert!(
                error.contains(&format!("policy.toml:{line}:")) && error.contains(message),
                "{bad}: {error}"
            );
        }
    }
}
