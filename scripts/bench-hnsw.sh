#!/usr/bin/env bash
# HNSW queries/s at recall@10 >= 0.95, seine vs hnswlib, on the same vectors (MiniLM
# SciFact corpus and queries), the same M / ef_construction and the same ef sweep, one
# query at a time on one thread; run one after the other; prints both and the ratio.
#   scripts/bench-hnsw.sh [BEIR dir, default ../shared/datasets/scifact]
# Vectors are made once into bench-out/ (exported from an existing dense index when
# INDEX=<dir> is given, encoded with `seine embed` otherwise: ~15 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
DS=${1:-../shared/datasets/scifact}
NAME=$(basename "$DS")
VENV=${BENCH_VENV:-.venv-bench}
DOCS=bench-out/$NAME-minilm-docs.parquet
QUERIES=bench-out/$NAME-minilm-queries.parquet
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check hnswlib==0.8.0 pyarrow numpy
cargo build --release --quiet
mkdir -p bench-out
if [ ! -f "$DOCS" ]; then
  if [ -n "${INDEX:-}" ]; then
    target/release/seine embed --from-index "$INDEX" --out "$DOCS"
  else
    target/release/seine embed "$DS" --model minilm --out "$DOCS"
  fi
fi
if [ ! -f "$QUERIES" ]; then
  target/release/seine embed "$DS/queries.jsonl" --model minilm --side query --out "$QUERIES"
fi
seine_json=$(target/release/seine bench hnsw --vectors "$DOCS" --queries "$QUERIES" --json)
hnswlib_json=$("$VENV/bin/python" scripts/bench_hnswlib.py --vectors "$DOCS" --queries "$QUERIES")
python3 - "$seine_json" "$hnswlib_json" <<'PY'
import json, sys
s, h = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'ef':>5} | {'seine recall':>12} {'q/s':>8} | {'hnswlib recall':>14} {'q/s':>8}")
for a, b in zip(s["sweep"], h["sweep"]):
    print(f"{a['ef']:>5} | {a['recall']:>12.4f} {a['qps']:>8.0f} | {b['recall']:>14.4f} {b['qps']:>8.0f}")
print(f"build ({s['build_threads']} threads): seine {s['build_s']:.2f} s, hnswlib {h['build_s']:.2f} s")
sa, ha = s["at_target"], h["at_target"]
if sa and ha:
    print(f"at recall@{s['k']} >= {s['target_recall']}: seine ef={sa['ef']} {sa['qps']:.0f} q/s, "
          f"hnswlib ef={ha['ef']} {ha['qps']:.0f} q/s -> ratio {sa['qps'] / ha['qps']:.2f}x")
for qz in s.get("quantized", [])[1:]:
    a = qz["at_target"]
    if a and ha:
        print(f"  seine {qz['quantization']} codes (+f32 rescore of {s['rescore']}×k): ef={a['ef']} "
              f"recall {a['recall']:.4f} {a['qps']:.0f} q/s -> ratio {a['qps'] / ha['qps']:.2f}x")
    else:
        print(f"  seine {qz['quantization']}: no ef reached the target recall")
PY
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), SIMD level $(python3 -c "import json,sys;print(json.loads(sys.argv[1])['simd'])" "$seine_json")"
