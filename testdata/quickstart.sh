#!/usr/bin/env bash
# mcpin's whole loop on the built-in example, offline, in under a minute after the build:
#
#   1. a publisher creates a key, locks, captures the tools, writes the SBOM and signs the
#      example MCP server package (testdata/mcpin-example-hello-mcp-0.1.0.tgz, packed from
#      testdata/hello-mcp/);
#   2. an enterprise writes a policy that allows it (signed by that publisher);
#   3. an agent launches it through the shim, `mcpin run -- npx -y …`, from a local registry
#      (a file server on 127.0.0.1), and an MCP client lists its tools through the shim;
#   4. a registry that serves a tampered copy of the same version is refused, nothing runs;
#   5. `mcpin audit show` prints both decisions.
#
# Everything lives in a temporary directory that is removed at the end; nothing is read from
# or written to your own mcpin configuration, store or audit log.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cargo build --quiet --locked --manifest-path "$repo/Cargo.toml" -p mcpin
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
mcpin=$target_dir/debug/mcpin

work=$(mktemp -d "${TMPDIR:-/tmp}/mcpin-quickstart.XXXXXX")
registry_pid=
cleanup() {
    [[ -n $registry_pid ]] && kill "$registry_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
name=@mcpin-example/hello-mcp
tarball=mcpin-example-hello-mcp-0.1.0.tgz
cp "$repo/testdata/$tarball" .

say() { printf '\n\033[1m# %s\033[0m\n' "$*" >&2; }
step() { printf '\033[1m$ %s\033[0m\n' "$*" >&2; "$@"; }
# Nothing of the caller's mcpin setup takes part: store, state, audit log and config are here.
export HOME=$work/home XDG_CONFIG_HOME=$work/config XDG_STATE_HOME=$work/state \
    XDG_DATA_HOME=$work/data
mkdir -p "$HOME"
unset MCPIN_STORE MCPIN_STATE_DIR MCPIN_POLICY_ROOT_KEY MCPIN_NPM_REGISTRY

say "1. Publisher: key, lock, tools, SBOM, one signed statement"
step "$mcpin" keygen --out publisher
step "$mcpin" lock "$tarball" --out hello.lock.json
step "$mcpin" tools capture --out tools.json -- node "$repo/testdata/hello-mcp/server.js"
step "$mcpin" sbom "$tarball" --lock hello.lock.json --tools tools.json --out hello.cdx.json
step "$mcpin" sign "$tarball" --key publisher.key --lock hello.lock.json --tools tools.json \
    --sbom hello.cdx.json

say "2. Enterprise: a policy that allows it, signed by that publisher"
sha256=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$tarball")
mkdir -p "bundles/$sha256"
cp "$tarball.sigstore.json" "bundles/$sha256/publisher.sigstore.json"
cp "$tarball.cdx.json" "bundles/$sha256/"
cat >policy.toml <<EOF
version = 1

[[signers]]
id = "publisher"
public-key = "publisher.pub"

[[packages]]
ecosystem = "npm"
name = "$name"
version = "0.1.0"
require-any = ["publisher"]

[tools]
require = true

[launch]
launchers = ["npx"]

[store]
dir = "bundles"
EOF
step cat policy.toml
step "$mcpin" policy check policy.toml

# A registry on 127.0.0.1: a packument and the tarball, like registry.npmjs.org serves them.
serve() { # DIR TARBALL -> prints the registry URL
    mkdir -p "$1"
    python3 - "$1" "$2" "$name" >"$1.log" 2>&1 <<'PY' &
import base64, hashlib, http.server, json, os, sys
root, tarball, name = sys.argv[1:4]
data = open(tarball, "rb").read()
os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), None)
url = "http://127.0.0.1:%d/" % server.server_address[1]
open(os.path.join(root, "hello.tgz"), "wb").write(data)
json.dump({"name": name, "dist-tags": {"latest": "0.1.0"}, "versions": {"0.1.0": {
    "name": name, "version": "0.1.0", "dist": {"tarball": url + "hello.tgz",
    "integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()}}}},
    open(os.path.join(root, name), "w"))
class Files(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)
    def log_message(self, *args):
        pass
server.RequestHandlerClass = Files
open(os.path.join(root, "url"), "w").write(url)
server.serve_forever()
PY
    registry_pid=$!
    for _ in $(seq 100); do [[ -s $1/url ]] && break; sleep 0.05; done
    cat "$1/url"
}

say "3. Agent: the launch goes through the shim; an MCP client lists the tools through it"
serve "$work/registry" "$tarball" >registry.url
registry=$(cat registry.url)
# --no-sandbox: this client plays the agent, and the shim it starts needs the registry and its
# state directory (a capture sandbox allows neither).
step env MCPIN_NPM_REGISTRY="$registry" "$mcpin" tools capture --no-sandbox --out seen.json -- \
    "$mcpin" run --policy policy.toml -- npx -y "$name@0.1.0"
python3 -c 'import json,sys; [print("  tool:", t["name"], "-", t.get("description","")) for t in json.load(open(sys.argv[1]))["payload"]["tools"]]' seen.json >&2
kill "$registry_pid"

say "4. A registry serving a tampered copy of the same version: refused, nothing runs"
python3 - "$tarball" tampered.tgz <<'PY'
import io, sys, tarfile
src = tarfile.open(sys.argv[1])
out = tarfile.open(sys.argv[2], "w:gz")
for member in src.getmembers():
    data = src.extractfile(member).read() if member.isfile() else None
    if member.name == "package/server.js":
        data += b"\n// one more line, not signed\n"
        member.size = len(data)
    out.addfile(member, io.BytesIO(data) if data is not None else None)
out.close()
PY
serve "$work/tampered-registry" tampered.tgz >registry.url
registry=$(cat registry.url)
if step env MCPIN_NPM_REGISTRY="$registry" MCPIN_STORE="$work/other-store" \
    "$mcpin" run --policy policy.toml -- npx -y "$name@0.1.0" </dev/null; then
    echo "quickstart: the tampered package was launched — this is a bug" >&2
    exit 1
fi

say "5. The audit log: every decision, hash-chained"
step "$mcpin" audit show
step "$mcpin" audit verify
printf '\nquickstart: signed, allowed and launched through the shim; the tampered copy was refused.\n' >&2
