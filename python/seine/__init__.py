"""seine: retrieval and embedding engine (Python bindings).

    import seine
    enc = seine.Encoder("minilm")                      # dense, float32[n, 384]
    vecs = enc.encode(["white matter in newborns"], side="query")
    idx = seine.Index.build("scifact/", "idx", dense="minilm")
    hits = idx.search("white matter in newborns", k=10, retriever="bm25+dense")
    ndcg = seine.evaluate("scifact/", retriever="bm25")["ndcg_at_10"]

Models are folders or names under ``$SEINE_MODELS`` / ``./models`` (as for the CLI).
Cluster-scale encoding: :mod:`seine.ray` (needs ``ray[data]``).
"""

from ._seine import (
    Encoder,
    Index,
    SeineError,
    __version__,
    count_docs,
    evaluate,
    evaluate_run,
    read_corpus,
    read_qrels,
    read_trec_run,
    write_trec_run,
)

__all__ = [
    "Encoder",
    "Index",
    "SeineError",
    "__version__",
    "count_docs",
    "evaluate",
    "evaluate_run",
    "read_corpus",
    "read_qrels",
    "read_trec_run",
    "write_trec_run",
]
