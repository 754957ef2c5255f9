"""Ray encoding throughput against the CLI on the same documents (docs/s).

    .venv/bin/python scripts/bench_ray.py [--corpus ../shared/datasets/scifact] [--model minilm]

Runs, one after another on this machine: `seine embed` (the CLI, all cores), then
seine.ray.encode with 1 actor x 1 CPU, 1 actor x all CPUs and N actors x 1 CPU (a
fresh local Ray cluster each, its start-up not counted; the actors' model loading
is). Prints docs/s and the ratio to the CLI. Needs the wheel installed
(scripts/build-python.sh --install) and target/release/seine.
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared/datasets/scifact"))
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--shards", type=int, default=8)
    a = ap.parse_args()
    os.environ.setdefault("SEINE_MODELS", str(ROOT / "models"))
    import ray
    import seine
    import seine.ray as sray

    n = seine.count_docs(a.corpus)
    cpus = os.cpu_count()
    print(f"CPU: {cpu_name()} ({cpus} threads); corpus {a.corpus}: {n} docs; model {a.model}")
    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    subprocess.run([str(ROOT / "target/release/seine"), "embed", a.corpus, "--model", a.model,
                    "--out", str(tmp / "cli.parquet")], check=True, capture_output=True)
    cli = n / (time.perf_counter() - t0)
    print(f"{'seine embed (CLI, all cores)':<34} {cli:8.1f} docs/s  1.00x")
    for actors, per in [(1, 1), (1, cpus), (cpus, 1)]:
        out = tmp / f"ray-{actors}x{per}"
        ray.init(num_cpus=actors * per, include_dashboard=False, log_to_driver=False)
        t0 = time.perf_counter()
        m = sray.encode(a.corpus, out, a.model, num_actors=actors, cpus_per_actor=per,
                        num_shards=a.shards, progress=False)
        secs = time.perf_counter() - t0
        ray.shutdown()
        rate = n / secs
        enc = sum(s["seconds"] for s in m["shards"])
        print(f"{f'ray: {actors} actor(s) x {per} CPU':<34} {rate:8.1f} docs/s  {rate / cli:.2f}x"
              f"  (shard time {enc:.1f} s of {secs:.1f} s wall x {actors})")
        shutil.rmtree(out)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
