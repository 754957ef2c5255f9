"""bm25s (PyPI) BM25 on the corpus and queries `seine bench scale --peers` wrote: Lucene's
BM25 with Anserini's k1 0.9, b 0.4 (seine's defaults), bm25s's own tokenizer with no stop
words and no stemmer; one query at a time on one thread, top 10, the Python call included.
As in bench_tantivy_scale.py, queries are analysed (tokenized) before the timing. Prints one
JSON object: build seconds, peak RSS and queries/s per query set; progress goes to stderr.

    python scripts/bench_bm25s_scale.py --corpus corpus.jsonl --queries queries.json
"""

import argparse
import json
import os
import resource
import sys
import time

# One thread: numba (its backend and top-k selection) and any BLAS underneath.
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import bm25s  # noqa: E402


def log(msg):
    print(f"  bm25s: {msg}", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="JSONL: id, text")
    ap.add_argument("--queries", required=True, help="JSON: {set: [text, ...]}")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--backend", default=None, choices=["numba", "numpy"],
                    help="bm25s retrieval backend (default numba, its fast path, when numba "
                         "imports; numpy otherwise)")
    a = ap.parse_args()
    if a.backend is None:
        try:
            import numba  # noqa: F401
            a.backend = "numba"
        except ImportError:
            a.backend = "numpy"
            log("numba is not installed: the numpy backend (slower)")

    texts = []
    with open(a.corpus) as f:
        for line in f:
            texts.append(json.loads(line)["text"])
            if len(texts) % 200_000 == 0:
                log(f"{len(texts)} documents read")
    n = len(texts)

    t = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords=None, stemmer=None, show_progress=False)
    del texts
    retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4, backend=a.backend)
    retriever.index(tokens, show_progress=False)
    build_s = time.perf_counter() - t
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    del tokens
    log(f"indexed {n} documents in {build_s:.1f} s, peak RSS {peak_rss_mb:.0f} MB")

    sets = json.load(open(a.queries))
    out = {"bm25s_version": bm25s.__version__, "docs": n, "build_s": build_s,
           "build_peak_rss_mb": peak_rss_mb, "backend": a.backend}
    k = min(a.k, n)
    for name, qtexts in sets.items():
        # One token list per query (strings, mapped onto the corpus vocabulary by retrieve,
        # which drops words the corpus lacks). On the numba backend a query with no words at
        # all becomes [""], the empty token index() put in the vocabulary, which scores
        # nothing: retrieve rejects an empty list there (numpy takes [], but not [""]).
        empty = [""] if a.backend == "numba" else []
        queries = [bm25s.tokenize(q, stopwords=None, stemmer=None, return_ids=False,
                                  show_progress=False)[0] or empty for q in qtexts]

        def search(q):
            # n_threads=1: the numba backend's serial path; for numpy, 0 is the plain
            # in-thread loop (1 would start a one-worker thread pool per call).
            return retriever.retrieve([q], k=k, n_threads=1 if a.backend == "numba" else 0,
                                      show_progress=False)

        for q in queries[:20]:  # warm-up (and numba's compilation)
            search(q)
        lat = []
        for q in queries:
            t = time.perf_counter()
            search(q)
            lat.append(time.perf_counter() - t)
        lat.sort()
        out[f"{name}qps"] = len(lat) / sum(lat)
        out[f"{name}p50_ms"] = lat[len(lat) // 2] * 1e3
        log(f"{name}: {out[f'{name}qps']:.0f} q/s, p50 {out[f'{name}p50_ms']:.2f} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
