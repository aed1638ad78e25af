//! `guarded_exec TOOLS POLICY AUDIT_LOG PROGRAM ARGS…`: the last step of `mcpin run` with the
//! runtime guard, on its own: the signed tools from a tools file (`mcpin tools capture`), the
//! `[runtime]` section of a policy file, and PROGRAM started behind the guard exactly as
//! `mcpin run` starts a verified server (`Launch::guard`). Tests drive it with the MCP Python
//! SDK on both sides, for 2026-07-28 servers that no registry fixture packages.
//! `MCPIN_LLM_PROVIDER` declares the provider.

use std::path::PathBuf;

use mcpin_launcher::audit::AuditLog;
use mcpin_launcher::env::{EnvLists, EnvRules};
use mcpin_launcher::exec::Launch;
use mcpin_launcher::locate::Account;

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let [tools, policy, audit, program, rest @ ..] = &args[..] else {
        eprintln!("usage: guarded_exec TOOLS POLICY AUDIT_LOG PROGRAM [ARGS…]");
        return std::process::ExitCode::from(2);
    };
    let tools = mcpin_tools::read_section(&PathBuf::from(tools)).expect("a tools file");
    let policy = mcpin_verifier::policy::Policy::load(&PathBuf::from(policy)).expect("a policy");
    let launch = Launch {
        program: PathBuf::from(program),
        args: rest.to_vec(),
        env: EnvRules::server(&EnvLists::default())
            .sanitize(std::env::vars_os(), Account::current().home.as_deref())
            .expect("a clean environment"),
        sandbox: None,
    };
    let config = mcpin_guard::Config {
        tools,
        runtime: policy.runtime,
        llm_provider: std::env::var("MCPIN_LLM_PROVIDER").ok(),
        account: mcpin_guard::Account::current(),
        server: mcpin_guard::ServerIdentity {
            purl: "pkg:pypi/guard-fixture@1.0.0".into(),
            sha256: "0".repeat(64),
        },
    };
    let guarded = launch
        .guard(config, Box::new(AuditLog::new(PathBuf::from(audit))))
        .expect("starting the server");
    match guarded.ended {
        mcpin_guard::Ended::ServerClosed => std::process::ExitCode::from(guarded.code as u8),
        mcpin_guard::Ended::Stopped(stop) => {
            eprintln!("guarded_exec: stopped: {} [{}]", stop.message, stop.code);
            std::process::ExitCode::from(1)
        }
    }
}
