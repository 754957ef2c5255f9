"""seine.ray.encode on a local Ray cluster: 2 encoder actors, shards of SciFact (its
first 1,500 documents), one actor killed mid-run; the shard folder indexes like
encoding does."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")
import seine  # noqa: E402
import seine.ray as sray  # noqa: E402

from conftest import SCIFACT, cli, read_vectors, scifact_test_queries  # noqa: E402


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """A file that holds every encoder actor after its shard while it exists."""
    return tmp_path_factory.mktemp("gate") / "hold"


@pytest.fixture(scope="module")
def local_ray(gate):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"SEINE_RAY_TEST_GATE": str(gate)}})
    yield
    ray.shutdown()


def encoder_actor_pids():
    """Processes of Ray Data's map actors (their process titles name the UDF)."""
    import subprocess

    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in ps.splitlines()
            if "ray::" in line and "MapWorker" in line]


def test_encode_with_a_killed_actor_equals_cli_embed(local_ray, gate, scifact_1500,
                                                    scifact_embed, tmp_path):
    out = tmp_path / "shards"
    gate.write_text("hold")  # actors wait after each shard until the kill below
    result, error = {}, []

    def run():
        try:
            result["m"] = sray.encode(scifact_1500, out, "minilm", num_actors=2,
                                      num_shards=6, progress=False)
        except Exception as e:  # noqa: BLE001
            error.append(e)

    t = threading.Thread(target=run)
    t.start()
    killed = None
    deadline = time.time() + 300
    try:
        # Held at the gate, no actor can finish more than one shard: when the first
        # shard exists, at least 4 of the 6 are still to do, on any machine speed.
        while time.time() < deadline and t.is_alive():
            done = list(out.glob("dense-*.parquet"))
            pids = encoder_actor_pids() if done else []
            if done and pids:
                killed = pids[0]
                os.kill(killed, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        gate.unlink(missing_ok=True)
    t.join(timeout=600)
    assert not error, error
    assert killed is not None, "no encoder actor was seen to kill"
    m = result["m"]
    assert m["complete"] and len(m["shards"]) == 6 and m["rows"] == 1500
    assert json.loads((out / sray.MANIFEST).read_text())["complete"]
    assert len(list(out.glob(".*tmp*"))) == 0, "no temporary file left"

    # The union of the shards is `seine embed`'s output.
    ref = read_vectors(scifact_embed)
    mine = read_vectors(out)
    assert sorted(mine) == sorted(ref)
    a = np.stack([mine[i] for i in ref]).astype(np.float64)
    b = np.stack(list(ref.values())).astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.min() >= 0.99999, cos.min()

    # Idempotent: a second run finds every shard and encodes nothing.
    again = sray.encode(scifact_1500, out, "minilm", num_actors=2, num_shards=6,
                        progress=False)
    assert again["job"]["encoded_rows"] == 0 and all(s["skipped"] for s in again["shards"])
    # A different job into the same folder is refused.
    with pytest.raises(ValueError, match="another job"):
        sray.encode(scifact_1500, out, "minilm", num_actors=2, num_shards=4, progress=False)

    # One index from the shard folder answers SciFact's test queries like the one built
    # by encoding.
    from_shards = tmp_path / "idx-shards"
    encoded = tmp_path / "idx-encoded"
    cli("index", scifact_1500, "--out", from_shards, "--dense", "minilm", "--dense-vectors", out)
    cli("index", scifact_1500, "--out", encoded, "--dense", "minilm")
    ia, ib = seine.Index.open(from_shards), seine.Index.open(encoded)
    queries = scifact_test_queries()
    assert len(queries) == 300
    for q in queries:
        ha = ia.search(q, k=10, retriever="dense", fields=False)
        hb = ib.search(q, k=10, retriever="dense", fields=False)
        assert [h["id"] for h in ha] == [h["id"] for h in hb], q
        assert np.allclose([h["score"] for h in ha], [h["score"] for h in hb], atol=1e-5)


def test_sparse_shards_and_dataset_source(local_ray, slice_docs, tmp_path):
    ds = ray.data.from_items(slice_docs)
    m = sray.encode(ds, tmp_path / "sp", "splade-tiny", kind="sparse", num_actors=2,
                    shard_size=100, progress=False)
    assert m["complete"] and m["rows"] == len(slice_docs) and len(m["shards"]) >= 4
    enc = seine.Encoder("splade-tiny", kind="sparse")
    ref = tmp_path / "ref.parquet"
    enc.write_parquet(ref, slice_docs)
    import pyarrow.parquet as pq

    want = {r["id"]: dict(zip(r["terms"], r["weights"])) for r in pq.read_table(ref).to_pylist()}
    got = {}
    for f in (tmp_path / "sp").glob("sparse-*.parquet"):
        assert pq.read_schema(f) == pq.read_schema(ref)
        for r in pq.read_table(f).to_pylist():
            got[r["id"]] = dict(zip(r["terms"], r["weights"]))
    assert got.keys() == want.keys()
    for i, w in want.items():
        assert got[i].keys() == w.keys() and all(abs(got[i][t] - w[t]) < 1e-5 for t in w)


def test_bad_arguments(local_ray, tmp_path):
    with pytest.raises(ValueError, match="kind"):
        sray.encode(SCIFACT, tmp_path / "x", "minilm", kind="colbert")
    with pytest.raises(ValueError, match="at least 1"):
        sray.encode(SCIFACT, tmp_path / "x", "minilm", num_actors=0)
    with pytest.raises(FileNotFoundError):
        sray.encode(tmp_path / "missing.jsonl", tmp_path / "y", "minilm")


def test_multi_shards_index_like_encoding(local_ray, slice_corpus, tmp_path):
    out = tmp_path / "tok"
    m = sray.encode(slice_corpus, out, "minilm", kind="multi", num_actors=2, num_shards=4,
                    progress=False)
    assert m["complete"] and m["rows"] == 400 and len(m["shards"]) == 4
    a, b = tmp_path / "a", tmp_path / "b"
    cli("index", slice_corpus, "--out", a, "--multi", "minilm", "--multi-vectors", out)
    cli("index", slice_corpus, "--out", b, "--multi", "minilm")
    ia, ib = seine.Index.open(a), seine.Index.open(b)
    for q in ["white matter development in newborns", "vitamin D and cancer"]:
        ha = ia.search(q, k=10, retriever="bm25", rerank="maxsim")
        hb = ib.search(q, k=10, retriever="bm25", rerank="maxsim")
        assert [h["id"] for h in ha] == [h["id"] for h in hb]
        assert np.allclose([h["score"] for h in ha], [h["score"] for h in hb], atol=1e-3)
