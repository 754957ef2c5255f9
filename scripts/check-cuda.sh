#!/usr/bin/env bash
# Compile-checks the whole workspace with `--features cuda` on a machine without a GPU
# or a CUDA install: nvcc, cicc, the CUDA headers and CCCL come from NVIDIA's PyPI wheels
# (CUDA 13.0: cudarc 0.19.10 knows 13.0, and candle-kernels needs nvcc, not only NVRTC).
# candle-kernels compiles its .cu files to PTX with that nvcc (~12 min on 2 cores the
# first time; cached in target/cuda-check afterwards). Nothing is linked or run.
#   scripts/check-cuda.sh [extra cargo args]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CUDA_VENV:-.venv-cuda}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
  "nvidia-cuda-nvcc==13.0.88" "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-crt==13.0.88" \
  "nvidia-nvvm==13.0.88" "nvidia-cuda-cccl==13.0.*"
CU=$("$VENV/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')
export PATH="$CU/bin:$PATH" CUDA_ROOT="$CU" CUDA_PATH="$CU" CUDA_HOME="$CU"
# No GPU to ask: candle-kernels targets this compute capability (A100 = 80, H100 = 90).
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-80}
nvcc --version | tail -2
cargo check --workspace --all-targets --features cuda --target-dir target/cuda-check "$@"
echo "cargo check --workspace --all-targets --features cuda: ok"
