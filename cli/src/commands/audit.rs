use anyhow::Context;
use mcpin_launcher::audit;
use mcpin_launcher::locate::BaseDirs;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::args::{AuditShowArgs, AuditVerifyArgs};
use crate::exit::ExitStatus;
use crate::output;

pub fn verify(args: AuditVerifyArgs) -> anyhow::Result<ExitStatus> {
    let path = match args.file {
        Some(path) => path,
        None => BaseDirs::from_env()
            .audit_log()
            .context("no audit log given and neither XDG_STATE_HOME nor HOME is set")?,
    };
    let verified = audit::verify(&path)?;
    if args.json {
        output::report(&verified)?;
    } else {
        eprintln!(
            "audit log {}: {} records, chain intact (head {})",
            path.display(),
            verified.records,
            verified.head
        );
    }
    Ok(ExitStatus::Success)
}

pub fn show(args: AuditShowArgs) -> anyhow::Result<ExitStatus> {
    let path = match args.file {
        Some(path) => path,
        None => BaseDirs::from_env()
            .audit_log()
            .context("no audit log given and neither XDG_STATE_HOME nor HOME is set")?,
    };
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let mut offset = 0;
    loop {
        let (records, next) = audit::read_from(&path, offset)?;
        offset = next;
        for record in records {
            if let Some(since) = since {
                let time = record
                    .get("time")
                    .and_then(Value::as_str)
                    .and_then(|time| time.parse::<Timestamp>().ok());
                if time.is_none_or(|time| time < since) {
                    continue;
                }
            }
            print_record(record, args.json)?;
        }
        if !args.follow {
            return Ok(ExitStatus::Success);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// `--since`: an RFC 3339 time, a date (UTC midnight), or an age before now.
fn parse_since(text: &str) -> anyhow::Result<Timestamp> {
    if let Ok(time) = mcpin_verifier::policy::parse_time(text) {
        return Ok(time);
    }
    let age = humantime::parse_duration(text).map_err(|_| {
        anyhow::anyhow!(
            "--since `{text}`: not an RFC 3339 time, a date (YYYY-MM-DD) or an age (90m, 2h, 7d)"
        )
    })?;
    let age = jiff::SignedDuration::try_from(age).context("--since: the age is too large")?;
    Timestamp::now()
        .checked_sub(age)
        .context("--since: the age is too large")
}

/// The version of the `--json` line format (the record's own fields, plus this one).
const SCHEMA_VERSION: u32 = 1;

fn print_record(mut record: Map<String, Value>, json: bool) -> anyhow::Result<()> {
    if json {
        record.insert("schema_version".into(), SCHEMA_VERSION.into());
        let mut line = serde_json::to_vec(&record).expect("records serialize");
        line.push(b'\n');
        return output::bytes(&line);
    }
    let text = |key: &str| record.get(key).and_then(Value::as_str).unwrap_or("-");
    let event = text("event");
    let event = if event == "-" { "launch" } else { event };
    let summary = match event {
        "launch" => format!(
            "{} {} {}",
            text("verdict"),
            record
                .get("artifact")
                .and_then(|a| a.get("purl"))
                .and_then(Value::as_str)
                .unwrap_or("-"),
            record
                .get("reasons")
                .and_then(Value::as_array)
                .map(|reasons| reasons
                    .iter()
                    .filter_map(|r| r.get("code").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(","))
                .unwrap_or_default()
        ),
        "tool-call" => format!(
            "{} {} [{}]{}",
            text("decision"),
            text("tool"),
            text("reason"),
            record
                .get("latency_ms")
                .and_then(Value::as_f64)
                .map(|ms| format!(" {ms:.1} ms"))
                .unwrap_or_default()
        ),
        "tool-drift" => format!(
            "{} {} [{}] signed {} listed {}",
            text("action"),
            text("tool"),
            text("reason"),
            text("signed_digest"),
            text("observed_digest")
        ),
        "approval" => format!(
            "{} {} via {} [{}]",
            text("outcome"),
            text("tool"),
            text("via"),
            text("reason")
        ),
        "guard-stop" => format!("[{}] {}", text("reason"), text("message")),
        _ => String::new(),
    };
    output::text(&format!(
        "{:>6} {} {:<10} {summary}\n",
        record.get("seq").and_then(Value::as_u64).unwrap_or(0),
        text("time"),
        event
    ))
}
