#!/usr/bin/env bash
# The test command (README, CI): style and size checks, Python reference tools, then
# the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
python3 scripts/check-size.py
cargo clippy --workspace --all-targets -- -D warnings
scripts/setup-test-env.sh
scripts/fetch-models.sh
export SEINE_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace --all-targets "$@"
# The CUDA kernel: its source must compile with NVRTC (from the wheel; no GPU here), and
# the GPU-vs-CPU parity test runs wherever a GPU is present (skipped, with the reason,
# otherwise).
LD_LIBRARY_PATH="$PWD/.venv/nvrtc/nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  SEINE_REQUIRE_NVRTC=1 cargo test -p seine-kernels --features cuda "$@"
