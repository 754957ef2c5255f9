#!/usr/bin/env bash
# Creates .venv with the pinned Python packages the tests compare against
# (pytrec_eval for metric parity). Idempotent; binary wheels only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
want="pytrec-eval-terrier==0.5.11"
if ! .venv/bin/python -c "import pytrec_eval" 2>/dev/null; then
  echo "setup-test-env: installing $want into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check --only-binary=:all: "$want" || {
    echo "setup-test-env: cannot install $want from the Python package index" >&2
    exit 1
  }
fi
