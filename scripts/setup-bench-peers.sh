#!/usr/bin/env bash
# Installs the peers of `seine bench scale --peers` into the Python environment that runs
# them, $SEINE_PYTHON (default .venv/bin/python at the repo root; create it first with
# scripts/setup-test-env.sh or `python3 -m venv .venv`):
#   tantivy        the Python bindings of tantivy, BM25   (scripts/bench_tantivy_scale.py)
#   bm25s + numba  bm25s, BM25, its numba backend          (scripts/bench_bm25s_scale.py)
#   pyseismic-lsr  Seismic, learned sparse                 (scripts/bench_seismic_scale.py)
#   hnswlib        HNSW, dense                             (scripts/bench_dense_peers.py)
#   faiss-cpu      faiss IndexHNSWFlat, dense              (scripts/bench_dense_peers.py)
#   usearch        usearch HNSW, dense                     (scripts/bench_dense_peers.py)
# Idempotent: a package already at its pinned version is left alone. Binary wheels only,
# except hnswlib, which PyPI has only as source (built with the machine's g++).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${SEINE_PYTHON:-.venv/bin/python}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "setup-bench-peers: no Python at $PY (set SEINE_PYTHON, or create .venv: python3 -m venv .venv)" >&2
  exit 1
fi

want=(tantivy==0.27.0 bm25s==0.3.16 numba==0.68.1 pyseismic-lsr==0.5.4
      hnswlib==0.8.0 faiss-cpu==1.15.1 usearch==2.26.6 pyarrow numpy)
missing=()
for spec in "${want[@]}"; do
  name=${spec%%==*} version=${spec##*==}
  [ "$name" = "$spec" ] && version=any
  have=$("$PY" -c 'import sys
from importlib.metadata import version, PackageNotFoundError
try: print(version(sys.argv[1]))
except PackageNotFoundError: print("")' "$name")
  if [ "$have" = "$version" ] || { [ "$version" = any ] && [ -n "$have" ]; }; then
    echo "setup-bench-peers: $spec already installed"
  else
    echo "setup-bench-peers: $name ${have:-not installed}, wants $version"
    missing+=("$spec")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-bench-peers: installing ${missing[*]} for $PY"
  binary=() source=()
  for spec in "${missing[@]}"; do
    case $spec in hnswlib==*) source+=("$spec") ;; *) binary+=("$spec") ;; esac
  done
  { [ ${#binary[@]} -eq 0 ] || "$PY" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "${binary[@]}"; } &&
  { [ ${#source[@]} -eq 0 ] || "$PY" -m pip install --quiet --disable-pip-version-check "${source[@]}"; } || {
    echo "setup-bench-peers: cannot install ${missing[*]} from the Python package index" >&2
    exit 1
  }
  for spec in "${missing[@]}"; do
    name=${spec%%==*}
    echo "setup-bench-peers: installed $name $("$PY" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' "$name")"
  done
fi
"$PY" -c 'import tantivy, bm25s, numba, seismic, hnswlib, faiss, usearch' || {
  echo "setup-bench-peers: the peers do not import under $PY" >&2
  exit 1
}
echo "setup-bench-peers: peers ready for $PY"
