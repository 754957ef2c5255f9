"""Metadata filters from Python: `fields=` at build, `filter=` (expression or dict) at
search, metadata on written documents, hits and `get`; errors name the field; the CLI
gives the same filtered hits."""

import json

import pytest

import seine
from conftest import SCIFACT, cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("filters") / "corpus.jsonl"
    with open(SCIFACT / "corpus.jsonl") as f, open(out, "w") as w:
        for i, line in enumerate(f):
            if i == 300:
                break
            d = json.loads(line)
            n = int(d["_id"])
            d["year"] = 2000 + n % 20
            d["metadata"] = {"kind": ["review", "trial"][n % 2]}
            w.write(json.dumps(d) + "\n")
    return out


def ok(hit):
    return hit["metadata"]["year"] >= 2010 and hit["metadata"]["kind"] == "trial"


def test_filter_expression_dict_written_docs_and_errors(corpus, tmp_path):
    idx = seine.Index.build(corpus, tmp_path / "idx", fields=["year:integer", "kind:keyword"],
                            progress=False)
    q = "cancer cells and immunotherapy"
    expr = 'year >= 2010 AND kind = "trial"'
    hits = idx.search(q, 15, filter=expr)
    assert len(hits) == 15 and all(ok(h) for h in hits)
    as_dict = {"and": [{"field": "year", "op": ">=", "value": 2010},
                       {"field": "kind", "in": ["trial"]}]}
    assert [h["id"] for h in idx.search(q, 15, filter=as_dict)] == [h["id"] for h in hits]
    cli_hits = json.loads(cli("search", idx.path, q, "-k", "15", "--retriever", "bm25",
                              "--filter", expr, "--json"))["hits"]
    assert [h["id"] for h in cli_hits] == [h["id"] for h in hits]

    idx.add([{"id": "new", "title": "Immunotherapy", "text": "cancer cells and immunotherapy",
              "year": 2030, "metadata": {"kind": "trial"}}])
    top = idx.search(q, 3, filter="year = 2030")
    assert [h["id"] for h in top] == ["new"]
    assert idx.get("new")["metadata"] == {"year": 2030, "kind": "trial"}

    with pytest.raises(ValueError, match='unknown field "yeer"'):
        idx.search(q, filter="yeer > 1")
    with pytest.raises(ValueError, match='field "year" is integer'):
        idx.search(q, filter={"field": "year", "op": "=", "value": "soon"})
    with pytest.raises(ValueError, match="filter"):
        idx.search(q, filter="year >>= 1")
    with pytest.raises(ValueError, match='"year"'):
        idx.add([{"id": "bad", "text": "x", "year": "soon"}])
