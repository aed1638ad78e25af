//! `sanitized_exec [--supervise] [--allow NAME]… PROGRAM ARGS…`: the launcher's last step on
//! its own — apply the environment rules to this process's environment (the base allowlist plus
//! each `--allow NAME`, the built-in strip list), report what was stripped on stderr, and exec
//! PROGRAM in place of this process (or, with `--supervise`, run it in its own process group,
//! forward SIGTERM/SIGINT/SIGHUP to the group and pass its exit code on). The
//! environment-injection tests drive it with real `node`, `python3` and an `LD_PRELOAD`
//! library; `mcpin run` reaches the same code only after verification, which this build does
//! not have.

use mcpin_launcher::env::{EnvLists, EnvRules};
use mcpin_launcher::exec::Launch;
use mcpin_launcher::locate::Account;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    let supervise = args.next_if(|arg| arg == "--supervise").is_some();
    let mut lists = EnvLists::default();
    while args.next_if(|arg| arg == "--allow").is_some() {
        match args.next().and_then(|name| name.into_string().ok()) {
            Some(name) => lists.allow.push(name),
            None => {
                eprintln!("sanitized_exec: --allow needs a variable name");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(program) = args.next() else {
        eprintln!("usage: sanitized_exec [--supervise] [--allow NAME]… PROGRAM [ARGS…]");
        return std::process::ExitCode::from(2);
    };
    let account = Account::current();
    let env = match EnvRules::server(&lists).sanitize(std::env::vars_os(), account.home.as_deref())
    {
        Ok(env) => env,
        Err(error) => {
            eprintln!("sanitized_exec: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    for stripped in &env.stripped {
        eprintln!(
            "sanitized_exec: stripped {}: {}",
            stripped.name, stripped.reason
        );
    }
    let launch = Launch {
        program: program.into(),
        args: args.collect(),
        env,
        sandbox: None,
    };
    if supervise {
        return match launch.supervise() {
            Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(255)),
            Err(error) => {
                eprintln!("sanitized_exec: {error}");
                std::process::ExitCode::from(127)
            }
        };
    }
    eprintln!("sanitized_exec: {}", launch.exec());
    std::process::ExitCode::from(127)
}
