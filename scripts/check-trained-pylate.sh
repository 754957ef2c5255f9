#!/usr/bin/env bash
# A ColBERT folder written by `seine train --objective colbert` loads in PyLate and gives
# the token vectors seine indexes: the first N (20) SciFact documents, every token vector
# compared (goal: same token counts, cosine ≥ 0.9999).
#   scripts/check-trained-pylate.sh MODEL_DIR [BEIR dir, default ../shared/datasets/scifact]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$1
DS=${2:-../shared/datasets/scifact}
N=${N:-20}
VENV=${BENCH_VENV:-.venv-bench}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import pylate, numpy" 2>/dev/null ||
  "$VENV/bin/pip" install --quiet --disable-pip-version-check pylate
cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -n "$N" "$DS/corpus.jsonl" > "$tmp/head.jsonl"
target/release/seine index "$tmp/head.jsonl" --out "$tmp/idx" --multi "$MODEL" --multi-dtype f32 2>/dev/null >/dev/null
"$VENV/bin/python" scripts/check_trained_pylate.py "$MODEL" "$tmp/idx" "$tmp/head.jsonl" "$N"
