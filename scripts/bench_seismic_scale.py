"""Seismic (pyseismic-lsr, the learned-sparse engine of Bruch et al.) on the sparse
corpus and queries `seine bench scale --peers` wrote: index built from the in-memory
CSR arrays, then one query at a time on one thread, top k, the Python call included,
for a sweep of (query_cut, heap_factor). Recall@10 is against the exact top 10 by dot
product. Prints one JSON object; progress goes to stderr.

    python scripts/bench_seismic_scale.py --docs d.npz --queries q.npz --truth t.json

`--docs` / `--queries`: a folder of `components.npy` (int64 term ids, strictly increasing
within a row), `values.npy` (float32) and `offsets.npy` (int64, rows + 1), or one .npz
with those three arrays; document i is `str(i)`. `--truth`: JSON list, per query the document indices of the exact top 10.
"""

import argparse
import json
import os
import resource
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True, help="folder of (or .npz with) components, values, offsets")
    ap.add_argument("--queries", required=True, help="folder of (or .npz with) components, values, offsets")
    ap.add_argument("--truth", required=True, help="JSON: per query, the exact top-10 doc indices")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2, help="threads for the index build")
    ap.add_argument("--n-postings", type=int, default=None,
                    help="override the posting-list budget (default: see default_n_postings)")
    ap.add_argument("--configs", default=None,
                    help='compact sweep override, "query_cut:heap_factor,...", e.g. "10:0.8,20:0.9"')
    return ap.parse_args()


A = parse_args()
# build_from_dataset's own `num_threads` only builds a Rayon pool it never installs (the
# build runs on Rayon's global pool), so the thread count is set the way Rayon reads it,
# before the extension is loaded.
os.environ["RAYON_NUM_THREADS"] = str(A.threads)

import numpy as np  # noqa: E402
import seismic  # noqa: E402

QUERY_CUTS = [5, 10, 20, 40]
HEAP_FACTORS = [0.6, 0.7, 0.8, 0.9, 1.0]
U16_MAX_COMPONENTS = 65_535  # SeismicIndex stores component ids as u16; beyond that, the LV variant


def log(msg):
    print(f"  seismic: {msg}", file=sys.stderr, flush=True)


def default_n_postings(n_docs):
    # Seismic's Guidelines (docs/Guidelines.md, github.com/TusKANNy/seismic) say "Reasonable
    # values for collections around 10 millions (MsMarco) are in the range [3000, 6000], while
    # for larger collections like MsMarco-v2 [138M], we suggest values in [60000, 80000]" (the
    # sentence is cut off in the newest revision of the file; earlier revisions have it whole).
    # They give nothing for smaller collections, so below MS MARCO v2 scale this keeps the
    # library's default, 3500, which sits in their ~10M range; at v2 scale, the middle of theirs.
    return 70_000 if n_docs >= 50_000_000 else 3500


def load_csr(path):
    if os.path.isdir(path):  # a folder of components.npy, values.npy, offsets.npy
        z = {k: np.load(os.path.join(path, f"{k}.npy")) for k in ("components", "values", "offsets")}
    else:  # one .npz with those three arrays
        z = np.load(path)
    comps = np.ascontiguousarray(z["components"], dtype=np.int64)
    vals = np.ascontiguousarray(z["values"], dtype=np.float32)
    offs = np.ascontiguousarray(z["offsets"], dtype=np.int64)
    if offs[0] != 0 or offs[-1] != len(comps) or len(comps) != len(vals):
        sys.exit(f"{path}: inconsistent CSR arrays")
    return comps, vals, offs


def parse_configs(s):
    if not s:
        return [(qc, hf) for qc in QUERY_CUTS for hf in HEAP_FACTORS]
    out = []
    for part in s.split(","):
        qc, hf = part.strip().split(":")
        out.append((int(qc), float(hf)))
    return out


def main():
    a = A
    # The extension prints its build configuration with Rust's println!, straight to fd 1:
    # keep fd 1 on stderr for the whole run and write the one JSON object to the real stdout.
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    comps, vals, offs = load_csr(a.docs)
    n = len(offs) - 1
    dim = int(comps.max()) + 1 if len(comps) else 1
    large_vocab = dim > U16_MAX_COMPONENTS
    Dataset = seismic.SeismicDatasetLV if large_vocab else seismic.SeismicDataset
    Index = seismic.SeismicIndexLV if large_vocab else seismic.SeismicIndex
    n_postings = a.n_postings if a.n_postings is not None else default_n_postings(n)

    log(f"{n} documents, {len(comps)} postings, dim {dim}; loading the dataset")
    ds = Dataset(dim=dim)
    added = ds.add_documents_by_id([str(i) for i in range(n)], comps, vals, offs)
    if added != n:
        log(f"{n - added} documents with no components were skipped")
    del comps, vals, offs

    log(f"building (n_postings {n_postings}, {a.threads} threads)")
    t = time.perf_counter()
    index = Index.build_from_dataset(ds, n_postings=n_postings, num_threads=a.threads)
    build_s = time.perf_counter() - t
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    del ds
    log(f"built in {build_s:.1f} s, peak RSS {peak_rss_mb:.0f} MB")

    st = seismic.get_seismic_string()
    qc_, qv_, qo_ = load_csr(a.queries)
    queries = [(str(q), np.array([str(c) for c in qc_[qo_[q]:qo_[q + 1]]], dtype=st),
                np.ascontiguousarray(qv_[qo_[q]:qo_[q + 1]]))
               for q in range(len(qo_) - 1)]
    truth = [set(int(d) for d in t) for t in json.load(open(a.truth))]
    if len(truth) != len(queries):
        sys.exit(f"{len(queries)} queries but {len(truth)} truth lists")

    configs = []
    for query_cut, heap_factor in parse_configs(a.configs):
        def run(qid, c, v):
            return index.search(query_id=qid, query_components=c, query_values=v, k=a.k,
                                query_cut=query_cut, heap_factor=heap_factor)
        for qid, c, v in queries[:20]:  # warm-up
            run(qid, c, v)
        lat, hits, judged = [], 0.0, 0
        for (qid, c, v), want in zip(queries, truth):
            t = time.perf_counter()
            res = run(qid, c, v)
            lat.append(time.perf_counter() - t)
            if want:  # a query with no truth (it matches nothing) is left out of the mean
                got = {int(doc) for _, _, doc in res}
                hits += len(got & want) / len(want)
                judged += 1
        lat.sort()
        cfg = {"query_cut": query_cut, "heap_factor": heap_factor,
               "qps": len(lat) / sum(lat), "p50_ms": lat[len(lat) // 2] * 1e3,
               "recall_at_10": hits / judged if judged else None}
        log(f"query_cut {query_cut:>3} heap_factor {heap_factor:.2f}: {cfg['qps']:9.0f} q/s, "
            f"p50 {cfg['p50_ms']:.3f} ms, recall@10 {cfg['recall_at_10']}")
        configs.append(cfg)

    ok = [c for c in configs if c["recall_at_10"] is not None and c["recall_at_10"] >= 0.95]
    best = max(ok, key=lambda c: c["qps"]) if ok else None
    rated = [c for c in configs if c["recall_at_10"] is not None]
    best_any = max(rated, key=lambda c: (c["recall_at_10"], c["qps"])) if rated else None
    print(json.dumps({
        "seismic_version": _version(), "docs": index.len, "build_s": build_s,
        "build_peak_rss_mb": peak_rss_mb, "n_postings": n_postings,
        "configs": configs, "best": best, "best_any": best_any,
    }), file=out, flush=True)


def _version():
    try:
        from importlib.metadata import version
        return version("pyseismic-lsr")
    except Exception:
        return getattr(seismic, "__version__", "")


if __name__ == "__main__":
    main()
