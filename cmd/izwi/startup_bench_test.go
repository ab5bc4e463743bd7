package main

import (
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkStartToReady starts `izwi serve` with the default engines
// (PocketSphinx for live and file transcription, Flite, Silero VAD) on a
// fresh data directory and reports the time from exec to the first 200 on
// /readyz (issue 14: ≤ 1 s), and the server's RSS 3 s after ready and
// after the idle decoders are freed (issue 14: ≤ 150 MiB idle).
//
//	go test ./cmd/izwi -run '^$' -bench StartToReady -benchtime 3x
func BenchmarkStartToReady(b *testing.B) {
	env := []string{"IZWI_MODELS_DIR=" + importVAD(b, false)}
	var ready, rss3, rssIdle []float64
	for b.Loop() {
		start := time.Now()
		s := startServe(b, append(env, "IZWI_DATA_DIR="+b.TempDir()))
		for {
			resp, err := http.Get(s.url + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Since(start) > 2*time.Minute {
				b.Fatalf("not ready within 2 min\n%s", s.logs)
			}
			time.Sleep(5 * time.Millisecond)
		}
		ready = append(ready, time.Since(start).Seconds())
		b.StopTimer()
		time.Sleep(3 * time.Second)
		rss3 = append(rss3, vmRSSMiB(b, s.cmd.Process.Pid))
		time.Sleep(32 * time.Second) // idle decoders are freed after 30 s
		rssIdle = append(rssIdle, vmRSSMiB(b, s.cmd.Process.Pid))
		s.stop(b)
		b.StartTimer()
	}
	median := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
	b.ReportMetric(median(ready), "start→ready-s")
	b.ReportMetric(median(rss3), "MiB-RSS-3s")
	b.ReportMetric(median(rssIdle), "MiB-RSS-idle")
	b.ReportMetric(0, "ns/op")
}

// vmRSSMiB reads a process's resident set from /proc.
func vmRSSMiB(tb testing.TB, pid int) float64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb / 1024
		}
	}
	tb.Fatalf("no VmRSS for pid %d", pid)
	return 0
}
