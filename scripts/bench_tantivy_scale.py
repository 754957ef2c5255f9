"""tantivy's own BM25 (the Python bindings, block-max WAND for unions) on the corpus and
queries `seine bench scale --peers` wrote: one query at a time, top 10, the Python call
included. Prints one JSON object: build seconds and queries/s per query set."""

import argparse
import json
import sys
import tempfile
import time

import tantivy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="JSONL: id, text")
    ap.add_argument("--queries", required=True, help="JSON: {set: [text, ...]}")
    ap.add_argument("--k", type=int, default=10)
    a = ap.parse_args()
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("text", stored=False)
    schema = sb.build()
    with tempfile.TemporaryDirectory() as tmp:
        index = tantivy.Index(schema, path=tmp)
        t = time.perf_counter()
        w = index.writer(heap_size=400_000_000, num_threads=1)
        n = 0
        with open(a.corpus) as f:
            for line in f:
                w.add_document(tantivy.Document(text=json.loads(line)["text"]))
                n += 1
                if n % 200_000 == 0:
                    print(f"  tantivy: {n} documents added", file=sys.stderr, flush=True)
        w.commit()
        w.wait_merging_threads()
        build_s = time.perf_counter() - t
        index.reload()
        searcher = index.searcher()
        sets = json.load(open(a.queries))
        out = {"tantivy_version": tantivy.__version__ if hasattr(tantivy, "__version__") else "",
               "docs": n, "build_s": build_s, "segments": len(searcher.segment_readers()) if hasattr(searcher, "segment_readers") else None}
        for name, texts in sets.items():
            queries = [index.parse_query(q, ["text"]) for q in texts]
            for q in queries[:20]:  # warm-up
                searcher.search(q, a.k)
            lat = []
            for q in queries:
                t = time.perf_counter()
                searcher.search(q, a.k)
                lat.append(time.perf_counter() - t)
            lat.sort()
            out[f"{name}qps"] = len(lat) / sum(lat)
            out[f"{name}p50_ms"] = lat[len(lat) // 2] * 1e3
        print(json.dumps(out))


if __name__ == "__main__":
    main()
