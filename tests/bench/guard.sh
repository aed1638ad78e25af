#!/usr/bin/env bash
# The runtime guard's cost (issue 11): 10,000 `tools/call` round trips to a small echo server
# (tests/support/guard-fixture/server.js, node), direct versus behind the guard (the
# `guarded_exec` example: `mcpin run`'s last step, `Launch::guard`, with the audit log on),
# whole processes in one hyperfine run; startup (initialize only) the same way against the
# exec path (`sanitized_exec`); per-round-trip medians and the guard's peak RSS from the client
# (`echo_bench`), also with 8 MiB and 14 MiB answers.
# Needs: node, cargo, hyperfine (Debian: apt-get install hyperfine). RUNS=N (default 10).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p mcpin -p mcpin-tests --bins --examples --manifest-path "$repo/Cargo.toml" >&2
bin=$CARGO_TARGET_DIR/release
runs=${RUNS:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/mcpin-guard-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
server=$repo/tests/support/guard-fixture/server.js

"$bin/mcpin" tools capture --out "$work/tools.json" -- node "$server" >/dev/null 2>&1
printf 'version = 1\n' >"$work/policy.toml"
guarded="$bin/examples/guarded_exec $work/tools.json $work/policy.toml $work/audit.jsonl"
bench=$bin/examples/echo_bench

echo "== 10,000 round trips, whole process (hyperfine, $runs runs)"
hyperfine -N -w 1 -r "$runs" --export-json "$work/calls.json" \
    -n direct "$bench --calls 10000 -- node $server" \
    -n guard "$bench --calls 10000 -- $guarded node $server"
echo "== startup: initialize only (hyperfine, $((runs * 3)) runs)"
hyperfine -N -w 3 -r "$((runs * 3))" --export-json "$work/startup.json" \
    -n exec "$bench --calls 0 -- $bin/examples/sanitized_exec node $server" \
    -n guard "$bench --calls 0 -- $guarded node $server"
echo "== per round trip, from the client (median, p99; peak RSS of the guard process)"
for _ in 1 2 3; do
    echo "direct $("$bench" --calls 10000 -- node "$server")"
    echo "guard  $("$bench" --calls 10000 -- $guarded node "$server")"
done
echo "== large messages: the answer carries the text twice (content and structuredContent)"
echo "guard  $("$bench" --calls 3 --payload 7340032 -- $guarded node "$server")"
echo "guard  $("$bench" --calls 3 --payload 4194304 -- $guarded node "$server")"
echo "records in the audit log: $(wc -l <"$work/audit.jsonl")"
echo "== medians (hyperfine)"
for file in calls startup; do
    python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(sys.argv[2], r["command"], "median %.1f ms" % (r["median"] * 1000))' "$work/$file.json" "$file"
done
