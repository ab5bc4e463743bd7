#!/usr/bin/env bash
# Runs every Go fuzz target in the module for $1 (default 30s) each.
# Crashers land in the package's testdata/fuzz/FuzzXxx/ and must be committed
# with the fix (go test then replays them on every `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
time_each=${1:-30s}
status=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"${line#*:}")
  pkg=./$(dirname "$file")
  echo "== $pkg $name ($time_each)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time_each" -fuzzminimizetime=3s "$pkg" || status=1
done < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' internal cmd | sed -E 's/^([^:]+):(.*)$/\1:\2/')
exit $status
