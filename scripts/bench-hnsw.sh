#!/usr/bin/env bash
# HNSW build time and queries/s at recall@10 >= 0.95, seine vs hnswlib, faiss-cpu and
# usearch (scripts/bench_dense_peers.py), on the same vectors (MiniLM
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
SEINE_PYTHON="$VENV/bin/python" scripts/setup-bench-peers.sh >/dev/null
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
peers_json=$("$VENV/bin/python" scripts/bench_dense_peers.py --vectors "$DOCS" --queries "$QUERIES")
python3 - "$seine_json" "$peers_json" <<'PY'
import json, sys
s, peers = json.loads(sys.argv[1]), json.loads(sys.argv[2])["engines"]
h = peers["hnswlib"]
names = ["seine", *peers]
rows = {"seine": s, **peers}
print(f"{'ef':>5} | " + " | ".join(f"{n:>8} recall {'q/s':>7}" for n in names))
for i, a in enumerate(s["sweep"]):
    cells = []
    for n in names:
        sw = rows[n]["sweep"]
        cells.append(f"{sw[i]['recall']:>15.4f} {sw[i]['qps']:>7.0f}" if i < len(sw) else " " * 23)
    print(f"{a['ef']:>5} | " + " | ".join(cells))
print(f"build ({s['build_threads']} threads): " + ", ".join(f"{n} {rows[n]['build_s']:.2f} s" for n in names)
      + f" -> seine's build throughput {h['build_s'] / s['build_s']:.2f}x hnswlib's")
sa = s["at_target"]
for n, p in peers.items():
    pa = p["at_target"]
    if sa and pa:
        print(f"at recall@{s['k']} >= {s['target_recall']}: seine ef={sa['ef']} {sa['qps']:.0f} q/s, "
              f"{p['engine']} ef={pa['ef']} {pa['qps']:.0f} q/s -> ratio {sa['qps'] / pa['qps']:.2f}x")
ha = h["at_target"]
for qz in s.get("quantized", [])[1:]:
    a = qz["at_target"]
    if a and ha:
        print(f"  seine {qz['quantization']} codes (+f32 rescore of {s['rescore']}×k): ef={a['ef']} "
              f"recall {a['recall']:.4f} {a['qps']:.0f} q/s -> ratio {a['qps'] / ha['qps']:.2f}x")
    else:
        print(f"  seine {qz['quantization']}: no ef reached the target recall")
PY
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), SIMD level $(python3 -c "import json,sys;print(json.loads(sys.argv[1])['simd'])" "$seine_json")"
