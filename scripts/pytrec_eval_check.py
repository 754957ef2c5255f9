"""Computes BEIR's measures with pytrec_eval for a TREC run file and BEIR qrels, the
way BEIR's EvaluateRetrieval.evaluate does (hits equal to the query id dropped unless
--keep-identical-ids), and prints per-query and mean measures as JSON, keyed like seine
(ndcg_at_10, map_at_10, recall_at_10, precision_at_10, mrr_at_10).

MRR@k is pytrec_eval's recip_rank on the run cut at k (trec_eval order: score
descending, then document id descending).

    python scripts/pytrec_eval_check.py qrels/test.tsv run.trec --ks 1,3,5,10,100,1000
"""
import argparse
import json

import pytrec_eval


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qrels")
    ap.add_argument("run")
    ap.add_argument("--ks", default="1,3,5,10,20,100,1000")
    ap.add_argument("--keep-identical-ids", action="store_true")
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]

    qrels = {}
    with open(args.qrels) as f:
        next(f)
        for line in f:
            q, d, g = line.rstrip("\n").split("\t")
            qrels.setdefault(q, {})[d] = int(g)
    run = {}
    with open(args.run) as f:
        for line in f:
            q, _, d, _, s, _ = line.split()
            run.setdefault(q, {})[d] = float(s)
    if not args.keep_identical_ids:
        for q, hits in run.items():
            hits.pop(q, None)

    kstr = ",".join(map(str, ks))
    measures = {f"ndcg_cut.{kstr}", f"map_cut.{kstr}", f"recall.{kstr}", f"P.{kstr}"}
    scores = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    rr = {}
    rr_eval = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
    for k in ks:
        cut = {}
        for q, hits in run.items():
            ranked = sorted(hits.items(), key=lambda x: (x[1], x[0]), reverse=True)[:k]
            cut[q] = dict(ranked)
        for q, m in rr_eval.evaluate(cut).items():
            rr.setdefault(q, {})[f"mrr_at_{k}"] = m["recip_rank"]

    per_query = {}
    for q, m in scores.items():
        out = {}
        for k in ks:
            out[f"ndcg_at_{k}"] = m[f"ndcg_cut_{k}"]
            out[f"map_at_{k}"] = m[f"map_cut_{k}"]
            out[f"recall_at_{k}"] = m[f"recall_{k}"]
            out[f"precision_at_{k}"] = m[f"P_{k}"]
        out.update(rr.get(q, {}))
        per_query[q] = out
    mean = {}
    for m in per_query.values():
        for key, v in m.items():
            mean[key] = mean.get(key, 0.0) + v / len(per_query)
    print(json.dumps({"per_query": per_query, "mean": mean}))


if __name__ == "__main__":
    main()
