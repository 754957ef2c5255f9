#!/usr/bin/env bash
# The test command (README, CI): style and size checks, Python reference tools, then
# the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
python3 scripts/check-size.py
scripts/setup-test-env.sh
scripts/fetch-models.sh
export SEINE_PYTHON="$PWD/.venv/bin/python"
# The Python extension (python/) links as a module, against this interpreter: the same
# settings as scripts/build-python.sh, so the wheel reuses this build.
export PYO3_PYTHON="$SEINE_PYTHON" PYO3_BUILD_EXTENSION_MODULE=1
cargo clippy --workspace --all-targets -- -D warnings
# One build serves the Rust tests and the Python extension (python/'s cdylib, built
# with the same features as the tests' crates).
cargo build --workspace --all-targets
cargo test --workspace --all-targets "$@"
# The Python package: that extension packed into a wheel and installed, then pytest
# against the CLI built above (a local Ray cluster included).
wheel=$(.venv/bin/python scripts/pack_wheel.py target/debug/lib_seine.so target/wheels)
.venv/bin/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
SEINE_BIN="$PWD/target/debug/seine" .venv/bin/python -m pytest -q python/tests
# The CUDA kernel: its source must compile with NVRTC (from the wheel; no GPU here), and
# the GPU-vs-CPU parity test runs wherever a GPU is present (skipped, with the reason,
# otherwise).
LD_LIBRARY_PATH="$PWD/.venv/nvrtc/nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  SEINE_REQUIRE_NVRTC=1 cargo test -p seine-kernels --features cuda "$@"
