#!/usr/bin/env bash
# Token-vector compression on SciFact: for none / 4bit / 2bit / 1bit (MiniLM token
# vectors, or MODEL=<folder> for a ColBERT head), the store's bytes per token and
# nDCG@10 on the test split as the MaxSim rerank of bm25+dense (z-score, top 100) and
# as the first stage (`--retriever maxsim`: PLAID on compressed stores, exhaustive
# MaxSim on the uncompressed one). Indexes are built once under indexes/.
#   scripts/eval-compression.sh [none,4bit,2bit,1bit]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SEINE_DATA:-../shared/datasets}
MODEL=${MODEL:-minilm}
LABEL=$(basename "$MODEL")
cargo build --release --quiet
scripts/fetch-models.sh >/dev/null
SEINE=${SEINE:-target/release/seine}
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) threads)"
printf "%-6s %12s %14s %12s %14s %10s %14s %10s\n" compression "B/token" "store MB" "vs f16" \
  "rerank nDCG" "rerank s" "maxsim nDCG" "maxsim s"
f16_bytes=""
for c in $(echo "${1:-none,4bit,2bit,1bit}" | tr ',' ' '); do
  idx=indexes/scifact-$LABEL-$c
  if [ ! -f "$idx/manifest.json" ]; then
    $SEINE index "$DATA/scifact" --out "$idx" --overwrite --dense minilm --multi "$MODEL" \
      --multi-compression "$c" >&2
  fi
  multi=$(ls -d "$idx"/gen-*/multi | tail -1)
  bytes=$(du -cb "$multi" | tail -1 | cut -f1)
  tokens=$(python3 -c "import json;print(json.load(open('$idx/manifest.json'))['multi']['tokens'])")
  if [ "$c" = none ]; then
    per=$(python3 -c "print('%.1f' % ($bytes / $tokens))"); f16_bytes=$bytes
  else
    codes=$(( $(stat -c %s "$multi/codes.bin") + $(stat -c %s "$multi/cids.u32") ))
    per=$(python3 -c "print('%.1f' % ($codes / $tokens))")
  fi
  ratio=$([ -n "$f16_bytes" ] && python3 -c "print('%.2fx' % ($f16_bytes / $bytes))" || echo -)
  ev() {
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$($SEINE eval "$DATA/scifact" --split test --index "$idx" --dense minilm --multi "$MODEL" \
      --multi-compression "$c" --out /tmp/seine-eval-compression "$@" 2>&1 | grep -o 'nDCG@10 [0-9.]*' | cut -d' ' -f2)
    t1=$(date +%s.%N)
    printf "%s %.1f" "$out" "$(python3 -c "print($t1-$t0)")"
  }
  read -r rr rs <<<"$(ev --retriever bm25+dense --fusion zscore --rerank maxsim)"
  read -r mr ms <<<"$(ev --retriever maxsim)"
  printf "%-6s %12s %14.1f %12s %14s %10s %14s %10s\n" "$c" "$per" "$(python3 -c "print($bytes/1e6)")" \
    "$ratio" "$rr" "$rs" "$mr" "$ms"
done
