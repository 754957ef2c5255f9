#!/usr/bin/env bash
# Creates .venv with the pinned Python packages the tests compare against
# (pytrec_eval for metric parity, schemathesis for the HTTP API), and unpacks NVIDIA's NVRTC wheel into .venv/nvrtc so
# the CUDA kernel source is compiled (to PTX, no GPU needed) by the kernels tests.
# Idempotent; binary wheels only.
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

# schemathesis: property-based checks of the HTTP API against its OpenAPI document.
st_want="schemathesis==4.32.5"
if ! .venv/bin/python -c "import schemathesis" 2>/dev/null; then
  echo "setup-test-env: installing $st_want into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check --only-binary=:all: "$st_want" || {
    echo "setup-test-env: cannot install $st_want from the Python package index" >&2
    exit 1
  }
fi

# The Python package's tests: numpy/scipy/pyarrow for the arrays, ranx (with pytrec_eval
# above) for run/qrels interop, Ray Data for seine.ray (the wheel itself is packed by
# scripts/pack_wheel.py; maturin is installed by scripts/build-python.sh when needed).
py_want=(pytest==9.2.0 numpy==2.4.6 scipy==1.17.1 pyarrow==26.0.1 "ray[data]==2.60.0"
  ranx==0.3.21 selenium==4.51.0)
if ! .venv/bin/python -c "import pytest, numpy, scipy, pyarrow, ray.data, ranx, selenium" 2>/dev/null; then
  echo "setup-test-env: installing ${py_want[*]} into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check --only-binary=:all: "${py_want[@]}" || {
    echo "setup-test-env: cannot install the Python test packages from the Python package index" >&2
    exit 1
  }
fi

# The search page's browser test: Debian's Chromium and its chromedriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "setup-test-env: installing chromium and chromium-driver (apt)" >&2
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null || {
    $sudo_ apt-get update -q >/dev/null &&
      $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null
  } || { echo "setup-test-env: cannot install chromium (apt)" >&2; exit 1; }
fi

nvrtc_wheel="nvidia-cuda-nvrtc-cu12==12.6.85"
if [ ! -f .venv/nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12 ]; then
  echo "setup-test-env: unpacking $nvrtc_wheel into .venv/nvrtc" >&2
  rm -rf .venv/nvrtc-dl && mkdir -p .venv/nvrtc-dl
  .venv/bin/pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d .venv/nvrtc-dl "$nvrtc_wheel" || {
    echo "setup-test-env: cannot download $nvrtc_wheel from the Python package index" >&2
    exit 1
  }
  .venv/bin/python -m zipfile -e .venv/nvrtc-dl/*.whl .venv/nvrtc
  rm -rf .venv/nvrtc-dl
fi
