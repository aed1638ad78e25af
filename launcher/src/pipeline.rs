//! `mcpin run` from argv to a ready [`Launch`] or a refusal: grammar → policy (signature,
//! rollback, expiry) → launch rules and environment → fetch into the store (offline first)
//! → bundles and verdict → the signed lock installed and its tree re-checked → the exact
//! interpreter command. A docker image is verified by its manifest digest and run by the real
//! docker client with `--pull=never` and the image pinned to that digest. Every failure on the
//! way is a refusal with a stable code; nothing here returns a launch that did not pass every
//! step.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use mcpin_attestation::{Lock, PACKAGE_PREDICATE_TYPE, PackagePredicate};
use mcpin_registry_client::oci::Reference;
use mcpin_registry_client::{Client, Error as RegistryError, Fetched, Settings, Spec};
use mcpin_verifier::PublicKey;
use mcpin_verifier::gate::{self, LoadedPolicy, PolicyLoad};
use mcpin_verifier::launch::{self, LaunchRequest as PolicyLaunch};
use mcpin_verifier::verdict::{Outcome as VerdictOutcome, Verdict};
use sha2::{Digest, Sha256};

use crate::audit::{ArtifactRef, Decision, Outcome, PolicyRef, Reason};
use crate::env::EnvPolicy;
use crate::exec::Launch;
use crate::grammar::{self, Ecosystem, LaunchRequest, VersionSpec};
use crate::install::{self, InstallRequest, Runtime};
use crate::locate::{self, BaseDirs, PolicyLocation};
use crate::tree::TreeError;

/// Where to find things; the CLI builds this from flags and the environment.
#[derive(Debug)]
pub struct RunSettings {
    /// `--policy`, else the fixed system and user locations.
    pub policy: Option<PathBuf>,
    pub dirs: BaseDirs,
    pub policy_root_key: Option<PublicKey>,
    pub state_dir: PathBuf,
    pub registry: Settings,
    /// `PATH` to find `node` on (the agent's, before sanitizing).
    pub path: Option<OsString>,
}

/// What the runtime guard needs from a verified launch. (The judge's `VerifiedPackage`, once
/// it exists, carries the signed tools; this is the interim carrier.)
#[derive(Debug)]
pub struct GuardInputs {
    /// The tools section of the verified package statement(s), if they carry one.
    pub tools: Option<mcpin_attestation::ToolsSection>,
    /// `[runtime]` of the policy the launch was allowed under.
    pub runtime: mcpin_verifier::policy::RuntimePolicy,
    pub server: mcpin_guard::ServerIdentity,
}

impl GuardInputs {
    /// Whether the server runs behind the guard: by default when tools are signed;
    /// `[runtime] guard = false` execs it.
    pub fn enabled(&self) -> bool {
        self.runtime.guard.unwrap_or(true) && self.tools.is_some()
    }
}

/// The pipeline's answer. The decision is what goes into the audit log either way.
#[derive(Debug)]
pub enum Prepared {
    Launch {
        launch: Box<Launch>,
        decision: Decision,
        guard: Box<GuardInputs>,
    },
    Refused {
        decision: Decision,
        /// The verdict table, when the verifier decided.
        verdict: Option<Verdict>,
    },
}

/// Everything known when a refusal happens, for the audit record.
#[derive(Default)]
struct Known {
    policy: Option<PolicyRef>,
    artifact: Option<ArtifactRef>,
    signers: Vec<String>,
}

struct Refusal {
    code: &'static str,
    message: String,
    verdict: Option<Verdict>,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
        verdict: None,
    }
}

fn failed_reasons(verdict: &Verdict) -> Vec<Reason> {
    verdict
        .reasons
        .iter()
        .filter(|r| r.outcome == VerdictOutcome::Fail)
        .map(|r| Reason {
            code: r.code.as_str().to_owned(),
            message: r.message.clone(),
        })
        .collect()
}

/// Runs every check for `argv` with the process environment `env`.
pub fn prepare(
    argv: &[String],
    env: impl IntoIterator<Item = (OsString, OsString)>,
    settings: &RunSettings,
) -> Prepared {
    let mut known = Known::default();
    match decide(argv, env, settings, &mut known) {
        Ok((launch, reasons, guard)) => Prepared::Launch {
            launch: Box::new(launch),
            guard: Box::new(guard),
            decision: Decision {
                argv: argv.to_vec(),
                artifact: known.artifact,
                policy: known.policy,
                signers: known.signers,
                verdict: Outcome::Allow,
                reasons,
            },
        },
        Err(refusal) => {
            let reasons = describe(&refusal);
            Prepared::Refused {
                decision: Decision {
                    argv: argv.to_vec(),
                    artifact: known.artifact,
                    policy: known.policy,
                    signers: known.signers,
                    verdict: Outcome::Deny,
                    reasons,
                },
                verdict: refusal.verdict,
            }
        }
    }
}

/// Finds and loads the policy; `known.policy` names it (also when it is refused).
fn load(settings: &RunSettings, known: &mut Known) -> Result<Box<LoadedPolicy>, Refusal> {
    let policy_path = match locate::find_policy(
        settings.policy.as_deref(),
        &settings.dirs,
        Path::new(locate::SYSTEM_POLICY),
    ) {
        PolicyLocation::Found(path) => path,
        PolicyLocation::Missing { searched } => {
            let searched: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
            return Err(refuse(
                "no-policy",
                format!("no policy file found (looked at {})", searched.join(", ")),
            ));
        }
    };
    let loaded = gate::load_policy(
        &policy_path,
        settings.policy_root_key.as_ref(),
        &settings.state_dir,
    )
    .map_err(|error| match error {
        gate::GateError::Io { .. } => refuse("policy-unreadable", error.to_string()),
        other => {
            // Record which bytes were refused.
            if let Ok(bytes) = fs_err::read(&policy_path) {
                known.policy = Some(PolicyRef {
                    path: policy_path.display().to_string(),
                    version: None,
                    digest: format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
                });
            }
            refuse("policy-invalid", other.to_string())
        }
    })?;
    let loaded = match loaded {
        PolicyLoad::Loaded(loaded) => loaded,
        PolicyLoad::Refused { digest, verdict } => {
            known.policy = Some(PolicyRef {
                path: policy_path.display().to_string(),
                version: None,
                digest,
            });
            return Err(Refusal {
                code: "policy-refused",
                message: String::new(),
                verdict: Some(verdict),
            });
        }
    };
    known.policy = Some(PolicyRef {
        path: policy_path.display().to_string(),
        version: Some(loaded.policy.version.to_string()),
        digest: loaded.digest.clone(),
    });
    Ok(loaded)
}

fn decide(
    argv: &[String],
    env: impl IntoIterator<Item = (OsString, OsString)>,
    settings: &RunSettings,
    known: &mut Known,
) -> Result<(Launch, Vec<Reason>, GuardInputs), Refusal> {
    let request = grammar::parse(argv).map_err(|r| Refusal {
        code: r.code.code(),
        message: r.reason,
        verdict: None,
    })?;
    let loaded = load(settings, known)?;
    let policy = &loaded.policy;

    // Launch rules (launcher, docker flags) and the environment, before any download.
    launch_rules(policy, &request)?;
    let mut env_policy = EnvPolicy::default();
    env_policy
        .strip
        .extend(policy.launch.env_strip.iter().cloned());
    env_policy
        .deny
        .extend(policy.launch.env_deny.iter().cloned());
    let env = env_policy
        .sanitize(env)
        .map_err(|e| refuse("env-denied", e.to_string()))?;

    let Verified {
        fetched,
        identified,
        judged,
        lock,
        _named,
    } = verify_package(&request, &loaded, &settings.registry, known)?;
    let mut reasons = passed_reasons(&judged.verdict);
    let guard = guard_inputs(policy, &judged.attestations, &identified)?;
    reasons.push(Reason {
        code: if guard.enabled() {
            "runtime-guard"
        } else {
            "exec"
        }
        .to_owned(),
        message: match &guard.tools {
            Some(tools) if guard.enabled() => format!(
                "the runtime guard relays the server's stdio ({} signed tool(s), {})",
                tools.payload.tools.len(),
                tools.digest
            ),
            Some(_) => "[runtime] guard = false: the server is exec'd".to_owned(),
            None => "no signed tools: the server is exec'd without the runtime guard".to_owned(),
        },
    });
    if let Some(docker) = &request.docker {
        let launch = docker_launch(&request, docker, &identified, env, settings)?;
        reasons.push(Reason {
            code: "docker-exec".to_owned(),
            message: std::iter::once(launch.program.as_os_str())
                .chain(launch.args.iter().map(OsString::as_os_str))
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
        });
        return Ok((launch, reasons, guard));
    }
    let installed = install::ensure_installed(
        &settings.registry,
        &InstallRequest {
            artifact: &fetched.path,
            file_name: &fetched.file_name,
            sha256: &identified.digests.sha256,
            lock: lock.as_ref(),
        },
    )
    .map_err(|error| match error {
        install::InstallError::Tree(TreeError::Changed { path, what }) => refuse(
            "install-tampered",
            format!(
                "the installed tree of {} changed since it was installed: `{path}` {what}",
                identified.package.purl
            ),
        ),
        other => refuse("install-failed", other.to_string()),
    })?;

    let (program, args) = command_for(&request, &identified.package, &installed, settings)?;
    reasons.push(Reason {
        code: "install-verified".to_owned(),
        message: format!(
            "installed tree {} matches {}",
            installed.root.display(),
            installed.tree_digest
        ),
    });
    Ok((Launch { program, args, env }, reasons, guard))
}

/// The signed tools every verified package statement carries (they must agree), and the
/// runtime policy. `[runtime] guard = true` without signed tools is a refusal.
fn guard_inputs(
    policy: &mcpin_verifier::policy::Policy,
    attestations: &[mcpin_verifier::evaluate::Attestation],
    identified: &mcpin_artifact::Identified,
) -> Result<GuardInputs, Refusal> {
    let mut sections: Vec<mcpin_attestation::ToolsSection> = Vec::new();
    for statement in attestations.iter().filter_map(|a| a.statement.as_ref()) {
        if statement.predicate_type != PACKAGE_PREDICATE_TYPE {
            continue;
        }
        let predicate: PackagePredicate = serde_json::from_value(statement.predicate.clone())
            .map_err(|e| refuse("statement-malformed", e.to_string()))?;
        if let Some(tools) = predicate.tools
            && !sections.iter().any(|known| known.digest == tools.digest)
        {
            sections.push(tools);
        }
    }
    if sections.len() > 1 {
        return Err(refuse(
            "tools-conflict",
            format!(
                "{} verified statements sign different tools for {}",
                sections.len(),
                identified.package.purl
            ),
        ));
    }
    let tools = sections.pop();
    if policy.runtime.guard == Some(true) && tools.is_none() {
        return Err(refuse(
            "guard-needs-tools",
            format!(
                "[runtime] guard = true, but no signed statement of {} carries tools (sign with --capture or --tools)",
                identified.package.purl
            ),
        ));
    }
    Ok(GuardInputs {
        tools,
        runtime: policy.runtime.clone(),
        server: mcpin_guard::ServerIdentity {
            purl: identified.package.purl.clone(),
            sha256: identified.digests.sha256.clone(),
        },
    })
}

/// The verdict's passing reasons, for the audit record of an allowed launch.
fn passed_reasons(verdict: &Verdict) -> Vec<Reason> {
    verdict
        .reasons
        .iter()
        .filter(|r| r.outcome == VerdictOutcome::Pass)
        .map(|r| Reason {
            code: r.code.as_str().to_owned(),
            message: r.message.clone(),
        })
        .collect()
}

/// The real docker client (on `PATH`, never mcpin itself) running exactly the verified image:
/// `docker run --pull=never <options as written> <registry>/<repository>@sha256:<manifest>
/// ARGS`, with the sanitized environment.
fn docker_launch(
    request: &LaunchRequest,
    docker: &grammar::DockerRun,
    identified: &mcpin_artifact::Identified,
    env: crate::env::SanitizedEnv,
    settings: &RunSettings,
) -> Result<Launch, Refusal> {
    let self_exe = std::env::current_exe().map_err(|e| refuse("no-interpreter", e.to_string()))?;
    let program = settings
        .path
        .as_deref()
        .and_then(|path| crate::exec::find_real_tool("docker", path, &self_exe))
        .ok_or_else(|| {
            refuse(
                "no-interpreter",
                "no `docker` client on PATH (besides mcpin)",
            )
        })?;
    // The package name is `<registry>/<repository>` and the version `sha256:<hex>` of the
    // manifest bytes that were verified.
    let image = format!("{}@{}", identified.package.name, identified.package.version);
    let argv = &request.argv;
    let mut args: Vec<OsString> = vec!["run".into(), "--pull=never".into()];
    args.extend(
        argv[docker.run_index + 1..docker.image_index]
            .iter()
            .map(OsString::from),
    );
    args.push(image.into());
    args.extend(argv[docker.image_index + 1..].iter().map(OsString::from));
    Ok(Launch { program, args, env })
}

fn launch_rules(
    policy: &mcpin_verifier::policy::Policy,
    request: &LaunchRequest,
) -> Result<(), Refusal> {
    let launcher_args = &request.argv[1..];
    let rules = launch::evaluate_launch(
        policy,
        &PolicyLaunch {
            launcher: request.launcher.name(),
            args: launcher_args,
            env: &[],
        },
    );
    if !rules.verdict.is_allowed() {
        return Err(Refusal {
            code: "launch-denied",
            message: String::new(),
            verdict: Some(rules.verdict),
        });
    }
    Ok(())
}

/// A package verified against the policy, with the lock to install.
struct Verified {
    fetched: Fetched,
    identified: mcpin_artifact::Identified,
    judged: gate::Judged,
    lock: Option<Lock>,
    /// Holds the artifact's name link for as long as the verification is used.
    _named: Option<tempfile::TempDir>,
}

/// Fetch (offline first), identify, judge, and pick the signed lock.
fn verify_package(
    request: &LaunchRequest,
    loaded: &LoadedPolicy,
    registry: &Settings,
    known: &mut Known,
) -> Result<Verified, Refusal> {
    if let Some(docker) = &request.docker {
        return verify_image(docker, loaded, registry, known);
    }
    if !request.with.is_empty() {
        return Err(refuse(
            "launcher-with-unsigned",
            "uvx --with adds packages outside the signed lock; sign a package that depends on them",
        ));
    }

    let fetched = fetch(&package_spec(request), registry)?;
    // identify() reads the kind of archive from its file name; the store names blobs by digest.
    let named = tempfile::tempdir().map_err(|e| refuse("install-failed", e.to_string()))?;
    let artifact_path = named.path().join(&fetched.file_name);
    std::os::unix::fs::symlink(&fetched.path, &artifact_path)
        .map_err(|e| refuse("install-failed", e.to_string()))?;
    let identified = mcpin_artifact::identify(&artifact_path)
        .map_err(|e| refuse("artifact-invalid", e.to_string()))?;
    known.artifact = Some(ArtifactRef {
        purl: identified.package.purl.clone(),
        digests: [
            ("sha256".to_owned(), identified.digests.sha256.clone()),
            ("sha512".to_owned(), identified.digests.sha512.clone()),
        ]
        .into(),
    });

    let judged = judge(loaded, &artifact_path, &identified, known)?;
    let lock = signed_lock(&judged.attestations, &identified)?;
    Ok(Verified {
        fetched,
        identified,
        judged,
        lock,
        _named: Some(named),
    })
}

/// The verdict on an identified artifact; anything but allow is a refusal.
fn judge(
    loaded: &LoadedPolicy,
    artifact_path: &Path,
    identified: &mcpin_artifact::Identified,
    known: &mut Known,
) -> Result<gate::Judged, Refusal> {
    let judged = gate::judge(loaded, artifact_path, identified, &[], Vec::new())
        .map_err(|e| refuse("verifier-error", e.to_string()))?;
    if !judged.verdict.is_allowed() {
        return Err(Refusal {
            code: "policy-denied",
            message: String::new(),
            verdict: Some(judged.verdict),
        });
    }
    let mut signers: Vec<String> = judged
        .attestations
        .iter()
        .map(|a| a.signer.clone())
        .collect();
    signers.sort();
    signers.dedup();
    known.signers = signers;
    Ok(judged)
}

/// A docker image: pinned by digest in the argv (a tag is refused: `mcpin wrap` pins),
/// its manifest fetched into the store (offline first) and identified from the stored
/// bytes, its bundles found by the manifest's sha256 and judged. An image index resolves to
/// the linux/<this arch> manifest, and that manifest's digest is what gets verified and run.
fn verify_image(
    docker: &grammar::DockerRun,
    loaded: &LoadedPolicy,
    registry: &Settings,
    known: &mut Known,
) -> Result<Verified, Refusal> {
    let Some(digest) = &docker.digest else {
        return Err(refuse(
            "docker-unpinned",
            "the image is not pinned by digest: run `mcpin wrap` or name image@sha256:…",
        ));
    };
    if let Some(pull) = docker
        .other_options
        .iter()
        .find(|o| o.starts_with("--pull=") && *o != "--pull=never")
    {
        return Err(refuse(
            "docker-pull",
            format!("`{pull}`: mcpin runs the verified image with `--pull=never`"),
        ));
    }
    let reference = Reference::parse(&format!("{}@{digest}", docker.image))
        .map_err(|why| refuse("docker-invalid-image", format!("`{}`: {why}", docker.image)))?;
    let (client, fetched) = fetch_with_client(&Spec::Oci(reference.clone()), registry)?;
    let identified = client
        .identify_image(&reference, &fetched)
        .map_err(|e| refuse("artifact-invalid", e.to_string()))?;
    known.artifact = Some(ArtifactRef {
        purl: identified.package.purl.clone(),
        digests: [
            ("sha256".to_owned(), identified.digests.sha256.clone()),
            ("sha512".to_owned(), identified.digests.sha512.clone()),
        ]
        .into(),
    });
    let judged = judge(loaded, &fetched.path, &identified, known)?;
    Ok(Verified {
        fetched,
        identified,
        judged,
        lock: None,
        _named: None,
    })
}

/// The registry spec of an npm or PyPI launch.
fn package_spec(request: &LaunchRequest) -> Spec {
    let package = &request.package;
    match (package.ecosystem, &package.version) {
        (Ecosystem::Npm, VersionSpec::Exact(v) | VersionSpec::Floating(v)) => Spec::Npm {
            name: package.name.clone(),
            requirement: v.clone(),
        },
        (Ecosystem::Pypi, VersionSpec::Exact(v)) => Spec::Pypi {
            name: package.name.clone(),
            specifiers: format!("=={v}"),
        },
        (Ecosystem::Pypi, VersionSpec::Floating(v)) => Spec::Pypi {
            name: package.name.clone(),
            specifiers: v.clone(),
        },
        (Ecosystem::Oci, _) => unreachable!("docker requests are verified by verify_image"),
    }
}

/// Offline first: a warm launch finds its artifact through the store's refs.
fn fetch(spec: &Spec, settings: &Settings) -> Result<Fetched, Refusal> {
    fetch_with_client(spec, settings).map(|(_, fetched)| fetched)
}

/// [`fetch`], also returning the client that answered (its store holds the bytes).
fn fetch_with_client(spec: &Spec, settings: &Settings) -> Result<(Client, Fetched), Refusal> {
    let offline = Settings {
        http: mcpin_registry_client::HttpSettings {
            offline: true,
            ..settings.http.clone()
        },
        ..settings.clone()
    };
    let client = |s: Settings| Client::new(s).map_err(|e| refuse("fetch-failed", e.to_string()));
    let warm = client(offline)?;
    match warm.fetch(spec) {
        Ok(fetched) => Ok((warm, fetched)),
        Err(RegistryError::Offline { .. }) if !settings.http.offline => {
            let online = client(settings.clone())?;
            let fetched = online
                .fetch(spec)
                .map_err(|e| refuse("fetch-failed", e.to_string()))?;
            Ok((online, fetched))
        }
        Err(e) => Err(refuse("fetch-failed", e.to_string())),
    }
}

/// The lock every verified package statement signs; they must agree. No lock is accepted
/// only for a package that declares no dependencies.
fn signed_lock(
    attestations: &[mcpin_verifier::evaluate::Attestation],
    identified: &mcpin_artifact::Identified,
) -> Result<Option<Lock>, Refusal> {
    let mut locks: Vec<Lock> = Vec::new();
    for statement in attestations.iter().filter_map(|a| a.statement.as_ref()) {
        if statement.predicate_type != PACKAGE_PREDICATE_TYPE {
            continue;
        }
        let predicate: PackagePredicate = serde_json::from_value(statement.predicate.clone())
            .map_err(|e| refuse("statement-malformed", e.to_string()))?;
        if let Some(lock) = predicate.lock
            && !locks.contains(&lock)
        {
            locks.push(lock);
        }
    }
    let package = &identified.package;
    match locks.len() {
        0 if declares_dependencies(identified) => Err(refuse(
            "lock-required",
            format!(
                "{} declares dependencies but no signed statement carries a lock (sign with `mcpin sign --lock`)",
                package.purl
            ),
        )),
        0 => Ok(None),
        1 => {
            let lock = locks.remove(0);
            if lock.root.name != package.name || lock.root.version != package.version {
                return Err(refuse(
                    "lock-mismatch",
                    format!(
                        "the signed lock is for {}@{}, not {}",
                        lock.root.name, lock.root.version, package.purl
                    ),
                ));
            }
            Ok(Some(lock))
        }
        n => Err(refuse(
            "lock-conflict",
            format!(
                "{n} verified statements sign different locks for {}",
                package.purl
            ),
        )),
    }
}

fn declares_dependencies(identified: &mcpin_artifact::Identified) -> bool {
    let bytes = &identified.metadata.bytes;
    if identified.metadata.path.ends_with("package.json") {
        let json: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        return ["dependencies", "optionalDependencies", "peerDependencies"]
            .iter()
            .any(|key| json[key].as_object().is_some_and(|deps| !deps.is_empty()))
            // Unreadable metadata cannot prove there are none.
            || !json.is_object();
    }
    String::from_utf8_lossy(bytes).lines().any(|line| {
        line.strip_prefix("Requires-Dist:")
            .is_some_and(|req| !req.contains("extra =="))
    })
}

fn find_on_path(name: &str, path: Option<&OsString>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The interpreter command: `node <tree>/pkg/<bin> ARGS` or `python -I -B -c <bootstrap> …`
/// (`-B`: no bytecode caches written into the verified tree; read-only bits do not stop root).
fn command_for(
    request: &LaunchRequest,
    package: &mcpin_attestation::PackageInfo,
    installed: &install::Installed,
    settings: &RunSettings,
) -> Result<(PathBuf, Vec<OsString>), Refusal> {
    let wanted = request.command.clone();
    let entries = &package.entry_points;
    let short = package.name.rsplit('/').next().unwrap_or(&package.name);
    let entry = match &wanted {
        Some(name) => entries.iter().find(|e| &e.name == name),
        None if entries.len() == 1 => entries.first(),
        None => entries.iter().find(|e| e.name == short),
    }
    .ok_or_else(|| {
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        refuse(
            "no-entry-point",
            format!(
                "{} has no {} to run (it declares: {})",
                package.purl,
                wanted.map_or("single entry point".to_owned(), |n| format!(
                    "command `{n}`"
                )),
                names.join(", ")
            ),
        )
    })?;
    let server_args = request.server_args.iter().map(OsString::from);
    match &installed.runtime {
        Runtime::Node => {
            let node = find_on_path("node", settings.path.as_ref())
                .ok_or_else(|| refuse("no-interpreter", "`node` is not on PATH"))?;
            let script = installed.root.join("pkg").join(&entry.target);
            let mut args = vec![script.into_os_string()];
            args.extend(server_args);
            Ok((node, args))
        }
        Runtime::Python { python } => {
            let mut args: Vec<OsString> = ["-I", "-B", "-c", PY_BOOTSTRAP]
                .iter()
                .map(OsString::from)
                .collect();
            args.push(installed.root.join("site").into_os_string());
            args.push(entry.target.clone().into());
            args.push(entry.name.clone().into());
            args.extend(server_args);
            Ok((python.clone(), args))
        }
    }
}

/// Runs `module:attr.path` from the installed site directory; argv[1..4] are the site
/// directory, the entry point and the command name, so no path is ever spliced into code.
const PY_BOOTSTRAP: &str = "import sys,importlib,functools\n\
a=sys.argv;sys.path.insert(0,a[1]);m,_,f=a[2].partition(':');a[0]=a[3];del a[1:4]\n\
sys.exit(functools.reduce(getattr,f.split('.'),importlib.import_module(m))())";

/// `mcpin wrap`'s install-time gate: each server is fetched and judged exactly as `mcpin run`
/// would judge it (policy, launch rules, signatures, signed lock), without installing it.
pub struct PolicyGate<'a> {
    settings: &'a RunSettings,
    /// The policy, loaded once; or why there is none.
    loaded: Result<Box<LoadedPolicy>, (String, String)>,
}

impl<'a> PolicyGate<'a> {
    pub fn new(settings: &'a RunSettings) -> PolicyGate<'a> {
        let loaded = load(settings, &mut Known::default())
            .map_err(|refusal| describe(&refusal).remove(0))
            .map_err(|reason| (reason.code, reason.message));
        PolicyGate { settings, loaded }
    }
}

/// A refusal's reasons: the verdict's failures, else its own code and message.
fn describe(refusal: &Refusal) -> Vec<Reason> {
    let mut reasons = refusal
        .verdict
        .as_ref()
        .map(failed_reasons)
        .unwrap_or_default();
    if reasons.is_empty() {
        reasons.push(Reason {
            code: refusal.code.to_owned(),
            message: refusal.message.clone(),
        });
    }
    reasons
}

impl crate::wrap::Gate for PolicyGate<'_> {
    fn check(&self, request: &LaunchRequest) -> crate::wrap::GateVerdict {
        let deny = |reasons| crate::wrap::GateVerdict {
            outcome: Outcome::Deny,
            reasons,
        };
        let loaded = match &self.loaded {
            Ok(loaded) => loaded,
            Err((code, message)) => {
                return deny(vec![Reason {
                    code: code.clone(),
                    message: message.clone(),
                }]);
            }
        };
        let verified = launch_rules(&loaded.policy, request).and_then(|()| {
            verify_package(
                request,
                loaded,
                &self.settings.registry,
                &mut Known::default(),
            )
        });
        match verified {
            Ok(verified) => crate::wrap::GateVerdict {
                outcome: Outcome::Allow,
                reasons: verified
                    .judged
                    .verdict
                    .reasons
                    .iter()
                    .filter(|r| r.outcome == VerdictOutcome::Pass)
                    .map(|r| Reason {
                        code: r.code.as_str().to_owned(),
                        message: r.message.clone(),
                    })
                    .collect(),
            },
            Err(refusal) => deny(describe(&refusal)),
        }
    }
}
