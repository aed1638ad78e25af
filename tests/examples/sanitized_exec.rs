//! `sanitized_exec PROGRAM ARGS…`: the launcher's last step on its own — sanitize this
//! process's environment with the default policy, report what was stripped on stderr, and
//! exec PROGRAM in place of this process. The environment-injection tests drive it with real
//! `node`, `python3` and an `LD_PRELOAD` library; `mcpin run` reaches the same code only after
//! verification, which this build does not have.

use mcpin_launcher::env::EnvPolicy;
use mcpin_launcher::exec::Launch;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: sanitized_exec PROGRAM [ARGS…]");
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
    eprintln!("sanitized_exec: {}", launch.exec());
    std::process::ExitCode::from(127)
}
