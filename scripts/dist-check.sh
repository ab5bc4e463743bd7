#!/usr/bin/env bash
# scripts/dist-check.sh — `make dist-check`: reproducibility. Two clean
# clones of HEAD at different paths each run scripts/dist.sh; every
# artifact must be byte-identical (signatures are compared only when
# IZWI_SIGNING_KEY_FILE is set: an ephemeral key differs per run). The two
# builds share the Go build cache, so this proves the packaging and link
# steps deterministic and the build independent of the checkout path;
# compiler determinism is Go's own guarantee.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/izwi-dist-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
for n in one two-at-a-longer-path; do
  git clone -q --no-local . "$work/$n"
  (cd "$work/$n" && DIST_DIR="$work/out-$n" scripts/dist.sh >"$work/$n.log" 2>&1) ||
    { tail -30 "$work/$n.log" >&2; exit 1; }
done
a="$work/out-one" b="$work/out-two-at-a-longer-path"
n=0
for f in "$a"/*; do
  name=$(basename "$f")
  case "$name" in
    *.minisig|izwi-ephemeral.pub) [ -n "${IZWI_SIGNING_KEY_FILE:-}" ] || continue ;;
  esac
  if ! cmp -s "$f" "$b/$name"; then
    echo "dist-check: $name differs between two builds of $(git rev-parse --short HEAD)" >&2
    exit 1
  fi
  echo "  identical: $name ($(sha256sum < "$f" | cut -c1-16)…)"
  n=$((n + 1))
done
[ "$n" -ge 6 ] || { echo "dist-check: only $n artifacts compared" >&2; exit 1; }
echo "dist-check: $n artifacts byte-identical across two builds"
