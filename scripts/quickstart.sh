#!/usr/bin/env bash
# Sets up and runs the main job: build seine (release), index the SciFact corpus
# (../shared/datasets/scifact), search it, and evaluate BM25 against its judgments.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SEINE_DATA:-../shared/datasets}
cargo build --release
SEINE=target/release/seine
$SEINE index "$DATA/scifact" --out indexes/scifact --overwrite
$SEINE search indexes/scifact "microstructural development of white matter in newborns" -k 5
$SEINE eval "$DATA/scifact" --split test --retriever bm25 --out results
