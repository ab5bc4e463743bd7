#!/usr/bin/env bash
# `make bench`: every benchmark that backs a claim in docs/benchmarks.md,
# side by side with the engine used directly where one exists. Long-running;
# never part of `make test`. Output: stdout and bench-results/<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-results
out="bench-results/$(date -u +%Y%m%dT%H%M%SZ).txt"

# anchors puts each issue-14 goal beside its figure (and issue 19's).
. scripts/bench-anchors.sh
# firstpass keeps a test binary's first pass: internal/live's TestMain
# runs everything again on PostgreSQL (storetest.Main), benchmarks too,
# which would print each of its figures twice.
firstpass() { sed '/^=== storetest: /,$d'; }
{
  echo "# izwi bench $(date -u +%FT%TZ) on $(nproc) cores, $(uname -m), $(go version | cut -d' ' -f3)"
  echo
  echo "## PocketSphinx: Izwi vs pocketsphinx_continuous (same files, same model)"
  scripts/bench-pocketsphinx.sh
  echo
  echo "## Go benchmarks"
  go test -run='^$' -bench=. -benchmem -benchtime="${BENCHTIME:-3x}" -timeout 30m \
    ./internal/audio/... ./internal/speech/... ./internal/wer/... ./internal/speaker/... ./internal/vault/...
  echo
  echo "## Live captions in process: latency, pipeline vs the engine, fan-out to 10,000 and 50,000 feeds (issue 14 anchors in [ ])"
  loadavg
  go test ./internal/live/ -run '^$' -bench 'Latency|ConcurrentStreams' -benchtime=3x -timeout 20m | firstpass | anchors
  go test ./internal/live/ -run '^$' -bench Fanout -benchtime=100x -timeout 20m | firstpass | anchors
  echo
  echo "## Cluster roles: streams through a gateway and a worker vs --role all, caption delivery, takeover (issue 13)"
  go test ./internal/live/ -run '^$' -bench 'ClusterStreams' -benchtime=3x -timeout 20m | firstpass | sed -E 's/([0-9.]+ ratio)/\1 [≥ 0.9]/'
  go test ./internal/live/ -run '^$' -bench 'ClusterTakeover' -benchtime=8x -timeout 20m | firstpass | sed -E 's/([0-9.]+ takeover-p95-s)/\1 [≤ 5]/'
  go test ./internal/identify/ -run '^$' -bench RemoteEmbed -benchtime=200x
  echo
  echo "## izwi serve with the default engines: start to ready, idle memory (and per engine role); corpus WER live vs file (issue 14 anchors in [ ])"
  loadavg
  go test ./cmd/izwi/ -run '^$' -bench 'StartToReady|IdleMemoryByEngine' -benchtime=3x -timeout 20m | anchors
  go test ./cmd/izwi/ -run '^$' -bench LiveWER -benchtime=1x -timeout 20m | anchors
  echo
  echo "## PocketSphinx endpointing: file vs live profile; memory per decoder"
  loadavg
  # issue 19's WER goals beside the prepared-text cases (its CPU ratios
  # get theirs from anchors)
  go test ./internal/speech/pocketsphinx/ -run '^$' -bench 'Endpoint|DecoderMemory' -benchtime=1x -timeout 30m | anchors |
    sed -E -e 's/([0-9.]+ WER-ratio)/\1 [≤ 0.5]/' -e 's/(-?[0-9.]+ WER-points)/\1 [≤ +1]/'
  go test ./internal/speech/sherpa/ -run '^$' -bench StreamMemory -benchtime=1x | anchors
  echo
  echo "## WebRTC vs WebSocket ingest, alternating rounds: end of speech → final (wall and CPU), frame delivery"
  go test ./internal/rtc/ -run '^$' -bench EndOfSpeechToFinal -benchtime=10x -timeout 20m
  echo
  echo "## Live captions over sockets: viewer latency, 10,000- and 50,000-viewer fan-out, streams per engine (issue 14 anchors in [ ])"
  scripts/bench-live.sh
  echo
  echo "## OpenAI-compatible API vs the engines direct; chat proxy; converse turns; Deepgram streams"
  go test ./internal/openai/ -run '^$' -bench . -benchtime=3x -timeout 20m
  go test ./internal/chat/ -run '^$' -bench . -benchtime=500x -timeout 10m
  go test ./internal/converse/ -run '^$' -bench TurnLatency -benchtime=12x -timeout 20m
  go test ./internal/realtime/ -run '^$' -bench TurnLatency -benchtime=6x -timeout 20m
  go test ./internal/listen/ -run '^$' -bench BenchmarkStream -benchtime=5x -timeout 20m
  go test ./internal/listen/ -run '^$' -bench RefuseAtCapacity -benchtime=20x -timeout 10m
  echo
  echo "## Live translation: final → translated final on a viewer feed, translations per second per core"
  go test ./internal/translate/livetranslate/ -run '^$' -bench . -benchtime=20x -timeout 20m
  echo
  echo "## Deepgram failover: gap from fault to the next caption; catch-up speed against the double"
  go test ./internal/speech/chain/ -run '^$' -bench 'Failover|CatchUp' -benchtime=10x -timeout 20m
  echo
  echo "## Gateway: per-request cost of IP filter + auth + scope + quota"
  go test ./internal/api/ -run '^$' -bench 'AuthChain$' -benchtime=3s -count=3
  echo
  echo "## Authenticated req/s: SQLite vs PostgreSQL, with and without the verified-key cache"
  go test ./internal/api/ -run '^$' -bench 'RPSStore' -benchtime=3s -count=3
  echo
  echo "## Request rate across gateways: shared token bucket on PostgreSQL vs per process"
  go test ./internal/api/ -run '^$' -bench 'RPSSharedRate' -benchtime=3s -count=3
  echo
  echo "## NATS cluster (3 processes): publish on node 1 -> deliver on node 3, p50/p99, plain and secured (TLS 1.3 + NKeys) alternated"
  go test ./internal/bus/natstest/ -run '^$' -bench ClusterDelivery -benchtime=2000x -count=3 | sed -E 's|([0-9.]+ secured/plain-p50)|\1 [≤ 1.25]|'
} 2>&1 | tee "$out"
echo "bench: results in $out"
