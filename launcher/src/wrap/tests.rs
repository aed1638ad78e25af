//! Plan-then-apply runs through the library API, and property tests of the editors: random
//! JSONC and YAML configs with comments around the entries, wrapped then unwrapped entry by
//! entry, give back the same bytes.

use super::*;

const MCPIN: &str = "/opt/mcpin/bin/mcpin";

/// Pins `@1.x` to `@1.2.3` (npm) and `>=1` to `==1.2` (PyPI); nothing else resolves.
struct FakeResolver;

impl Resolver for FakeResolver {
    fn resolve(&self, spec: &FloatingSpec) -> Result<String, ResolveError> {
        match spec.package.ecosystem {
            Ecosystem::Npm => Ok("1.2.3".into()),
            Ecosystem::Pypi => Ok("1.2".into()),
            other @ (Ecosystem::Oci | Ecosystem::Mcpb) => {
                Err(ResolveError::Unsupported { ecosystem: other })
            }
        }
    }
}

/// Allows everything, except an entry whose env sets `LD_PRELOAD`. An allowed package whose
/// name starts with `search-` is signed with one tool, `search_web`, described after the
/// package (so two such packages define it differently).
struct EnvGate;

impl Gate for EnvGate {
    fn check(&self, request: &LaunchRequest, env: &BTreeMap<String, String>) -> GateVerdict {
        if env.contains_key("LD_PRELOAD") {
            return GateVerdict {
                outcome: Outcome::Deny,
                reasons: vec![Reason {
                    code: "env-denied".into(),
                    message: "LD_PRELOAD".into(),
                }],
                signed_tools: None,
            };
        }
        let name = &request.package.name;
        let signed_tools = name.starts_with("search-").then(|| {
            serde_json::from_value(serde_json::json!({
                "protocolVersion": "2025-06-18",
                "serverInfo": {"name": name, "version": "1.0.0"},
                "capabilities": {"tools": {}},
                "tools": [{
                    "name": "search_web",
                    "description": format!("Search the web ({name})."),
                    "inputSchema": {"type": "object"},
                }],
            }))
            .unwrap()
        });
        GateVerdict {
            outcome: Outcome::Allow,
            reasons: Vec::new(),
            signed_tools,
        }
    }
}

struct Setup {
    dir: tempfile::TempDir,
    records: RecordStore,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let records = RecordStore::new(&dir.path().join("state"));
        Setup { dir, records }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn wrap(&self, locations: &[Location], strict: bool, run: RunOptions) -> RunReport {
        let options = WrapOptions {
            mcpin: PathBuf::from(MCPIN),
            resolver: Some(&FakeResolver),
            gate: Some(&EnvGate),
            strict,
            run,
        };
        wrap(locations, &options, &self.records).unwrap()
    }

    fn unwrap(&self, locations: &[Location]) -> RunReport {
        unwrap(
            locations,
            Path::new(MCPIN),
            RunOptions::default(),
            &self.records,
        )
        .unwrap()
    }
}

fn location(client: Client, path: &Path) -> Location {
    Location {
        client,
        format: client.format_for(path),
        path: path.to_owned(),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

const CURSOR: &str = r#"{
  "mcpServers": {
    "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@1.x", "/tmp"]}
  }
}
"#;

/// The servers of one config are linted against each other with their signed tools: two
/// servers defining `search_web` differently are reported on that file, not on another.
#[test]
fn the_servers_of_a_config_are_linted_against_each_other() {
    let setup = Setup::new();
    let both = setup.file(
        "both.json",
        r#"{"mcpServers": {
  "a": {"command": "npx", "args": ["-y", "search-a@1.0.0"]},
  "b": {"command": "npx", "args": ["-y", "search-b@1.0.0"]},
  "other": {"command": "npx", "args": ["-y", "other@1.0.0"]}
}}"#,
    );
    let one = setup.file(
        "one.json",
        r#"{"mcpServers": {"c": {"command": "npx", "args": ["-y", "search-c@1.0.0"]}}}"#,
    );
    let report = setup.wrap(
        &[
            location(Client::Cursor, &both),
            location(Client::Cursor, &one),
        ],
        false,
        RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
    );
    let cross = &report.files[0].cross;
    assert_eq!(cross.len(), 1, "{cross:?}");
    assert_eq!(cross[0].rule, "conflicting-tool-definition");
    assert_eq!(cross[0].tool.as_deref(), Some("search_web"));
    assert_eq!(cross[0].servers, ["mcpServers.a", "mcpServers.b"]);
    assert!(
        report.files[1].cross.is_empty(),
        "{:?}",
        report.files[1].cross
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["files"][0]["cross"][0]["rule"],
        "conflicting-tool-definition"
    );
}

#[test]
fn one_parse_failure_writes_nothing_and_names_every_file() {
    let setup = Setup::new();
    let good = setup.file("good.json", CURSOR);
    let broken = setup.file("broken.json", "{\"mcpServers\": {\"x\": }\n");
    let dup = setup.file(
        "dup.json",
        r#"{"mcpServers": {"a": {"command": "node", "args": ["s.js"], "command": "npx"}}}"#,
    );
    let locations = [
        location(Client::Cursor, &good),
        location(Client::Cursor, &broken),
        location(Client::Cursor, &dup),
    ];
    let report = setup.wrap(&locations, false, RunOptions::default());
    let statuses: Vec<(FileStatus, Option<ReasonCode>)> = report
        .files
        .iter()
        .map(|f| (f.status, f.reason.as_ref().map(|r| r.code)))
        .collect();
    assert_eq!(
        statuses,
        [
            (FileStatus::Skipped, Some(ReasonCode::RunAborted)),
            (FileStatus::Failed, Some(ReasonCode::ConfigParse)),
            (FileStatus::Failed, Some(ReasonCode::ConfigDuplicateKey)),
        ]
    );
    assert_eq!(read(&good), CURSOR, "nothing is written when a file fails");
    assert!(!report.files[0].diff.is_empty(), "the plan is still shown");
    assert!(setup.records.list().unwrap().is_empty());

    let report = setup.wrap(
        &locations,
        false,
        RunOptions {
            keep_going: true,
            ..RunOptions::default()
        },
    );
    assert_eq!(report.files[0].status, FileStatus::Wrapped);
    assert!(report.files[0].written);
    assert!(read(&good).contains(MCPIN));
}

#[test]
fn records_live_in_the_state_dir_and_one_unwrap_restores_everything() {
    let setup = Setup::new();
    let blocks = setup.dir.path().join("project/.continue/mcpServers");
    let single = setup.file(
        "project/.continue/mcpServers/memory.json",
        "{\"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-memory@1.x\"]}\n",
    );
    let yaml = setup.file(
        "project/.continue/mcpServers/time.yaml",
        "name: t\nversion: 0.0.1\nschema: v1\nmcpServers:\n  - name: time\n    command: uvx\n    args: [\"mcp-server-time>=1\"]\n",
    );
    let cursor = setup.file("cursor.json", CURSOR);
    let originals: Vec<(PathBuf, String)> = [&single, &yaml, &cursor]
        .iter()
        .map(|p| ((*p).clone(), read(p)))
        .collect();
    let locations = [
        location(Client::Continue, &single),
        location(Client::Continue, &yaml),
        location(Client::Cursor, &cursor),
    ];
    let report = setup.wrap(&locations, false, RunOptions::default());
    assert!(
        report
            .files
            .iter()
            .all(|f| f.status == FileStatus::Wrapped && f.written)
    );
    assert_eq!(report.files[0].servers[0].name, "memory");
    // Nothing new in Continue's folder: it loads every JSON file there.
    let mut names: Vec<String> = std::fs::read_dir(&blocks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["memory.json", "time.yaml"]);
    assert_eq!(setup.records.list().unwrap().len(), 3);
    // Wrapping again changes nothing.
    let again = setup.wrap(&locations, false, RunOptions::default());
    assert!(
        again
            .files
            .iter()
            .all(|f| f.status == FileStatus::Unchanged)
    );

    // The records alone find every file.
    let recorded = recorded_locations(&setup.records, None).unwrap();
    assert_eq!(recorded.len(), 3);
    let report = setup.unwrap(&recorded);
    assert!(
        report
            .files
            .iter()
            .all(|f| f.status == FileStatus::Unwrapped && f.exact_restore == Some(true))
    );
    for (path, original) in originals {
        assert_eq!(read(&path), original, "{}", path.display());
    }
    assert!(setup.records.list().unwrap().is_empty());
}

#[cfg(unix)]
#[test]
fn symlinked_configs_stay_links_and_read_only_ones_need_force() {
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::new();
    let target = setup.file("dotfiles/cursor.json", CURSOR);
    let link = setup.dir.path().join("home/.cursor/mcp.json");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let locations = [location(Client::Cursor, &link)];
    let report = setup.wrap(&locations, false, RunOptions::default());
    assert_eq!(report.files[0].target.as_deref(), Some(target.as_path()));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(read(&target).contains(MCPIN));
    setup.unwrap(&locations);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(read(&target), CURSOR);

    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o444)).unwrap();
    let report = setup.wrap(&locations, false, RunOptions::default());
    assert_eq!(report.files[0].status, FileStatus::Failed);
    assert_eq!(
        report.files[0].reason.as_ref().unwrap().code,
        ReasonCode::ConfigReadOnly
    );
    assert_eq!(read(&target), CURSOR);
    let forced = setup.wrap(
        &locations,
        false,
        RunOptions {
            force: true,
            ..RunOptions::default()
        },
    );
    assert_eq!(forced.files[0].status, FileStatus::Wrapped);
    assert!(read(&target).contains(MCPIN));
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o444, "the mode is kept");
}

#[test]
fn env_unreadable_entries_and_other_runners_are_judged_and_refused_under_strict() {
    let setup = Setup::new();
    let config = setup.file(
        "mcp.json",
        r#"{"mcpServers": {
  "preload": {"command": "npx", "args": ["-y", "a@1.0.0"], "env": {"LD_PRELOAD": "/tmp/x.so"}},
  "number": {"command": "npx", "args": ["-y", 1]},
  "exec": {"command": "npm", "args": ["exec", "-y", "a@1.0.0"]},
  "shell": {"command": "sh", "args": ["-c", "npx -y a@1.0.0"]},
  "fine": {"command": "npx", "args": ["-y", "b@1.0.0"]}
}}
"#,
    );
    let original = read(&config);
    let locations = [location(Client::Cursor, &config)];
    let report = setup.wrap(&locations, true, RunOptions::default());
    let file = &report.files[0];
    assert_eq!(file.status, FileStatus::Refused);
    assert_eq!(read(&config), original);
    let actions: Vec<(&str, Action)> = file
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("mcpServers.preload", Action::Wrapped),
            ("mcpServers.number", Action::Unreadable),
            ("mcpServers.exec", Action::UnsupportedLauncher),
            ("mcpServers.shell", Action::UnsupportedLauncher),
            ("mcpServers.fine", Action::Wrapped),
        ]
    );
    assert_eq!(
        file.servers[0].verdict.as_ref().unwrap().outcome,
        Outcome::Deny
    );
    assert_eq!(file.blocked.len(), 4, "{:?}", file.blocked);
    assert!(
        file.servers[2]
            .problem
            .as_ref()
            .unwrap()
            .contains("`npm exec`")
    );

    // Without --strict the launches mcpin can check are wrapped and the rest reported.
    let report = setup.wrap(&locations, false, RunOptions::default());
    assert_eq!(report.files[0].status, FileStatus::Wrapped);
    let text = read(&config);
    assert!(
        text.contains(r#""command": "npm", "args": ["exec""#),
        "{text}"
    );
}

#[test]
fn a_server_wrapped_by_another_program_called_mcpin_is_not_trusted_under_strict() {
    let setup = Setup::new();
    let config = setup.file(
        "mcp.json",
        r#"{"mcpServers": {
  "ours": {"command": "/opt/mcpin/bin/mcpin", "args": ["run", "--", "npx", "-y", "a@1.0.0"]},
  "fake": {"command": "/tmp/x/mcpin", "args": ["run", "--", "npx", "-y", "github:evil/payload"]}
}}"#,
    );
    let report = setup.wrap(
        &[location(Client::Cursor, &config)],
        true,
        RunOptions::default(),
    );
    let file = &report.files[0];
    assert_eq!(file.status, FileStatus::Refused);
    assert_eq!(file.servers[0].action, Action::AlreadyWrapped);
    assert_eq!(file.servers[0].problem, None);
    assert!(
        file.servers[1]
            .problem
            .as_ref()
            .unwrap()
            .contains("not this mcpin")
    );
    assert_eq!(file.blocked.len(), 1, "{:?}", file.blocked);
}

#[test]
fn an_edited_file_is_unwrapped_entry_by_entry_with_the_unpinned_argv() {
    let setup = Setup::new();
    let config = setup.file("mcp.json", CURSOR);
    let locations = [location(Client::Cursor, &config)];
    setup.wrap(&locations, false, RunOptions::default());
    let wrapped = read(&config);
    assert!(wrapped.contains("server-filesystem@1.2.3"), "{wrapped}");
    std::fs::write(&config, wrapped.replace("\"/tmp\"", "\"/srv\"")).unwrap();
    let report = setup.unwrap(&locations);
    assert_eq!(report.files[0].exact_restore, Some(false));
    // `/tmp` became `/srv`, so the recorded argv does not match: the inner argv comes back.
    assert_eq!(
        read(&config),
        CURSOR.replace("@1.x", "@1.2.3").replace("/tmp", "/srv")
    );
}

// ---- property tests of the editors ---------------------------------------------------------

/// splitmix64: a seeded generator, so a failure names the seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Launch argvs the generators draw from: npx, uvx, docker, `cmd /c npx`, and commands that are
/// left alone; some floating (pinned on wrap), some without arguments.
const ARGVS: &[&[&str]] = &[
    &["npx", "-y", "@modelcontextprotocol/server-memory@1.x"],
    &[
        "npx",
        "-y",
        "@scope/server@1.0.0",
        "/tmp",
        "it's \"quoted\"",
    ],
    &["npx", "pkg@1.x"],
    &["uvx", "mcp-server-time>=1", "--local-timezone=UTC"],
    &["uvx", "--from", "mcp-x[cli]==2.0", "mcp-x"],
    &[
        "docker",
        "run",
        "-i",
        "--rm",
        "mcp/time@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ],
    &["cmd", "/c", "npx", "-y", "pkg@2.0.0"],
    &["npx"],
    &["node", "/opt/server.js"],
    &["python", "-m", "server", "yes", "1.10"],
];

/// Keys in any order: `args` before the command, `env` first, ….
fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

fn comment(rng: &mut Rng, indent: &str, yaml: bool) -> String {
    let words = [
        "keep me",
        "TODO: check",
        "pinned by hand",
        "ünïcode ✓",
        "// nested",
        "*/ no",
    ];
    let word = rng.pick(&words);
    if yaml {
        return format!("{indent}# {word}\n");
    }
    match rng.below(3) {
        0 => format!("{indent}// {word}\n"),
        1 => format!("{indent}/* {} */\n", word.replace("*/", "* /")),
        _ => String::new(),
    }
}

fn json_string(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

/// A random JSONC document of `format` with entries drawn from [`ARGVS`].
fn random_jsonc(rng: &mut Rng, format: Format) -> String {
    let indent = *rng.pick(&["  ", "    ", "\t"]);
    let comma_end = |rng: &mut Rng| if rng.chance(40) { "," } else { "" };
    let mut entries = Vec::new();
    for index in 0..1 + rng.below(4) {
        let argv = rng.pick(ARGVS);
        let inline = rng.chance(40);
        let i2 = indent.repeat(2);
        let i3 = indent.repeat(3);
        let mut props = Vec::new();
        if rng.chance(30) {
            props.push(format!("\"type\": \"{}\"", rng.pick(&["stdio", "local"])));
        }
        props.push(format!("\"command\": {}", json_string(argv[0])));
        if argv.len() > 1 || rng.chance(30) {
            let values: Vec<String> = argv[1..].iter().map(|a| json_string(a)).collect();
            let array = if rng.chance(50) {
                let end = if values.is_empty() {
                    ""
                } else {
                    comma_end(rng)
                };
                format!("[{}{end}]", values.join(", "))
            } else if values.is_empty() {
                "[]".to_owned()
            } else {
                let inner = format!("{i3}{indent}");
                let mut text = String::from("[\n");
                for (i, v) in values.iter().enumerate() {
                    text.push_str(&comment(rng, &inner, false));
                    text.push_str(&format!("{inner}{v}"));
                    if i + 1 < values.len() {
                        text.push(',');
                    } else {
                        text.push_str(comma_end(rng));
                    }
                    if rng.chance(20) {
                        text.push_str(" // trailing");
                    }
                    text.push('\n');
                }
                text.push_str(&format!("{i3}]"));
                text
            };
            props.push(format!("\"args\": {array}"));
        }
        if rng.chance(40) {
            props.push("\"env\": {\"TZ\": \"UTC\", \"TOKEN\": \"${input:token}\"}".to_owned());
        }
        if rng.chance(30) {
            props.push("\"disabled\": false".to_owned());
        }
        shuffle(rng, &mut props);
        let name = format!("server-{index}");
        let body = if inline {
            format!("{{{}}}", props.join(", "))
        } else {
            let mut text = String::from("{\n");
            for (i, prop) in props.iter().enumerate() {
                text.push_str(&comment(rng, &i3, false));
                text.push_str(&format!("{i3}{prop}"));
                text.push_str(if i + 1 < props.len() { ",\n" } else { "\n" });
            }
            text.push_str(&format!("{i2}}}"));
            text
        };
        entries.push(format!(
            "{}{i2}\"{name}\": {body}",
            comment(rng, &i2, false)
        ));
    }
    let key = match format {
        Format::VsCode => "servers",
        Format::Zed => "context_servers",
        _ => "mcpServers",
    };
    let trailing = comma_end(rng);
    format!(
        "{}{{\n{indent}\"theme\": \"dark\",\n{}{indent}\"{key}\": {{\n{}{trailing}\n{indent}}}{}\n}}{}",
        comment(rng, "", false),
        comment(rng, indent, false),
        entries.join(",\n"),
        comma_end(rng),
        if rng.chance(80) { "\n" } else { "" },
    )
}

/// A YAML scalar for `value` in a random style YAML reads back as `value`.
fn yaml_scalar(rng: &mut Rng, value: &str) -> String {
    match rng.below(3) {
        0 if yaml::plain_safe(value) => value.to_owned(),
        1 if !value.contains('\'') => format!("'{value}'"),
        _ => json_string(value),
    }
}

fn random_yaml(rng: &mut Rng, format: Format) -> String {
    let step = *rng.pick(&["  ", "    "]);
    let mut text = String::from("# top comment\nversion: 1.10\nenabled: yes\n");
    let (list, cmd) = match format {
        Format::Goose => (false, "cmd"),
        _ => (true, "command"),
    };
    text.push_str(if list {
        "mcpServers:\n"
    } else {
        "extensions:\n"
    });
    for index in 0..1 + rng.below(4) {
        let argv = rng.pick(ARGVS);
        text.push_str(&comment(rng, step, true));
        let key_indent = if list {
            format!("{step}  ")
        } else {
            step.repeat(2)
        };
        let mut keys: Vec<String> = Vec::new();
        keys.push(format!("name: server-{index}"));
        let trailing = if rng.chance(30) {
            "   # the launcher"
        } else {
            ""
        };
        keys.push(format!("{cmd}: {}{trailing}", yaml_scalar(rng, argv[0])));
        if argv.len() > 1 || rng.chance(30) {
            let values: Vec<String> = argv[1..].iter().map(|a| yaml_scalar(rng, a)).collect();
            if values.is_empty() || rng.chance(50) {
                keys.push(format!("args: [{}]", values.join(", ")));
            } else {
                let mut block = String::from("args:");
                for value in values {
                    if rng.chance(20) {
                        block.push_str(&format!("\n{key_indent}{step}# about the next one"));
                    }
                    block.push_str(&format!("\n{key_indent}{step}- {value}"));
                }
                keys.push(block);
            }
        }
        if rng.chance(40) {
            let env = if format == Format::Goose {
                "envs"
            } else {
                "env"
            };
            keys.push(format!("{env}: {{TZ: UTC}}"));
        }
        if rng.chance(30) {
            keys.push("timeout: 300".to_owned());
        }
        shuffle(rng, &mut keys);
        if list {
            text.push_str(&format!("{step}- {}\n", keys[0]));
            for key in &keys[1..] {
                text.push_str(&format!("{key_indent}{key}\n"));
            }
        } else {
            text.push_str(&format!("{step}server-{index}:\n"));
            for key in &keys {
                text.push_str(&comment(rng, &key_indent, true).repeat(usize::from(rng.chance(20))));
                text.push_str(&format!("{key_indent}{key}\n"));
            }
        }
    }
    text.push_str("# the end\n");
    text
}

/// Wrap every launch of `text` (pinning `@1.x` and `>=1`), parse the result, unwrap every
/// wrapped entry to its original argv, and require the original bytes back.
fn round_trip(format: Format, text: &str, seed: u64) {
    let location = Location {
        client: Client::Cursor,
        path: PathBuf::from("mcp.json"),
        format,
    };
    let (document, _) = open_document(&location, Path::new("mcp.json"), text)
        .unwrap_or_else(|e| panic!("seed {seed}: generated an unparsable file: {e}\n{text}"));
    let mut edits = Vec::new();
    let mut originals = BTreeMap::new();
    for entry in document.entries() {
        let EntryKind::Launch { argv, has_args, .. } = &entry.kind else {
            panic!("seed {seed}: {} unreadable\n{text}", entry.name);
        };
        // What wrap wraps: accepted argvs and refused ones, not other programs.
        let wraps = grammar::parse(argv).map_or_else(
            |r| r.code != grammar::RefusalCode::LauncherUnsupported,
            |_| true,
        );
        if !wraps {
            continue;
        }
        let mut new_argv = vec![MCPIN.to_owned(), "run".into(), "--".into()];
        new_argv.extend(
            argv.iter()
                .map(|a| a.replace("@1.x", "@1.2.3").replace(">=1", "==1.2")),
        );
        originals.insert(
            entry.name.clone(),
            (argv.clone(), *has_args, new_argv.clone()),
        );
        edits.push(Edit {
            name: entry.name.clone(),
            argv: new_argv,
            drop_args: false,
        });
    }
    let wrapped = document.apply(text, &edits).unwrap();
    let (document, _) = open_document(&location, Path::new("mcp.json"), &wrapped)
        .unwrap_or_else(|e| panic!("seed {seed}: wrapped file does not parse: {e}\n{wrapped}"));
    let mut back = Vec::new();
    for entry in document.entries() {
        let EntryKind::Launch { argv, .. } = &entry.kind else {
            panic!(
                "seed {seed}: {} unreadable after wrap\n{wrapped}",
                entry.name
            );
        };
        if let Some((original, has_args, expected)) = originals.get(&entry.name) {
            assert_eq!(argv, expected, "seed {seed}: wrapped argv\n{wrapped}");
            back.push(Edit {
                name: entry.name.clone(),
                argv: original.clone(),
                drop_args: !has_args,
            });
        }
    }
    assert_eq!(back.len(), originals.len(), "seed {seed}\n{wrapped}");
    let restored = document.apply(&wrapped, &back).unwrap();
    assert_eq!(restored, text, "seed {seed}: wrapped was\n{wrapped}");
}

#[test]
fn jsonc_wrap_then_unwrap_gives_the_same_bytes() {
    for seed in 0..400 {
        let mut rng = Rng(seed);
        let format = *rng.pick(&[Format::McpServers, Format::VsCode, Format::Zed]);
        let mut text = random_jsonc(&mut rng, format);
        if rng.chance(20) {
            text = text.replace('\n', "\r\n");
        }
        round_trip(format, &text, seed);
    }
}

#[test]
fn yaml_wrap_then_unwrap_gives_the_same_bytes() {
    for seed in 0..400 {
        let mut rng = Rng(seed);
        let format = *rng.pick(&[Format::Goose, Format::ContinueYaml]);
        let mut text = random_yaml(&mut rng, format);
        if rng.chance(20) {
            text = text.replace('\n', "\r\n");
        }
        round_trip(format, &text, seed);
    }
}
