"""Cluster-scale encoding on Ray: ``seine.ray.encode``.

The corpus is cut into shards of consecutive documents; Ray Data runs
``map_batches`` over the shard list with an actor pool (one :class:`seine.Encoder`
per actor, loaded once), and each actor writes its shard as one Parquet file in
exactly the schema ``seine embed`` writes (dense: ``id`` + ``embedding``; sparse:
``id`` + ``terms`` + ``weights``; multi: ``id`` + ``tokens``). ``manifest.json`` in the
output folder lists the shards; it says ``"complete": true`` only once every shard is
on disk, and ``seine index --dense-vectors <folder>`` (``--sparse-vectors``,
``--multi-vectors``) reads such a folder as one file.

Re-running is idempotent: a shard is written atomically (a temporary name, then a
rename), so a shard file that exists is complete and is skipped. A worker that dies
mid-shard leaves no file; Ray restarts the actor and retries the shard (Ray Data's
actor pools retry by default), and shards still missing after the Ray job are run
again (``max_attempts``).

On a cluster: ``ray start --head`` on one node, ``ray start --address=<head>:6379``
on the others, then ``seine.ray.encode(..., address="auto")`` from the head. The
corpus path and ``out_dir`` must be visible to every node at the same path (a shared
filesystem); only the shard list and small results travel through Ray's object
store, never the vectors. Indexing the shards (``seine index --dense-vectors``,
HNSW and tantivy) runs on one machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Optional, Sequence, Union

MANIFEST = "manifest.json"
FORMAT = "seine-shards/1"

_PathLike = Union[str, os.PathLike]


def _test_gate() -> None:
    """Test hook: while the file ``SEINE_RAY_TEST_GATE`` names exists, an actor that has
    finished a shard waits (so a test can kill an actor mid-run without racing)."""
    gate = os.environ.get("SEINE_RAY_TEST_GATE")
    while gate and os.path.exists(gate):
        time.sleep(0.01)


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


class _ShardEncoder:
    """A Ray actor: one encoder, loaded once; encodes whole shards."""

    def __init__(self, model: str, kind: str, device: str, threads: int, out_dir: str,
                 sparse_top_k: Optional[int], sparse_threshold: float):
        # Before the first parallel call: the encoder's thread pool size.
        os.environ["RAYON_NUM_THREADS"] = str(threads)
        import seine

        self._seine = seine
        self._enc = seine.Encoder(model, kind=kind, device=device,
                                  sparse_top_k=sparse_top_k, sparse_threshold=sparse_threshold)
        self._out = Path(out_dir)

    def __call__(self, batch: dict) -> dict:
        out = {"shard": [], "file": [], "rows": [], "seconds": [], "skipped": [], "pid": []}
        for i in range(len(batch["shard"])):
            target = self._out / str(batch["file"][i])
            start = time.perf_counter()
            skipped = target.exists()
            if skipped:
                rows = int(batch["stop"][i]) - int(batch["start"][i])
            else:
                docs = self._seine.read_corpus(str(batch["path"][i]), int(batch["start"][i]),
                                               int(batch["stop"][i]))
                rows = self._enc.write_parquet(str(target), docs)
            out["shard"].append(int(batch["shard"][i]))
            out["file"].append(str(batch["file"][i]))
            out["rows"].append(rows)
            out["seconds"].append(time.perf_counter() - start)
            out["skipped"].append(skipped)
            out["pid"].append(os.getpid())
            _test_gate()
        return out


class _BatchEncoder(_ShardEncoder):
    """A Ray actor for a ``ray.data.Dataset`` source: each batch becomes a shard named
    by a hash of its ids (re-runs skip shards whose batch is the same)."""

    def __call__(self, batch: dict) -> dict:
        ids = [str(x) for x in batch["id"]]
        digest = hashlib.sha1("\n".join(ids).encode()).hexdigest()[:16]
        target = self._out / f"{self._enc.kind}-{digest}.parquet"
        start = time.perf_counter()
        skipped = target.exists()
        if not skipped:
            titles = batch.get("title")
            docs = [{"id": ids[i],
                     "title": "" if titles is None or titles[i] is None else str(titles[i]),
                     "text": str(batch["text"][i])} for i in range(len(ids))]
            self._enc.write_parquet(str(target), docs)
        return {"shard": [-1], "file": [target.name], "rows": [len(ids)],
                "seconds": [time.perf_counter() - start], "skipped": [skipped],
                "pid": [os.getpid()]}


def plan_shards(paths: Sequence[_PathLike], kind: str, shard_size: Optional[int] = None,
                num_shards: Optional[int] = None) -> list[dict]:
    """Cuts each corpus into shards of consecutive documents (a pass over each corpus
    counts them): ``num_shards`` over all, or ``shard_size`` documents each."""
    import seine

    counts = [(str(p), seine.count_docs(str(p))) for p in paths]
    total = sum(n for _, n in counts)
    if total == 0:
        raise ValueError("the corpus has no documents")
    if shard_size is None:
        shards = num_shards or max(1, math.ceil(total / 10_000))
        shard_size = math.ceil(total / shards)
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    plan = []
    for path, n in counts:
        for start in range(0, n, shard_size):
            i = len(plan)
            plan.append({"shard": i, "file": f"{kind}-{i:05d}.parquet", "path": path,
                         "start": start, "stop": min(n, start + shard_size)})
    return plan


def _check_manifest(out: Path, settings: dict) -> None:
    """An existing manifest must describe the same job (or the folder is someone
    else's shards)."""
    m = out / MANIFEST
    if not m.exists():
        return
    old = json.loads(m.read_text())
    if old.get("settings") != settings:
        raise ValueError(
            f"{out} holds shards of another job ({MANIFEST} settings {old.get('settings')} "
            f"!= {settings}); choose another out_dir or remove it")


def encode(source: Union[_PathLike, Sequence[_PathLike], Any], out_dir: _PathLike,
           model: str, kind: str = "dense", *, num_actors: int = 2,
           cpus_per_actor: int = 1, shard_size: Optional[int] = None,
           num_shards: Optional[int] = None, device: str = "cpu",
           sparse_top_k: Optional[int] = None, sparse_threshold: float = 0.0,
           max_attempts: int = 3, address: Optional[str] = None,
           progress: bool = True) -> dict:
    """Encodes a corpus into Parquet shards under ``out_dir`` with ``num_actors`` Ray
    actors of ``cpus_per_actor`` CPUs each; returns the manifest (also written as
    ``out_dir/manifest.json``, with per-shard rows and seconds and the job's docs/s).

    ``source``: a corpus path (BEIR folder, ``.jsonl``, ``.parquet``, text folder),
    a list of them, or a ``ray.data.Dataset`` with ``id``, ``title``, ``text``
    columns. ``kind``: ``dense``, ``sparse`` or ``multi`` (token vectors). Ray is started locally
    (``ray.init(num_cpus=num_actors * cpus_per_actor)``) unless it is running or
    ``address`` names a cluster.
    """
    import ray

    if kind not in ("dense", "sparse", "multi"):
        raise ValueError(f"kind must be dense, sparse or multi, got {kind!r}")
    if num_actors < 1 or cpus_per_actor < 1 or max_attempts < 1:
        raise ValueError("num_actors, cpus_per_actor and max_attempts must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not ray.is_initialized():
        if address is not None:
            ray.init(address=address)
        else:
            ray.init(num_cpus=num_actors * cpus_per_actor, include_dashboard=False,
                     log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    is_dataset = isinstance(source, ray.data.Dataset)
    settings = {"model": model, "kind": kind, "device": device, "sparse_top_k": sparse_top_k,
                "sparse_threshold": sparse_threshold}
    ctor = dict(model=model, kind=kind, device=device, threads=cpus_per_actor,
                out_dir=str(out.resolve()), sparse_top_k=sparse_top_k,
                sparse_threshold=sparse_threshold)
    pool = ray.data.ActorPoolStrategy(size=num_actors)
    start = time.perf_counter()
    if is_dataset:
        settings["source"] = "ray.data.Dataset"
        _check_manifest(out, settings)
        results = source.map_batches(
            _BatchEncoder, batch_size=shard_size or 10_000, compute=pool,
            num_cpus=cpus_per_actor, fn_constructor_kwargs=ctor,
            batch_format="numpy").take_all()
        plan = [{"shard": i, "file": r["file"]} for i, r in
                enumerate(sorted(results, key=lambda r: r["file"]))]
    else:
        paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        plan = plan_shards(paths, kind, shard_size, num_shards)
        settings["sources"] = [str(Path(p).resolve()) for p in paths]
        settings["shards"] = [[s["start"], s["stop"]] for s in plan]
        _check_manifest(out, settings)
        _write_json(out / MANIFEST, {"format": FORMAT, "complete": False,
                                     "settings": settings, "shards": plan})
        results = []
        for attempt in range(max_attempts):
            todo = [s for s in plan if not (out / s["file"]).exists()]
            if not todo:
                break
            results += ray.data.from_items(todo).map_batches(
                _ShardEncoder, batch_size=1, compute=pool, num_cpus=cpus_per_actor,
                fn_constructor_kwargs=ctor, batch_format="numpy").take_all()
        missing = [s["file"] for s in plan if not (out / s["file"]).exists()]
        if missing:
            raise RuntimeError(f"shards still missing after {max_attempts} attempts: {missing}")
        # A worker killed mid-shard leaves its temporary file (the shard itself was
        # redone): remove those of this job's shards.
        for s in plan:
            for tmp in out.glob(f".{s['file']}.tmp-*"):
                tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    by_file = {r["file"]: r for r in results}
    shards = []
    for s in plan:
        r = by_file.get(s["file"], {})
        shards.append({**s, "rows": int(r.get("rows", s.get("stop", 0) - s.get("start", 0))),
                       "seconds": float(r.get("seconds", 0.0)),
                       "skipped": bool(r.get("skipped", True))})
    encoded = sum(s["rows"] for s in shards if not s["skipped"])
    manifest = {
        "format": FORMAT,
        "complete": True,
        "settings": settings,
        "shards": shards,
        "rows": sum(s["rows"] for s in shards),
        "job": {"seconds": seconds, "encoded_rows": encoded,
                "docs_per_second": encoded / seconds if seconds > 0 else 0.0,
                "num_actors": num_actors, "cpus_per_actor": cpus_per_actor,
                "actor_pids": sorted({int(r["pid"]) for r in results})},
    }
    _write_json(out / MANIFEST, manifest)
    return manifest


def shard_files(out_dir: _PathLike) -> list[Path]:
    """The shard files of a complete shard folder, in manifest order."""
    out = Path(out_dir)
    m = json.loads((out / MANIFEST).read_text())
    if not m.get("complete"):
        raise ValueError(f"{out}: the shard set is not complete")
    return [out / s["file"] for s in m["shards"]]


__all__ = ["encode", "plan_shards", "shard_files", "MANIFEST"]


