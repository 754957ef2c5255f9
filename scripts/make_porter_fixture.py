"""Regenerates index/tests/data/porter_reference.tsv: word<TAB>stem pairs from the
SciFact vocabulary, stemmed by NLTK's Porter stemmer in MARTIN_EXTENSIONS mode (Martin
Porter's reference implementation, which Lucene's PorterStemmer follows).

    pip install nltk==3.9.1 && python3 scripts/make_porter_fixture.py
"""
import json
import pathlib
import re

from nltk.stem.porter import PorterStemmer

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root.parent / "shared/datasets/scifact/corpus.jsonl"
words = set()
for line in corpus.open(encoding="utf-8"):
    d = json.loads(line)
    words.update(re.findall(r"[a-z]+", (d["title"] + " " + d["text"]).lower()))
stemmer = PorterStemmer(mode=PorterStemmer.MARTIN_EXTENSIONS)
sample = sorted(words)[::4]
out = root / "index/tests/data/porter_reference.tsv"
out.write_text("".join(f"{w}\t{stemmer.stem(w, to_lowercase=False)}\n" for w in sample))
print(f"{len(sample)} pairs -> {out}")
