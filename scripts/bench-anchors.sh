# bench-anchors.sh — sourced by bench.sh and bench-live.sh: anchors puts
# each issue-14 goal beside the figure that measures it (one line each;
# docs/benchmarks.md's issue-14 summary lists them, and
# cmd/izwi/bench_anchors_test.go checks the two agree), and the issue-19
# ratios beside theirs; loadavg prints the load average, to read beside
# the timings that follow it (the box may be shared).
loadavg() { echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
anchors() {
  sed -E \
    -e 's|^(live_final_p50 [0-9.]+ ms)$|\1 [≤ 300]|' \
    -e 's|^(live_final_p95 [0-9.]+ ms)$|\1 [≤ 600]|' \
    -e 's|^(live_first_partial_p50 [0-9.]+ ms)$|\1 [≤ 250]|' \
    -e 's|^(live_partial_gap_p95 [0-9.]+ ms)$|\1 [≤ 200]|' \
    -e 's|([0-9.-]+ live−file-WER-points)|\1 [≤ 1]|' \
    -e '\%^BenchmarkLiveStreams/% s|([0-9.]+ server/direct-ratio)|\1 [≥ 0.95]|' \
    -e 's|([0-9.-]+ MiB-anon/extra-decoder)|\1 [≤ 10]|' \
    -e 's|([0-9.-]+ MiB-anon/extra-stream)|\1 [≤ 2]|' \
    -e 's|([0-9.]+ MiB-RSS-idle)|\1 [≤ 150]|' \
    -e 's|([0-9.]+ start→ready-s)|\1 [≤ 1]|' \
    -e 's|^(live_fanout_rss_per_viewer(_end)? [0-9.]+ KiB)$|\1 [≤ 20]|' \
    -e 's|^(live_fanout_delivery_p99 [0-9.]+ ms)$|\1 [≤ 250]|' \
    -e '/^BenchmarkFanoutFrames/ s|([0-9.]+ p99-ms)|\1 [≤ 250]|' \
    -e '/^BenchmarkFanoutFrames/ s|([0-9.]+ heap-B/feed)|\1 [≤ 20480]|' \
    -e 's|([0-9.]+ (end→final\|end-cost\|rtf)-ratio)|\1 [within 5 %]|g'
}
