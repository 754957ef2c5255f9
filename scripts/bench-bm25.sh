#!/usr/bin/env bash
# BM25 queries/s, single thread, seine vs bm25s on the same corpus, queries, k and
# machine, run one after the other; prints both and the ratio.
#   scripts/bench-bm25.sh [BEIR dir, default ../shared/datasets/scifact]
set -euo pipefail
cd "$(dirname "$0")/.."
DS=${1:-../shared/datasets/scifact}
K=${K:-10}
REPEAT=${REPEAT:-7}
VENV=${BENCH_VENV:-.venv-bench}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
  bm25s==0.3.16 PyStemmer==3.1.0 numpy scipy
cargo build --release --quiet
seine_json=$(target/release/seine bench bm25 "$DS" -k "$K" --repeat "$REPEAT" --json)
bm25s_json=$("$VENV/bin/python" scripts/bench_bm25s.py "$DS" --k "$K" --repeat "$REPEAT")
echo "seine: $seine_json"
echo "bm25s: $bm25s_json"
python3 - "$seine_json" "$bm25s_json" <<'PY'
import json, sys
s, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
best = max(b["single_qps"], b["batch_qps"])
print(f"seine {s['qps']:.0f} q/s | bm25s one-at-a-time {b['single_qps']:.0f} q/s, "
      f"batch {b['batch_qps']:.0f} q/s | ratio seine/bm25s(best) = {s['qps'] / best:.2f}x")
PY
