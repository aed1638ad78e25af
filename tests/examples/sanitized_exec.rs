//! `sanitized_exec [--supervise] PROGRAM ARGS…`: the launcher's last step on its own —
//! sanitize this process's environment with the default policy, report what was stripped on
//! stderr, and exec PROGRAM in place of this process (or, with `--supervise`, run it in its
//! own process group, forward SIGTERM/SIGINT/SIGHUP to the group and pass its exit code on). The environment-injection tests drive it with real
//! `node`, `python3` and an `LD_PRELOAD` library; `mcpin run` reaches the same code only after
//! verification, which this build does not have.

use mcpin_launcher::env::EnvPolicy;
use mcpin_launcher::exec::Launch;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    let supervise = args.next_if(|arg| arg == "--supervise").is_some();
    let Some(program) = args.next() else {
        eprintln!("usage: sanitized_exec [--supervise] PROGRAM [ARGS…]");
        return std::process::ExitCode::from(2);
    };
    let env = match EnvPolicy::default().sanitize(std::env::vars_os()) {
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
