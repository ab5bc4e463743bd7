#!/usr/bin/env bash
# bench-pocketsphinx.sh — Izwi's PocketSphinx engine vs the Debian CLI, side
# by side in one run, on the same 19 shared WAV files and the same model
# files. Prints a markdown table for docs/benchmarks.md.
#
#   scripts/bench-pocketsphinx.sh            # throughput, load time, memory
#   IZWI_BENCH_RT=1 scripts/bench-pocketsphinx.sh   # + live-stream capacity (slow)
#
# Timings are wall clock; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

TD=${IZWI_TESTDATA:-../shared/testdata}
M=/usr/share/pocketsphinx/model/en-us
MODEL=(-hmm "$M/en-us" -lm "$M/en-us.lm.bin" -dict "$M/cmudict-en-us.dict" -logfn /dev/null)
PKG=./internal/speech/pocketsphinx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for cmd in pocketsphinx_continuous pocketsphinx_batch sox soxi go; do
  command -v "$cmd" >/dev/null || { echo "bench-pocketsphinx: $cmd not found (scripts/setup.sh installs it)" >&2; exit 1; }
done
mapfile -t WAVS < <(find "$TD" -name '*.wav' | sort)
[ "${#WAVS[@]}" -eq 19 ] || { echo "bench-pocketsphinx: found ${#WAVS[@]} WAVs under $TD, want 19" >&2; exit 1; }
audio=$(soxi -DT "${WAVS[@]}")
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

echo "building the benchmark binary..." >&2
go test -c -o "$tmp/ps.test" "$PKG"

cpusecs() { echo "$1" | tail -1 | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } print s }'; }
minof() { awk -v a="$1" -v b="$2" 'BEGIN { print (b < a) ? b : a }'; }

# 1 and 4 alternate REPEAT times (default 2) and keep the best of each, so
# load from other processes skews neither side more than the other.
cli_wall=1e9
izwi_wall=1e9
for r in $(seq "${REPEAT:-2}"); do
  # 1. The CLI as a user runs it: one process per file (each loads the model).
  echo "round $r: pocketsphinx_continuous, one process per file..." >&2
  t0=$(now)
  # `times` in the subshell: its children's user and system CPU time.
  c=$(for w in "${WAVS[@]}"; do pocketsphinx_continuous -infile "$w" "${MODEL[@]}" >/dev/null; done; times)
  cli_wall=$(minof "$cli_wall" "$(calc "$(now) - $t0")")
  cli_cpu=$(minof "${cli_cpu:-1e9}" "$(cpusecs "$c")")
  # 4. Izwi: the registered Transcriber over the same files (model loaded
  # once, outside the timer).
  echo "round $r: izwi BenchmarkTranscribe..." >&2
  (cd "$PKG" && "$tmp/ps.test" -test.run '^$' -test.bench 'BenchmarkTranscribe$' -test.benchtime 1x) >"$tmp/izwi.txt"
  izwi_wall=$(minof "$izwi_wall" "$(awk '/^BenchmarkTranscribe/ { print $3 / 1e9 }' "$tmp/izwi.txt")")
  izwi_cpu=$(minof "${izwi_cpu:-1e9}" "$(awk -v a="$audio" '/^BenchmarkTranscribe/ { for (i = 1; i < NF; i++) if ($(i+1) == "audio-s/cpu-s") print a / $i }' "$tmp/izwi.txt")")
done

# 2. The CLI's fixed cost: the same command on 0.5 s of silence, best of 3.
sox -n -r 16000 -b 16 -c 1 "$tmp/silence.wav" trim 0 0.5
cli_load=999
cli_load_cpu=999
for _ in 1 2 3; do
  t0=$(now)
  c=$(pocketsphinx_continuous -infile "$tmp/silence.wav" "${MODEL[@]}" >/dev/null; times)
  cli_load=$(minof "$cli_load" "$(calc "$(now) - $t0")")
  cli_load_cpu=$(minof "$cli_load_cpu" "$(cpusecs "$c")")
done
cli_decode=$(calc "$cli_wall - 19 * $cli_load")
cli_decode_cpu=$(calc "$cli_cpu - 19 * $cli_load_cpu")

# 3. pocketsphinx_batch: one process, -ctl list. It decodes each file as one
# utterance (no endpointing), so its text is not the parity reference.
echo "pocketsphinx_batch -ctl..." >&2
: >"$tmp/ctl"
for w in "${WAVS[@]}"; do rel=${w#"$TD"/}; echo "${rel%.wav}" >>"$tmp/ctl"; done
t0=$(now)
pocketsphinx_batch -ctl "$tmp/ctl" -cepdir "$TD" -cepext .wav -adcin yes -adchdr 44 \
  -hyp "$tmp/batch.hyp" "${MODEL[@]}" >/dev/null 2>&1
batch_wall=$(calc "$(now) - $t0")

# Izwi model load (one decoder, mean of 3) and memory per decoder.
(cd "$PKG" && "$tmp/ps.test" -test.run '^$' -test.bench 'BenchmarkModelLoad$' -test.benchtime 3x) >"$tmp/load.txt"
izwi_load=$(awk '/^BenchmarkModelLoad/ { print $3 / 1e9 }' "$tmp/load.txt")
(cd "$PKG" && "$tmp/ps.test" -test.run '^$' -test.bench 'BenchmarkDecoderMemory$' -test.benchtime 1x) >"$tmp/mem.txt"
mem_rss=$(awk '/^BenchmarkDecoderMemory/ { for (i = 1; i < NF; i++) if ($(i+1) == "MiB-RSS/decoder") print $i }' "$tmp/mem.txt")
mem_anon=$(awk '/^BenchmarkDecoderMemory/ { for (i = 1; i < NF; i++) if ($(i+1) == "MiB-anon/decoder") print $i }' "$tmp/mem.txt")
rt="not measured (IZWI_BENCH_RT=1)"
if [ "${IZWI_BENCH_RT:-}" = 1 ]; then
  echo "izwi BenchmarkRealtimeStreams (about 12 s per stream count)..." >&2
  (cd "$PKG" && "$tmp/ps.test" -test.run '^$' -test.bench 'BenchmarkRealtimeStreams$' -test.benchtime 1x -test.v) >"$tmp/rt.txt"
  rt=$(awk '/^BenchmarkRealtimeStreams/ { for (i = 1; i < NF; i++) { if ($(i+1) == "streams") n = $i; if ($(i+1) == "p95-lag-ms") p = $i } } END { print n " (p95 lag " p " ms)" }' "$tmp/rt.txt")
fi

speed() { calc "$audio / $1"; }
cat <<TABLE

PocketSphinx on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), 19 files, $(calc "$audio") s of audio

| measure | pocketsphinx CLI | Izwi | ratio Izwi/CLI |
|---|---|---|---|
| one process per file, wall s (incl. 19 model loads) | $cli_wall | $(calc "$izwi_wall + $izwi_load") (1 load) | $(calc "($audio / ($izwi_wall + $izwi_load)) / ($audio / $cli_wall)") × throughput |
| decoding only, audio-s per wall-s | $(speed "$cli_decode") (wall − 19 × load) | $(speed "$izwi_wall") | $(calc "($audio / $izwi_wall) / ($audio / $cli_decode)") × throughput (goal ≥ 0.95) |
| decoding only, audio-s per CPU-s (steadier on a shared box) | $(speed "$cli_decode_cpu") (CPU − 19 × load CPU) | $(speed "$izwi_cpu") | $(calc "($audio / $izwi_cpu) / ($audio / $cli_decode_cpu)") × throughput (goal ≥ 0.95) |
| pocketsphinx_batch -ctl, one process, wall s | $batch_wall (whole-file utterances) | – | – |
| model load, s | $cli_load (CLI on 0.5 s silence) | $izwi_load (one decoder) | – |
| memory per decoder (= per open stream) | – | $mem_anon MiB private ($mem_rss MiB RSS) | – |
| live streams kept real time (100 ms chunks, worst lag ≤ 1 s) | – | $rt | – |
TABLE
