#!/usr/bin/env bash
# bench-live.sh — live captions measured from outside the server, as a
# venue sees them (make bench calls it; never part of make test):
#
#   1. latency on a viewer WebSocket, audio paced at real time:
#      speech onset → first partial, end of speech → final (p50, p95)
#      over the 19 shared utterances (LibriSpeech and LibriVox);
#   2. fan-out: VIEWERS (default 10000, then 50000) caption WebSockets on
#      one session of one node, opened by a load generator in a separate
#      process pinned to its own core (taskset -c 1; the server on core 0):
#      publish → delivery time (p50, p99), viewers dropped for falling
#      behind, and server RSS per viewer;
#   3. streams per engine (PocketSphinx, sherpa): real-time streams
#      sustained through a real izwi serve against the same engine driven
#      directly, alternating rounds, and the median ratio.
#
#   scripts/bench-live.sh                        # latency, 10,000 and 50,000 viewers
#   VIEWERS="2000" scripts/bench-live.sh         # one smaller fan-out
#   ONLY=latency|fanout|streams scripts/bench-live.sh
#   ROUNDS=9 ONLY=streams scripts/bench-live.sh   # more rounds per engine
#   IZWI_BIN=/path/to/izwi scripts/bench-live.sh  # another build (before/after)
#
# The viewer caps ([viewers] max_feeds, max_per_ip, max_per_session) are
# raised for the run to the largest VIEWERS (the defaults, 20000 / 16 /
# 5000, would refuse the load generator's one address), and both processes
# get `ulimit -n` of the largest VIEWERS + 4096 (as root the hard limit
# is raised too; otherwise it must already allow it). Past ~28,000
# viewers the load generator dials from several loopback addresses
# (127.0.0.1–127.0.0.N), as one address has only the ephemeral port range.
#
# The engines are PocketSphinx (en-us) and Silero VAD from ../shared/models.
# Timings are wall clock; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

TD=${IZWI_TESTDATA:-../shared/testdata}
MODELS=${IZWI_MODELS:-../shared/models}
VIEWERS=${VIEWERS:-10000 50000}
ONLY=${ONLY:-}
tmp=$(mktemp -d)
server_pid=""
# Every figure with an issue-14 goal gets its anchor beside it.
. scripts/bench-anchors.sh
exec 3>&1 > >(anchors >&3)
anchors_pid=$!
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
  exec >&-
  wait "$anchors_pid" 2>/dev/null || true
}
trap cleanup EXIT

echo "building izwi and izwi-loadgen..." >&2
if [ -n "${IZWI_BIN:-}" ]; then cp "$IZWI_BIN" "$tmp/izwi"; else go build ${BENCH_OVERLAY:+-overlay "$BENCH_OVERLAY"} -o "$tmp/izwi" ./cmd/izwi; fi
go build -o "$tmp/izwi-loadgen" ./cmd/izwi-loadgen

# A fresh data dir; engines: PocketSphinx + Silero only (starts fast).
export IZWI_DATA_DIR="$tmp/data" IZWI_MODELS_DIR="$tmp/models"
export IZWI_ASR_ENGINE=pocketsphinx IZWI_VAD_ENGINE=sherpa IZWI_VAD_MODEL=silero-vad-v5 IZWI_TRANSCRIBE_ENGINE=off IZWI_TTS_ENGINE=off IZWI_SPEAKER_ENGINE=off
vad_dir=$(dirname "$(find "$MODELS" -name 'silero_vad*.onnx' | head -1)")
"$tmp/izwi" models import "$vad_dir" silero-vad-v5 >/dev/null
key=$("$tmp/izwi" keys create --name bench --scopes live.write,live.read 2>/dev/null)

# The caps and descriptors the largest fan-out needs: each process holds
# one descriptor per viewer. Raising the hard limit needs root with
# CAP_SYS_RESOURCE (or LimitNOFILE= in a systemd unit, `nofile` in
# /etc/security/limits.conf); without it, fan-outs past the hard limit are
# reported as not run.
most=0
for n in $VIEWERS; do [ "$n" -gt "$most" ] && most=$n; done
fds=$((most + 4096))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$fds" ]; then
  ulimit -Hn "$fds" 2>/dev/null || fds=$hard
fi
ulimit -n "$fds"
export IZWI_VIEWERS_MAX_FEEDS=$most IZWI_VIEWERS_MAX_PER_IP=$most IZWI_VIEWERS_MAX_PER_SESSION=$most
# Server on core 0, load generator on core 1 (when there are two).
pin_server="" pin_loadgen=""
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then pin_server="taskset -c 0" pin_loadgen="taskset -c 1"; fi
# start_server [pin...]: izwi serve on a loopback port; sets url, server_pid.
start_server() {
  "$@" "$tmp/izwi" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 2>"$tmp/serve.log" &
  server_pid=$!
  url=""
  for _ in $(seq 600); do
    url=$(sed -n 's/.*"msg":"listening".*"url":"\([^"]*\)".*/\1/p' "$tmp/serve.log" | head -1)
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "bench-live: izwi serve did not start" >&2; cat "$tmp/serve.log" >&2; exit 1
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
if [ "$ONLY" != streams ]; then
  start_server $pin_server
  echo "# izwi live bench $(date -u +%FT%TZ) on $(nproc) cores; server $url (pid $server_pid)"
fi

mapfile -t WAVS < <(find "$TD" -name '*.wav' | sort)
if [ -z "$ONLY" ] || [ "$ONLY" = latency ]; then
  echo "## latency (viewer WebSocket, real-time audio, ${#WAVS[@]} utterances)"
  loadavg
  echo "\$ izwi-loadgen latency -url $url -key \$KEY ${WAVS[*]}"
  "$tmp/izwi-loadgen" latency -url "$url" -key "$key" "${WAVS[@]}"
  loadavg
fi
if [ -z "$ONLY" ] || [ "$ONLY" = fanout ]; then
  wav=$(find "$TD" -name '1089-134686-0000.wav' | head -1)
  for n in $VIEWERS; do
    if [ "$((n + 1024))" -gt "$fds" ]; then
      echo "## fan-out ($n viewer WebSockets): not run: needs ulimit -n of at least $((n + 1024)) in both processes; the hard limit here is $(ulimit -Hn) and cannot be raised (needs CAP_SYS_RESOURCE) [≤ 20 KiB per viewer, p99 ≤ 250 ms]"
      continue
    fi
    echo "## fan-out ($n viewer WebSockets, one session, load generator in its own process: ${pin_loadgen:-unpinned})"
    echo "\$ $pin_loadgen izwi-loadgen fanout -url $url -key \$KEY -viewers $n -pid $server_pid $wav"
    loadavg
    $pin_loadgen "$tmp/izwi-loadgen" fanout -url "$url" -key "$key" -viewers "$n" -pid "$server_pid" "$wav"
    loadavg
  done
fi
if [ -z "$ONLY" ] || [ "$ONLY" = streams ]; then
  # Streams per engine, side by side: N streams at once (N = the cores)
  # through a real izwi serve (ingest WebSocket → pipeline → viewer
  # WebSocket, no VAD, nothing dropped) and the same asr role, built from
  # the same settings, driven directly in a tight loop; ROUNDS rounds
  # alternating which side goes first; medians of each side and of the
  # per-round ratios, wall clock and CPU time (BenchmarkLiveStreams in
  # cmd/izwi/streams_bench_test.go says how each is taken). sherpa is the
  # small generated streaming model, not a production one.
  stop_server # the benchmark starts its own, one per engine
  echo "## streams per engine: through izwi serve vs the engine directly ($(nproc) at once, ${ROUNDS:-5} alternating rounds)"
  echo "\$ go test ./cmd/izwi/ -run '^\$' -bench LiveStreams -benchtime=${ROUNDS:-5}x"
  loadavg
  go test ./cmd/izwi/ -run '^$' -bench LiveStreams -benchtime="${ROUNDS:-5}x" -timeout 30m
  loadavg
fi
