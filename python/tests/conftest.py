"""Shared fixtures: the CLI binary, datasets, models, a SciFact slice."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("SEINE_DATA", ROOT.parent / "shared" / "datasets")).resolve()
SCIFACT = DATA / "scifact"
os.environ.setdefault("SEINE_MODELS", str(ROOT / "models"))


def seine_bin() -> Path:
    """The CLI the tests compare against: $SEINE_BIN, else the test build, else release."""
    if "SEINE_BIN" in os.environ:
        return Path(os.environ["SEINE_BIN"])
    for p in (ROOT / "target" / "debug" / "seine", ROOT / "target" / "release" / "seine"):
        if p.exists():
            return p
    pytest.fail("no seine binary: run cargo build (or set SEINE_BIN)")


def cli(*args) -> str:
    """Runs the CLI; fails the test with its stderr when it fails."""
    r = subprocess.run([str(seine_bin()), *map(str, args)], capture_output=True, text=True,
                       cwd=ROOT)
    if r.returncode != 0:
        pytest.fail(f"seine {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r.stdout


def head_corpus(out: Path, n: int) -> Path:
    """The first `n` SciFact documents as a JSONL corpus at `out`."""
    with open(SCIFACT / "corpus.jsonl") as f, open(out, "w") as w:
        for i, line in enumerate(f):
            if i == n:
                break
            w.write(line)
    return out


@pytest.fixture(scope="session")
def slice_corpus(tmp_path_factory) -> Path:
    """The first 400 SciFact documents as a JSONL corpus."""
    return head_corpus(tmp_path_factory.mktemp("slice") / "corpus.jsonl", 400)


@pytest.fixture(scope="session")
def slice_docs(slice_corpus) -> list:
    docs = []
    with open(slice_corpus) as f:
        for line in f:
            d = json.loads(line)
            docs.append({"id": d["_id"], "title": d.get("title", ""), "text": d["text"]})
    return docs


@pytest.fixture(scope="session")
def scifact_1500(tmp_path_factory) -> Path:
    """The first 1,500 SciFact documents as a JSONL corpus (the Ray tests' corpus)."""
    return head_corpus(tmp_path_factory.mktemp("scifact1500") / "corpus.jsonl", 1500)


@pytest.fixture(scope="session")
def scifact_embed(scifact_1500) -> Path:
    """`seine embed` of those documents with MiniLM (single process)."""
    out = scifact_1500.with_name("minilm.parquet")
    cli("embed", scifact_1500, "--model", "minilm", "--out", out)
    return out


def scifact_test_queries() -> list:
    """SciFact's test queries (text)."""
    ids = {line.split("\t")[0] for line in open(SCIFACT / "qrels" / "test.tsv")}
    qs = [json.loads(line) for line in open(SCIFACT / "queries.jsonl")]
    return [q["text"] for q in qs if q["_id"] in ids]


def read_vectors(path) -> dict:
    """id -> vector of a dense Parquet file or shard folder (pyarrow)."""
    import numpy as np
    import pyarrow.parquet as pq

    p = Path(path)
    files = [p] if p.is_file() else sorted(p.glob("*.parquet"))
    out = {}
    for f in files:
        t = pq.read_table(f)
        for i, v in zip(t.column("id").to_pylist(), t.column("embedding").to_pylist()):
            assert i not in out, f"id {i} twice"
            out[i] = np.asarray(v, dtype=np.float32)
    return out
