#!/bin/sh
# Multi-hop tables (issue 18): single-hop vs 2/3 hops, before/after title links and
# named-first, on both shared multi-hop sets; one index per dataset, built on first use.
# Build first: cargo build --release. Results and logs in $OUT (default results/multihop).
set -e
B=${SEINE_BIN:-target/release/seine}
OUT=${OUT:-results/multihop}
mkdir -p $OUT
run() { # dataset name extra...
  ds=$1; name=$2; shift 2
  $B eval ../shared/datasets/$ds --multihop --retriever bm25+dense --fusion zscore --dense minilm --multi minilm \
    --index $OUT/idx-$ds --out $OUT/$ds-$name "$@" > $OUT/$ds-$name.log 2>&1
  grep -E "both-gold@10" $OUT/$ds-$name.log | sed "s/^/$ds $name: /"
}
for ds in ${DATASETS:-hotpotqa-distractor 2wikimultihopqa-distractor}; do
  run $ds old-h2 --hops 2 --hop-links 0 --named-first false
  run $ds links-only-h2 --hops 2 --named-first false
  run $ds new-h2 --hops 2
  run $ds new-h3 --hops 3
done
