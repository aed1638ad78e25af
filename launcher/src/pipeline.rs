//! `mcpin run` from argv to a ready [`Launch`] or a refusal: grammar → policy (signature,
//! rollback, expiry) → launch rules and environment → fetch into the store (offline first)
//! → bundles and verdict → the signed lock installed and its tree re-checked → the exact
//! interpreter command. A docker image is verified by its manifest digest and run by the real
//! docker client with `--pull=never` and the image pinned to that digest. Every failure on the
//! way is a refusal with a stable code; nothing here returns a launch that did not pass every
//! step.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use mcpin_registry_client::attestations::Gathered;
use mcpin_registry_client::oci::Reference;
use mcpin_registry_client::{Client, Error as RegistryError, Fetched, Settings, Spec};
use mcpin_sandbox::{Mode as SandboxMode, Ports, Record as SandboxRecord};
use mcpin_verifier::evaluate::{self, Evidence, Requested};
use mcpin_verifier::gate::{self, LoadedPolicy, PolicyLoad};
use mcpin_verifier::verdict::{Outcome as VerdictOutcome, Verdict};
use mcpin_verifier::{PublicKey, VerifiedPackage};
use sha2::{Digest, Sha256};

use crate::audit::{ArtifactRef, Decision, Outcome, PolicyRef, ProgramRef, Reason};
use crate::env::SanitizedEnv;
use crate::exec::Launch;
use crate::grammar::{self, LaunchRequest, VersionSpec};
use crate::install::{self, InstallRequest, Runtime};
use crate::interpreter::{InterpreterPins, Resolver, SearchEnv, Tool};
use crate::locate::{self, BaseDirs, PolicyLocation};

/// Where to find things; the CLI builds this from flags and the environment.
#[derive(Debug)]
pub struct RunSettings {
    /// `--policy`, else the fixed system and user locations.
    pub policy: Option<PathBuf>,
    pub dirs: BaseDirs,
    pub policy_root_key: Option<PublicKey>,
    pub state_dir: PathBuf,
    /// Whether this launch may write the store and the rollback state.
    pub access: Access,
    pub registry: Settings,
    /// `PATH` to find `node`, `python` and `docker` on (the agent's, before sanitizing):
    /// only its absolute entries are searched, see [`crate::interpreter`].
    pub path: Option<OsString>,
    /// Interpreters pinned by the system config or the policy; searched on `path` otherwise.
    pub interpreters: InterpreterPins,
}

/// Whether a launch may write the store and the rollback state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// System mode, unprivileged: the root-owned store and state are only read; what is not
    /// installed yet is refused with `not-installed` (an administrator runs `mcpin install`).
    ReadOnly,
}

/// What the runtime guard needs from a verified launch: the signed tools of the judged
/// `VerifiedPackage` (from the rule's required signers only), the policy's `[runtime]`, and
/// the server's identity for the audit records.
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
    program: Option<ProgramRef>,
    sandbox: Option<SandboxRecord>,
}

impl Known {
    fn decision(self, argv: &[String], verdict: Outcome, reasons: Vec<Reason>) -> Decision {
        Decision {
            argv: argv.to_vec(),
            artifact: self.artifact,
            policy: self.policy,
            signers: self.signers,
            program: self.program,
            verdict,
            reasons,
            sandbox: self.sandbox,
        }
    }
}

fn program_ref(interpreter: &crate::interpreter::Interpreter) -> ProgramRef {
    ProgramRef {
        path: interpreter.path.display().to_string(),
        sha256: interpreter.sha256.clone(),
    }
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

/// The verdict's reasons with `outcome`, for the audit record.
fn reasons_with(verdict: &Verdict, outcome: VerdictOutcome) -> Vec<Reason> {
    verdict
        .reasons
        .iter()
        .filter(|r| r.outcome == outcome)
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
            decision: known.decision(argv, Outcome::Allow, reasons),
        },
        Err(refusal) => {
            let reasons = describe(&refusal);
            Prepared::Refused {
                decision: known.decision(argv, Outcome::Deny, reasons),
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
        match settings.access {
            Access::ReadWrite => gate::StateAccess::Record,
            Access::ReadOnly => gate::StateAccess::ReadOnly,
        },
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
    let env: Vec<(OsString, OsString)> = env.into_iter().collect();
    let mut search = SearchEnv::from_vars(&env);
    if settings.path.is_some() {
        search.path = settings.path.clone();
    }
    // The system config's pins win over the policy's.
    let pins = settings.interpreters.or(&policy.launch.interpreters);
    let resolver = Resolver::new(
        &pins,
        &search,
        Some(crate::interpreter::cache_dir(&settings.registry.store)),
    );

    // Launch rules (launcher, docker options and mounts) and the environment, before any download.
    let (mut env, launch_verdict) = launch_rules(policy, &request, env)?;

    let Verified {
        fetched,
        identified,
        verdict,
        package,
        _named,
    } = verify_package(&request, &loaded, &settings.registry, known).map_err(|refusal| {
        match (&refusal.code, settings.access) {
            (&"fetch-failed", Access::ReadOnly) => not_installed(argv, &refusal.message),
            _ => refusal,
        }
    })?;
    let mut reasons = reasons_with(&verdict, VerdictOutcome::Pass);
    // What the launch rules noted: variables stripped or dropped, a pinned docker host.
    reasons.extend(reasons_with(&launch_verdict, VerdictOutcome::Info));
    let guard = guard_inputs(policy, &package)?;
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
        let docker_client = resolver
            .resolve(Tool::Docker)
            .map_err(|error| refuse(error.code(), error.to_string()))?;
        known.program = Some(program_ref(&docker_client));
        let sandbox = package.sandbox();
        let (launch, record) = docker_launch(
            &request,
            docker,
            &identified,
            env,
            docker_client.path,
            sandbox,
        )?;
        if let Some(record) = &record {
            reasons.extend(sandbox_reasons(record));
        }
        known.sandbox = record;
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
    let interpreter = match install::runtime_for(&fetched.file_name, package.lock()) {
        Runtime::Node => resolver.resolve(Tool::Node),
        Runtime::Python { version } => resolver.resolve_python(&version),
    }
    .map_err(|error| refuse(error.code(), error.to_string()))?;
    known.program = Some(program_ref(&interpreter));
    let installed = install::ensure_installed(
        &settings.registry,
        &InstallRequest {
            artifact: &fetched.path,
            file_name: &fetched.file_name,
            package: &package,
            interpreter: &interpreter,
            rehash: policy.launch.rehash_installed,
        },
    )
    .map_err(|error| {
        let message = match error.code() {
            "install-tampered" => format!(
                "the installed tree of {} changed since it was installed: {error}",
                identified.package.purl
            ),
            _ if settings.access == Access::ReadOnly => {
                return not_installed(argv, &error);
            }
            _ => error.to_string(),
        };
        refuse(error.code(), message)
    })?;

    let (program, args) = command_for(&request, package.package(), &installed)?;
    if let Some(why) = &installed.rebuilt {
        reasons.push(Reason {
            code: "install-rebuilt".to_owned(),
            message: format!("the previous install was discarded and installed again: {why}"),
        });
    }
    reasons.push(Reason {
        code: "install-verified".to_owned(),
        message: format!(
            "installed tree {} matches {} ({}); interpreter {} (sha256:{})",
            installed.root.display(),
            installed.tree_digest,
            installed.checked.describe(),
            interpreter.path.display(),
            interpreter.sha256
        ),
    });
    let sandbox = package.sandbox();
    let armed = match sandbox.mode {
        SandboxMode::Off => None,
        _ => {
            let account = crate::locate::Account::current();
            let runtime =
                crate::sandbox::runtime_paths(&interpreter, sandbox.network != Ports::None);
            let args = crate::sandbox::arg_facts(&request.server_args, account.home.as_deref());
            let protected = crate::sandbox::protected_places(
                &settings.registry.store,
                &settings.state_dir,
                &policy.path,
                &settings.dirs,
            );
            let install = fs_err::canonicalize(&installed.root)
                .map_err(|e| refuse("sandbox-failed", e.to_string()))?;
            let armed = crate::sandbox::arm(&crate::sandbox::Inputs {
                policy: sandbox,
                install: Some(&install),
                runtime: &runtime,
                args: &args,
                protected: &protected,
            })
            .map_err(|r| refuse(r.code, r.message))?;
            if let Some(tmp) = armed.tmp() {
                env.vars.insert("TMPDIR".into(), tmp.into());
            }
            reasons.extend(sandbox_reasons(&armed.record));
            Some(armed)
        }
    };
    known.sandbox = armed.as_ref().map(|armed| armed.record.clone());
    Ok((
        Launch {
            program,
            args,
            env,
            sandbox: armed,
        },
        reasons,
        guard,
    ))
}

/// The audit reasons of a sandbox: how it is enforced and what it grants, then each warning.
fn sandbox_reasons(record: &SandboxRecord) -> Vec<Reason> {
    let code = match record.plan.mode {
        SandboxMode::Enforce => "sandbox-enforced",
        _ => "sandbox-best-effort",
    };
    std::iter::once(Reason {
        code: code.to_owned(),
        message: crate::sandbox::summary(record),
    })
    .chain(record.warnings.iter().map(|warning| Reason {
        code: "sandbox-warning".to_owned(),
        message: warning.clone(),
    }))
    .collect()
}

/// The signed tools every verified package statement carries (they must agree), and the
/// runtime policy. `[runtime] guard = true` without signed tools is a refusal.
fn guard_inputs(
    policy: &mcpin_verifier::policy::Policy,
    package: &VerifiedPackage,
) -> Result<GuardInputs, Refusal> {
    let tools = package.tools().cloned();
    if policy.runtime.guard == Some(true) && tools.is_none() {
        return Err(refuse(
            "guard-needs-tools",
            format!(
                "[runtime] guard = true, but the required signers' statement of {} carries no tools (sign with --capture or --tools)",
                package.package().purl
            ),
        ));
    }
    Ok(GuardInputs {
        tools,
        runtime: policy.runtime.clone(),
        server: mcpin_guard::ServerIdentity {
            purl: package.package().purl.clone(),
            sha256: package.digests().sha256.clone(),
        },
    })
}

/// In system mode a user's launch only reads the root-owned store.
fn not_installed(argv: &[String], why: &dyn std::fmt::Display) -> Refusal {
    refuse(
        "not-installed",
        format!(
            "not in the system store ({why}); an administrator installs it with `sudo mcpin install -- {}`",
            argv.join(" ")
        ),
    )
}

/// The real docker client (on `PATH`, never mcpin itself) running exactly the verified image:
/// `docker run --pull=never <sandbox flags> <options as written>
/// <registry>/<repository>@sha256:<manifest> ARGS`, with the sanitized environment. The sandbox
/// flags come from [`mcpin_sandbox::docker`] (the container is confined by docker, the client
/// itself is not).
fn docker_launch(
    request: &LaunchRequest,
    docker: &grammar::DockerRun,
    identified: &mcpin_artifact::Identified,
    env: SanitizedEnv,
    program: PathBuf,
    sandbox: &mcpin_sandbox::SandboxPolicy,
) -> Result<(Launch, Option<SandboxRecord>), Refusal> {
    // The package name is `<registry>/<repository>` and the version `sha256:<hex>` of the
    // manifest bytes that were verified.
    let image = format!("{}@{}", identified.package.name, identified.package.version);
    let argv = &request.argv;
    let mut args: Vec<OsString> = vec!["run".into(), "--pull=never".into()];
    let record = match sandbox.mode {
        SandboxMode::Off => None,
        _ => {
            let protected: [PathBuf; 0] = [];
            let plan = crate::sandbox::plan(
                &crate::sandbox::Inputs {
                    policy: sandbox,
                    install: None,
                    runtime: &[],
                    args: &[],
                    protected: &protected,
                },
                None,
            )
            .map_err(|r| refuse(r.code, r.message))?;
            let sources: Vec<_> = docker
                .volumes
                .iter()
                .map(|volume| crate::inputs::mount_source(&volume.host))
                .collect();
            let mounts: Vec<(String, Option<&Path>)> = sources
                .iter()
                .map(|source| (source.written.clone(), source.resolved.as_deref()))
                .collect();
            let (flags, record) = mcpin_sandbox::docker::flags(
                &plan,
                sandbox.uses_tmp(),
                &mcpin_sandbox::docker::DockerArgv {
                    options: &docker.options,
                    mounts: &mounts,
                },
            )
            .map_err(|r| refuse(r.code, r.message))?;
            args.extend(flags.into_iter().map(OsString::from));
            Some(record)
        }
    };
    args.extend(
        argv[docker.run_index + 1..docker.image_index]
            .iter()
            .map(OsString::from),
    );
    args.push(image.into());
    args.extend(argv[docker.image_index + 1..].iter().map(OsString::from));
    Ok((
        Launch {
            program,
            args,
            env,
            sandbox: None,
        },
        record,
    ))
}

/// The launch rules over the request and the environment (an allowlist): the environment to
/// start with (for docker, the docker client's), or the launch verdict's refusal.
fn launch_rules(
    policy: &mcpin_verifier::policy::Policy,
    request: &LaunchRequest,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<(SanitizedEnv, Verdict), Refusal> {
    let decision = crate::inputs::judge(&policy.launch, request, env);
    match decision.env {
        Some(env) => Ok((env, decision.verdict)),
        None => Err(Refusal {
            code: "launch-denied",
            message: String::new(),
            verdict: Some(decision.verdict),
        }),
    }
}

/// A package verified against the policy: the verdict, and what was judged.
struct Verified {
    fetched: Fetched,
    identified: mcpin_artifact::Identified,
    verdict: Verdict,
    package: VerifiedPackage,
    /// Holds the artifact's name link for as long as the verification is used.
    _named: Option<tempfile::TempDir>,
}

/// Fetch (offline first), identify, gather the attestations, and judge.
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

    let (client, fetched) = fetch_with_client(
        &request
            .package
            .registry_spec()
            .expect("npx and uvx name an npm or PyPI package"),
        registry,
    )?;
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

    let version = match &request.package.version {
        VersionSpec::Exact(version) => version.clone(),
        // A floating spec is judged as the version the registry client resolved it to.
        VersionSpec::Floating(_) => fetched.version.clone(),
    };
    let requested = Requested {
        ecosystem: request.package.ecosystem,
        name: request.package.name.clone(),
        version,
    };
    let gathered = gather(loaded, registry, &client, &identified, &artifact_path)?;
    let (verdict, package) = judge(loaded, &identified, &requested, &gathered, known)?;
    Ok(Verified {
        fetched,
        identified,
        verdict,
        package,
        _named: Some(named),
    })
}

/// The evidence for one artifact: bundles beside it (for a launch, none: its blob lives in the
/// store), in the policy's stores, and the registry's own provenance when a policy signer is a
/// Sigstore identity (npm and PyPI; from the store once fetched). Remote sources are read with
/// the online client unless the launch is offline; the store always.
fn gather(
    loaded: &LoadedPolicy,
    registry: &Settings,
    client: &Client,
    identified: &mcpin_artifact::Identified,
    artifact_path: &Path,
) -> Result<Gathered, Refusal> {
    let sha256 = &identified.digests.sha256;
    let package = &identified.package;
    let sources = loaded.policy.attestation_sources();
    let provenance = loaded.policy.wants_registry_provenance()
        && matches!(
            package.ecosystem,
            mcpin_attestation::Ecosystem::Npm | mcpin_attestation::Ecosystem::Pypi
        );
    let remote = sources.https.is_some()
        || sources.oci.is_some()
        || (provenance && !client.has_registry_provenance(package, sha256));
    let online;
    let client = if remote && client.offline() && !registry.http.offline {
        online =
            Client::new(registry.clone()).map_err(|e| refuse("fetch-failed", e.to_string()))?;
        &online
    } else {
        client
    };
    let mut gathered = client.gather_attestations(&sources, sha256);
    if provenance {
        gathered.provenance = Some(client.registry_provenance(package, sha256));
    }
    let beside = mcpin_registry_client::attestations::read_beside(artifact_path)
        .map_err(|e| refuse("attestation-unreadable", e.to_string()))?;
    gathered.files.extend(beside);
    Ok(gathered)
}

/// The judgement on an identified artifact; anything but allow is a refusal.
fn judge(
    loaded: &LoadedPolicy,
    identified: &mcpin_artifact::Identified,
    requested: &Requested,
    gathered: &Gathered,
    known: &mut Known,
) -> Result<(Verdict, VerifiedPackage), Refusal> {
    let judgement = evaluate::judge(
        loaded,
        &Evidence {
            artifact: &identified.package.purl,
            identified,
            requested: Some(requested),
            files: &gathered.files,
            notes: &gathered.notes,
            provenance: gathered.provenance.as_ref(),
            now: jiff::Timestamp::now(),
        },
    );
    let (verdict, package) = judgement.into_parts();
    let Some(package) = package else {
        return Err(Refusal {
            code: "policy-denied",
            message: String::new(),
            verdict: Some(verdict),
        });
    };
    known.signers = package.signers().to_vec();
    Ok((verdict, package))
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
        .options
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
    // The image verified is the manifest the argv's digest names, or the platform manifest
    // of the index it names.
    let version = if fetched.index_digest.as_deref() == Some(digest.as_str()) {
        identified.package.version.clone()
    } else {
        digest.clone()
    };
    let requested = Requested {
        ecosystem: mcpin_attestation::Ecosystem::Oci,
        name: format!("{}/{}", reference.registry, reference.repository),
        version,
    };
    let gathered = gather(loaded, registry, &client, &identified, &fetched.path)?;
    let (verdict, package) = judge(loaded, &identified, &requested, &gathered, known)?;
    Ok(Verified {
        fetched,
        identified,
        verdict,
        package,
        _named: None,
    })
}

/// Offline first: a warm launch finds its artifact through the store's refs. Returns the
/// client that answered (its store holds the bytes).
fn fetch_with_client(spec: &Spec, settings: &Settings) -> Result<(Client, Fetched), Refusal> {
    let offline = Settings {
        http: mcpin_registry_client::HttpSettings {
            offline: true,
            ..settings.http.clone()
        },
        ..settings.clone()
    };
    let client = |s: Settings| {
        Client::new(s).map_err(|e| match e {
            RegistryError::Unsafe(_) => refuse("store-unsafe", e.to_string()),
            e => refuse("fetch-failed", e.to_string()),
        })
    };
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

/// The command for the entry point the argv names (or the package's only one).
fn command_for(
    request: &LaunchRequest,
    package: &mcpin_attestation::PackageInfo,
    installed: &install::Installed,
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
    installed
        .command(entry, server_args)
        .map_err(|error| refuse("entry-point-outside-tree", error.to_string()))
}

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
        .map(|verdict| reasons_with(verdict, VerdictOutcome::Fail))
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
    fn check(
        &self,
        request: &LaunchRequest,
        env: &std::collections::BTreeMap<String, String>,
    ) -> crate::wrap::GateVerdict {
        let deny = |reasons| crate::wrap::GateVerdict {
            outcome: Outcome::Deny,
            reasons,
            signed_tools: None,
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
        // The entry's `env` goes through the same rules as at launch.
        let vars = env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let verified = launch_rules(&loaded.policy, request, vars).and_then(|(sanitized, _)| {
            verify_package(
                request,
                loaded,
                &self.settings.registry,
                &mut Known::default(),
            )
            .map(|verified| (verified, sanitized))
        });
        match verified {
            Ok((verified, sanitized)) => crate::wrap::GateVerdict {
                outcome: Outcome::Allow,
                reasons: reasons_with(&verified.verdict, VerdictOutcome::Pass)
                    .into_iter()
                    .chain(sanitized.stripped.into_iter().map(|s| Reason {
                        code: "env-stripped".to_owned(),
                        message: format!("{} is removed at launch: {}", s.name, s.reason),
                    }))
                    .collect(),
                signed_tools: verified.package.tools().map(|tools| tools.payload.clone()),
            },
            Err(refusal) => deny(describe(&refusal)),
        }
    }
}
