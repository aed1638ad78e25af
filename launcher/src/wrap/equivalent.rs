//! Commands that fetch and run a registry package like npx, uvx or `docker run` do, but that
//! the launcher grammar does not accept: `npm exec`, `pnpm dlx`, `bunx`, `uv tool run`, `pipx
//! run`, `podman run`, `env npx …`, `sh -c "npx …"`, `cmd /s /c "npx …"`. mcpin cannot check
//! them, so wrap reports them (and `--strict` refuses the config) instead of leaving them
//! silently unchecked.

/// The program's name without directory and Windows extension, lowercased.
fn program(word: &str) -> String {
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let lower = base.to_ascii_lowercase();
    [".cmd", ".exe", ".bat", ".ps1"]
        .iter()
        .find_map(|ext| lower.strip_suffix(ext).map(str::to_owned))
        .unwrap_or(lower)
}

/// The words before a `--` (where a package runner's own arguments end).
fn own_words(words: &[String]) -> &[String] {
    let end = words.iter().position(|w| w == "--").unwrap_or(words.len());
    &words[..end]
}

fn has_word(words: &[String], wanted: &[&str]) -> bool {
    own_words(words)
        .iter()
        .any(|w| wanted.contains(&w.to_ascii_lowercase().as_str()))
}

/// Splits a shell or `cmd` command line into words: white space and the operators that start a
/// new command separate words, quotes are dropped. Good enough to spot a launcher's name.
fn shell_words(script: &str) -> Vec<String> {
    script
        .split(|c: char| c.is_whitespace() || ";&|()`<>".contains(c))
        .map(|w| w.trim_matches(['"', '\'', '$']).to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Names the package runner `words` (a command and its arguments) start, if any. `nested`:
/// inside a shell or `env`, where npx, uvx and docker themselves count too.
fn runner(words: &[String], nested: bool) -> Option<String> {
    let first = program(words.first()?);
    let rest = &words[1..];
    let found = match first.as_str() {
        "npx" | "uvx" | "docker" if nested => first.clone(),
        "npm" if has_word(rest, &["exec", "x"]) => "npm exec".into(),
        "pnpm" if has_word(rest, &["dlx"]) => "pnpm dlx".into(),
        "pnpx" => "pnpx".into(),
        "yarn" if has_word(rest, &["dlx"]) => "yarn dlx".into(),
        "bunx" => "bunx".into(),
        "bun" if has_word(rest, &["x"]) => "bun x".into(),
        "uv" if own_words(rest)
            .windows(2)
            .any(|w| w[0] == "tool" && w[1] == "run") =>
        {
            "uv tool run".into()
        }
        "pipx" if has_word(rest, &["run"]) => "pipx run".into(),
        "podman" | "nerdctl" if has_word(rest, &["run"]) => format!("{first} run"),
        "deno"
            if rest
                .iter()
                .any(|w| w.starts_with("npm:") || w.starts_with("jsr:")) =>
        {
            "deno (npm: or jsr: specifier)".into()
        }
        "env" => {
            // `env [-i] [-u NAME] [NAME=VALUE]… COMMAND…`
            let mut index = 0;
            while let Some(word) = rest.get(index) {
                if word == "-u" || word == "--unset" {
                    index += 2;
                } else if word.starts_with('-') || word.contains('=') {
                    index += 1;
                } else {
                    break;
                }
            }
            let inner = runner(&rest[index.min(rest.len())..], true)?;
            format!("env {inner}")
        }
        "sh" | "bash" | "zsh" | "dash" | "ksh" | "fish" => {
            let flag = rest
                .iter()
                .position(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('c'))?;
            let inner = in_script(rest.get(flag + 1)?)?;
            format!("{first} -c \"… {inner} …\"")
        }
        "cmd" => {
            let flag = rest
                .iter()
                .position(|w| w.eq_ignore_ascii_case("/c") || w.eq_ignore_ascii_case("/k"))?;
            let inner = in_script(&rest[flag + 1..].join(" "))?;
            format!("cmd {} \"… {inner} …\"", rest[flag])
        }
        "powershell" | "pwsh" => {
            let flag = rest.iter().position(|w| {
                let w = w.to_ascii_lowercase();
                w == "-c" || w == "-command" || w == "/c" || w == "/command"
            })?;
            let inner = in_script(&rest[flag + 1..].join(" "))?;
            format!("{first} -Command \"… {inner} …\"")
        }
        _ => return None,
    };
    Some(found)
}

/// The first package runner anywhere in a shell command line.
fn in_script(script: &str) -> Option<String> {
    let words = shell_words(script);
    (0..words.len()).find_map(|start| runner(&words[start..], true))
}

/// If `argv` launches a registry package through something other than plain npx, uvx or
/// `docker run` (which the grammar takes), the form it uses.
pub(crate) fn launcher_equivalent(argv: &[String]) -> Option<String> {
    runner(argv, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(argv: &[&str]) -> Option<String> {
        let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
        launcher_equivalent(&argv)
    }

    #[test]
    fn package_runners_are_recognised() {
        let cases: &[(&[&str], &str)] = &[
            (&["npm", "exec", "-y", "pkg@1"], "npm exec"),
            (&["npm", "x", "pkg@1"], "npm exec"),
            (&["/usr/bin/npm", "--yes", "exec", "pkg"], "npm exec"),
            (&["C:\\node\\npm.cmd", "exec", "pkg"], "npm exec"),
            (&["pnpm", "dlx", "pkg"], "pnpm dlx"),
            (&["pnpx", "pkg"], "pnpx"),
            (&["yarn", "dlx", "pkg"], "yarn dlx"),
            (&["bunx", "pkg"], "bunx"),
            (&["bun", "x", "pkg"], "bun x"),
            (&["uv", "tool", "run", "mcp-server-time"], "uv tool run"),
            (&["pipx", "run", "mcp-server-time"], "pipx run"),
            (&["podman", "run", "-i", "img"], "podman run"),
            (
                &["deno", "run", "-A", "npm:pkg"],
                "deno (npm: or jsr: specifier)",
            ),
            (&["env", "-i", "A=1", "npx", "-y", "pkg"], "env npx"),
            (&["/usr/bin/env", "uvx", "pkg"], "env uvx"),
            (&["sh", "-c", "npx -y pkg"], "sh -c \"… npx …\""),
            (
                &["bash", "-lc", "cd /x && exec npx -y pkg"],
                "bash -c \"… npx …\"",
            ),
            (
                &["zsh", "-c", "FOO=1 uvx mcp-server-time"],
                "zsh -c \"… uvx …\"",
            ),
            (&["cmd", "/c", "npx -y pkg"], "cmd /c \"… npx …\""),
            (
                &["cmd.exe", "/s", "/c", "\"npx -y pkg\""],
                "cmd /c \"… npx …\"",
            ),
            (
                &["cmd", "/C", "npm", "exec", "pkg"],
                "cmd /C \"… npm exec …\"",
            ),
            (
                &["pwsh", "-Command", "npx -y pkg"],
                "pwsh -Command \"… npx …\"",
            ),
            (
                &["sh", "-c", "docker run -i --rm img"],
                "sh -c \"… docker …\"",
            ),
        ];
        for (argv, expected) in cases {
            assert_eq!(check(argv).as_deref(), Some(*expected), "{argv:?}");
        }
    }

    #[test]
    fn other_commands_are_not_package_runners() {
        for argv in [
            &["node", "server.js"][..],
            &["npm", "run", "start"],
            &["python", "-m", "server"],
            &["sh", "-c", "node server.js"],
            &["sh", "server.sh"],
            &["uv", "run", "server.py"],
            &["docker", "run", "img"],
            &["env", "A=1", "node", "x.js"],
        ] {
            assert_eq!(check(argv), None, "{argv:?}");
        }
    }
}
