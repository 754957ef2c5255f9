"""PyTorch CPU encoding speed, the peer of `seine bench encode` (same model folder,
texts, threads and max length):

  dense:  sentence-transformers `encode` (batch 32, length-sorted, as it does by default)
  splade: transformers BertForMaskedLM, log(1 + relu(logits)) max-pooled over the mask

Throughput over the first N documents of a BEIR corpus, or --latency: the split's
queries one at a time (p50/p99 over every pass).

    /tmp/st/bin/python scripts/bench_encode_st.py ../shared/datasets/scifact --docs 2000
    /tmp/st/bin/python scripts/bench_encode_st.py ../shared/datasets/scifact --latency --threads 1
"""
import argparse
import csv
import json
import os
import statistics
import time

import torch


def load_texts(args):
    if args.latency:
        judged = set()
        with open(os.path.join(args.dataset, "qrels", f"{args.split}.tsv")) as f:
            for row in csv.reader(f, delimiter="\t"):
                if row and row[0] != "query-id":
                    judged.add(row[0])
        texts = []
        with open(os.path.join(args.dataset, "queries.jsonl")) as f:
            for line in f:
                q = json.loads(line)
                if q["_id"] in judged:
                    texts.append(q["text"])
        return texts
    texts = []
    with open(os.path.join(args.dataset, "corpus.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            texts.append((d.get("title", "") + " " + d["text"]).strip())
            if len(texts) == args.docs:
                break
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--kind", choices=["dense", "splade"], default="dense")
    ap.add_argument("--model")
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model_dir = args.model or ("models/minilm" if args.kind == "dense" else "models/splade-tiny")
    texts = load_texts(args)

    if args.kind == "dense":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_dir, device="cpu")
        tok, max_len = model.tokenizer, model.max_seq_length

        def encode(batch):
            return model.encode(batch, batch_size=32)
    else:
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(model_dir)
        mlm = AutoModelForMaskedLM.from_pretrained(model_dir).eval()
        max_len = 512

        def encode(batch):
            out = []
            # Length-sorted batches of 8, as sentence-transformers sorts (less padding;
            # batches of 32 × 512 × 30,522 logits take gigabytes).
            batch = sorted(batch, key=len, reverse=True)
            with torch.inference_mode():
                for i in range(0, len(batch), 8):
                    enc = tok(batch[i:i + 8], padding=True, truncation=True, max_length=max_len,
                              return_tensors="pt")
                    logits = mlm(**enc).logits
                    w = torch.log1p(torch.relu(logits)) * enc["attention_mask"].unsqueeze(-1)
                    out.append(w.max(dim=1).values)
            return out

    tokens = sum(len(x) for x in tok(texts, truncation=True, max_length=max_len)["input_ids"])
    passes, lat = [], []
    if args.latency:
        for t in texts:
            encode([t])  # warm-up
        start = time.perf_counter()
        for _ in range(args.repeat):
            for t in texts:
                s = time.perf_counter()
                encode([t])
                lat.append((time.perf_counter() - s) * 1e3)
        passes.append((time.perf_counter() - start) / args.repeat)
    else:
        for _ in range(args.repeat):
            s = time.perf_counter()
            encode(texts)
            passes.append(time.perf_counter() - s)
    med = statistics.median(passes)
    lat.sort()
    res = {"bench": "pytorch", "kind": args.kind, "torch": torch.__version__, "texts": len(texts),
           "tokens": tokens, "threads": args.threads, "max_length": max_len, "median_s": med,
           "texts_per_s": len(texts) / med, "tokens_per_s": tokens / med}
    if args.latency:
        res["latency_ms_p50"] = lat[len(lat) // 2]
        res["latency_ms_p99"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
