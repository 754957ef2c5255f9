#!/usr/bin/env bash
# The slow quality tests (full-corpus model runs, ~20 min on 2 cores), e.g. dense
# MiniLM nDCG@10 on SciFact against the published figure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
scripts/fetch-models.sh
export SEINE_PYTHON="$PWD/.venv/bin/python"
cargo test --test e2e -- --ignored "$@"
