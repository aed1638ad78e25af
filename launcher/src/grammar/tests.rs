//! Grammar rows taken from the config shapes agent clients document (Claude Desktop, Claude
//! Code, Cursor, VS Code, goose, …): accept, pin, refuse.

use super::*;

fn argv(line: &[&str]) -> Vec<String> {
    line.iter().map(|s| (*s).to_owned()).collect()
}

fn ok(line: &[&str]) -> LaunchRequest {
    parse(&argv(line)).unwrap_or_else(|refusal| panic!("{line:?} refused: {refusal}"))
}

fn refused(line: &[&str]) -> RefusalCode {
    match parse(&argv(line)) {
        Ok(request) => panic!("{line:?} accepted: {request:?}"),
        Err(refusal) => {
            assert!(!refusal.reason.is_empty());
            refusal.code
        }
    }
}

fn exact(name: &str, ecosystem: Ecosystem, version: &str) -> PackageRef {
    PackageRef {
        ecosystem,
        name: name.to_owned(),
        extras: Vec::new(),
        version: VersionSpec::Exact(version.to_owned()),
    }
}

#[test]
fn npx_exact_versions_are_accepted() {
    let request = ok(&[
        "npx",
        "-y",
        "@modelcontextprotocol/server-filesystem@2026.8.31",
        "/tmp",
        "/home",
    ]);
    assert_eq!(request.launcher, Launcher::Npx);
    assert_eq!(
        request.package,
        exact(
            "@modelcontextprotocol/server-filesystem",
            Ecosystem::Npm,
            "2026.8.31"
        )
    );
    assert_eq!(request.server_args, argv(&["/tmp", "/home"]));
    assert_eq!(request.command, None);
    assert!(request.is_pinned());

    let request = ok(&["npx", "mcp-server-kubernetes@1.2.3-beta.1"]);
    assert_eq!(
        request.package.version,
        VersionSpec::Exact("1.2.3-beta.1".into())
    );

    // Options after the package name belong to the server.
    let request = ok(&["npx", "--yes", "x@1.0.0", "-y", "--registry", "r"]);
    assert_eq!(request.server_args, argv(&["-y", "--registry", "r"]));
}

#[test]
fn npx_package_flag_names_the_bin() {
    for line in [
        &[
            "npx",
            "-y",
            "-p",
            "@scope/pkg@1.0.0",
            "pkg-server",
            "--port",
            "1",
        ][..],
        &[
            "npx",
            "-y",
            "--package",
            "@scope/pkg@1.0.0",
            "pkg-server",
            "--port",
            "1",
        ],
        &[
            "npx",
            "-y",
            "--package=@scope/pkg@1.0.0",
            "pkg-server",
            "--port",
            "1",
        ],
        &["npx", "-p@scope/pkg@1.0.0", "pkg-server", "--port", "1"],
    ] {
        let request = ok(line);
        assert_eq!(
            request.package,
            exact("@scope/pkg", Ecosystem::Npm, "1.0.0"),
            "{line:?}"
        );
        assert_eq!(request.command.as_deref(), Some("pkg-server"));
        assert_eq!(request.server_args, argv(&["--port", "1"]));
    }
}

#[test]
fn npx_floating_specs_are_pinned_in_place() {
    let cases: &[(&[&str], &str, &[&str])] = &[
        (
            &["npx", "-y", "@modelcontextprotocol/server-memory"],
            "latest",
            &["npx", "-y", "@modelcontextprotocol/server-memory@2026.8.31"],
        ),
        (
            &["npx", "x@latest", "a"],
            "latest",
            &["npx", "x@2026.8.31", "a"],
        ),
        (&["npx", "x@^0.0.30"], "^0.0.30", &["npx", "x@2026.8.31"]),
        (&["npx", "x@>=1 <2"], ">=1 <2", &["npx", "x@2026.8.31"]),
        (&["npx", "x@v1.2.3"], "v1.2.3", &["npx", "x@2026.8.31"]),
        (
            &["npx", "--package=x@next", "bin"],
            "next",
            &["npx", "--package=x@2026.8.31", "bin"],
        ),
        (
            &["npx", "-p", "x", "bin"],
            "latest",
            &["npx", "-p", "x@2026.8.31", "bin"],
        ),
    ];
    for (line, spec, pinned) in cases {
        let request = ok(line);
        assert_eq!(
            request.package.version,
            VersionSpec::Floating((*spec).to_owned()),
            "{line:?}"
        );
        assert_eq!(request.floating.len(), 1);
        assert_eq!(
            request.pinned_argv(&["2026.8.31".into()]),
            argv(pinned),
            "{line:?}"
        );
    }
}

#[test]
fn npx_refusals() {
    let cases: &[(&[&str], RefusalCode)] = &[
        (
            &["npx", "github:owner/repo#v1"],
            RefusalCode::LauncherGitSpec,
        ),
        (
            &["npx", "git+https://github.com/o/r.git#semver:^1"],
            RefusalCode::LauncherGitSpec,
        ),
        (&["npx", "-y", "owner/repo"], RefusalCode::LauncherGitSpec),
        (&["npx", "x@github:o/r"], RefusalCode::LauncherGitSpec),
        (
            &["npx", "https://example.com/x.tgz"],
            RefusalCode::LauncherRemoteSpec,
        ),
        (&["npx", "./x.tgz"], RefusalCode::LauncherLocalSpec),
        (&["npx", "/abs/x.tgz"], RefusalCode::LauncherLocalSpec),
        (&["npx", "file:../dir"], RefusalCode::LauncherLocalSpec),
        (&["npx", "x.tgz"], RefusalCode::LauncherLocalSpec),
        (&["npx", "a@npm:b@1.2.3"], RefusalCode::NpmAlias),
        (&["npx", "-c", "echo hi"], RefusalCode::NpxCall),
        (&["npx", "--call=echo"], RefusalCode::NpxCall),
        (
            &["npx", "-p", "a@1.0.0", "-p", "b@1.0.0", "a"],
            RefusalCode::NpxMultiplePackages,
        ),
        (
            &["npx", "--registry", "https://evil", "x@1.0.0"],
            RefusalCode::NpxConfigFlag,
        ),
        (
            &["npx", "--registry=https://evil", "x@1.0.0"],
            RefusalCode::NpxConfigFlag,
        ),
        (
            &["npx", "--userconfig", "/tmp/npmrc", "x@1.0.0"],
            RefusalCode::NpxConfigFlag,
        ),
        (
            &["npx", "--prefix", "/tmp", "x@1.0.0"],
            RefusalCode::NpxConfigFlag,
        ),
        (
            &["npx", "--whatever", "x@1.0.0"],
            RefusalCode::NpxUnknownOption,
        ),
        (&["npx", "-y"], RefusalCode::LauncherMissingPackage),
        (
            &["npx", "-p", "x@1.0.0"],
            RefusalCode::LauncherMissingPackage,
        ),
        (&["npx", "-p"], RefusalCode::MissingValue),
        (&["npx", "Bad_Name@1.0.0"], RefusalCode::LauncherInvalidName),
        (&["npx", "@scope@1.0.0"], RefusalCode::LauncherInvalidName),
        (&["npx", "x@!!"], RefusalCode::LauncherInvalidSpec),
    ];
    for (line, code) in cases {
        assert_eq!(refused(line), *code, "{line:?}");
    }
}

#[test]
fn windows_cmd_wrapper_is_recognised() {
    let request = ok(&[
        "cmd",
        "/c",
        "npx",
        "-y",
        "@modelcontextprotocol/server-filesystem@2026.8.31",
        "C:\\Users\\me",
    ]);
    assert!(request.via_cmd);
    assert_eq!(request.launcher, Launcher::Npx);
    assert_eq!(request.server_args, argv(&["C:\\Users\\me"]));

    let request = ok(&[
        "C:\\Windows\\System32\\cmd.exe",
        "/C",
        "C:\\Program Files\\nodejs\\npx.cmd",
        "x",
    ]);
    assert!(request.via_cmd);
    assert_eq!(request.floating[0].argv_index, 3);
    assert_eq!(request.pinned_argv(&["1.0.0".into()])[3], "x@1.0.0");

    assert_eq!(
        refused(&["cmd", "/k", "npx", "x"]),
        RefusalCode::LauncherUnsupported
    );
    assert_eq!(refused(&["cmd", "/c"]), RefusalCode::EmptyArgv);
    assert_eq!(
        refused(&["cmd", "/c", "node", "server.js"]),
        RefusalCode::LauncherUnsupported
    );
}

#[test]
fn launcher_paths_and_suffixes() {
    assert_eq!(
        Launcher::from_command("/usr/local/bin/npx"),
        Some(Launcher::Npx)
    );
    assert_eq!(Launcher::from_command("uvx.exe"), Some(Launcher::Uvx));
    assert_eq!(Launcher::from_command("DOCKER.EXE"), Some(Launcher::Docker));
    assert_eq!(Launcher::from_command("node"), None);
    assert_eq!(
        refused(&["node", "server.js"]),
        RefusalCode::LauncherUnsupported
    );
    assert_eq!(refused(&[]), RefusalCode::EmptyArgv);
}

#[test]
fn uvx_exact_versions_are_accepted() {
    let request = ok(&[
        "uvx",
        "mcp-server-time==2026.10.19",
        "--local-timezone",
        "UTC",
    ]);
    assert_eq!(
        request.package,
        exact("mcp-server-time", Ecosystem::Pypi, "2026.10.19")
    );
    assert_eq!(request.server_args, argv(&["--local-timezone", "UTC"]));

    let request = ok(&["uvx", "mcp-server-time@2026.10.19"]);
    assert_eq!(
        request.package,
        exact("mcp-server-time", Ecosystem::Pypi, "2026.10.19")
    );

    let request = ok(&[
        "uvx",
        "--from",
        "Mcp_Server.Fetch[Extra,b]==2026.10.24",
        "mcp-server-fetch",
    ]);
    assert_eq!(request.package.name, "mcp-server-fetch");
    assert_eq!(request.package.extras, argv(&["b", "extra"]));
    assert_eq!(
        request.package.version,
        VersionSpec::Exact("2026.10.24".into())
    );
    assert_eq!(request.command.as_deref(), Some("mcp-server-fetch"));
    assert!(request.is_pinned());

    let request = ok(&[
        "uvx",
        "--from=mcp-server-time===2026.10.19",
        "mcp-server-time",
    ]);
    assert_eq!(
        request.package.version,
        VersionSpec::Exact("2026.10.19".into())
    );
}

#[test]
fn uvx_floating_specs_are_pinned_in_place() {
    let cases: &[(&[&str], &str, &[&str])] = &[
        (
            &["uvx", "mcp-server-time"],
            "latest",
            &["uvx", "mcp-server-time==2026.10.19"],
        ),
        (
            &["uvx", "mcp-server-time@latest", "--x"],
            "latest",
            &["uvx", "mcp-server-time==2026.10.19", "--x"],
        ),
        (
            &[
                "uvx",
                "--from",
                "mcp-server-time>=2025,<2027",
                "mcp-server-time",
            ],
            ">=2025,<2027",
            &[
                "uvx",
                "--from",
                "mcp-server-time==2026.10.19",
                "mcp-server-time",
            ],
        ),
        (
            &["uvx", "--from=pkg[cli]~=1.0", "pkg"],
            "~=1.0",
            &["uvx", "--from=pkg[cli]==2026.10.19", "pkg"],
        ),
    ];
    for (line, spec, pinned) in cases {
        let request = ok(line);
        assert_eq!(
            request.package.version,
            VersionSpec::Floating((*spec).to_owned()),
            "{line:?}"
        );
        assert_eq!(
            request.pinned_argv(&["2026.10.19".into()]),
            argv(pinned),
            "{line:?}"
        );
    }
}

#[test]
fn uvx_with_entries_are_each_pinned() {
    let request = ok(&[
        "uvx",
        "--with",
        "httpx",
        "--with",
        "anyio==4.0",
        "-w",
        "rich>=13",
        "mcp-server-time==2026.10.19",
    ]);
    assert_eq!(request.with.len(), 3);
    assert_eq!(request.floating.len(), 2);
    assert_eq!(
        request.pinned_argv(&["0.28.1".into(), "13.9.4".into()]),
        argv(&[
            "uvx",
            "--with",
            "httpx==0.28.1",
            "--with",
            "anyio==4.0",
            "-w",
            "rich==13.9.4",
            "mcp-server-time==2026.10.19"
        ])
    );
}

#[test]
fn uvx_refusals() {
    let cases: &[(&[&str], RefusalCode)] = &[
        (
            &["uvx", "--from", "git+https://github.com/o/r@main", "cmd"],
            RefusalCode::LauncherGitSpec,
        ),
        (
            &["uvx", "--from", "pkg @ https://x/y.whl", "cmd"],
            RefusalCode::LauncherGitSpec,
        ),
        (
            &["uvx", "--from", "./local", "cmd"],
            RefusalCode::LauncherLocalSpec,
        ),
        (
            &["uvx", "--from", "/tmp/x-1.0-py3-none-any.whl", "cmd"],
            RefusalCode::LauncherLocalSpec,
        ),
        (
            &["uvx", "x-1.0-py3-none-any.whl"],
            RefusalCode::LauncherLocalSpec,
        ),
        (
            &["uvx", "--from", "https://x/y.whl", "cmd"],
            RefusalCode::LauncherRemoteSpec,
        ),
        (
            &["uvx", "--with-editable", ".", "x==1"],
            RefusalCode::UvxEditable,
        ),
        (
            &["uvx", "--with-requirements", "r.txt", "x==1"],
            RefusalCode::UvxRequirementsFile,
        ),
        (
            &["uvx", "--index", "https://evil", "x==1"],
            RefusalCode::UvxIndexFlag,
        ),
        (
            &["uvx", "-i", "https://evil", "x==1"],
            RefusalCode::UvxIndexFlag,
        ),
        (
            &["uvx", "--extra-index-url=https://evil", "x==1"],
            RefusalCode::UvxIndexFlag,
        ),
        (
            &["uvx", "-f", "/tmp/wheels", "x==1"],
            RefusalCode::UvxIndexFlag,
        ),
        (
            &["uvx", "--prerelease", "allow", "x==1"],
            RefusalCode::UvxResolutionFlag,
        ),
        (
            &["uvx", "--refresh", "x==1"],
            RefusalCode::UvxResolutionFlag,
        ),
        (
            &["uvx", "--upgrade", "x==1"],
            RefusalCode::UvxResolutionFlag,
        ),
        (
            &["uvx", "-c", "c.txt", "x==1"],
            RefusalCode::UvxResolutionFlag,
        ),
        (&["uvx", "--bogus", "x==1"], RefusalCode::UvxUnknownOption),
        // `--python` was accepted and ignored: the interpreter is the system's or the policy's.
        (&["uvx", "--python", "3.12", "x==1"], RefusalCode::UvxPython),
        (
            &["uvx", "-p", "/usr/bin/python3", "x==1"],
            RefusalCode::UvxPython,
        ),
        // A second `--from` silently won.
        (
            &["uvx", "--from", "x==1", "--from", "evil==6.6.6", "x"],
            RefusalCode::UvxMultipleFrom,
        ),
        (
            &["uvx", "--from=x==1", "--from=x==2", "x"],
            RefusalCode::UvxMultipleFrom,
        ),
        (
            &["uvx", "--with", "a,b", "x==1"],
            RefusalCode::LauncherInvalidSpec,
        ),
        (
            &["uvx", "x@not a version"],
            RefusalCode::LauncherInvalidSpec,
        ),
        (&["uvx", "x==="], RefusalCode::LauncherInvalidSpec),
        (&["uvx", "-bad-name"], RefusalCode::UvxUnknownOption),
        (
            &["uvx", "--from", "x==1", "../cmd"],
            RefusalCode::LauncherInvalidName,
        ),
        (&["uvx"], RefusalCode::LauncherMissingPackage),
        (&["uvx", "--from"], RefusalCode::MissingValue),
    ];
    for (line, code) in cases {
        assert_eq!(refused(line), *code, "{line:?}");
    }
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn docker_digest_pinned_images_are_accepted() {
    let image = format!("ghcr.io/github/github-mcp-server:v1@{DIGEST}");
    let request = ok(&[
        "docker",
        "run",
        "-i",
        "--rm",
        "-e",
        "GITHUB_PERSONAL_ACCESS_TOKEN",
        "-e",
        "MODE=ro",
        "-v",
        "/home/me/src:/src:ro",
        "--network",
        "none",
        &image,
        "stdio",
    ]);
    assert_eq!(request.launcher, Launcher::Docker);
    assert_eq!(request.package.ecosystem, Ecosystem::Oci);
    assert_eq!(request.package.name, "ghcr.io/github/github-mcp-server");
    assert_eq!(request.package.version, VersionSpec::Exact(DIGEST.into()));
    assert!(request.is_pinned());
    let docker = request.docker.as_ref().unwrap();
    assert_eq!(docker.tag.as_deref(), Some("v1"));
    assert!(docker.remove);
    assert_eq!(
        docker.env[0],
        DockerEnv {
            name: "GITHUB_PERSONAL_ACCESS_TOKEN".into(),
            value: None
        }
    );
    assert_eq!(
        docker.env[1],
        DockerEnv {
            name: "MODE".into(),
            value: Some("ro".into())
        }
    );
    assert_eq!(
        docker.volumes,
        vec![DockerVolume {
            host: "/home/me/src".into(),
            container: "/src".into()
        }]
    );
    assert_eq!(docker.network.as_deref(), Some("none"));
    assert_eq!(
        docker.options,
        argv(&[
            "--interactive",
            "--rm",
            "--env=GITHUB_PERSONAL_ACCESS_TOKEN",
            "--env=MODE=ro",
            "--volume=/home/me/src:/src:ro",
            "--network=none",
        ])
    );
    assert_eq!(request.server_args, argv(&["stdio"]));

    // Registry with a port, combined flags.
    let image = format!("localhost:5000/mcp/time@{DIGEST}");
    let request = ok(&[
        "docker",
        "run",
        "-i",
        "--init",
        "--rm",
        "--net=bridge",
        "-eX=1",
        "-u",
        "1000",
        &image,
    ]);
    assert_eq!(request.package.name, "localhost:5000/mcp/time");
    let docker = request.docker.unwrap();
    assert_eq!(docker.tag, None);
    // Short forms and aliases in their long form, for the policy's docker-deny-flags.
    assert_eq!(
        docker.options,
        argv(&[
            "--interactive",
            "--init",
            "--rm",
            "--network=bridge",
            "--env=X=1",
            "--user=1000",
        ])
    );
}

#[test]
fn docker_tags_are_pinned_to_a_digest() {
    let request = ok(&["docker", "run", "-i", "--rm", "mcp/time", "--tz", "UTC"]);
    assert_eq!(
        request.package.version,
        VersionSpec::Floating("latest".into())
    );
    assert_eq!(
        request.pinned_argv(&[DIGEST.into()]),
        argv(&[
            "docker",
            "run",
            "-i",
            "--rm",
            &format!("mcp/time@{DIGEST}"),
            "--tz",
            "UTC"
        ])
    );
    let request = ok(&["docker", "run", "-i", "localhost:5000/mcp/time:1.2"]);
    assert_eq!(request.package.version, VersionSpec::Floating("1.2".into()));
    assert_eq!(
        request.pinned_argv(&[DIGEST.into()])[3],
        format!("localhost:5000/mcp/time:1.2@{DIGEST}")
    );
}

#[test]
fn docker_refusals() {
    let cases: &[(&[&str], RefusalCode)] = &[
        (
            &["docker", "run", "-i", "--privileged", "mcp/x"],
            RefusalCode::DockerPrivileged,
        ),
        (
            &["docker", "run", "-i", "--cap-add", "SYS_ADMIN", "mcp/x"],
            RefusalCode::DockerCapAdd,
        ),
        (
            &["docker", "run", "-i", "--cap-add=ALL", "mcp/x"],
            RefusalCode::DockerCapAdd,
        ),
        (
            &["docker", "run", "-i", "--device", "/dev/kvm", "mcp/x"],
            RefusalCode::DockerDevice,
        ),
        (
            &["docker", "run", "-i", "--pid", "host", "mcp/x"],
            RefusalCode::DockerHostNamespace,
        ),
        (
            &["docker", "run", "-i", "--ipc=host", "mcp/x"],
            RefusalCode::DockerHostNamespace,
        ),
        (
            &["docker", "run", "-i", "--network", "host", "mcp/x"],
            RefusalCode::DockerHostNamespace,
        ),
        (
            &["docker", "run", "-i", "--net=container:abc", "mcp/x"],
            RefusalCode::DockerNetwork,
        ),
        // Which host paths may be mounted is decided over the resolved path by the launch
        // rules; the grammar refuses sources that are not host paths at all.
        (
            &["docker", "run", "-i", "-v", "docker-data:/data:ro", "mcp/x"],
            RefusalCode::DockerMountSource,
        ),
        (
            &["docker", "run", "-i", "-v", "./data:/data:ro", "mcp/x"],
            RefusalCode::DockerMountSource,
        ),
        (
            &["docker", "run", "-i", "-v", "~/.ssh:/k:ro", "mcp/x"],
            RefusalCode::DockerMountSource,
        ),
        (
            &["docker", "run", "-i", "-v", "/home:/home", "mcp/x"],
            RefusalCode::DockerWritableMount,
        ),
        (
            &["docker", "run", "-i", "-v", "/home:/home:rw", "mcp/x"],
            RefusalCode::DockerWritableMount,
        ),
        (
            &[
                "docker",
                "run",
                "-i",
                "--mount",
                "type=bind,src=/,dst=/h",
                "mcp/x",
            ],
            RefusalCode::DockerUnknownOption,
        ),
        (
            &["docker", "run", "-d", "-i", "mcp/x"],
            RefusalCode::DockerDetach,
        ),
        (&["docker", "run", "-it", "mcp/x"], RefusalCode::DockerTty),
        (
            &["docker", "run", "-i", "-t", "mcp/x"],
            RefusalCode::DockerTty,
        ),
        (
            &["docker", "run", "-i", "--entrypoint", "sh", "mcp/x"],
            RefusalCode::DockerEntrypoint,
        ),
        (
            &["docker", "run", "-i", "--env-file", ".env", "mcp/x"],
            RefusalCode::DockerEnvFile,
        ),
        (
            &[
                "docker",
                "run",
                "-i",
                "--security-opt",
                "seccomp=unconfined",
                "mcp/x",
            ],
            RefusalCode::DockerSecurityOpt,
        ),
        (
            &["docker", "run", "-i", "--bogus", "mcp/x"],
            RefusalCode::DockerUnknownOption,
        ),
        (
            &["docker", "run", "--rm", "mcp/x"],
            RefusalCode::DockerNotInteractive,
        ),
        (
            &["docker", "exec", "-i", "c", "x"],
            RefusalCode::DockerNotRun,
        ),
        (
            &["docker", "-H", "tcp://evil", "run", "-i", "mcp/x"],
            RefusalCode::DockerGlobalOption,
        ),
        (&["docker"], RefusalCode::DockerNotRun),
        (
            &["docker", "run", "-i"],
            RefusalCode::LauncherMissingPackage,
        ),
        (
            &["docker", "run", "-i", "mcp/x@sha256:abc"],
            RefusalCode::DockerInvalidImage,
        ),
        (
            &["docker", "run", "-i", "mcp/x@md5:0123"],
            RefusalCode::DockerInvalidImage,
        ),
        (
            &["docker", "run", "-i", "MCP/Upper"],
            RefusalCode::DockerInvalidImage,
        ),
        (
            &["docker", "run", "-i", "mcp/x:"],
            RefusalCode::DockerInvalidImage,
        ),
    ];
    for (line, code) in cases {
        assert_eq!(refused(line), *code, "{line:?}");
    }
}

#[test]
fn refusal_codes_are_unique_and_kebab_case() {
    let mut seen = std::collections::BTreeSet::new();
    for code in RefusalCode::ALL {
        let text = code.code();
        assert!(seen.insert(text), "duplicate code {text}");
        assert!(
            text.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{text}"
        );
    }
    assert_eq!(seen.len(), RefusalCode::ALL.len());
}

#[test]
fn refusal_message_names_the_token_and_code() {
    let refusal = parse(&argv(&["npx", "-y", "github:evil/payload"])).unwrap_err();
    let message = refusal.to_string();
    assert!(message.contains("github:evil/payload"), "{message}");
    assert!(message.ends_with("[launcher-git-spec]"), "{message}");
}

#[test]
fn docker_run_and_image_positions_survive_cmd_c_and_double_dash() {
    let digest = format!("sha256:{}", "b".repeat(64));
    let image = format!("127.0.0.1:5000/mcp/time@{digest}");
    let request = ok(&[
        "cmd", "/c", "docker", "run", "-i", "--rm", "--", &image, "x",
    ]);
    let docker = request.docker.unwrap();
    assert_eq!((docker.run_index, docker.image_index), (3, 7));
    assert_eq!(request.argv[docker.image_index], image);
    assert_eq!(docker.image, "127.0.0.1:5000/mcp/time");
}
