#!/usr/bin/env bash
# bench-idle.sh — `izwi serve` with the default engines (PocketSphinx for
# the asr and transcribe roles, Flite, the Silero VAD) on a fresh data
# directory: start to ready, and resident memory 3 s and 35 s after ready
# (the transcribe role's start-up decoder is freed after 30 s idle).
# Issue-14 anchors in [ ]. Part of `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${IZWI_MODELS:-../shared/models}
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/izwi" ./cmd/izwi
export IZWI_DATA_DIR="$tmp/data" IZWI_MODELS_DIR="$tmp/models"
vad_dir=$(dirname "$(find "$MODELS" -name 'silero_vad*.onnx' | head -1)")
"$tmp/izwi" models import "$vad_dir" silero-vad-v5 >/dev/null

rss() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$server_pid/status"; }
start=$(date +%s.%N)
"$tmp/izwi" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 2>"$tmp/serve.log" &
server_pid=$!
for _ in $(seq 600); do
  grep -q '"msg":"listening"' "$tmp/serve.log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
  sleep 0.05
done
ready=$(date +%s.%N)
grep -q '"msg":"listening"' "$tmp/serve.log" || { echo "bench-idle: izwi serve did not start" >&2; exit 1; }
sleep 3
r3=$(rss)
sleep 32
r35=$(rss)
echo "\$ scripts/bench-idle.sh   # izwi serve, default engines, fresh data dir"
printf 'start-to-ready %.2f s [≤ 1.00]\n' "$(echo "$ready - $start" | bc)"
echo "idle RSS 3 s after ready ${r3} MiB [≤ 150]"
echo "idle RSS 35 s after ready ${r35} MiB [≤ 150]"
