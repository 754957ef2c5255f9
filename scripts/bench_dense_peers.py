"""Dense HNSW peers of `seine bench hnsw` (scripts/bench-hnsw.sh) and of `seine bench
scale --peers`: hnswlib, faiss-cpu (IndexHNSWFlat) and usearch on the same vectors, the
same M / ef_construction, the same ef sweep and the same oracle (exact inner product).
Builds use every core; queries run one at a time on one thread. Each engine runs in a
child process of its own, so its peak RSS (build and search) is its own. Prints one JSON
object: {"engines": {name: {...}}}.

    python scripts/bench_dense_peers.py --vectors docs.parquet --queries queries.parquet
    python scripts/bench_dense_peers.py --vectors vectors.f32 --queries q.f32 --dim 384

Vectors: a Parquet file with a FixedSizeList<Float32> `embedding` column, or raw
row-major little-endian f32 (`--dim` needed; seine's dense/vectors.f32 is this).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ENGINES = ("hnswlib", "faiss", "usearch")


def load(path, dim):
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        emb = pq.read_table(path).column("embedding").combine_chunks()
        d = emb.type.list_size
        return np.array(emb.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, d)
    if not dim:
        sys.exit(f"bench_dense_peers: {path} is raw f32; pass --dim")
    return np.fromfile(path, dtype="<f4").reshape(-1, dim)


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Hnswlib:
    def __init__(self, n, dim, m, efc, threads):
        import hnswlib

        from importlib.metadata import version

        self.version = f"hnswlib {version('hnswlib')}"
        self.i = hnswlib.Index(space="ip", dim=dim)
        self.i.init_index(max_elements=n, ef_construction=efc, M=m, random_seed=100)
        self.threads = threads

    def add(self, x):
        self.i.add_items(x, np.arange(len(x)), num_threads=self.threads)
        self.i.set_num_threads(1)

    def set_ef(self, ef):
        self.i.set_ef(ef)

    def query(self, q, k):
        return self.i.knn_query(q, k=k, num_threads=1)[0][0]


class Faiss:
    def __init__(self, n, dim, m, efc, threads):
        import faiss

        self.faiss = faiss
        self.version = f"faiss-cpu {faiss.__version__}"
        self.i = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self.i.hnsw.efConstruction = efc
        faiss.omp_set_num_threads(threads)

    def add(self, x):
        self.i.add(x)
        self.faiss.omp_set_num_threads(1)

    def set_ef(self, ef):
        self.i.hnsw.efSearch = ef

    def query(self, q, k):
        return self.i.search(q.reshape(1, -1), k)[1][0]


class Usearch:
    def __init__(self, n, dim, m, efc, threads):
        import usearch
        from usearch.index import Index

        self.version = f"usearch {usearch.__version__}"
        self.i = Index(ndim=dim, metric="ip", dtype="f32", connectivity=m, expansion_add=efc)
        self.threads = threads

    def add(self, x):
        self.i.add(np.arange(len(x)), x, threads=self.threads)

    def set_ef(self, ef):
        self.i.expansion_search = ef

    def query(self, q, k):
        return self.i.search(q, k, threads=1).keys


def one(a):
    docs, queries = load(a.vectors, a.dim), load(a.queries, a.dim)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True).clip(min=1e-12)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True).clip(min=1e-12)
    n, dim = docs.shape
    threads = os.cpu_count()
    base_rss = rss_mb()
    engine = {"hnswlib": Hnswlib, "faiss": Faiss, "usearch": Usearch}[a.engine](
        n, dim, a.m, a.ef_construction, threads
    )
    t = time.perf_counter()
    engine.add(docs)
    build_s = time.perf_counter() - t
    build_rss = rss_mb()

    truth = []
    for lo in range(0, len(queries), 64):
        scores = queries[lo : lo + 64] @ docs.T
        truth += [set(np.argpartition(-row, a.k - 1)[: a.k].tolist()) for row in scores]

    sweep = []
    for ef in (int(x) for x in a.ef.split(",")):
        engine.set_ef(max(ef, a.k))
        hits = 0
        for q, tr in zip(queries, truth):
            hits += len(tr.intersection(np.asarray(engine.query(q, a.k)).tolist()))
        recall = hits / sum(len(tr) for tr in truth)
        passes, lat = [], []
        for _ in range(a.repeat):
            start = time.perf_counter()
            for q in queries:
                s = time.perf_counter()
                engine.query(q, a.k)
                lat.append(time.perf_counter() - s)
            passes.append(time.perf_counter() - start)
        lat.sort()
        sweep.append({
            "ef": ef, "recall": recall, "qps": len(queries) / statistics.median(passes),
            "p50_ms": lat[len(lat) // 2] * 1e3, "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
        })
        if recall >= a.stop_at:
            break
    at = next((r for r in sweep if r["recall"] >= a.target_recall), None)
    return {
        "engine": engine.version, "docs": n, "dim": dim, "queries": len(queries), "k": a.k,
        "m": a.m, "ef_construction": a.ef_construction, "build_threads": threads,
        "build_s": build_s, "build_rss_mb": build_rss, "vectors_mb": docs.nbytes / 2**20,
        "input_rss_mb": base_rss, "search_peak_rss_mb": rss_mb(), "query_threads": 1,
        "sweep": sweep, "target_recall": a.target_recall, "at_target": at,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--dim", type=int, default=0)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", default="10,12,16,20,24,32,48,64,96,128,256")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--stop-at", type=float, default=1.01, help="end the sweep once recall reaches this")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    if a.engine:
        print(json.dumps(one(a)))
        return
    out = {}
    for name in a.engines.split(","):
        if name not in ENGINES:
            sys.exit(f"bench_dense_peers: unknown engine {name!r} (one of {', '.join(ENGINES)})")
        print(f"bench_dense_peers: {name}, building and sweeping ef", file=sys.stderr, flush=True)
        args, skip = [], False
        for x in sys.argv[1:]:
            if skip or x.startswith("--engines"):
                skip = x == "--engines"
                continue
            args.append(x)
        p = subprocess.run([sys.executable, __file__, "--engine", name, *args], stdout=subprocess.PIPE, check=True)
        out[name] = json.loads(p.stdout)
    print(json.dumps({"bench": "hnsw-peers", "engines": out}))


if __name__ == "__main__":
    main()
