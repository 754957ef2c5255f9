#!/usr/bin/env bash
# Sets up and runs the main job: build seine (release), fetch the models, index SciFact
# (../shared/datasets/scifact) with every part seine has — BM25, MiniLM dense vectors in
# an HNSW graph, SPLADE-tiny impacts and MiniLM token vectors — search it with the best
# fusion and a MaxSim rerank, and evaluate BM25, the fusion and the rerank against the
# judgments. Encoders run on seine's native CPU backend; each step prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SEINE_DATA:-../shared/datasets}
start=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - start )) s since start)"; }
step "build"
cargo build --release
scripts/fetch-models.sh
SEINE=target/release/seine
IDX=indexes/scifact
step "index: bm25 + dense (minilm, HNSW) + splade (splade-tiny) + token vectors (minilm)"
$SEINE index "$DATA/scifact" --out $IDX --overwrite \
  --dense minilm --sparse splade-tiny --multi minilm
step "search: bm25+dense (z-score fusion), MaxSim rerank of the top 100"
$SEINE search $IDX "microstructural development of white matter in newborns" -k 5 \
  --retriever bm25+dense --fusion zscore --rerank maxsim
EVAL=(eval "$DATA/scifact" --split test --index $IDX --dense minilm --sparse splade-tiny --multi minilm --out results)
step "eval: bm25 (Pyserini 0.6789)"
$SEINE "${EVAL[@]}" --retriever bm25 | tail -3
step "eval: bm25+dense, z-score fusion"
$SEINE "${EVAL[@]}" --retriever bm25+dense --fusion zscore | tail -3
step "eval: bm25+dense+splade, z-score fusion"
$SEINE "${EVAL[@]}" --retriever bm25+dense+splade --fusion zscore | tail -3
step "eval: bm25, MaxSim rerank of the top 100"
$SEINE "${EVAL[@]}" --retriever bm25 --rerank maxsim --rerank-depth 100 | tail -3
step "done"
