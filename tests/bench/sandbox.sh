#!/usr/bin/env bash
# Startup cost of the sandbox (issue 16): warm `mcpin run -- npx …` to the server's answer to
# MCP `initialize`, without `[sandbox]`, with `[sandbox]` writing nowhere, and with the default
# `[sandbox]` (a private ${TMP} and its reaper). Whole processes, one hyperfine run, stdin = one
# `initialize` line (the server answers, sees EOF and exits).
# With SHIM_ONLY=1, node is pinned to /usr/bin/true ([launch.interpreters]): every check, the
# install re-check, the sandbox and the exec, without node's own start-up and its noise.
# Needs: node/npm, cargo, hyperfine (Debian: apt-get install hyperfine), a kernel with Landlock,
# network for the first (untimed) launch. RUNS=N for more runs (default 30).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p mcpin --manifest-path "$repo/Cargo.toml" >&2
mcpin=$CARGO_TARGET_DIR/release/mcpin
pkg=@modelcontextprotocol/server-filesystem@2026.8.31
runs=${RUNS:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/mcpin-bench.XXXXXX")
# The served directory lies outside the policy's directory, which no argument may grant.
served=$(mktemp -d "${TMPDIR:-/tmp}/mcpin-bench-served.XXXXXX")
trap 'chmod -R u+w "$work"; rm -rf "$work" "$served"' EXIT
export XDG_DATA_HOME=$work/data-home XDG_STATE_HOME=$work/state MCPIN_STATE_DIR=$work/state

# Sign the package with its lock, as a publisher would (not timed).
(cd "$work" && npm pack --silent "$pkg" >/dev/null)
tgz=$(ls "$work"/*.tgz)
"$mcpin" keygen --out "$work/publisher" >/dev/null 2>&1
"$mcpin" lock "$tgz" --out "$work/lock.json" 2>/dev/null
sha=$(sha256sum "$tgz" | cut -c1-64)
mkdir -p "$work/bundles/$sha"
"$mcpin" sign "$tgz" --key "$work/publisher.key" --lock "$work/lock.json" \
    --out "$work/bundles/$sha/publisher.sigstore.json" >/dev/null 2>&1
interpreters=""
if [[ ${SHIM_ONLY:-} == 1 ]]; then
    interpreters='interpreters = { node = { path = "/usr/bin/true" } }'
fi
policy() { # NAME SANDBOX-SECTION
    cat >"$work/$1.toml" <<TOML
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
$interpreters
[store]
dir = "bundles"
$2
TOML
}
policy plain ""
policy no-tmp $'[sandbox]\nmode = "enforce"\nfs-write = []\nfs-from-args = "read-write"'
policy sandbox $'[sandbox]\nmode = "enforce"\nfs-from-args = "read-write"'
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
printf '%s\n' "$init" >"$work/init.jsonl"

run() { # POLICY
    echo "$mcpin run --policy $work/$1.toml --audit-log $work/audit.jsonl -- npx -y $pkg $served <$work/init.jsonl >$work/out.$1"
}
# First launch installs into the store (not timed); check each answers.
for p in plain no-tmp sandbox; do
    bash -c "$(run $p)"
    [[ ${SHIM_ONLY:-} == 1 ]] || grep -q '"serverInfo"' "$work/out.$p"
done
hyperfine --warmup 3 --runs "$runs" --export-json "$work/result.json" \
    -n 'no [sandbox]' "$(run plain)" \
    -n '[sandbox], no ${TMP}' "$(run no-tmp)" \
    -n '[sandbox] (default: ${TMP})' "$(run sandbox)" >&2
python3 - "$work/result.json" <<'PY'
import json, sys
r = [x for x in json.load(open(sys.argv[1]))["results"]]
base = r[0]["median"] * 1000
for x in r:
    m = x["median"] * 1000
    print(f"| {x['command']} | {m:.1f} ms | +{m - base:.1f} ms | {m / base:.3f} |")
PY
