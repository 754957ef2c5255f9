"""seine.Encoder against the CLI's `seine embed` output."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import seine

from conftest import cli, read_vectors


def cosines(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_dense_encode_matches_cli_embed(slice_corpus, slice_docs, tmp_path):
    out = tmp_path / "cli.parquet"
    cli("embed", slice_corpus, "--model", "minilm", "--out", out)
    ref = read_vectors(out)
    enc = seine.Encoder("minilm")
    assert enc.kind == "dense" and enc.dim == 384
    vecs = enc.encode(slice_docs)
    assert vecs.dtype == np.float32 and vecs.shape == (len(slice_docs), 384)
    assert vecs.flags["C_CONTIGUOUS"]
    assert list(ref) == [d["id"] for d in slice_docs]
    c = cosines(vecs, np.stack([ref[d["id"]] for d in slice_docs]))
    assert c.min() >= 0.99999, c.min()
    # Strings give the same vectors as the documents' title + " " + text.
    texts = [f"{d['title']} {d['text']}".strip() for d in slice_docs[:20]]
    assert cosines(enc.encode(texts), vecs[:20]).min() >= 0.99999


def test_write_parquet_is_the_cli_schema(slice_corpus, slice_docs, tmp_path):
    out = tmp_path / "cli.parquet"
    cli("embed", slice_corpus, "--model", "minilm", "--out", out)
    mine = tmp_path / "py.parquet"
    assert seine.Encoder("minilm").write_parquet(mine, slice_docs) == len(slice_docs)
    assert pq.read_schema(mine) == pq.read_schema(out)
    a, b = read_vectors(mine), read_vectors(out)
    assert list(a) == list(b)
    assert cosines(np.stack(list(a.values())), np.stack(list(b.values()))).min() >= 0.99999


def test_sparse_encode_matches_cli_embed(slice_corpus, slice_docs, tmp_path):
    out = tmp_path / "splade.parquet"
    cli("embed", slice_corpus, "--sparse", "splade-tiny", "--out", out)
    t = pq.read_table(out)
    enc = seine.Encoder("splade-tiny", kind="sparse")
    m = enc.encode(slice_docs)  # scipy csr
    assert m.shape == (len(slice_docs), enc.dim) and m.dtype == np.float32
    vocab = {t: i for i, t in enumerate(enc.vocab)}
    ref = np.zeros(m.shape, dtype=np.float64)
    for row, (terms, weights) in enumerate(zip(t.column("terms").to_pylist(),
                                               t.column("weights").to_pylist())):
        for term, w in zip(terms, weights):
            ref[row, vocab[term]] = w
    assert t.column("id").to_pylist() == [d["id"] for d in slice_docs]
    assert cosines(m.toarray(), ref).min() >= 0.99999
    lists = enc.encode(slice_docs[:3], sparse_format="lists")
    for (ids, ws), row in zip(lists, m[:3].toarray()):
        assert np.array_equal(np.flatnonzero(row), ids) and np.allclose(row[ids], ws)


def test_multi_encode_gives_unit_token_vectors(slice_docs):
    enc = seine.Encoder("minilm", kind="multi")
    mats = enc.encode(slice_docs[:5])
    assert len(mats) == 5
    for m in mats:
        assert m.dtype == np.float32 and m.ndim == 2 and m.shape[1] == enc.dim
        assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-4)
    one = enc.encode(slice_docs[2:3])[0]
    assert np.allclose(one, mats[2], atol=1e-5)


def test_bad_arguments_raise_clear_exceptions():
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        seine.Encoder("no-such-model")
    with pytest.raises(ValueError, match=r"kind: .*expected dense, sparse or multi"):
        seine.Encoder("minilm", kind="bogus")
    enc = seine.Encoder("minilm")
    with pytest.raises(ValueError, match="side"):
        enc.encode(["x"], side="sideways")
    with pytest.raises(ValueError, match="document 1"):
        enc.encode(["fine", 42])
    with pytest.raises(ValueError, match="device"):
        seine.Encoder("minilm", device="tpu")
