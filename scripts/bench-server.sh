#!/usr/bin/env bash
# Load test of `seine serve` on loopback with oha (crates.io): for each retriever set
# the index has, concurrent clients POST /search with SciFact's queries (one per
# request, cycling) for a fixed time; prints QPS, p50 and p99 latency and the status
# codes. Then the overload check: a queue limit far below the offered concurrency must
# answer 429 (with Retry-After), never 5xx.
#
#   INDEX=<index dir> scripts/bench-server.sh
# Env: DURATION (default 15s), CONC (concurrent connections, default 8), QUERIES
# (default ../shared/datasets/scifact/queries.jsonl), RETRIEVERS (default: every single
# retriever of the index and their fusion, plus bm25 with a MaxSim rerank when the index
# has token vectors), SERVE_ARGS (extra `seine serve` flags, e.g. --workers 8), SEINE_BIN
# (a seine binary to measure instead of building target/release/seine).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${INDEX:?set INDEX to an index directory (e.g. one built with --dense minilm [--sparse splade-tiny])}"
DURATION=${DURATION:-15s}
CONC=${CONC:-8}
QUERIES=${QUERIES:-../shared/datasets/scifact/queries.jsonl}
OUT=${OUT:-bench-out/server}
mkdir -p "$OUT"

if ! command -v oha >/dev/null; then
  if [ ! -x bench-out/oha/bin/oha ]; then
    echo "bench-server: installing oha into bench-out/oha" >&2
    cargo install --locked --quiet oha --version 1.16.0 --root bench-out/oha
  fi
  PATH="$PWD/bench-out/oha/bin:$PATH"
fi
if [ -n "${SEINE_BIN:-}" ]; then
  BIN=$SEINE_BIN # a binary built elsewhere (e.g. an older commit, side by side)
else
  cargo build --release --quiet
  BIN=target/release/seine
fi

start_server() { # args: extra flags; sets PID and URL
  "$BIN" serve "$INDEX" --addr 127.0.0.1:0 "$@" >"$OUT/serve.out" 2>"$OUT/serve.err" &
  PID=$!
  for _ in $(seq 1 600); do
    if grep -q "listening on" "$OUT/serve.out" 2>/dev/null; then break; fi
    sleep 0.1
  done
  URL=$(grep -o 'http://[^ ]*' "$OUT/serve.out" | head -1)
  [ -n "$URL" ] || { echo "server did not start" >&2; cat "$OUT/serve.err" >&2; exit 1; }
}
stop_server() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap stop_server EXIT

start_server --max-in-flight 1024 ${SERVE_ARGS:-}
given=${RETRIEVERS:-}
RETRIEVERS=${RETRIEVERS:-$(curl -s "$URL/health" | python3 -c '
import json, sys
h = json.load(sys.stdin)
r = h["retrievers"]
out = list(r)
if len(r) > 1:
    out.append("+".join(r))
print(" ".join(out))
')}
has_multi=$(python3 -c "import json;print(1 if json.load(open('$INDEX/manifest.json')).get('multi') else 0)")
if [ -z "$given" ] && [ "$has_multi" = 1 ]; then RETRIEVERS="$RETRIEVERS bm25:maxsim"; fi

printf '%-28s %9s %10s %10s  %s\n' "retriever" "QPS" "p50 ms" "p99 ms" "status codes"
for spec in $RETRIEVERS; do
  r=${spec%%:*}
  rerank=""
  [ "$spec" != "$r" ] && rerank=${spec#*:}
  bodies="$OUT/bodies-${spec//[+:]/_}.jsonl"
  python3 - "$QUERIES" "$r" "$rerank" >"$bodies" <<'EOF'
import json, sys
path, retriever, rerank = sys.argv[1:4]
for line in open(path):
    q = json.loads(line)["text"]
    body = {"query": q, "k": 10, "retriever": retriever, "fields": False}
    if "+" in retriever:
        body["fusion"] = "zscore"
    if rerank:
        body["rerank"] = rerank
        body["rerank_depth"] = 100
    print(json.dumps(body))
EOF
  # Warm-up (page cache of memory-mapped vectors, allocator), not measured.
  oha -z 3s -c "$CONC" -m POST -H 'content-type: application/json' -Z "$bodies" \
    --no-tui --output-format quiet "$URL/search" >/dev/null
  oha -z "$DURATION" -c "$CONC" -m POST -H 'content-type: application/json' -Z "$bodies" \
    --no-tui --output-format json "$URL/search" >"$OUT/oha-${spec//[+:]/_}.json"
  python3 - "$OUT/oha-${spec//[+:]/_}.json" "$spec" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
print(f"{sys.argv[2]:<28} {s['requestsPerSec']:9.1f} {p['p50']*1000:10.2f} {p['p99']*1000:10.2f}  {codes}")
bad = sum(v for k, v in codes.items() if k.startswith("5"))
sys.exit(1 if bad else 0)
EOF
done
stop_server

# Overload: 4 requests may be queued or running; 64 clients.
start_server --max-in-flight 4
first=${RETRIEVERS%% *}
bodies="$OUT/bodies-${first//[+:]/_}.jsonl"
oha -z 10s -c 64 -m POST -H 'content-type: application/json' -Z "$bodies" \
  --no-tui --output-format json "$URL/search" >"$OUT/oha-overload.json"
python3 - "$OUT/oha-overload.json" "$first" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
codes = r.get("statusCodeDistribution", {})
five = sum(v for k, v in codes.items() if k.startswith("5"))
print(f"overload ({sys.argv[2]}, --max-in-flight 4, 64 clients, 10 s): {codes}; "
      f"{r['summary']['requestsPerSec']:.0f} answers/s; 5xx: {five}")
if five or not codes.get("429"):
    sys.exit("overload check failed: expected 429s and no 5xx")
EOF
curl -s "$URL/metrics" | grep -E '^seine_http_requests_total.*status="(429|5..)"' || true
