#!/usr/bin/env bash
# Detection and false-positive rates of `mcpin tools lint` on labelled tool sets (issue 15).
# Each labelled tool is served by a stdio fixture server (lint_corpus_server.py), captured with
# `mcpin tools capture` and linted with `mcpin tools lint --json`; prints a Markdown table per
# source at medium and at high. A benchmark, not a test: it asserts nothing.
# Needs: cargo, python3, the development set in ../shared/corpus/tools-dev (read, never copied).
# Arguments go to lint_corpus.py: --details lists misses and false alarms, --extra FILE.jsonl
# adds a held-out set (format in lint_corpus.py), --jobs N (default 2).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
corpus=${MCPIN_LINT_CORPUS:-$repo/../shared/corpus/tools-dev}
# The lint's speed is not measured here, so the debug build will do.
cargo build -p mcpin --manifest-path "$repo/Cargo.toml" >&2
exec python3 "$repo/tests/bench/lint_corpus.py" --mcpin "$CARGO_TARGET_DIR/debug/mcpin" --corpus "$corpus" "$@"
