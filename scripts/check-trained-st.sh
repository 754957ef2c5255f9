#!/usr/bin/env bash
# A model folder written by `seine train` loads in sentence-transformers and embeds like
# seine: the first N (200) SciFact documents through `seine embed` and through
# SentenceTransformer(MODEL_DIR), cosine per document (goal ≥ 0.9999).
#   scripts/check-trained-st.sh MODEL_DIR [BEIR dir, default ../shared/datasets/scifact]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$1
DS=${2:-../shared/datasets/scifact}
N=${N:-200}
VENV=${BENCH_VENV:-.venv-bench}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import torch, sentence_transformers, pyarrow" 2>/dev/null ||
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    torch sentence-transformers pyarrow
cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -n "$N" "$DS/corpus.jsonl" > "$tmp/head.jsonl"
target/release/seine embed "$tmp/head.jsonl" --model "$MODEL" --out "$tmp/seine.parquet" 2>/dev/null
"$VENV/bin/python" scripts/check_trained_st.py "$MODEL" "$tmp/seine.parquet" "$tmp/head.jsonl" "$N"
