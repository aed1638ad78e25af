#!/usr/bin/env bash
# `mcpin verify --policy` with 1, 1 000, 10 000 and 100 000 `[[packages]]` rules (written by
# gen-policy.py: exact npm and PyPI names with ranges, some digest pins, scope globs, and the
# rule that allows the artifact last), each policy signed with a policy-root key. Whole
# processes, one hyperfine run: the warm decision (the policy's compiled form in the state
# directory's cache; the policy file is still read, hashed and its signature checked) at every
# size, as a ratio to the 1-rule policy; then the cold decision (no cache: the TOML is parsed)
# and the peak RSS of each (GNU time).
# Needs: cargo, python3, hyperfine (Debian: apt-get install hyperfine), /usr/bin/time.
# RUNS=N (default 30); SIZES="1 1000 …"; BASELINE=/path/to/another/mcpin adds its decision at
# each size (no cache) to the cold table.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p mcpin --manifest-path "$repo/Cargo.toml" >&2
mcpin=$CARGO_TARGET_DIR/release/mcpin
runs=${RUNS:-30}
sizes=(${SIZES:-1 1000 10000 100000})
cache=${MCPIN_TEST_CACHE:-$repo/.cache/test}
work=$(mktemp -d "${TMPDIR:-/tmp}/mcpin-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

tgz=$work/modelcontextprotocol-server-filesystem-2026.8.31.tgz
if [[ -f $cache/artifacts/${tgz##*/} ]]; then
    cp "$cache/artifacts/${tgz##*/}" "$tgz"
else
    (cd "$work" && npm pack --silent @modelcontextprotocol/server-filesystem@2026.8.31 >/dev/null)
fi
"$mcpin" keygen --out "$work/publisher" >/dev/null 2>&1
"$mcpin" keygen --out "$work/root" >/dev/null 2>&1
"$mcpin" sign "$tgz" --key "$work/publisher.key" >/dev/null 2>&1
verify() { # policy state-dir [binary]
    echo "${3:-$mcpin} verify $tgz --policy $1 --policy-root-key $work/root.pub --state-dir $2"
}
warm=() cold=()
for n in "${sizes[@]}"; do
    python3 "$repo/tests/bench/gen-policy.py" "$n" "$work/publisher.pub" >"$work/p$n.toml"
    "$mcpin" policy sign "$work/p$n.toml" --key "$work/root.key" >/dev/null 2>&1
    $(verify "$work/p$n.toml" "$work/state") >/dev/null 2>&1 # compiles and caches it
    warm+=(-n "$n rules" "$(verify "$work/p$n.toml" "$work/state")")
    cold+=("$n")
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/warm.json" "${warm[@]}" >&2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Median of 5 runs of a decision: warm (the cache stays) or cold (the state directory is
# removed before each run, so the TOML is parsed), as `%e` (seconds) or `%M` (peak RSS, KiB).
measure() { # format warm|cold state-dir command…
    local format=$1 mode=$2 state=$3
    shift 3
    for _ in 1 2 3 4 5; do
        [[ $mode == cold ]] && rm -rf "$state"
        /usr/bin/time -f "$format" "$@" 2>&1 >/dev/null | tail -n1
    done | sort -n | sed -n 3p
}
python3 - "$work/warm.json" <<'PY' >"$work/warm.txt"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["median"]
for x in r:
    print(x["command"].split()[0], f'{x["median"]*1000:.1f}', f'{x["median"]/base:.2f}')
PY
header="| rules | warm median | warm / 1 rule | warm peak RSS | cold (parse) | cold peak RSS |"
[[ -n ${BASELINE:-} ]] && header+=" baseline | baseline peak RSS |"
echo "$header"
echo "|---|---|---|---|---|---|$([[ -n ${BASELINE:-} ]] && echo '---|---|')"
while read -r n ms ratio; do
    p=$work/p$n.toml
    warm_rss=$(measure %M warm "$work/state" $(verify "$p" "$work/state"))
    cold_s=$(measure %e cold "$work/cold" $(verify "$p" "$work/cold"))
    cold_rss=$(measure %M cold "$work/cold" $(verify "$p" "$work/cold"))
    line="| $n | $ms ms | ${ratio}× | $((warm_rss / 1024)) MiB | ${cold_s} s | $((cold_rss / 1024)) MiB |"
    if [[ -n ${BASELINE:-} ]]; then
        base_s=$(measure %e cold "$work/base" $(verify "$p" "$work/base" "$BASELINE"))
        base_rss=$(measure %M cold "$work/base" $(verify "$p" "$work/base" "$BASELINE"))
        line+=" ${base_s} s | $((base_rss / 1024)) MiB |"
    fi
    echo "$line"
done <"$work/warm.txt"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
