"""hnswlib side of `scripts/bench-hnsw.sh`: the same vectors, parameters, ef sweep and
recall oracle as `seine bench hnsw`. Build uses all cores; queries run one at a time on
one thread. Prints one JSON object.

    python scripts/bench_hnswlib.py --vectors docs.parquet --queries queries.parquet
"""

import argparse
import json
import os
import statistics
import time

import hnswlib
import numpy as np
import pyarrow.parquet as pq


def load(path):
    t = pq.read_table(path)
    emb = t.column("embedding").combine_chunks()
    dim = emb.type.list_size
    return np.array(emb.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dim)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", default="10,12,16,20,24,32,48,64,96,128,256")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()

    docs, queries = load(a.vectors), load(a.queries)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True).clip(min=1e-12)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True).clip(min=1e-12)
    n, dim = docs.shape
    threads = os.cpu_count()

    index = hnswlib.Index(space="ip", dim=dim)
    t = time.perf_counter()
    index.init_index(max_elements=n, ef_construction=a.ef_construction, M=a.m, random_seed=100)
    index.add_items(docs, np.arange(n), num_threads=threads)
    build_s = time.perf_counter() - t

    scores = queries @ docs.T
    truth = [set(np.argpartition(-row, a.k - 1)[: a.k].tolist()) for row in scores]

    index.set_num_threads(1)
    sweep = []
    for ef in (int(x) for x in a.ef.split(",")):
        index.set_ef(max(ef, a.k))
        hits = 0
        for q, tr in zip(queries, truth):
            labels, _ = index.knn_query(q, k=a.k, num_threads=1)
            hits += len(tr.intersection(labels[0].tolist()))
        recall = hits / sum(len(tr) for tr in truth)
        passes = []
        for _ in range(a.repeat):
            start = time.perf_counter()
            for q in queries:
                index.knn_query(q, k=a.k, num_threads=1)
            passes.append(time.perf_counter() - start)
        sweep.append({"ef": ef, "recall": recall, "qps": len(queries) / statistics.median(passes)})

    at = next((r for r in sweep if r["recall"] >= a.target_recall), None)
    print(json.dumps({
        "bench": "hnsw", "engine": f"hnswlib {getattr(hnswlib, '__version__', '0.8.0')}",
        "docs": n, "dim": dim, "queries": len(queries), "k": a.k, "m": a.m,
        "ef_construction": a.ef_construction, "build_threads": threads, "build_s": build_s,
        "query_threads": 1, "sweep": sweep, "target_recall": a.target_recall, "at_target": at,
    }))


if __name__ == "__main__":
    main()
