"""Python side of `scripts/bench-maxsim.sh`: MaxSim over random normalized vectors with
the same shapes as `seine bench maxsim` (Lq=32, Ld=180, d=128/384, 1,000 and 10,000
candidates, f32 — these libraries take f32 only), with fast-maxsim, maxsim-cpu (both
Rust + libxsmm) and numpy (einsum, and matmul through BLAS). The thread count comes
from the environment (RAYON_NUM_THREADS / OMP_NUM_THREADS / OPENBLAS_NUM_THREADS, set
by the shell script). Prints one JSON object.
"""

import argparse
import json
import statistics
import time

import numpy as np


def median_secs(f, repeat):
    f()
    t = []
    for _ in range(repeat):
        s = time.perf_counter()
        f()
        t.append(time.perf_counter() - s)
    return statistics.median(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lq", type=int, default=32)
    ap.add_argument("--ld", type=int, default=180)
    ap.add_argument("--dim", default="128,384")
    ap.add_argument("--docs", default="1000,10000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, required=True, help="recorded only")
    a = ap.parse_args()
    import fast_maxsim
    import maxsim_cpu

    rng = np.random.default_rng(0)
    rows = []
    for dim in (int(x) for x in a.dim.split(",")):
        q = rng.standard_normal((a.lq, dim), dtype=np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        n_max = max(int(x) for x in a.docs.split(","))
        all_docs = rng.standard_normal((n_max, a.ld, dim), dtype=np.float32)
        all_docs /= np.linalg.norm(all_docs, axis=2, keepdims=True)
        for n in (int(x) for x in a.docs.split(",")):
            docs = np.ascontiguousarray(all_docs[:n])
            bytes_ = docs.nbytes
            engines = {
                "fast-maxsim": lambda: fast_maxsim.maxsim_scores(q, docs),
                "maxsim-cpu": lambda: maxsim_cpu.maxsim_scores(q, docs),
                "numpy einsum": lambda: np.einsum("qd,nld->nql", q, docs).max(axis=2).sum(axis=1),
                "numpy matmul": lambda: np.matmul(docs, q.T).max(axis=1).sum(axis=1),
            }
            ref = engines["numpy matmul"]()
            for name, f in engines.items():
                got = np.asarray(f(), dtype=np.float64)
                err = float(np.max(np.abs(got - ref)))  # reported: a wrong result is a finding
                secs = median_secs(f, a.repeat)
                rows.append({"engine": name, "dim": dim, "dtype": "f32", "docs": n,
                             "threads": a.threads, "median_ms": secs * 1e3,
                             "doc_vectors_per_s": n * a.ld / secs, "gb_per_s": bytes_ / secs / 1e9,
                             "max_abs_error_vs_numpy": err})
    print(json.dumps({"bench": "maxsim-python", "lq": a.lq, "ld": a.ld, "results": rows}))


if __name__ == "__main__":
    main()
