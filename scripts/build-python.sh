#!/usr/bin/env bash
# Builds the seine Python wheel (PyO3 abi3: one wheel for CPython >= 3.9) with maturin
# into target/wheels/, and with --install installs it into $VENV (default .venv).
#   scripts/build-python.sh [--install]            # release build (maturin)
#   PROFILE=dev scripts/build-python.sh --install  # maturin on the test profile
# scripts/test.sh does not come here: it packs the extension its own cargo build made
# (scripts/pack_wheel.py), so the Python tests cost no second compile.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
VENV=${VENV:-.venv}
MATURIN="maturin==1.16.0"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c "import maturin" 2>/dev/null; then
  echo "build-python: installing $MATURIN into $VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "$MATURIN"
fi
rm -f target/wheels/seine-*.whl
# The same interpreter and link mode as scripts/test.sh's cargo runs, so the crates
# compiled there are reused here.
export PYO3_PYTHON="$PWD/$VENV/bin/python"
"$VENV/bin/maturin" build --manifest-path python/Cargo.toml --profile "$PROFILE" \
  --interpreter "$VENV/bin/python" --out target/wheels --quiet
wheel=$(ls target/wheels/seine-*.whl)
echo "build-python: $wheel" >&2
if [ "${1:-}" = --install ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
fi
