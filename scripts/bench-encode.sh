#!/usr/bin/env bash
# Encoder speed, seine (native backend; candle too with CANDLE=1) vs PyTorch on the same
# machine, one after the other, same model folders, texts, threads and max length:
#   throughput: the first DOCS (2000) SciFact documents, THREADS (2) threads,
#               MiniLM (dense) and splade-tiny (SPLADE);
#   latency:    the 300 SciFact test queries one at a time on 1 thread, p50/p99.
# seine runs at each precision of PRECISIONS ("f32 int8"). Prints each figure and the
# ratios. PyTorch comes from PyPI into $BENCH_VENV.
#   scripts/bench-encode.sh [BEIR dir, default ../shared/datasets/scifact]
set -euo pipefail
cd "$(dirname "$0")/.."
DS=${1:-../shared/datasets/scifact}
DOCS=${DOCS:-2000}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-3}
PRECISIONS=${PRECISIONS:-f32 int8}
VENV=${BENCH_VENV:-.venv-bench}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import torch, sentence_transformers" 2>/dev/null ||
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    torch sentence-transformers
scripts/fetch-models.sh
cargo build --release --quiet
SEINE=target/release/seine
lscpu | grep -E "Model name" || true
echo "SIMD flags: $(grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|avx512_vnni|avx512_fp16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
rows=()
for kind in dense splade; do
  p=$("$VENV/bin/python" scripts/bench_encode_st.py "$DS" --kind $kind --docs "$DOCS" --repeat "$REPEAT" --threads "$THREADS")
  for prec in $PRECISIONS; do
    s=$(RAYON_NUM_THREADS=$THREADS $SEINE --precision $prec bench encode "$DS" --kind $kind --docs "$DOCS" --repeat "$REPEAT" --json)
    rows+=("$kind throughput|$s|$p")
  done
  if [ -n "${CANDLE:-}" ]; then
    c=$(RAYON_NUM_THREADS=$THREADS $SEINE --backend candle bench encode "$DS" --kind $kind --docs "$DOCS" --repeat 1 --json)
    rows+=("$kind throughput (candle)|$c|$p")
  fi
  p=$("$VENV/bin/python" scripts/bench_encode_st.py "$DS" --kind $kind --latency --repeat "$REPEAT" --threads 1)
  for prec in $PRECISIONS; do
    s=$(RAYON_NUM_THREADS=1 $SEINE --precision $prec bench encode "$DS" --kind $kind --latency --repeat "$REPEAT" --json)
    rows+=("$kind latency|$s|$p")
  done
done
python3 - "${rows[@]}" <<'PY'
import json, sys
for row in sys.argv[1:]:
    name, s, p = row.split("|")
    s, p = json.loads(s), json.loads(p)
    line = (f"{name:28} seine[{s['backend']}] {s['texts_per_s']:8.1f}/s {s['tokens_per_s']:8.0f} tok/s"
            f" ({s['gflops']:.0f} GFLOP/s, {100 * (s['fraction_of_peak'] or 0):.0f}% of peak {s['peak_gflops'] or 0:.0f})"
            f" | pytorch {p['texts_per_s']:8.1f}/s | ratio {s['texts_per_s'] / p['texts_per_s']:.2f}x")
    if s.get("latency_ms_p50"):
        line += (f" | p50 {s['latency_ms_p50']:.2f} vs {p['latency_ms_p50']:.2f} ms,"
                 f" p99 {s['latency_ms_p99']:.2f} vs {p['latency_ms_p99']:.2f} ms")
    print(line)
PY
