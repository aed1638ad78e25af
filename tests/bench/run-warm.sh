#!/usr/bin/env bash
# Warm launch to MCP `initialize`: `mcpin run -- npx …` vs warm `npx -y pkg@ver` vs `node <bin>`
# run directly on the same installed tree. Whole processes, one hyperfine run, stdin = one
# `initialize` line (the server answers, sees EOF and exits).
# Needs: node/npm/npx, cargo, hyperfine (Debian: apt-get install hyperfine), network for the
# first (untimed) launch of each. RUNS=N for more runs (default 30).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p mcpin --manifest-path "$repo/Cargo.toml" >&2
mcpin=$CARGO_TARGET_DIR/release/mcpin
pkg=@modelcontextprotocol/server-filesystem@2026.8.31
runs=${RUNS:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/mcpin-bench.XXXXXX")
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
export XDG_DATA_HOME=$work/data-home XDG_STATE_HOME=$work/state MCPIN_STATE_DIR=$work/state

# Sign the package with its lock, as a publisher would (not timed). The tarball comes from the
# test cache when there is one ($MCPIN_TEST_CACHE/artifacts), else from the registry.
cached=${MCPIN_TEST_CACHE:-$repo/.cache/test}/artifacts/modelcontextprotocol-server-filesystem-2026.8.31.tgz
if [[ -f $cached ]]; then cp "$cached" "$work/"; else (cd "$work" && npm pack --silent "$pkg" >/dev/null); fi
tgz=$(ls "$work"/*.tgz)
"$mcpin" keygen --out "$work/publisher" >/dev/null 2>&1
"$mcpin" lock "$tgz" --out "$work/lock.json" 2>/dev/null
sha=$(sha256sum "$tgz" | cut -c1-64)
mkdir -p "$work/bundles/$sha" "$work/served"
"$mcpin" sign "$tgz" --key "$work/publisher.key" --lock "$work/lock.json" \
    --out "$work/bundles/$sha/publisher.sigstore.json" >/dev/null 2>&1
cat >"$work/policy.toml" <<TOML
version = 1
[[signers]]
id = "publisher"
public-key = "publisher.pub"
[[packages]]
ecosystem = "npm"
name = "@modelcontextprotocol/server-filesystem"
version = "2026.8.31"
require-any = ["publisher"]
[launch]
launchers = ["npx"]
[store]
dir = "bundles"
TOML
# mcpin run gives node only the variables its env allowlist passes; node started directly would
# otherwise pay for what the caller's environment asks of it (NODE_EXTRA_CA_CERTS: ≈ 30 ms here
# to load a CA bundle), which is not the cost being measured.
unset NODE_EXTRA_CA_CERTS NODE_OPTIONS
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
printf '%s\n' "$init" >"$work/init.jsonl"

run_mcpin="$mcpin run --policy $work/policy.toml --audit-log $work/audit.jsonl -- npx -y $pkg $work/served <$work/init.jsonl >$work/out.mcpin"
run_npx="npx -y $pkg $work/served <$work/init.jsonl >$work/out.npx"
# First launches: install into the store and warm npx's cache (not timed); check both answer.
bash -c "$run_mcpin" 2>/dev/null
bash -c "$run_npx" 2>/dev/null
grep -q '"serverInfo"' "$work/out.mcpin" && grep -q '"serverInfo"' "$work/out.npx"
# A warm launch compares the tree's stat snapshot, which a launch records once the installed
# files are more than two seconds old: wait, and launch once more to record it.
sleep 3
bash -c "$run_mcpin" 2>/dev/null
bin=$(ls "$XDG_DATA_HOME"/mcpin/store/installs/v1/*/pkg/dist/index.js)
run_node="node $bin $work/served <$work/init.jsonl >$work/out.node"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
hyperfine --warmup 3 --runs "$runs" --export-json "$work/result.json" \
    -n 'mcpin run (warm)' "$run_mcpin" \
    -n 'npx -y (warm)' "$run_npx" \
    -n 'node <bin>' "$run_node" >&2
grep -q '"serverInfo"' "$work/out.node"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
m, n, d = (r[k]["median"] * 1000 for k in ("mcpin run (warm)", "npx -y (warm)", "node <bin>"))
print(f"| mcpin run {m:.1f} ms | npx -y {n:.1f} ms | node {d:.1f} ms | mcpin/node {m/d:.3f} | mcpin/npx {m/n:.3f} |")
PY
