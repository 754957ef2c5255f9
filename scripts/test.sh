#!/usr/bin/env bash
# The test command (README, CI): Python reference tools, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
scripts/fetch-models.sh
export SEINE_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace --all-targets "$@"
