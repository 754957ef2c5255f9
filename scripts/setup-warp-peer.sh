#!/usr/bin/env bash
# Creates .venv-warp at the repo root and installs the late-interaction peer of seine's
# ColBERT/WARP benchmark into it (scripts/bench_warp_peer.py):
#   xtr-warp-rs    XTR-WARP in Rust, Python bindings; run on CPU only
# xtr-warp-rs needs torch 2.11, and its extension links libtorch.so and libc10_cuda.so, so
# it needs PyPI's CUDA build of torch (a CPU-only torch lacks libc10_cuda.so; PyPI has no
# other). That build cannot even `import torch` without the CUDA libraries its own .so
# files name as NEEDED, so those come too, but only those: each wheel is installed with
# --no-deps, leaving out triton, cuda-bindings, nvrtc, cusolver and nvtx, which a CPU run
# never loads. About 3.6 GB on disk, most of it CUDA libraries that are mapped and unused.
# Idempotent: a package already at its pinned version is left alone. Binary wheels only.
# Linux x86_64, Python 3.10 to 3.14 ($PYTHON, default python3, creates the venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-warp
PY=$VENV/bin/python

if [ ! -x "$PY" ]; then
  base=${PYTHON:-python3}
  command -v "$base" >/dev/null 2>&1 || {
    echo "setup-warp-peer: no $base to create $VENV with (set PYTHON)" >&2
    exit 1
  }
  echo "setup-warp-peer: creating $VENV with $base ($("$base" --version 2>&1))"
  "$base" -m venv "$VENV" || {
    echo "setup-warp-peer: cannot create $VENV (is python3-venv installed?)" >&2
    exit 1
  }
fi

want=(
  # the peer and what its Python side imports (joblib, maturin and setuptools are
  # declared but never imported at run time)
  xtr-warp-rs==2.1.0.2110 duckdb==2.0.1 pyarrow==26.0.1 numpy==2.4.6
  # torch and its pure-Python imports
  torch==2.11.0 filelock==4.3.2 typing-extensions==4.16.0 sympy==1.14.0 mpmath==1.3.0
  networkx==3.6.1 jinja2==3.1.6 markupsafe==3.0.4 fsspec==2026.9.0
  # the CUDA 13 libraries torch's .so files are linked against (needed to load, unused)
  nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85 nvidia-cublas==13.1.0.3
  nvidia-cufft==12.0.0.61 nvidia-cufile==1.15.1.6 nvidia-curand==10.4.0.35
  nvidia-cusparse==12.6.3.3 nvidia-nvjitlink==13.0.88 nvidia-cusparselt-cu13==0.8.0
  nvidia-cudnn-cu13==9.19.0.56 nvidia-nccl-cu13==2.28.9 nvidia-nvshmem-cu13==3.4.5
)
missing=()
for spec in "${want[@]}"; do
  name=${spec%%==*} version=${spec##*==}
  have=$("$PY" -c 'import sys
from importlib.metadata import version, PackageNotFoundError
try: print(version(sys.argv[1]))
except PackageNotFoundError: print("")' "$name")
  if [ "$have" = "$version" ]; then
    echo "setup-warp-peer: $spec already installed"
  else
    echo "setup-warp-peer: $name ${have:-not installed}, wants $version"
    missing+=("$spec")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-warp-peer: installing ${missing[*]} into $VENV (--no-deps, binary wheels only)"
  # --no-deps: pip's own resolution of torch would add triton, cuda-bindings and the
  # rest of the CUDA toolkit; the list above is the closed set that is needed.
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      "${missing[@]}" || {
    echo "setup-warp-peer: cannot install ${missing[*]} from the Python package index" >&2
    exit 1
  }
  for spec in "${missing[@]}"; do
    name=${spec%%==*}
    echo "setup-warp-peer: installed $name $("$PY" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' "$name")"
  done
fi

"$PY" - <<'EOF' || {
import torch, xtr_warp
a = torch.randn(64, 32)
assert (a @ a.T).shape == (64, 64)
print(f"setup-warp-peer: torch {torch.__version__} (CPU tensors work), "
      f"xtr-warp-rs {xtr_warp.__version__} imports")
EOF
  echo "setup-warp-peer: torch or xtr_warp does not import under $PY" >&2
  exit 1
}
echo "setup-warp-peer: peer ready in $VENV ($(du -sh "$VENV" | cut -f1)); run scripts/bench_warp_peer.py with $PY"
