//! `echo_bench [--calls N] [--payload BYTES] -- PROGRAM ARGS…`: the client side of the
//! runtime-guard benchmark (`tests/bench/guard.sh`). Starts PROGRAM (an MCP server, directly or
//! behind `guarded_exec`), sends `initialize`, then N `tools/call` of `echo` one after the
//! other, each with a text of BYTES bytes, and prints one JSON line: the median and p99 round
//! trip, and the peak RSS (`VmHWM`) of PROGRAM itself, read just before its stdin is closed.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .position(|a| a == "--")
        .expect("-- PROGRAM ARGS");
    let option = |name: &str, default: usize| {
        args[..split]
            .iter()
            .position(|a| a == name)
            .map_or(default, |i| args[i + 1].parse().expect("a number"))
    };
    let calls = option("--calls", 10_000);
    let payload = "x".repeat(option("--payload", 16));
    let mut child = Command::new(&args[split + 1])
        .args(&args[split + 2..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the server");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut round_trip = |message: String| {
        stdin.write_all(message.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert!(line.contains("\"result\""), "not a result: {line:.200}");
    };
    round_trip(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"echo-bench","version":"1"}}}"#.to_owned());
    let mut times = Vec::with_capacity(calls);
    for id in 1..=calls {
        let message = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{payload}"}}}}}}"#
        );
        let start = Instant::now();
        round_trip(message);
        times.push(start.elapsed().as_nanos() as f64 / 1000.0);
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    drop(stdin);
    child.wait().unwrap();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        times
            .get(((times.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    // This example's stdout is its report.
    writeln!(
        std::io::stdout(),
        r#"{{"calls":{calls},"payload":{},"median_us":{:.1},"p99_us":{:.1},"program_peak_rss_kib":{hwm_kib}}}"#,
        payload.len(),
        at(0.5),
        at(0.99)
    )
    .expect("writing the report");
}
