#!/usr/bin/env bash
# SPLADE query latency, single thread, on a BEIR split: seine's query encoding, its
# impact-index search, a brute-force dot product over the unquantized vectors, and
# pyseismic-lsr (approximate) over the same document and query vectors; nDCG@10 of each.
#   scripts/bench-splade.sh [BEIR dir, default ../shared/datasets/scifact]
# Document vectors are encoded once into bench-out/ (~5 min for SciFact on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
DS=${1:-../shared/datasets/scifact}
NAME=$(basename "$DS")
MODEL=${MODEL:-splade-tiny}
VENV=${BENCH_VENV:-.venv-bench}
DOCS=bench-out/$NAME-$MODEL-docs.parquet
QUERIES=bench-out/$NAME-$MODEL-queries.parquet
INDEX=bench-out/indexes/$NAME-$MODEL
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
  pyseismic-lsr==0.5.4 pyarrow numpy
cargo build --release --quiet
mkdir -p bench-out/indexes
[ -f "$DOCS" ] || target/release/seine embed "$DS" --sparse "$MODEL" --out "$DOCS"
[ -d "$INDEX" ] || target/release/seine index "$DS" --out "$INDEX" --sparse "$MODEL" --sparse-vectors "$DOCS"
seine_json=$(RAYON_NUM_THREADS=1 target/release/seine bench splade "$DS" --index "$INDEX" \
  --doc-vectors "$DOCS" --export-queries "$QUERIES" --json)
seismic_json=$(RAYON_NUM_THREADS=1 "$VENV/bin/python" scripts/bench_seismic.py --docs "$DOCS" \
  --queries "$QUERIES" --qrels "$DS/qrels/test.tsv" | tail -1)
echo "seine:   $seine_json"
echo "seismic: $seismic_json"
python3 - "$seine_json" "$seismic_json" <<'PY'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
l = s["latency"]
print(f"{'':28} {'p50 ms':>8} {'p99 ms':>8} {'nDCG@10':>8}")
print(f"{'seine query encode':28} {l['encode']['p50_ms']:8.3f} {l['encode']['p99_ms']:8.3f}")
print(f"{'seine impact index search':28} {l['impact_search']['p50_ms']:8.3f} {l['impact_search']['p99_ms']:8.3f} {s['ndcg_at_10']['impact_index']:8.4f}")
print(f"{'brute force (unquantized)':28} {l['brute_force_search']['p50_ms']:8.3f} {l['brute_force_search']['p99_ms']:8.3f} {s['ndcg_at_10']['brute_force_unquantized']:8.4f}")
print(f"{'pyseismic-lsr search':28} {p['search']['p50_ms']:8.3f} {p['search']['p99_ms']:8.3f} {p['ndcg_at_10']:8.4f}")
PY
