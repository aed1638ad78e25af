#!/usr/bin/env bash
# `mcpin sign` of a 1 GiB npm tarball (read once: sha256 + sha512 + gunzip + tar walk + statement
# + signature) vs the slower of its two digests alone on the same file: `openssl dgst -sha512`
# (OpenSSL's assembly) and coreutils `sha512sum` (portable C, about the speed of the `sha2`
# crate mcpin uses); `openssl dgst -sha256` for reference.
# Whole processes, one hyperfine run. The tarball holds a package.json and 1 GiB of random bytes
# gzipped at level 0 (random bytes do not compress; deflate stores them either way), built in
# $BENCH_TMP (default /dev/shm, so the disk is not involved).
# Needs: cargo, openssl, python3, hyperfine (Debian: apt-get install hyperfine).
# RUNS=N (default 10); BASELINE=/path/to/another/mcpin adds that binary to the same run.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p mcpin --manifest-path "$repo/Cargo.toml" >&2
mcpin=$CARGO_TARGET_DIR/release/mcpin
runs=${RUNS:-10}
work=$(mktemp -d "${BENCH_TMP:-/dev/shm}/mcpin-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

python3 - "$work/big-1.0.0.tgz" <<'PY'
import io, os, sys, tarfile
size = 1 << 30
class Random(io.RawIOBase):
    def __init__(self): self.left = size
    def readable(self): return True
    def readinto(self, b):
        n = min(len(b), self.left, 1 << 20)
        b[:n] = os.urandom(n); self.left -= n
        return n
with tarfile.open(sys.argv[1], "w:gz", compresslevel=0) as tar:
    manifest = b'{"name":"big","version":"1.0.0","bin":{"big":"index.js"}}'
    for name, data in [("package/package.json", manifest), ("package/index.js", b"// big\n")]:
        info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
    info = tarfile.TarInfo("package/data.bin"); info.size = size
    tar.addfile(info, io.BufferedReader(Random(), 1 << 20))
PY
"$mcpin" keygen --out "$work/publisher" >/dev/null 2>&1
tgz=$work/big-1.0.0.tgz
commands=(-n 'mcpin sign' "$mcpin sign $tgz --key $work/publisher.key --out $work/new.sigstore.json"
    -n 'openssl dgst -sha512' "openssl dgst -sha512 $tgz"
    -n 'openssl dgst -sha256' "openssl dgst -sha256 $tgz"
    -n 'sha512sum' "sha512sum $tgz")
if [[ -n ${BASELINE:-} ]]; then
    commands+=(-n 'mcpin sign (baseline)' "$BASELINE sign $tgz --key $work/publisher.key --out $work/old.sigstore.json")
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/result.json" "${commands[@]}" >&2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
m, s512, s256, c512 = (r[k]["median"] for k in ("mcpin sign", "openssl dgst -sha512", "openssl dgst -sha256", "sha512sum"))
line = (f"| mcpin sign {m:.2f} s | openssl sha512 {s512:.2f} s | openssl sha256 {s256:.2f} s"
        f" | sha512sum {c512:.2f} s | mcpin/openssl-sha512 {m/s512:.3f} | mcpin/sha512sum {m/c512:.3f}")
if "mcpin sign (baseline)" in r:
    b = r["mcpin sign (baseline)"]["median"]
    line += f" | baseline {b:.2f} s ({b/s512:.3f})"
print(line + " |")
PY
