#!/usr/bin/env bash
# `make bench`: every benchmark that backs a claim in docs/benchmarks.md,
# side by side with the engine used directly where one exists. Long-running;
# never part of `make test`. Output: stdout and bench-results/<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-results
out="bench-results/$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# izwi bench $(date -u +%FT%TZ) on $(nproc) cores, $(uname -m), $(go version | cut -d' ' -f3)"
  echo
  echo "## PocketSphinx: Izwi vs pocketsphinx_continuous (same files, same model)"
  scripts/bench-pocketsphinx.sh
  echo
  echo "## Go benchmarks"
  go test -run='^$' -bench=. -benchmem -benchtime="${BENCHTIME:-3x}" -timeout 30m \
    ./internal/audio/... ./internal/speech/... ./internal/wer/...
} 2>&1 | tee "$out"
echo "bench: results in $out"
