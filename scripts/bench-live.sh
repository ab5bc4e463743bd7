#!/usr/bin/env bash
# bench-live.sh — live captions measured from outside the server, as a
# venue sees them (make bench calls it; never part of make test):
#
#   1. latency on a viewer WebSocket, audio paced at real time:
#      speech onset → first partial, end of speech → final (p50, p95)
#      over the 19 shared utterances (LibriSpeech and LibriVox);
#   2. fan-out: VIEWERS (default 10000) caption WebSockets on one session
#      of one node, opened by a load generator in a separate process:
#      publish → delivery time (p50, p99) and server RSS per viewer.
#
#   scripts/bench-live.sh                 # both
#   VIEWERS=2000 scripts/bench-live.sh    # a smaller fan-out
#   ONLY=latency|fanout scripts/bench-live.sh
#
# The engines are PocketSphinx (en-us) and Silero VAD from ../shared/models.
# Timings are wall clock; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

TD=${IZWI_TESTDATA:-../shared/testdata}
MODELS=${IZWI_MODELS:-../shared/models}
VIEWERS=${VIEWERS:-10000}
ONLY=${ONLY:-}
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "building izwi and izwi-loadgen..." >&2
go build -o "$tmp/izwi" ./cmd/izwi
go build -o "$tmp/izwi-loadgen" ./cmd/izwi-loadgen

# A fresh data dir; engines: PocketSphinx + Silero only (starts fast).
export IZWI_DATA_DIR="$tmp/data" IZWI_MODELS_DIR="$tmp/models"
export IZWI_ASR_ENGINE=pocketsphinx IZWI_VAD_ENGINE=sherpa IZWI_VAD_MODEL=silero-vad-v5 IZWI_TRANSCRIBE_ENGINE=off IZWI_TTS_ENGINE=off IZWI_SPEAKER_ENGINE=off
vad_dir=$(dirname "$(find "$MODELS" -name 'silero_vad*.onnx' | head -1)")
"$tmp/izwi" models import "$vad_dir" silero-vad-v5 >/dev/null
key=$("$tmp/izwi" keys create --name bench --scopes live.write,live.read 2>/dev/null)

# The server and the load generator each get 20000 descriptors.
ulimit -n 20000
"$tmp/izwi" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 2>"$tmp/serve.log" &
server_pid=$!
url=""
for _ in $(seq 600); do
  url=$(sed -n 's/.*"msg":"listening".*"url":"\([^"]*\)".*/\1/p' "$tmp/serve.log" | head -1)
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "bench-live: izwi serve did not start" >&2; cat "$tmp/serve.log" >&2; exit 1; }
echo "# izwi live bench $(date -u +%FT%TZ) on $(nproc) cores; server $url (pid $server_pid)"

mapfile -t WAVS < <(find "$TD" -name '*.wav' | sort)
if [ -z "$ONLY" ] || [ "$ONLY" = latency ]; then
  echo "## latency (viewer WebSocket, real-time audio, ${#WAVS[@]} utterances)"
  echo "\$ izwi-loadgen latency -url $url -key \$KEY ${WAVS[*]}"
  "$tmp/izwi-loadgen" latency -url "$url" -key "$key" "${WAVS[@]}"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = fanout ]; then
  wav=$(find "$TD" -name '1089-134686-0000.wav' | head -1)
  echo "## fan-out ($VIEWERS viewer WebSockets, one session, load generator in its own process)"
  echo "\$ izwi-loadgen fanout -url $url -key \$KEY -viewers $VIEWERS -pid $server_pid $wav"
  "$tmp/izwi-loadgen" fanout -url "$url" -key "$key" -viewers "$VIEWERS" -pid "$server_pid" "$wav"
fi
