"""sentence-transformers (PyTorch CPU) encoding speed on the first N documents of a
BEIR corpus, same model folder, threads and max length as `seine bench encode`.

    /tmp/st/bin/python scripts/bench_encode_st.py ../shared/datasets/scifact --docs 2000
"""
import argparse
import json
import os
import statistics
import time

import torch
from sentence_transformers import SentenceTransformer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--model", default="models/minilm")
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    texts = []
    with open(os.path.join(args.dataset, "corpus.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            texts.append((d.get("title", "") + " " + d["text"]).strip())
            if len(texts) == args.docs:
                break
    model = SentenceTransformer(args.model, device="cpu")
    tokens = sum(len(x) for x in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"])
    passes = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        model.encode(texts, batch_size=32)
        passes.append(time.perf_counter() - t)
    med = statistics.median(passes)
    print(json.dumps({"bench": "sentence-transformers", "torch": torch.__version__, "docs": len(texts),
                      "tokens": tokens, "threads": args.threads, "max_length": model.max_seq_length,
                      "median_s": med, "docs_per_s": len(texts) / med, "tokens_per_s": tokens / med}))


if __name__ == "__main__":
    main()
