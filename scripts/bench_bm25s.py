"""BM25 queries/s of bm25s (PyPI) on a BEIR dataset, single thread, the same queries
and k as `seine bench bm25`. Query tokenization is inside the timing, as seine's
timing includes query analysis. Two modes: one query at a time, and all queries in
one batch (bm25s's fastest way). Prints one JSON object.

    python scripts/bench_bm25s.py ../shared/datasets/scifact --k 10 --repeat 7
"""
import argparse
import json
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import bm25s  # noqa: E402
import Stemmer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="test")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    docs = []
    with open(os.path.join(args.dataset, "corpus.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            docs.append((d.get("title", "") + " " + d["text"]).strip())
    judged = set()
    with open(os.path.join(args.dataset, "qrels", f"{args.split}.tsv")) as f:
        next(f)
        for line in f:
            judged.add(line.split("\t")[0])
    queries = []
    with open(os.path.join(args.dataset, "queries.jsonl")) as f:
        for line in f:
            q = json.loads(line)
            if q["_id"] in judged:
                queries.append(q["text"])

    stemmer = Stemmer.Stemmer("english")
    t0 = time.perf_counter()
    corpus_tokens = bm25s.tokenize(docs, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
    retriever.index(corpus_tokens, show_progress=False)
    index_s = time.perf_counter() - t0

    def one_at_a_time():
        for q in queries:
            qt = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
            retriever.retrieve(qt, k=args.k, n_threads=1, show_progress=False)

    def batch():
        qt = bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, show_progress=False)
        retriever.retrieve(qt, k=args.k, n_threads=1, show_progress=False)

    out = {"bench": "bm25s", "version": bm25s.__version__, "queries": len(queries),
           "k": args.k, "threads": 1, "repeat": args.repeat, "index_s": index_s}
    for name, fn in [("single", one_at_a_time), ("batch", batch)]:
        fn()  # warm-up
        passes = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            passes.append(time.perf_counter() - t)
        med = statistics.median(passes)
        out[f"{name}_median_pass_s"] = med
        out[f"{name}_qps"] = len(queries) / med
    print(json.dumps(out))


if __name__ == "__main__":
    main()
