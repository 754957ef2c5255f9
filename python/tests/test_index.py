"""seine.Index: build, search parity with `seine search`, writes, compaction."""

import json

import pytest
import seine

from conftest import cli

QUERIES = [
    "white matter development in newborns",
    "vitamin D deficiency and cancer risk",
    "stem cells regenerate tissue",
]


@pytest.fixture(scope="module")
def index(slice_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("idx") / "index"
    idx = seine.Index.build(slice_corpus, out, dense="minilm", multi="minilm", hnsw="off")
    assert len(idx) == 400
    assert idx.retrievers == ["bm25", "dense", "maxsim"]
    return idx


@pytest.mark.parametrize("retriever", ["bm25", "dense", "maxsim", "bm25+dense"])
def test_search_matches_cli(index, retriever):
    for q in QUERIES:
        out = json.loads(cli("search", index.path, q, "-k", "10", "--retriever", retriever,
                             "--json"))
        mine = index.search(q, k=10, retriever=retriever)
        assert [h["id"] for h in mine] == [h["id"] for h in out["hits"]]
        for a, b in zip(mine, out["hits"]):
            assert a["score"] == pytest.approx(b["score"], rel=1e-6, abs=1e-7)
            assert a["title"] == b["title"] and a["rank"] == b["rank"]
        if "+" in retriever:
            assert {s["retriever"] for h in mine for s in h["sources"]} == {"bm25", "dense"}


def test_rerank_and_multihop(index):
    out = json.loads(cli("search", index.path, QUERIES[0], "-k", "5", "--retriever",
                         "bm25+dense", "--rerank", "maxsim", "--json"))
    mine = index.search(QUERIES[0], k=5, retriever="bm25+dense", rerank="maxsim")
    assert [h["id"] for h in mine] == [h["id"] for h in out["hits"]]
    assert all(len(h["token_maxima"]) > 0 for h in mine)
    r = index.search(QUERIES[0], k=10, retriever="bm25", hops=2)
    assert set(r) == {"hits", "chain", "stopped_early"}
    assert 1 <= len(r["chain"]) <= 2 and r["chain"][0]["facts"]
    assert len(r["hits"]) == 10


def test_built_like_the_cli(slice_corpus, tmp_path, index):
    """An index built by `seine index` with the same settings answers the same."""
    out = tmp_path / "cli-index"
    cli("index", slice_corpus, "--out", out, "--dense", "minilm", "--hnsw", "off")
    other = seine.Index.open(out)
    for q in QUERIES:
        a = index.search(q, k=10, retriever="bm25+dense")
        b = other.search(q, k=10, retriever="bm25+dense")
        assert [h["id"] for h in a] == [h["id"] for h in b]


def test_add_delete_compact(slice_corpus, tmp_path):
    idx = seine.Index.build(slice_corpus, tmp_path / "w", dense="minilm", hnsw="off")
    doc = {"id": "new-1", "title": "Zebrafish fins",
           "text": "Zebrafish regrow amputated fins through blastema formation."}
    assert idx.add([doc]) == 1
    assert len(idx) == 401
    for r in ("bm25", "dense"):
        assert idx.search("zebrafish fin regrowth blastema", k=3, retriever=r)[0]["id"] == "new-1"
    assert idx.get("new-1")["text"] == doc["text"]
    victim = idx.search("zebrafish", k=5, retriever="bm25")[1]["id"]
    assert idx.delete([victim, "no-such-id"]) == 1
    assert len(idx) == 400 and idx.get(victim) is None
    idx.compact()
    assert len(idx) == 400
    assert idx.search("zebrafish fin regrowth blastema", k=1, retriever="dense")[0]["id"] == "new-1"
    again = seine.Index.open(idx.path)
    assert len(again) == 400 and again.get(victim) is None and again.get("new-1")
    # The CLI sees the compacted index too.
    out = json.loads(cli("search", idx.path, "zebrafish blastema", "-k", "1", "--retriever",
                         "bm25", "--json"))
    assert out["hits"][0]["id"] == "new-1"


def test_bad_arguments(index, tmp_path, slice_corpus):
    with pytest.raises(ValueError, match="unknown retriever"):
        index.search("x", retriever="splade")
    with pytest.raises(ValueError, match="retriever"):
        index.search("x", retriever="nonsense")
    with pytest.raises(ValueError, match="rerank"):
        index.search("x", rerank="sideways")
    with pytest.raises(ValueError, match="hops"):
        index.search("x", hops=9)
    with pytest.raises(FileNotFoundError):
        seine.Index.open(tmp_path / "nothing-here")
    with pytest.raises(ValueError, match="document 0"):
        index.add([{"title": "no id"}])
    with pytest.raises(seine.SeineError, match="exists"):
        seine.Index.build(slice_corpus, index.path)
    with pytest.raises(ValueError, match="dense_vectors needs dense"):
        seine.Index.build(slice_corpus, tmp_path / "x", dense_vectors=tmp_path)


def test_progress_lines_go_to_stderr(slice_corpus, tmp_path, capfd):
    seine.Index.build(slice_corpus, tmp_path / "a")
    err = capfd.readouterr().err
    assert "seine: indexed 400 documents in" in err, err
    seine.Index.build(slice_corpus, tmp_path / "b", progress=False)
    assert capfd.readouterr().err == ""


def test_per_call_bm25_and_ef_match_the_cli(index):
    """k1/b/ef are per-call settings (one SearchRequest): the same as `seine search
    --k1 --b --ef`, the index's own settings untouched for the next call."""
    q = QUERIES[1]
    default = index.search(q, k=10, retriever="bm25")
    out = json.loads(cli("search", index.path, q, "-k", "10", "--retriever", "bm25",
                         "--k1", "2.0", "--b", "0.1", "--json"))
    mine = index.search(q, k=10, retriever="bm25", k1=2.0, b=0.1)
    assert [h["id"] for h in mine] == [h["id"] for h in out["hits"]]
    for a, b in zip(mine, out["hits"]):
        assert a["score"] == pytest.approx(b["score"], rel=1e-6, abs=1e-7)
    assert [h["score"] for h in mine] != [h["score"] for h in default]
    again = index.search(q, k=10, retriever="bm25")
    assert [(h["id"], h["score"]) for h in again] == [(h["id"], h["score"]) for h in default]
    dense = index.search(q, k=10, retriever="dense", ef=16)
    assert [h["id"] for h in dense] == [h["id"] for h in index.search(q, k=10, retriever="dense")]
    for bad in ({"b": 1.5}, {"k1": -1.0}, {"ef": 0}):
        with pytest.raises(ValueError):
            index.search(q, retriever="bm25", **bad)
