#!/usr/bin/env bash
# mcpin's main job on the built-in example: a publisher creates a key, signs the
# example MCP server package (testdata/mcpin-example-hello-mcp-0.1.0.tgz, packed
# from testdata/hello-mcp/), and anyone verifies it; a tampered copy is refused.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cargo build --quiet --locked --manifest-path "$repo/Cargo.toml" -p mcpin
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
mcpin=$target_dir/debug/mcpin

work=$(mktemp -d "${TMPDIR:-/tmp}/mcpin-quickstart.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifact=$work/mcpin-example-hello-mcp-0.1.0.tgz
cp "$repo/testdata/mcpin-example-hello-mcp-0.1.0.tgz" "$artifact"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; "$@"; }
step "$mcpin" keygen --out "$work/publisher"
step "$mcpin" sign "$artifact" --key "$work/publisher.key"
step "$mcpin" inspect "$artifact.sigstore.json"
step "$mcpin" verify "$artifact" --key "$work/publisher.pub"

printf '\nNow one flipped byte in the artifact must be refused:\n' >&2
python3 - "$artifact" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x01
open(path, "wb").write(data)
PY
if step "$mcpin" verify "$artifact" --bundle "$artifact.sigstore.json" --key "$work/publisher.pub"; then
    echo "quickstart: the tampered artifact verified — this is a bug" >&2
    exit 1
fi
printf '\nquickstart: signed, verified, and the tampered copy was refused.\n' >&2
