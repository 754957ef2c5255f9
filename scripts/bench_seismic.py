"""pyseismic-lsr side of `scripts/bench-splade.sh`: the same SPLADE document vectors
(Parquet id, terms, weights from `seine embed --sparse`) and query vectors (from
`seine bench splade --export-queries`), one query at a time on one thread; reports
search latency p50/p99 and nDCG@10 (pytrec_eval-compatible, computed here with the
same qrels). Prints one JSON object.

    python scripts/bench_seismic.py --docs d.parquet --queries q.parquet --qrels qrels/test.tsv
"""

import argparse
import json
import math
import statistics
import time

import numpy as np
import pyarrow.parquet as pq
from seismic import SeismicDataset, SeismicIndex, get_seismic_string


def rows(path):
    t = pq.read_table(path).to_pydict()
    return list(zip(t["id"], t["terms"], t["weights"]))


def ndcg10(run, qrels):
    vals = []
    for qid, rel in qrels.items():
        if not any(g > 0 for g in rel.values()):
            continue
        hits = sorted(run.get(qid, []), key=lambda x: (-x[1], x[0]))[:10]
        dcg = sum((2 ** rel.get(d, 0) - 1) / math.log2(i + 2) for i, (d, _) in enumerate(hits))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
        vals.append(dcg / idcg if idcg > 0 else 0.0)
    return sum(vals) / len(vals)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--qrels", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--query-cut", type=int, default=20)
    ap.add_argument("--heap-factor", type=float, default=0.9)
    a = ap.parse_args()
    st = get_seismic_string()

    ds = SeismicDataset()
    for doc_id, terms, weights in rows(a.docs):
        if terms:
            ds.add_document(doc_id, np.array(terms, dtype=st), np.array(weights, dtype=np.float32))
    t = time.perf_counter()
    index = SeismicIndex.build_from_dataset(ds, num_threads=1)
    build_s = time.perf_counter() - t

    queries = [(qid, np.array(t, dtype=st), np.array(w, dtype=np.float32)) for qid, t, w in rows(a.queries)]
    qrels = {}
    with open(a.qrels) as f:
        next(f)
        for line in f:
            q, d, g = line.rstrip("\n").split("\t")
            qrels.setdefault(q, {})[d] = int(g)

    run = {}
    for qid, comps, vals in queries:
        res = index.search(query_id=qid, query_components=comps, query_values=vals, k=max(a.k, 10),
                           query_cut=a.query_cut, heap_factor=a.heap_factor)
        run[qid] = [(doc, float(score)) for _, score, doc in res]
    lat = []
    for _ in range(a.repeat):
        for qid, comps, vals in queries:
            s = time.perf_counter()
            index.search(query_id=qid, query_components=comps, query_values=vals, k=a.k,
                         query_cut=a.query_cut, heap_factor=a.heap_factor)
            lat.append(time.perf_counter() - s)
    lat.sort()
    pct = lambda p: lat[round((len(lat) - 1) * p)] * 1e3
    print(json.dumps({
        "bench": "splade-search", "engine": "pyseismic-lsr 0.5.4", "docs": index.len,
        "queries": len(queries), "k": a.k, "threads": 1, "build_s": build_s,
        "query_cut": a.query_cut, "heap_factor": a.heap_factor,
        "search": {"p50_ms": pct(0.5), "p99_ms": pct(0.99), "mean_ms": statistics.mean(lat) * 1e3},
        "ndcg_at_10": ndcg10(run, qrels),
    }))


if __name__ == "__main__":
    main()
