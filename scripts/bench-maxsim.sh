#!/usr/bin/env bash
# MaxSim throughput, seine vs fast-maxsim, maxsim-cpu and numpy, same shapes, single- and
# multi-thread, run one after the other on this machine; seine also reports the
# machine's read bandwidth measured in the same run and its fraction of it.
#   scripts/bench-maxsim.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BENCH_VENV:-.venv-bench}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
  fast-maxsim==0.2.0 maxsim-cpu==0.1.0 numpy
cargo build --release --quiet
ALL=$(nproc)
target/release/seine bench maxsim
# One process per configuration (the libraries keep large buffers between calls).
for t in 1 "$ALL"; do
  for dim in 128 384; do
    for n in 1000 10000; do
      RAYON_NUM_THREADS=$t OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t \
        "$VENV/bin/python" scripts/bench_maxsim.py --threads "$t" --repeat 3 --dim "$dim" \
        --docs "$n" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in d["results"]:
    print("%13s dim %4d %s docs %6d threads %d: %9.2f ms %14.0f doc vectors/s %6.2f GB/s  max err %.1e" % (
        r["engine"], r["dim"], r["dtype"], r["docs"], r["threads"], r["median_ms"],
        r["doc_vectors_per_s"], r["gb_per_s"], r["max_abs_error_vs_numpy"]))
'
    done
  done
done
