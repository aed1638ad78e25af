//! Asking a human about a destructive call: the elicitation form (the same for a 2025
//! `elicitation/create` request and a 2026 input-required round trip), reading the answer,
//! and `approval-command` as the fallback.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key of the guard's question in a 2026 `inputRequests` map, and of the answer in
/// `inputResponses`.
pub(crate) const INPUT_KEY: &str = "dev.mcpin/approval";

/// The prefix of every id and `requestState` the guard makes; the server may not use it.
pub(crate) const GUARD_PREFIX: &str = "mcpin-guard-";

/// The question, in words, for the form and the command line alike.
pub(crate) fn question(server: &str, tool: &str, arguments: &Value) -> String {
    let mut shown = serde_json::to_string(arguments).unwrap_or_default();
    if shown.chars().count() > 500 {
        shown = shown.chars().take(500).collect::<String>() + "…";
    }
    format!(
        "mcpin: allow `{tool}` of {server} to run? Its signed annotations say it may change or delete data. Arguments: {shown}"
    )
}

/// `elicitation/create` params: a form with one required boolean.
pub(crate) fn form(message: &str) -> Value {
    json!({
        "mode": "form",
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {
                "approve": {
                    "type": "boolean",
                    "title": "Allow this call",
                    "description": "Set to true to let this one call run."
                }
            },
            "required": ["approve"]
        }
    })
}

/// Whether an `ElicitResult` approves: `accept` with `approve: true`, nothing else.
pub(crate) fn approves(result: Option<&Value>) -> bool {
    result.is_some_and(|result| {
        result.get("action").and_then(Value::as_str) == Some("accept")
            && result
                .get("content")
                .and_then(|content| content.get("approve"))
                .and_then(Value::as_bool)
                == Some(true)
    })
}

/// What `approval-command` said.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CommandAnswer {
    Approved,
    Declined(String),
    TimedOut,
    Failed(String),
}

/// Runs `argv` with the question as its last argument; exit status 0 approves. Its stdout
/// goes to our stderr (our stdout carries only protocol bytes); stdin is closed.
pub(crate) fn run_command(argv: &[String], question: &str, timeout: Duration) -> CommandAnswer {
    let Some((program, args)) = argv.split_first() else {
        return CommandAnswer::Failed("approval-command is empty".into());
    };
    let stdout = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    };
    let mut child = match Command::new(program)
        .args(args)
        .arg(question)
        .stdin(Stdio::null())
        .stdout(stdout)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => return CommandAnswer::Failed(format!("starting `{program}`: {error}")),
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return CommandAnswer::Approved,
            Ok(Some(status)) => return CommandAnswer::Declined(format!("`{program}` {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return CommandAnswer::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => {
                return CommandAnswer::Failed(format!("waiting for `{program}`: {error}"));
            }
        }
    }
}

use std::os::fd::AsFd;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_accepted_true_approves() {
        assert!(approves(Some(
            &json!({"action": "accept", "content": {"approve": true}})
        )));
        for answer in [
            json!({"action": "accept", "content": {"approve": false}}),
            json!({"action": "accept", "content": {"approve": "true"}}),
            json!({"action": "accept"}),
            json!({"action": "decline"}),
            json!({"action": "cancel", "content": {"approve": true}}),
        ] {
            assert!(!approves(Some(&answer)), "{answer}");
        }
        assert!(!approves(None));
    }

    #[test]
    fn the_command_gets_the_question_and_its_status_decides() {
        let sh = |script: &str| {
            vec![
                "sh".to_owned(),
                "-c".to_owned(),
                script.to_owned(),
                "sh".to_owned(),
            ]
        };
        let long = Duration::from_secs(10);
        assert_eq!(
            run_command(
                &sh("case \"$1\" in *write_file*) exit 0;; esac; exit 1"),
                "allow `write_file`?",
                long
            ),
            CommandAnswer::Approved
        );
        assert!(matches!(
            run_command(&sh("exit 1"), "q", long),
            CommandAnswer::Declined(_)
        ));
        assert_eq!(
            run_command(&sh("sleep 5"), "q", Duration::from_millis(100)),
            CommandAnswer::TimedOut
        );
        assert!(matches!(
            run_command(&["/nonexistent/zenity".to_owned()], "q", long),
            CommandAnswer::Failed(_)
        ));
    }
}
