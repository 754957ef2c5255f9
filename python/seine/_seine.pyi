"""Type stubs of seine's native module (python/src/*.rs)."""

from os import PathLike
from typing import Any, Literal, Optional, Sequence, TypedDict, Union, overload

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, PathLike[str]]

class SeineError(Exception):
    """An error from seine's engine (the message is the CLI's)."""

class Document(TypedDict, total=False):
    id: str
    title: str
    text: str
    # Other keys (and a "metadata" dict's entries) are the document's metadata: what
    # filters read for the fields the index declares (Index.build(fields=...)).
    metadata: dict[str, Any]

class Source(TypedDict):
    retriever: str
    rank: int
    score: float

class Hit(TypedDict, total=False):
    rank: int
    id: str
    score: float
    title: Optional[str]
    text: Optional[str]
    sources: list[Source]
    token_maxima: list[float]
    metadata: dict[str, Any]

class Fact(TypedDict):
    id: str
    title: str
    sentence: int
    text: str
    score: float

class Hop(TypedDict):
    query: str
    retrieved: list[str]
    picks: list[str]
    facts: list[Fact]

class MultiHopResult(TypedDict):
    hits: list[Hit]
    chain: list[Hop]
    stopped_early: bool

class Encoder:
    """An encoder loaded as ``seine embed`` / ``seine index`` load it."""

    def __init__(
        self,
        model: str,
        kind: Literal["dense", "sparse", "multi"] = "dense",
        device: str = "cpu",
        sparse_top_k: Optional[int] = None,
        sparse_threshold: float = 0.0,
    ) -> None: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def dim(self) -> int:
        """Vector dimension (dense, multi) or vocabulary size (sparse)."""
    @property
    def vocab(self) -> list[str]: ...
    def encode(
        self,
        texts: Sequence[Union[str, Document]],
        side: Literal["query", "document"] = "document",
        sparse_format: Literal["csr", "lists"] = "csr",
    ) -> Any:
        """dense: float32[n, dim]; sparse: scipy.sparse.csr_matrix [n, vocab] or a
        list of (int32 term ids, float32 weights); multi: list of float32[tokens, dim]."""
    def write_parquet(self, path: _Path, docs: Sequence[Document]) -> int:
        """Encodes documents into a Parquet file in ``seine embed``'s schema (atomic)."""

class Index:
    @staticmethod
    def build(
        corpus: _Path,
        out: _Path,
        *,
        dense: Optional[str] = None,
        sparse: Optional[str] = None,
        multi: Optional[str] = None,
        bm25_mode: Literal["flat", "multifield"] = "flat",
        k1: Optional[float] = None,
        b: Optional[float] = None,
        hnsw: Literal["auto", "on", "off"] = "auto",
        dense_quantization: Literal["none", "int8", "binary"] = "none",
        multi_compression: Literal["none", "1bit", "2bit", "4bit"] = "none",
        sparse_top_k: Optional[int] = None,
        sparse_threshold: float = 0.0,
        dense_vectors: Optional[_Path] = None,
        sparse_vectors: Optional[_Path] = None,
        multi_vectors: Optional[_Path] = None,
        overwrite: bool = False,
        device: str = "cpu",
        progress: bool = True,
        fields: Optional[Sequence[str]] = None,
    ) -> "Index": ...
    @staticmethod
    def open(path: _Path, device: str = "cpu") -> "Index":
        """Opens an index read-only: nothing in it changes until the first ``add``,
        ``delete`` or ``compact``, which takes the index's writer lock (an error naming
        the holder when a server or another process writes it)."""
    @property
    def path(self) -> str: ...
    @property
    def retrievers(self) -> list[str]: ...
    def __len__(self) -> int: ...
    @overload
    def search(
        self,
        query: str,
        k: int = 10,
        *,
        retriever: Optional[str] = None,
        fusion: str = "rrf",
        weights: Optional[Sequence[float]] = None,
        rerank: Optional[Literal["maxsim", "flipr"]] = None,
        rerank_depth: int = ...,
        flipr_k: int = ...,
        hops: None = None,
        fields: bool = True,
        filter: Union[str, dict, None] = None,
        ef: Optional[int] = None,
        k1: Optional[float] = None,
        b: Optional[float] = None,
    ) -> list[Hit]: ...
    @overload
    def search(
        self,
        query: str,
        k: int = 10,
        *,
        retriever: Optional[str] = None,
        fusion: str = "rrf",
        weights: Optional[Sequence[float]] = None,
        rerank: Optional[Literal["maxsim", "flipr"]] = None,
        rerank_depth: int = ...,
        flipr_k: int = ...,
        hops: int,
        fields: bool = True,
        filter: Union[str, dict, None] = None,
        ef: Optional[int] = None,
        k1: Optional[float] = None,
        b: Optional[float] = None,
    ) -> MultiHopResult: ...
    def get(self, id: str) -> Optional[Document]: ...
    def add(self, docs: Sequence[Document]) -> int: ...
    def delete(self, ids: Sequence[str]) -> int: ...
    def compact(self) -> None: ...

def evaluate(
    dataset: _Path,
    *,
    split: str = "test",
    retriever: str = "bm25",
    dense: Optional[str] = None,
    sparse: Optional[str] = None,
    multi: Optional[str] = None,
    fusion: str = "rrf",
    weights: Optional[Sequence[float]] = None,
    rerank: Optional[Literal["maxsim", "flipr"]] = None,
    rerank_depth: int = ...,
    flipr_k: int = ...,
    bm25_mode: Literal["flat", "multifield"] = "flat",
    k1: Optional[float] = None,
    b: Optional[float] = None,
    depth: int = 1000,
    index: Optional[_Path] = None,
    out: _Path = "results",
    rebuild: bool = False,
    keep_identical_ids: bool = False,
    per_query: bool = False,
    return_run: bool = False,
    device: str = "cpu",
    progress: bool = True,
) -> Any:
    """Mean measures ({"ndcg_at_10": ...}); with return_run, (measures, run)."""

def evaluate_run(
    run: dict[str, dict[str, float]],
    qrels: dict[str, dict[str, int]],
    ignore_identical_ids: bool = True,
) -> dict[str, float]: ...
def read_qrels(path: _Path) -> dict[str, dict[str, int]]: ...
def read_trec_run(path: _Path) -> dict[str, dict[str, float]]: ...
def write_trec_run(run: dict[str, dict[str, float]], path: _Path, tag: str = "seine") -> None: ...
def read_corpus(path: _Path, start: int = 0, stop: Optional[int] = None) -> list[Document]: ...
def count_docs(path: _Path) -> int: ...
