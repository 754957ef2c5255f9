"""seine.evaluate against `seine eval`, pytrec_eval and ranx."""

import re

import pytest
import seine

from conftest import SCIFACT, cli


@pytest.fixture(scope="module")
def bm25_eval(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    measures, run = seine.evaluate(SCIFACT, retriever="bm25", out=out, return_run=True,
                                   per_query=True)
    return out, measures, run


def test_evaluate_equals_cli(bm25_eval, tmp_path):
    out, measures, _ = bm25_eval
    stdout = cli("eval", SCIFACT, "--retriever", "bm25", "--out", tmp_path / "cli")
    ndcg = float(re.search(r"nDCG@10 ([0-9.]+)", stdout).group(1))
    recall = float(re.search(r"Recall@100 ([0-9.]+)", stdout).group(1))
    assert round(measures["ndcg_at_10"], 4) == ndcg
    assert round(measures["recall_at_100"], 4) == recall
    # Every measure of the CLI's results file, to the last bit.
    import json

    scores = json.loads((tmp_path / "cli" / "seine-bm25-flat" / "SciFact.json").read_text())
    scores = scores["scores"]["test"][0]
    shared = [k for k in measures if k in scores]
    assert len(shared) >= 28, shared
    for k in shared:
        assert measures[k] == scores[k], k
    # Pyserini's BM25 flat on SciFact (0.6789), as the CLI's own e2e test asserts.
    assert measures["ndcg_at_10"] == pytest.approx(0.6789, abs=5e-5)
    # The CLI reuses the index the Python call built (same settings, same place).
    assert "reusing index" in cli_stderr(out)


def cli_stderr(out):
    import subprocess

    from conftest import seine_bin

    r = subprocess.run([str(seine_bin()), "eval", str(SCIFACT), "--retriever", "bm25",
                        "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stderr


def clean(run, depth=1000):
    """BEIR's evaluation: hits equal to the query id dropped, `depth` kept."""
    out = {}
    for q, hits in run.items():
        kept = sorted(((d, s) for d, s in hits.items() if d != q), key=lambda x: (-x[1], x[0]))
        out[q] = dict(kept[:depth])
    return out


def test_run_and_qrels_interop_with_pytrec_eval_and_ranx(bm25_eval, tmp_path):
    _, measures, run = bm25_eval
    qrels = seine.read_qrels(SCIFACT / "qrels" / "test.tsv")
    assert set(run) == set(qrels)
    run = clean(run)
    import pytrec_eval

    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
    per_q = ev.evaluate(run)
    n = len(per_q)
    assert sum(v["ndcg_cut_10"] for v in per_q.values()) / n == pytest.approx(
        measures["ndcg_at_10"], abs=1e-9)
    assert sum(v["recall_100"] for v in per_q.values()) / n == pytest.approx(
        measures["recall_at_100"], abs=1e-9)
    # Per-query measures agree too.
    for q, v in per_q.items():
        assert measures["per_query"][q]["ndcg_at_10"] == pytest.approx(v["ndcg_cut_10"], abs=1e-9)

    # TREC files: written by seine, read by ranx and by seine.
    path = tmp_path / "run.trec"
    seine.write_trec_run(run, path, tag="bm25")
    assert _same_run(seine.read_trec_run(path), run)
    import ranx

    r = ranx.Run.from_file(str(path), kind="trec")
    qr = ranx.Qrels(qrels)
    assert ranx.evaluate(qr, r, "ndcg@10") == pytest.approx(measures["ndcg_at_10"], abs=1e-6)
    # seine's metrics on the same dicts.
    assert seine.evaluate_run(run, qrels)["ndcg_at_10"] == pytest.approx(
        measures["ndcg_at_10"], abs=1e-12)


def _same_run(a, b):
    return a.keys() == b.keys() and all(
        a[q].keys() == b[q].keys() and all(abs(a[q][d] - b[q][d]) < 1e-6 for d in a[q]) for q in a)


def test_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dataset"):
        seine.evaluate(SCIFACT.parent / "no-such-dataset")
    with pytest.raises(ValueError, match="retriever"):
        seine.evaluate(SCIFACT, retriever="bm26")
    with pytest.raises(ValueError, match="depth"):
        seine.evaluate(SCIFACT, depth=0)
    with pytest.raises(FileNotFoundError, match="test-nope"):
        seine.evaluate(SCIFACT, split="test-nope")
    # A malformed corpus: the CLI's message (file and line), and nothing built.
    bad = tmp_path / "bad"
    (bad / "qrels").mkdir(parents=True)
    (bad / "corpus.jsonl").write_text('{"_id": "d1", "text": "fine"}\n{"_id": "d2", "text": \n')
    (bad / "queries.jsonl").write_text('{"_id": "q1", "text": "fine"}\n')
    (bad / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    with pytest.raises(seine.SeineError, match=r"corpus.jsonl:line 2") as e:
        seine.evaluate(bad, out=tmp_path / "out")
    assert "nothing was written" in str(e.value)
    assert not (tmp_path / "out" / "indexes" / "bad-bm25-flat").exists()
