#!/usr/bin/env bash
# Benchmark (not a test): `mcpin sbom` against `cdxgen -t js` on
# @modelcontextprotocol/server-filesystem, whole process, same machine, same
# run, with the dependency tree already resolved for both (mcpin gets its lock,
# cdxgen a package-lock.json of the same runtime dependencies). Prints the
# ratio of the median wall times. Needs node/npm, cargo and hyperfine
# (Debian: apt-get install hyperfine). Results: BENCHMARKS.md.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MCPIN_TEST_CACHE=${MCPIN_TEST_CACHE:-$repo/.cache/test}
mkdir -p "$MCPIN_TEST_CACHE"
# shellcheck source=/dev/null
source "$repo/tests/setup/10-artifacts.sh"
runs=${RUNS:-15}

cdxgen_version=12.8.4
cdxgen_dir=$MCPIN_TEST_CACHE/cdxgen-$cdxgen_version
if [[ ! -x $cdxgen_dir/node_modules/.bin/cdxgen ]]; then
    mkdir -p "$cdxgen_dir"
    : >"$cdxgen_dir/empty.npmrc"
    (cd "$cdxgen_dir" && npm install --silent --no-audit --no-fund \
        --userconfig "$cdxgen_dir/empty.npmrc" "@cyclonedx/cdxgen@$cdxgen_version" >/dev/null)
fi
cdxgen=$cdxgen_dir/node_modules/.bin/cdxgen

(cd "$repo" && cargo build --release --locked -p mcpin)
mcpin=${CARGO_TARGET_DIR:-$repo/target}/release/mcpin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$mcpin" "$work/mcpin" # a private copy: a shared target dir may be rebuilt meanwhile
tgz=$MCPIN_ARTIFACTS/modelcontextprotocol-server-filesystem-2026.8.31.tgz

# Resolution is not timed: mcpin's lock, and for cdxgen the package's own
# manifest (runtime keys only, as `mcpin lock` resolves it) with its npm lock.
"$work/mcpin" lock "$tgz" --out "$work/lock.json"
mkdir -p "$work/project"
tar -xzf "$tgz" -C "$work/project" package/package.json
node -e '
const m = require(process.argv[1]);
const keep = ["name", "version", "dependencies", "optionalDependencies", "peerDependencies", "peerDependenciesMeta"];
const out = Object.fromEntries(keep.filter((k) => k in m).map((k) => [k, m[k]]));
require("fs").writeFileSync(process.argv[2], JSON.stringify(out, null, 2));
' "$work/project/package/package.json" "$work/project/package.json"
rm -r "$work/project/package"
: >"$work/empty.npmrc"
(cd "$work/project" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund \
    --userconfig "$work/empty.npmrc" >/dev/null)

cd "$work"
hyperfine -N --style basic --warmup 2 --runs "$runs" --export-json "$work/results.json" \
    --command-name "mcpin sbom" "./mcpin sbom $tgz --lock lock.json --out mcpin.cdx.json" \
    --command-name "cdxgen -t js" "$cdxgen -t js --spec-version 1.5 --no-install-deps -o cdxgen.cdx.json project" \
    >&2
node -e '
const r = require(process.argv[1]).results;
const [m, c] = r.map((x) => x.median);
console.log(`median: mcpin sbom ${(m * 1000).toFixed(1)} ms, cdxgen -t js ${(c * 1000).toFixed(1)} ms, ratio ${(c / m).toFixed(1)}x`);
const count = (f) => (require(f).components || []).length;
console.log(`components: mcpin ${count(process.argv[2])}, cdxgen ${count(process.argv[3])}`);
' "$work/results.json" "$work/mcpin.cdx.json" "$work/cdxgen.cdx.json"
