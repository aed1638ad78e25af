//! OCI images end to end: images built here are pushed to the real Debian `docker-registry`
//! on loopback (`tests/setup/30-registries.sh`), signed by manifest digest with
//! `mcpin sign oci:…`, verified with `mcpin verify oci:…`, and launched with
//! `mcpin run -- docker run -i --rm IMAGE@sha256:…`.
//!
//! There is no Docker daemon on this machine. An allowed launch therefore ends in the real
//! docker client (`docker` on PATH), exec'd by mcpin, failing to reach the daemon at
//! `DOCKER_HOST` — a closed loopback port chosen here. The test asserts exactly that
//! boundary: the audit log's allow record with the manifest digest and the exact docker argv
//! (`run --pull=never … HOST/REPO@sha256:…`), and the docker client's own error naming that
//! `DOCKER_HOST` on stderr (so the sanitized environment reached it too).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mcpin_registry_client::oci::Reference;
use mcpin_tests::oci::{PushedImage, oci_client, push_image_with_cmd, unique_repository};
use mcpin_tests::{env, mcpin, stderr, stdout};
use serde_json::Value;

/// A scratch machine: keys, a policy, a store, an audit log; and images in the registry.
struct World {
    dir: tempfile::TempDir,
    host: String,
    /// The docker daemon the policy pins (`[launch] docker-host`): a loopback port nothing
    /// listens on.
    docker_host: String,
}

/// One image pushed under its own repository.
struct Image {
    repository: String,
    pushed: PushedImage,
}

impl Image {
    fn hex(&self) -> &str {
        self.pushed
            .manifest_desc
            .digest
            .strip_prefix("sha256:")
            .unwrap()
    }
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        for name in ["publisher", "stranger"] {
            let key = dir.path().join(name);
            let out = mcpin(&["keygen", "--out", key.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
        }
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let docker_host = format!("tcp://{}", closed.local_addr().unwrap());
        drop(closed);
        World {
            dir,
            host: env("MCPIN_TEST_OCI_REGISTRY"),
            docker_host,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Pushes a new image (its own repository, `Cmd` = `cmd`) tagged `v1`.
    fn push(&self, prefix: &str, cmd: &[&str]) -> Image {
        let repository = unique_repository(prefix);
        let reference = Reference::parse(&format!("{}/{repository}:v1", self.host)).unwrap();
        let pushed = push_image_with_cmd(&oci_client(self.dir.path()), &reference, cmd);
        Image { repository, pushed }
    }

    fn image(&self, image: &Image) -> String {
        format!(
            "{}/{}@{}",
            self.host, image.repository, image.pushed.manifest_desc.digest
        )
    }

    /// A policy allowing `allowed`, with the docker daemon pinned to [`World::docker_host`].
    fn write_policy(&self, allowed: &[&Image]) -> PathBuf {
        self.write_policy_with(
            allowed,
            &format!("docker-host = \"{}\"\n", self.docker_host),
        )
    }

    /// A policy allowing `allowed`, with `launch` appended to its `[launch]` table.
    fn write_policy_with(&self, allowed: &[&Image], launch: &str) -> PathBuf {
        let mut text = format!(
            "version = 1\n[[signers]]\nid = \"publisher\"\npublic-key = \"{}\"\n\n",
            self.path("publisher.pub").display()
        );
        for image in allowed {
            text.push_str(&format!(
                "[[packages]]\necosystem = \"oci\"\nname = \"{}/{}\"\nrequire-any = [\"publisher\"]\n\n",
                self.host, image.repository
            ));
        }
        text.push_str(&format!(
            "[store]\ndir = \"{}\"\n\n[launch]\nlaunchers = [\"docker\"]\n{launch}",
            self.path("bundles").display()
        ));
        let path = self.path("policy.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = mcpin(args);
        command
            .current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("MCPIN_STORE", self.path("store"))
            .env_remove("DOCKER_HOST")
            .env_remove("MCPIN_STATE_DIR")
            .env_remove("MCPIN_OFFLINE")
            .stdin(Stdio::null());
        command
    }

    fn mcpin(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Signs `image` by digest into the policy's store dir, keyed by the manifest sha256.
    fn sign_into_store(&self, image: &Image) -> PathBuf {
        let out = self.path(&format!("bundles/{}/image.sigstore.json", image.hex()));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let signed = self.mcpin(&[
            "sign",
            &format!("oci:{}", self.image(image)),
            "--key",
            self.path("publisher.key").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(signed.status.success(), "{}", stderr(&signed));
        out
    }

    fn run(&self, policy: &Path, image: &str) -> Output {
        self.mcpin(&[
            "run",
            "--policy",
            policy.to_str().unwrap(),
            "--",
            "docker",
            "run",
            "-i",
            "--rm",
            "-e",
            "MCP_MODE=stdio",
            image,
            "--server-flag",
        ])
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("state/mcpin/audit.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn refused(output: &Output, code: &str) -> String {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    assert!(
        output.stdout.is_empty(),
        "a refused launch wrote to stdout: {}",
        stdout(output)
    );
    let message = stderr(output);
    assert!(message.contains(&format!("[{code}]")), "{message}");
    message
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn sign_and_verify_an_image_by_digest_and_by_tag_with_a_key() {
    let world = World::new();
    let image = world.push("sign", &["/usr/local/bin/server", "--stdio"]);
    let pinned = format!("oci:{}", world.image(&image));
    let key = world.path("publisher.key");

    // By digest, default bundle name in the current directory.
    let signed =
        json_of(&world.mcpin(&["sign", &pinned, "--key", key.to_str().unwrap(), "--json"]));
    let last = image.repository.rsplit('/').next().unwrap();
    let default_bundle = world.path(&format!("{last}@sha256-{}.sigstore.json", image.hex()));
    assert_eq!(
        signed["bundle"],
        default_bundle.file_name().unwrap().to_str().unwrap()
    );
    assert!(default_bundle.is_file());
    assert_eq!(signed["sha256"], image.hex());
    assert_eq!(
        signed["purl"],
        format!(
            "pkg:oci/{last}@sha256:{}?repository_url={}",
            image.hex(),
            format!("{}/{}", world.host, image.repository).replace('/', "%2F")
        )
    );

    // The signed statement: subject = manifest digest, predicate = the image.
    let inspected = json_of(&world.mcpin(&["inspect", default_bundle.to_str().unwrap(), "--json"]));
    assert_eq!(inspected["subject"][0]["digest"]["sha256"], image.hex());
    assert_eq!(inspected["subject"][0]["name"], signed["purl"]);
    let package = &inspected["predicate"]["package"];
    assert_eq!(package["ecosystem"], "oci");
    assert_eq!(
        package["name"],
        format!("{}/{}", world.host, image.repository)
    );
    assert_eq!(package["version"], image.pushed.manifest_desc.digest);
    assert_eq!(
        package["entryPoints"][0]["target"],
        "/usr/local/bin/server --stdio"
    );

    let public = world.path("publisher.pub");
    let verified = json_of(&world.mcpin(&[
        "verify",
        &pinned,
        "--key",
        public.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(verified["verified"], true);
    assert_eq!(verified["sha256"], image.hex());
    // The wrong key fails.
    let stranger = world.path("stranger.pub");
    let wrong = world.mcpin(&["verify", &pinned, "--key", stranger.to_str().unwrap()]);
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    assert!(
        stderr(&wrong).contains("wrong-key") || stderr(&wrong).contains("key"),
        "{}",
        stderr(&wrong)
    );

    // By tag: resolved through the registry to the same manifest digest, tag recorded.
    let by_tag = format!("oci:{}/{}:v1", world.host, image.repository);
    let tagged_out = world.path("tagged.sigstore.json");
    let tagged = json_of(&world.mcpin(&[
        "sign",
        &by_tag,
        "--key",
        key.to_str().unwrap(),
        "--out",
        tagged_out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(tagged["sha256"], image.hex());
    assert_eq!(tagged["tag"], "v1");
    assert_eq!(tagged["purl"], signed["purl"]);
    // A bundle for this image does not verify another image.
    let other = world.push("sign-other", &["/other"]);
    let mismatch = world.mcpin(&[
        "verify",
        &format!("oci:{}", world.image(&other)),
        "--key",
        public.to_str().unwrap(),
        "--bundle",
        tagged_out.to_str().unwrap(),
    ]);
    assert_eq!(mismatch.status.code(), Some(1), "{}", stderr(&mismatch));
    assert!(
        stderr(&mismatch).contains("subject-mismatch")
            || stderr(&mismatch).contains("another package"),
        "{}",
        stderr(&mismatch)
    );

    // `verify --policy` finds the bundle in the policy's store, keyed by the manifest sha256.
    world.sign_into_store(&image);
    let policy = world.write_policy(&[&image]);
    let verdict = json_of(&world.mcpin(&[
        "verify",
        &pinned,
        "--policy",
        policy.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(verdict["decision"], "allow");
    assert_eq!(verdict["sha256"], image.hex());
}

#[test]
fn an_allowed_image_reaches_the_real_docker_client_with_the_verified_digest() {
    let world = World::new();
    let image = world.push("run", &["/usr/local/bin/server"]);
    world.sign_into_store(&image);
    let policy = world.write_policy(&[&image]);
    let pinned = world.image(&image);

    let output = world.run(&policy, &pinned);
    // Nothing but the server (here: nothing) writes to stdout.
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    let err = stderr(&output);
    // The real docker client ran and failed at the daemon boundary (its own exit code 125).
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(
        err.contains(&format!(
            "Cannot connect to the Docker daemon at {}",
            world.docker_host
        )),
        "{err}"
    );

    let records = world.audit();
    let allow = records.last().unwrap();
    assert_eq!(allow["verdict"], "allow", "{allow}");
    assert_eq!(
        allow["artifact"]["digests"]["sha256"],
        image.hex(),
        "{allow}"
    );
    assert_eq!(allow["signers"], serde_json::json!(["publisher"]));
    let exec = allow["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "docker-exec")
        .unwrap_or_else(|| panic!("no docker-exec reason: {allow}"));
    let docker = which_docker();
    assert_eq!(
        exec["message"],
        format!(
            "{} run --pull=never -i --rm -e MCP_MODE=stdio {pinned} --server-flag",
            docker.display()
        )
    );
    let verified = world.mcpin(&[
        "audit",
        "verify",
        world.path("state/mcpin/audit.jsonl").to_str().unwrap(),
    ]);
    assert!(verified.status.success(), "{}", stderr(&verified));

    // Warm: the manifest comes from the store, so a stopped registry does not matter; here
    // the registry is shared, so show it with offline mode instead.
    let offline = world
        .command(&[
            "run",
            "--offline",
            "--policy",
            policy.to_str().unwrap(),
            "--",
            "docker",
            "run",
            "-i",
            &pinned,
        ])
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(125), "{}", stderr(&offline));
    assert!(offline.stdout.is_empty());
}

fn which_docker() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap();
    std::env::split_paths(&path)
        .map(|dir| dir.join("docker"))
        .find(|candidate| candidate.is_file())
        .expect("the docker client is on PATH (tests/setup installs it)")
}

#[test]
fn unsigned_mismatched_and_unlisted_images_are_refused_with_stdout_empty() {
    let world = World::new();
    let signed = world.push("signed", &["/signed"]);
    let unsigned = world.push("unsigned", &["/unsigned"]);
    let swapped = world.push("swapped", &["/swapped"]);
    let bundle = world.sign_into_store(&signed);
    // A bundle for another image, placed where `swapped`'s bundles are looked up.
    let misplaced = world.path(&format!("bundles/{}/image.sigstore.json", swapped.hex()));
    std::fs::create_dir_all(misplaced.parent().unwrap()).unwrap();
    std::fs::copy(&bundle, &misplaced).unwrap();
    // The signed image, pushed again under a repository no rule names (same digest).
    let unlisted = world.push("unlisted", &["/signed"]);
    assert_eq!(unlisted.hex(), signed.hex());
    let policy = world.write_policy(&[&signed, &unsigned, &swapped]);

    refused(&world.run(&policy, &world.image(&unsigned)), "unsigned");
    // The misplaced bundle is named in the verdict; no trusted signature remains.
    let message = refused(
        &world.run(&policy, &world.image(&swapped)),
        "required-signer-missing",
    );
    assert!(
        message.contains("subject-mismatch")
            && message.contains(&signed.pushed.manifest_desc.digest),
        "{message}"
    );
    refused(
        &world.run(&policy, &world.image(&unlisted)),
        "no-matching-rule",
    );
    // A tag stays refused in run; `--pull=always` would let docker fetch other bytes.
    let tagged = format!("{}/{}:v1", world.host, signed.repository);
    refused(&world.run(&policy, &tagged), "docker-unpinned");
    let pull = world.mcpin(&[
        "run",
        "--policy",
        policy.to_str().unwrap(),
        "--",
        "docker",
        "run",
        "-i",
        "--pull",
        "always",
        &world.image(&signed),
    ]);
    refused(&pull, "docker-pull");

    let records = world.audit();
    assert_eq!(records.len(), 5);
    assert!(records.iter().all(|r| r["verdict"] == "deny"));
    // The refused images are named by their manifest digests.
    assert_eq!(records[0]["artifact"]["digests"]["sha256"], unsigned.hex());
    assert_eq!(records[1]["artifact"]["digests"]["sha256"], swapped.hex());
}

/// `mcpin wrap` pins a tag to the manifest digest through the registry client, the gate
/// allows the pinned image, and the rewritten command reaches the docker client.
#[test]
fn wrap_pins_a_tag_to_the_manifest_digest_and_the_wrapped_command_launches() {
    let world = World::new();
    let image = world.push("wrap", &["/usr/local/bin/server"]);
    world.sign_into_store(&image);
    let policy = world.write_policy(&[&image]);
    let tagged = format!("{}/{}:v1", world.host, image.repository);
    let config = world.path("claude_desktop_config.json");
    std::fs::write(
        &config,
        serde_json::json!({ "mcpServers": { "img": {
            "command": "docker", "args": ["run", "-i", "--rm", tagged]
        } } })
        .to_string(),
    )
    .unwrap();
    let report = json_of(&world.mcpin(&[
        "wrap",
        "--json",
        "--client",
        "claude-desktop",
        "--config",
        config.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--strict",
    ]));
    assert_eq!(report["schema_version"], 1);
    let server = &report["files"][0]["servers"][0];
    assert_eq!(server["verdict"]["outcome"], "allow", "{server}");
    let wrapped: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    let args: Vec<String> = wrapped["mcpServers"]["img"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let pinned = format!("{tagged}@{}", image.pushed.manifest_desc.digest);
    assert_eq!(
        args,
        ["run", "--", "docker", "run", "-i", "--rm", pinned.as_str()]
    );

    let mut launch: Vec<&str> = vec!["run", "--policy", policy.to_str().unwrap()];
    launch.extend(args[1..].iter().map(String::as_str));
    let output = world.mcpin(&launch);
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let allow = world.audit().pop().unwrap();
    assert_eq!(allow["verdict"], "allow", "{allow}");
    assert_eq!(allow["artifact"]["digests"]["sha256"], image.hex());
}

/// An image pinned by its image index: the linux/<this arch> manifest is what is signed,
/// verified and handed to docker (`HOST/REPO@sha256:<manifest>`), never the index digest.
#[test]
fn an_image_index_pin_runs_the_platform_manifest_that_was_verified() {
    use mcpin_registry_client::oci::{Manifest, OCI_INDEX, Platform};
    let world = World::new();
    let image = world.push("index", &["/usr/local/bin/server"]);
    let mut platform = image.pushed.manifest_desc.clone();
    platform.platform = Some(Platform {
        architecture: mcpin_tests::oci::goarch().into(),
        os: "linux".into(),
        variant: None,
    });
    let index = Manifest {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: vec![platform],
        ..Manifest::default()
    };
    let multi = Reference::parse(&format!("{}/{}:multi", world.host, image.repository)).unwrap();
    let (index_desc, _) = oci_client(world.dir.path())
        .oci_push_manifest(&multi, OCI_INDEX, &serde_json::to_vec(&index).unwrap())
        .unwrap();
    let by_index = format!("{}/{}@{}", world.host, image.repository, index_desc.digest);

    let key = world.path("publisher.key");
    let signed = json_of(&world.mcpin(&[
        "sign",
        &format!("oci:{by_index}"),
        "--key",
        key.to_str().unwrap(),
        "--out",
        world.path("index.sigstore.json").to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(signed["sha256"], image.hex());
    assert_eq!(signed["indexDigest"], index_desc.digest);

    world.sign_into_store(&image);
    let policy = world.write_policy(&[&image]);
    let output = world.run(&policy, &by_index);
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let allow = world.audit().pop().unwrap();
    assert_eq!(allow["verdict"], "allow", "{allow}");
    let exec = allow["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "docker-exec")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        exec.contains(&format!(" {} --server-flag", world.image(&image))),
        "{exec}"
    );
    assert!(!exec.contains(&index_desc.digest), "{exec}");
}

/// The docker client's own variables come from the caller's environment, which an agent
/// config sets: `DOCKER_HOST=ssh://…` made the client run `ssh` from the caller's PATH, and
/// `DOCKER_CONFIG` chose its contexts and plugins. Under `mcpin run` they are stripped; the
/// daemon is the policy's `docker-host` or the client's default.
#[cfg(unix)]
#[test]
fn docker_client_variables_from_the_environment_never_reach_the_client() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::new();
    let image = world.push("client-env", &["/usr/local/bin/server"]);
    world.sign_into_store(&image);
    let pinned = world.image(&image);
    let evil_bin = world.path("evil-bin");
    std::fs::create_dir_all(&evil_bin).unwrap();
    let marker = world.path("ssh-ran");
    let ssh = evil_bin.join("ssh");
    std::fs::write(
        &ssh,
        format!("#!/bin/sh\necho \"$@\" >> {}\nexit 1\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", evil_bin.display(), std::env::var("PATH").unwrap());
    let hostile = |command: &mut Command| {
        command
            .env("PATH", &path)
            .env("DOCKER_HOST", "ssh://mcpin@127.0.0.1")
            .env("DOCKER_CONFIG", world.path("evil-docker-config"))
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", world.path("evil-certs"));
    };

    // Control: the real client runs the planted `ssh` when DOCKER_HOST says ssh://.
    let control = Command::new(which_docker())
        .args(["run", "-i", "--rm", &pinned])
        .stdin(Stdio::null())
        .env("PATH", &path)
        .env("DOCKER_HOST", "ssh://mcpin@127.0.0.1")
        .output()
        .unwrap();
    assert_ne!(control.status.code(), Some(0));
    assert!(
        marker.exists(),
        "control: the docker client did not run ssh: {}",
        stderr(&control)
    );
    std::fs::remove_file(&marker).unwrap();

    // Through mcpin, without a pin: the client's default daemon, no ssh.
    let unpinned = world.write_policy_with(&[&image], "");
    let output = world
        .command(&[
            "run",
            "--policy",
            unpinned.to_str().unwrap(),
            "--",
            "docker",
            "run",
            "-i",
            "--rm",
            &pinned,
        ])
        .env("PATH", &path)
        .env("DOCKER_HOST", "ssh://mcpin@127.0.0.1")
        .env("DOCKER_CONFIG", world.path("evil-docker-config"))
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(!marker.exists(), "mcpin's docker client ran ssh");
    assert!(
        err.contains("Cannot connect to the Docker daemon at unix:///var/run/docker.sock"),
        "{err}"
    );
    let allow = world.audit().pop().unwrap();
    assert_eq!(allow["verdict"], "allow", "{allow}");
    let stripped: Vec<&str> = allow["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["code"] == "env-stripped")
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    for name in ["DOCKER_HOST", "DOCKER_CONFIG"] {
        assert!(
            stripped.iter().any(|m| m.starts_with(name)),
            "{name} not reported: {stripped:?}"
        );
    }

    // With the policy's pin, that daemon and nothing else, whatever the caller sets (the TLS
    // variables too, which made the client fail before it connected anywhere).
    let pinned_policy = world.write_policy(&[&image]);
    let mut command = world.command(&[
        "run",
        "--policy",
        pinned_policy.to_str().unwrap(),
        "--",
        "docker",
        "run",
        "-i",
        &pinned,
    ]);
    hostile(&mut command);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    assert!(!marker.exists());
    assert!(
        stderr(&output).contains(&format!(
            "Cannot connect to the Docker daemon at {}",
            world.docker_host
        )),
        "{}",
        stderr(&output)
    );
}

/// Bind-mount sources are resolved with realpath and judged: a parent of the docker socket,
/// the root and a symlink into `/run` are refused even where the policy allows mounts; a real
/// directory under `[launch] docker-mount-sources` reaches the docker client.
#[test]
fn bind_mount_sources_are_resolved_and_judged() {
    let world = World::new();
    let image = world.push("mounts", &["/usr/local/bin/server"]);
    world.sign_into_store(&image);
    let pinned = world.image(&image);
    let data = world.path("data");
    std::fs::create_dir_all(data.join("project")).unwrap();
    let outside = world.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/run", data.join("innocent")).unwrap();
    let policy = world.write_policy_with(
        &[&image],
        &format!(
            "docker-host = \"{}\"\ndocker-mount-sources = [\"{}\", \"/var\"]\n",
            world.docker_host,
            std::fs::canonicalize(&data).unwrap().display()
        ),
    );
    let run = |volume: &str| {
        world.mcpin(&[
            "run",
            "--policy",
            policy.to_str().unwrap(),
            "--",
            "docker",
            "run",
            "-i",
            "-v",
            volume,
            &pinned,
        ])
    };
    // `/var` is allowed, which makes the checks before the allow list the ones that refuse.
    for (volume, why) in [
        ("/var/run:/h:ro", "is a host system path"),
        ("/:/host:ro", "/ is a host system path"),
        ("/var:/h:ro", "/var contains /var/run"),
        (
            &format!("{}:/h:ro", data.join("innocent").display()),
            "/run is a host system path",
        ),
        ("/var/lib/nonexistent-mcpin:/h:ro", "does not exist"),
        (
            &format!("{}:/h:ro", outside.display()),
            "not inside a [launch] docker-mount-sources directory",
        ),
    ] {
        let message = refused(&run(volume), "docker-mount-denied");
        assert!(message.contains(why), "{volume}: {message}");
    }
    let allowed = run(&format!("{}:/project:ro", data.join("project").display()));
    assert_eq!(allowed.status.code(), Some(125), "{}", stderr(&allowed));
}

/// `[sandbox]` on a docker launch: the same policy as docker flags, checked up to the real
/// client's own error (no daemon here), with the exact argv and the effective rules in the
/// audit record; what docker cannot express is refused under `enforce`.
#[test]
fn the_sandbox_maps_to_docker_flags_and_port_lists_are_refused_under_enforce() {
    let world = World::new();
    let image = world.push("sandboxed", &["/usr/local/bin/server"]);
    world.sign_into_store(&image);
    let pinned = world.image(&image);
    let data = world.path("data");
    std::fs::create_dir_all(&data).unwrap();
    let data = std::fs::canonicalize(&data).unwrap();
    let launch = format!(
        "docker-host = \"{}\"\ndocker-mount-sources = [\"{}\"]\n",
        world.docker_host,
        data.display()
    );
    let policy = world.write_policy_with(&[&image], &launch);
    let base = std::fs::read_to_string(&policy).unwrap();
    let with_sandbox = |sandbox: &str| {
        std::fs::write(&policy, format!("{base}\n[sandbox]\n{sandbox}")).unwrap();
    };
    let run = |extra: &[&str]| {
        let mut argv = vec![
            "run",
            "--policy",
            policy.to_str().unwrap(),
            "--",
            "docker",
            "run",
            "-i",
            "--rm",
        ];
        argv.extend_from_slice(extra);
        argv.push(&pinned);
        world.mcpin(&argv)
    };
    let volume = format!("{}:/data:ro", data.display());

    with_sandbox(&format!(
        "mode = \"enforce\"\nfs-read = [\"${{INSTALL}}\", \"${{RUNTIME}}\", \"{}\"]\n",
        data.display()
    ));
    let output = run(&["-v", &volume]);
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let allow = world.audit().pop().unwrap();
    assert_eq!(allow["verdict"], "allow", "{allow}");
    let exec = allow["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "docker-exec")
        .unwrap_or_else(|| panic!("no docker-exec reason: {allow}"))["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        exec,
        format!(
            "{} run --pull=never --read-only --cap-drop=ALL --security-opt=no-new-privileges --tmpfs=/tmp:rw,nosuid,nodev --network=none -i --rm -v {volume} {pinned}",
            which_docker().display()
        )
    );
    assert_eq!(allow["sandbox"]["enforcement"], "docker", "{allow}");
    assert_eq!(allow["sandbox"]["connect"], "none", "{allow}");
    assert_eq!(
        allow["sandbox"]["read"][0]["path"],
        data.to_str().unwrap(),
        "{allow}"
    );

    // A bind mount outside every grant: refused before the client runs.
    with_sandbox("mode = \"enforce\"\n");
    let output = run(&["-v", &volume]);
    refused(&output, "sandbox-mount-denied");

    // Docker has no per-port egress filter: enforce refuses, best-effort warns.
    with_sandbox("mode = \"enforce\"\nnetwork = [\"tcp:443\"]\n");
    refused(&run(&[]), "sandbox-docker-unsupported");
    with_sandbox("mode = \"best-effort\"\nnetwork = [\"tcp:443\"]\n");
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let allow = world.audit().pop().unwrap();
    assert!(
        allow["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "sandbox-warning"
                && r["message"].as_str().unwrap().contains("cannot limit")),
        "{allow}"
    );

    // The argv's own network against a policy without one.
    with_sandbox("mode = \"enforce\"\n");
    refused(&run(&["--network", "bridge"]), "sandbox-docker-conflict");
}
