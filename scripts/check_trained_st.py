"""Loads a model folder written by `seine train` in sentence-transformers and compares
its embeddings of the first N documents of a BEIR corpus with `seine embed`'s Parquet.

    python scripts/check_trained_st.py MODEL_DIR SEINE_PARQUET CORPUS_JSONL N
Prints the minimum and mean cosine; exits 1 when the minimum is below 0.9999.
"""
import json
import sys

import numpy as np
import pyarrow.parquet as pq
from sentence_transformers import SentenceTransformer

model_dir, parquet, corpus, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
docs = []
with open(corpus) as f:
    for line in f:
        d = json.loads(line)
        docs.append((d["_id"], f'{d.get("title", "")} {d["text"]}'.strip()))
        if len(docs) == n:
            break
table = pq.read_table(parquet).to_pydict()
seine = {i: np.asarray(e, dtype=np.float32) for i, e in zip(table["id"], table["embedding"])}
model = SentenceTransformer(model_dir, device="cpu")
st = model.encode([t for _, t in docs], batch_size=32, convert_to_numpy=True)
cos = []
for (doc_id, _), v in zip(docs, st):
    s = seine[doc_id]
    cos.append(float(v @ s / (np.linalg.norm(v) * np.linalg.norm(s))))
print(json.dumps({"model": model_dir, "docs": len(cos), "min_cosine": min(cos), "mean_cosine": sum(cos) / len(cos)}))
sys.exit(0 if min(cos) >= 0.9999 else 1)
