#!/usr/bin/env bash
# Warm launch of a PyPI server to MCP `initialize`: `mcpin run -- uvx mcp-server-time==…` vs
# `python -I -S -B <tree>/bin/mcp-server-time` run directly on the same installed tree (which
# holds the bytecode compiled at install). Whole processes, one hyperfine run, stdin = one
# `initialize` line (the server answers, sees EOF and exits). A third command runs the same
# tree with its bytecode removed, to show what compiling it at install saves.
# Needs: cargo, uv (for `mcpin lock` only: the launch itself runs no uv), hyperfine (Debian:
# apt-get install hyperfine), network for the first (untimed) launch. RUNS=N (default 30).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p mcpin --manifest-path "$repo/Cargo.toml" >&2
mcpin=$CARGO_TARGET_DIR/release/mcpin
spec=mcp-server-time==2026.10.19
runs=${RUNS:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/mcpin-bench.XXXXXX")
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
export XDG_DATA_HOME=$work/data-home XDG_STATE_HOME=$work/state MCPIN_STATE_DIR=$work/state

# Sign the wheel with its lock, as a publisher would (not timed).
cached=${MCPIN_TEST_CACHE:-$repo/.cache/test}/artifacts/mcp_server_time-2026.10.19-py3-none-any.whl
if [[ -f $cached ]]; then
    cp "$cached" "$work/"
else
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$spec"
fi
whl=$(ls "$work"/*.whl)
"$mcpin" keygen --out "$work/publisher" >/dev/null 2>&1
"$mcpin" lock "$whl" --out "$work/lock.json" 2>/dev/null
sha=$(sha256sum "$whl" | cut -c1-64)
mkdir -p "$work/bundles/$sha"
"$mcpin" sign "$whl" --key "$work/publisher.key" --lock "$work/lock.json" \
    --out "$work/bundles/$sha/publisher.sigstore.json" >/dev/null 2>&1
cat >"$work/policy.toml" <<TOML
version = 1
[[signers]]
id = "publisher"
public-key = "publisher.pub"
[[packages]]
ecosystem = "pypi"
name = "mcp-server-time"
version = "==2026.10.19"
require-any = ["publisher"]
[launch]
launchers = ["uvx"]
[store]
dir = "bundles"
TOML
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
printf '%s\n' "$init" >"$work/init.jsonl"

# uv is not on the launch's PATH: the install is native.
nouv=$(tr ':' '\n' <<<"$PATH" | while read -r d; do [[ -x $d/uv ]] || printf '%s:' "$d"; done)
run_mcpin="env PATH=$nouv $mcpin run --policy $work/policy.toml --audit-log $work/audit.jsonl -- uvx $spec --local-timezone=UTC <$work/init.jsonl >$work/out.mcpin"
bash -c "$run_mcpin" 2>"$work/first.err" || { cat "$work/first.err" >&2; exit 1; }
grep -q '"serverInfo"' "$work/out.mcpin"
# A warm launch compares the tree's stat snapshot, which a launch records once the installed
# files are more than two seconds old: wait, and launch once more to record it.
sleep 3
bash -c "$run_mcpin" 2>/dev/null
tree=$(ls -d "$XDG_DATA_HOME"/mcpin/store/installs/v1/*/bin/.. | head -n1)
python=$(head -n1 "$tree/bin/mcp-server-time" | sed 's/^#!//; s/ .*//')
run_python="$python -I -S -B $tree/bin/mcp-server-time --local-timezone=UTC <$work/init.jsonl >$work/out.python"
# The same tree without bytecode, as installs had it before bytecode was compiled at install.
cp -r "$tree" "$work/no-pyc" && chmod -R u+w "$work/no-pyc"
find "$work/no-pyc" -name __pycache__ -type d -prune -exec rm -rf {} +
run_nopyc="$python -I -S -B $work/no-pyc/bin/mcp-server-time --local-timezone=UTC <$work/init.jsonl >$work/out.nopyc"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
hyperfine --warmup 3 --runs "$runs" --export-json "$work/result.json" \
    -n 'mcpin run (warm)' "$run_mcpin" \
    -n 'python <script>' "$run_python" \
    -n 'python <script>, no bytecode' "$run_nopyc" >&2
grep -q '"serverInfo"' "$work/out.python"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
m, p, n = (r[k]["median"] * 1000 for k in ("mcpin run (warm)", "python <script>", "python <script>, no bytecode"))
print(f"| mcpin run {m:.1f} ms | python {p:.1f} ms | python, no bytecode {n:.1f} ms | mcpin/python {m/p:.3f} |")
PY
