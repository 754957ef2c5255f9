"""Loads a ColBERT folder written by `seine train --objective colbert` in PyLate and
compares its document token vectors with those seine stored in an index of the same
documents (`--multi MODEL --multi-dtype f32`).

    python scripts/check_trained_pylate.py MODEL_DIR INDEX_DIR CORPUS_JSONL N
Prints the minimum cosine over all token vectors; exits 1 below 0.9999 or when the
token counts differ.
"""
import glob
import json
import sys

import numpy as np
from pylate import models

model_dir, index, corpus, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
texts = []
with open(corpus) as f:
    for line in f:
        d = json.loads(line)
        texts.append(f'{d.get("title", "")} {d["text"]}'.strip())
        if len(texts) == n:
            break
emb = models.ColBERT(model_name_or_path=model_dir, device="cpu").encode(texts, is_query=False)
multi = sorted(glob.glob(f"{index}/gen-*/multi"))[-1]
dim = emb[0].shape[1]
tok = np.fromfile(f"{multi}/tokens.f32", dtype=np.float32).reshape(-1, dim)
off = np.fromfile(f"{multi}/offsets.u64", dtype=np.uint64)
worst, same_counts = 1.0, True
for i, e in enumerate(emb):
    s = tok[int(off[i]) : int(off[i + 1])]
    if s.shape != e.shape:
        same_counts = False
        continue
    cos = (s * e).sum(1) / (np.linalg.norm(s, axis=1) * np.linalg.norm(e, axis=1))
    worst = min(worst, float(cos.min()))
print(json.dumps({"model": model_dir, "docs": len(emb), "same_token_counts": same_counts, "min_cosine": worst}))
sys.exit(0 if same_counts and worst >= 0.9999 else 1)
