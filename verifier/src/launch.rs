//! The policy's launch rules: which launcher an agent config may use, which
//! docker flags deny a launch, and which environment variables are stripped or
//! deny it. The launcher (`mcpin run`) calls [`evaluate_launch`] before it
//! starts anything and uses the returned environment.

use crate::policy::{DOCKER_DENIED_FLAGS, Policy};
use crate::verdict::{Check, Code, Decision, Reasons, SCHEMA_VERSION, Verdict};

/// docker run flags that take the next argument as their value.
const DOCKER_FLAGS_WITH_VALUE: &[&str] = &[
    "-e",
    "--env",
    "-v",
    "--volume",
    "--mount",
    "--name",
    "--network",
    "--net",
    "-p",
    "--publish",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "-l",
    "--label",
    "--cap-add",
    "--device",
    "--entrypoint",
    "--env-file",
    "--security-opt",
    "--pid",
    "--ipc",
    "--uts",
    "--userns",
    "--platform",
    "-m",
    "--memory",
    "--cpus",
    "--add-host",
    "--tmpfs",
    "--pull",
    "--hostname",
    "-h",
];

/// A launch as an agent config spells it.
#[derive(Debug, Clone)]
pub struct LaunchRequest<'a> {
    /// `npx`, `uvx`, `docker`, …
    pub launcher: &'a str,
    /// The launcher's arguments (for docker, starting with `run`).
    pub args: &'a [String],
    /// The environment the config sets for the server.
    pub env: &'a [(String, String)],
}

/// The decision, and the environment to launch with (stripped variables removed).
#[derive(Debug, Clone)]
pub struct LaunchDecision {
    pub verdict: Verdict,
    pub env: Vec<(String, String)>,
}

/// Applies `[launch]` of `policy` to `request`.
pub fn evaluate_launch(policy: &Policy, request: &LaunchRequest) -> LaunchDecision {
    let rules = &policy.launch;
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
    if launcher == "docker" {
        for flag in docker_flags(request.args) {
            let denied = DOCKER_DENIED_FLAGS
                .iter()
                .copied()
                .chain(rules.docker_deny_flags.iter().map(String::as_str))
                .any(|deny| flag_matches(&flag, deny));
            let socket = flag.contains("docker.sock");
            if denied || socket {
                reasons.fail(
                    Check::Launch,
                    Code::DockerFlagDenied,
                    format!("docker flag `{flag}` is denied"),
                );
            }
        }
    }
    let mut env = Vec::new();
    for (name, value) in request.env {
        if rules.env_deny.iter().any(|deny| deny == name) {
            reasons.fail(
                Check::Launch,
                Code::EnvDenied,
                format!("environment variable {name} denies the launch"),
            );
        } else if rules.env_strip.iter().any(|strip| strip == name) {
            reasons.info(
                Check::Launch,
                Code::EnvStripped,
                format!("environment variable {name} is removed before launch"),
            );
        } else {
            env.push((name.clone(), value.clone()));
        }
    }
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
        env,
    }
}

/// `--flag` matches `--flag` and `--flag=…`; `--flag=value` matches only that value.
fn flag_matches(flag: &str, deny: &str) -> bool {
    flag == deny || (!deny.contains('=') && flag.starts_with(&format!("{deny}=")))
}

/// The flags of `docker run …` up to the image, normalized: `--opt=value`
/// (a separate value is joined with `=`), short clusters split (`-it` → `-i`, `-t`).
fn docker_flags(args: &[String]) -> Vec<String> {
    let mut flags = Vec::new();
    let mut args = args.iter().skip_while(|arg| *arg != "run").skip(1);
    while let Some(arg) = args.next() {
        if !arg.starts_with('-') {
            break; // the image: what follows belongs to the server
        }
        if arg.contains('=') {
            flags.push(arg.clone());
        } else if DOCKER_FLAGS_WITH_VALUE.contains(&arg.as_str()) {
            let value = args.next().cloned().unwrap_or_default();
            flags.push(format!("{arg}={value}"));
        } else if !arg.starts_with("--") && arg.len() > 2 {
            flags.extend(arg[1..].chars().map(|c| format!("-{c}")));
        } else {
            flags.push(arg.clone());
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn policy() -> Policy {
        Policy::parse(
            Path::new("policy.toml"),
            "version = 1\n[launch]\nlaunchers = [\"npx\", \"docker\"]\ndocker-deny-flags = [\"--network=bridge\"]\nenv-strip = [\"NODE_OPTIONS\"]\nenv-deny = [\"LD_PRELOAD\"]\n",
        )
        .unwrap()
    }

    fn run(launcher: &str, args: &[&str], env: &[(&str, &str)]) -> LaunchDecision {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        evaluate_launch(
            &policy(),
            &LaunchRequest {
                launcher,
                args: &args,
                env: &env,
            },
        )
    }

    fn codes(decision: &LaunchDecision) -> Vec<&'static str> {
        decision
            .verdict
            .reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect()
    }

    #[test]
    fn launchers_are_allowlisted() {
        assert!(run("npx", &["-y", "pkg@1.0.0"], &[]).verdict.is_allowed());
        let uvx = run("uvx", &["pkg==1.0"], &[]);
        assert!(!uvx.verdict.is_allowed());
        assert!(codes(&uvx).contains(&"launcher-not-allowed"));
    }

    #[test]
    fn docker_flags_before_the_image_are_checked() {
        let ok = run(
            "docker",
            &[
                "run",
                "-i",
                "--rm",
                "-e",
                "TOKEN",
                "img@sha256:ab",
                "-d",
                "--privileged",
            ],
            &[],
        );
        assert!(
            ok.verdict.is_allowed(),
            "flags after the image are the server's: {:?}",
            codes(&ok)
        );
        for args in [
            &["run", "--privileged", "img"][..],
            &["run", "-it", "img"],
            &["run", "--network", "host", "img"],
            &["run", "--network=bridge", "img"],
            &[
                "run",
                "-v",
                "/var/run/docker.sock:/var/run/docker.sock",
                "img",
            ],
            &["run", "--cap-add=SYS_ADMIN", "img"],
        ] {
            let denied = run("docker", args, &[]);
            assert!(!denied.verdict.is_allowed(), "{args:?}");
            assert!(codes(&denied).contains(&"docker-flag-denied"), "{args:?}");
        }
        assert!(
            run("docker", &["run", "-i", "--network", "none", "img"], &[])
                .verdict
                .is_allowed()
        );
    }

    #[test]
    fn environment_is_stripped_or_denies() {
        let stripped = run(
            "npx",
            &[],
            &[("NODE_OPTIONS", "--require x"), ("API_KEY", "s")],
        );
        assert!(stripped.verdict.is_allowed());
        assert_eq!(stripped.env, vec![("API_KEY".to_owned(), "s".to_owned())]);
        assert!(codes(&stripped).contains(&"env-stripped"));
        let denied = run("npx", &[], &[("LD_PRELOAD", "/tmp/x.so")]);
        assert!(!denied.verdict.is_allowed());
        assert!(codes(&denied).contains(&"env-denied"));
    }
}
