#!/usr/bin/env python3
"""Side-by-side peer for seine's late-interaction (ColBERT/WARP) benchmark: xtr-warp-rs
(PyPI `xtr-warp-rs`, a Rust port of XTR-WARP) on CPU, on pre-computed token bags.

Run it with the interpreter of .venv-warp (scripts/setup-warp-peer.sh):

  .venv-warp/bin/python scripts/bench_warp_peer.py --docs D.npy --queries Q.npy \
      --truth T.npy --work /tmp/warp-work [--threads 2] [--nbits 2] [--centroids N]

Inputs: --docs [n_docs, tokens_per_doc, dim] float16/float32 .npy; --queries
[n_queries, q_tokens, dim] float32 .npy; --truth [n_judged, k] int64 .npy, the exact
MaxSim top-k doc positions for queries 0..n_judged-1. Tokens must be L2-normalized.

The build and the search run in separate child processes (this script re-invoked with
--step), so each step's peak RSS (VmHWM) is its own. The build uses the library's
defaults (k-means centroid count, iterations, sampling) except --nbits and, when given,
--centroids. Search is one query per call (batch size 1) on an mmap-loaded CPU index,
after one untimed warm-up pass per sweep point. The sweep varies nprobe (centroids probed
per query token, the library's main recall knob); the knobs the library derives from
nprobe (bound, t_prime, max_candidates) follow its own rule (xtr_warp.hyperparams)
evaluated at that nprobe, and the first point is the library's untouched default.

Progress goes to stderr; stdout's last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

PEER = "xtr-warp-rs"


def log(msg: str) -> None:
    print(f"bench_warp_peer: {msg}", file=sys.stderr, flush=True)


def mem_mb(field: str) -> float | None:
    """VmHWM (peak) or VmRSS (current) of this process, in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    if field == "VmHWM":
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return None


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def limit_threads(threads: int) -> None:
    # Before torch (OpenMP/MKL) or the Rust extension (rayon's global pool) start.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "RAYON_NUM_THREADS"):
        os.environ[var] = str(threads)


def import_warp(threads: int):
    limit_threads(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass
    import xtr_warp
    from xtr_warp import XTRWarp

    return torch, xtr_warp, XTRWarp


# ---------------------------------------------------------------- build step


def step_build(args) -> dict:
    import numpy as np

    torch, xtr_warp, XTRWarp = import_warp(args.threads)
    base_rss = mem_mb("VmRSS")
    work = Path(args.work)
    index_dir = work / "index"
    t0 = time.perf_counter()
    docs = np.load(args.docs, mmap_mode="r")
    if docs.ndim != 3:
        sys.exit(f"bench_warp_peer: --docs must be [n_docs, tokens, dim], got {docs.shape}")
    n_docs, tokens, dim = docs.shape
    if args.source == "memory":
        # The library's in-memory source: one float32 [tokens, dim] tensor per document.
        flat = torch.from_numpy(np.ascontiguousarray(docs, dtype=np.float32))
        source = [flat[i] for i in range(n_docs)]
    else:
        # The library's disk source: one 2-D .npy [total_tokens, dim] (dtype kept) with a
        # .doclens.npy sidecar, read through mmap.
        src_dir = work / "source"
        src_dir.mkdir(parents=True, exist_ok=True)
        emb_path = src_dir / "embeddings.npy"
        out = np.lib.format.open_memmap(emb_path, mode="w+", dtype=docs.dtype,
                                        shape=(n_docs * tokens, dim))
        step = max(1, (256 << 20) // max(1, tokens * dim * docs.dtype.itemsize))
        for s in range(0, n_docs, step):
            e = min(n_docs, s + step)
            out[s * tokens:e * tokens] = docs[s:e].reshape(-1, dim)
        out.flush()
        del out
        np.save(src_dir / "embeddings.doclens.npy", np.full(n_docs, tokens, dtype=np.int64))
        source = str(emb_path)
    load_s = time.perf_counter() - t0
    log(f"build: {n_docs} docs x {tokens} tokens x {dim} dims ({docs.dtype}), "
        f"{args.source} source, nbits={args.nbits}, centroids={args.centroids or 'library rule'}, "
        f"threads={args.threads}")

    t0 = time.perf_counter()
    XTRWarp(index=str(index_dir)).create(
        embeddings_source=source,
        device="cpu",
        nbits=args.nbits,
        num_partitions=args.centroids,
        show_progress=False,
    )
    build_s = time.perf_counter() - t0
    peak = mem_mb("VmHWM")
    with open(index_dir / "metadata.json") as f:
        meta = json.load(f)
    log(f"build: {build_s:.2f} s, peak RSS {peak:.0f} MiB")
    return {
        "build_s": build_s,
        "input_prep_s": load_s,
        "build_peak_rss_mb": peak,
        "build_baseline_rss_mb": base_rss,
        "index_bytes": dir_bytes(index_dir),
        "index_meta": {k: meta.get(k) for k in (
            "num_passages", "num_embeddings", "num_partitions", "num_centroids",
            "avg_doclen", "nbits", "dim") if k in meta},
        "torch": torch.__version__,
        "version": xtr_warp.__version__,
        "cuda_available": bool(torch.cuda.is_available()),
    }


# --------------------------------------------------------------- search step


def derived_params(meta: dict, k: int, q_tokens: int, nprobe: int) -> dict:
    """xtr_warp.hyperparams.optimize with nprobe forced: the knobs the library derives
    from nprobe and the index density (bound, t_prime, max_candidates)."""
    num_embeddings = meta["num_embeddings"]
    partitions = meta.get("num_centroids", meta["num_partitions"])
    avg_doclen = meta["avg_doclen"]
    density = num_embeddings / max(1, partitions)
    bound = max(nprobe * 8, int(0.05 * partitions))
    max_candidates = max(int(density * max(1, nprobe) * max(1, q_tokens)), k * 50)
    max_candidates = min(max_candidates, num_embeddings) // 2
    t_prime = int(density * max(1, nprobe) * max(1, q_tokens // 2))
    if avg_doclen > 0 and density < 256:
        t_prime = int(t_prime * max(0.35, min(120.0 / avg_doclen, 1.0)))
    t_prime = min(max(5_000, min(t_prime, 200_000)), num_embeddings)
    return {"nprobe": nprobe, "bound": bound, "t_prime": t_prime,
            "max_candidates": max_candidates}


def percentile(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, math.ceil(q * len(sorted_vals)) - 1))
    return sorted_vals[i]


def step_search(args) -> dict:
    import numpy as np

    torch, xtr_warp, XTRWarp = import_warp(args.threads)
    base_rss = mem_mb("VmRSS")
    index_dir = Path(args.work) / "index"
    queries = np.load(args.queries).astype(np.float32, copy=False)
    truth = np.load(args.truth)
    if args.query_lens:
        # Queries of different lengths: [total_tokens, dim] and one length per query.
        lens = np.load(args.query_lens).astype(np.int64)
        if queries.ndim != 2 or int(lens.sum()) != queries.shape[0]:
            sys.exit(f"bench_warp_peer: --queries {queries.shape} does not hold "
                     f"the {int(lens.sum())} tokens --query-lens names")
        starts = np.concatenate([[0], np.cumsum(lens)])
        flat = torch.from_numpy(np.ascontiguousarray(queries))
        qs = [flat[starts[i]:starts[i + 1]].unsqueeze(0) for i in range(len(lens))]
        q_tokens = int(np.median(lens))
    else:
        if queries.ndim != 3:
            sys.exit(f"bench_warp_peer: --queries must be [n, tokens, dim], got {queries.shape}")
        q_tokens = queries.shape[1]
        qt = torch.from_numpy(np.ascontiguousarray(queries))
        qs = [qt[i:i + 1] for i in range(queries.shape[0])]
    n_q = len(qs)
    n_judged = min(len(truth), n_q)
    truth_sets = [set(int(x) for x in truth[i][: args.k]) for i in range(n_judged)]

    t0 = time.perf_counter()
    idx = XTRWarp(index=str(index_dir)).load(device="cpu", dtype=torch.float32)
    load_s = time.perf_counter() - t0
    meta = idx._load_metadata()
    default = idx.optimize_hyperparams(args.k, qs[0])
    default_params = dict(zip(("bound", "nprobe", "centroid_score_threshold",
                               "max_candidates", "t_prime"), default))
    partitions = meta.get("num_centroids", meta["num_partitions"])
    log(f"search: index loaded in {load_s:.2f} s, {partitions} centroids, "
        f"library default {default_params}")

    points: list[tuple[str, dict]] = [("default", {})]
    for nprobe in sorted({int(x) for x in args.nprobe.split(",") if x.strip()}):
        if 1 <= nprobe <= partitions:
            points.append(("nprobe", derived_params(meta, args.k, q_tokens, nprobe)))

    def run(params: dict) -> tuple[list[float], list[list[int]]]:
        times, ids = [], []
        for i in range(n_q):
            q = qs[i]
            t = time.perf_counter()
            res = idx.search(q, top_k=args.k, num_threads=args.threads,
                             show_progress=False, **params)
            times.append(time.perf_counter() - t)
            ids.append([int(pid) for pid, _ in res[0]])
        return times, ids

    sweep = []
    for kind, params in points:
        run(params)  # untimed warm-up pass
        times, ids = run(params)
        recall = (sum(len(truth_sets[i] & set(ids[i][: args.k])) / max(1, len(truth_sets[i]))
                      for i in range(n_judged)) / n_judged) if n_judged else None
        lat = sorted(t * 1000.0 for t in times)
        shown = dict(default_params) if kind == "default" else {
            **params, "centroid_score_threshold": default_params["centroid_score_threshold"]}
        point = {
            "params": {"default": kind == "default", **shown},
            "qps": n_q / sum(times),
            "p50_ms": percentile(lat, 0.50),
            "p99_ms": percentile(lat, 0.99),
            "recall_at_10": recall,
        }
        log(f"search: {point}")
        sweep.append(point)
    peak = mem_mb("VmHWM")
    idx.free()
    return {
        "search_peak_rss_mb": peak,
        "search_baseline_rss_mb": base_rss,
        "load_s": load_s,
        "sweep": sweep,
        "n_queries": n_q,
        "n_judged": n_judged,
        "q_tokens": q_tokens,
        "default_params": default_params,
    }


# ------------------------------------------------------------------- driver


def child(args, step: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--step", step]
    for name in ("docs", "queries", "query_lens", "truth", "k", "threads", "work", "nbits",
                 "centroids", "nprobe", "source"):
        val = getattr(args, name)
        if val is not None:
            cmd += [f"--{name.replace('_', '-')}", str(val)]
    log(f"running the {step} step in a child process")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    if proc.returncode != 0 or not lines:
        sys.exit(f"bench_warp_peer: the {step} step failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--query-lens", default=None,
                    help="int .npy, one token count per query: --queries is then "
                         "[total_tokens, dim], the queries one after another")
    ap.add_argument("--truth", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", required=True, help="folder for the index (rebuilt)")
    ap.add_argument("--nbits", type=int, default=2)
    ap.add_argument("--centroids", type=int, default=None,
                    help="k-means centroids (default: the library's rule, "
                         "2^floor(log2(16*sqrt(total tokens))))")
    ap.add_argument("--nprobe", default="1,2,4,8,16,32,64,128",
                    help="comma-separated nprobe sweep (after the library default point)")
    ap.add_argument("--source", choices=("memory", "disk"), default="memory",
                    help="hand the docs to the library as in-memory float32 tensors, or as "
                         "its disk source (a 2-D .npy copy, dtype kept, under --work)")
    ap.add_argument("--step", choices=("build", "search"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.step == "build":
        print(json.dumps(step_build(args)), flush=True)
        return
    if args.step == "search":
        print(json.dumps(step_search(args)), flush=True)
        return

    t_start = time.perf_counter()
    Path(args.work).mkdir(parents=True, exist_ok=True)
    build = child(args, "build")
    search = child(args, "search")
    ok = [p for p in search["sweep"]
          if p["recall_at_10"] is not None and p["recall_at_10"] >= 0.95]
    best = max(ok, key=lambda p: p["qps"]) if ok else None
    result = {
        "peer": PEER,
        "version": build["version"],
        "torch": build["torch"],
        "device": "cpu",
        "cuda_available": build["cuda_available"],
        "threads": args.threads,
        "nbits": args.nbits,
        "source": args.source,
        "build_s": build["build_s"],
        "build_peak_rss_mb": build["build_peak_rss_mb"],
        "build_baseline_rss_mb": build["build_baseline_rss_mb"],
        "index_bytes": build["index_bytes"],
        "index_meta": build["index_meta"],
        "load_s": search["load_s"],
        "search_peak_rss_mb": search["search_peak_rss_mb"],
        "search_baseline_rss_mb": search["search_baseline_rss_mb"],
        "n_queries": search["n_queries"],
        "n_judged": search["n_judged"],
        "default_params": search["default_params"],
        "sweep": search["sweep"],
        "best_at_095": best,
        "wall_s": time.perf_counter() - t_start,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
