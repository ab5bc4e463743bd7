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
// after the idle decoders are freed (issue 14: ≤ 150 MiB idle), the
// latter split into private (anonymous) memory and file pages (the
// binary, libraries and mapped models: page cache, shared with every
// process mapping the same files).
//
//	go test ./cmd/izwi -run '^$' -bench StartToReady -benchtime 3x
func BenchmarkStartToReady(b *testing.B) {
	env := []string{"IZWI_MODELS_DIR=" + importVAD(b, false)}
	var ready, rss3, rssIdle, anonIdle, fileIdle []float64
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
		rss3 = append(rss3, procStatusMiB(b, s.cmd.Process.Pid)["VmRSS"])
		time.Sleep(32 * time.Second) // idle decoders are freed after 30 s
		st := procStatusMiB(b, s.cmd.Process.Pid)
		rssIdle, anonIdle, fileIdle = append(rssIdle, st["VmRSS"]), append(anonIdle, st["RssAnon"]), append(fileIdle, st["RssFile"])
		s.stop(b)
		b.StartTimer()
	}
	b.ReportMetric(median(ready), "start→ready-s")
	b.ReportMetric(median(rss3), "MiB-RSS-3s")
	b.ReportMetric(median(rssIdle), "MiB-RSS-idle")
	b.ReportMetric(median(anonIdle), "MiB-anon-idle")
	b.ReportMetric(median(fileIdle), "MiB-file-idle")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIdleMemoryByEngine is the breakdown of the idle figure above:
// `izwi serve` with no engine, then adding the default engines one role
// at a time, all started at once and read 35 s after ready (when idle
// decoders are freed). Each sub-benchmark reports the private (anonymous)
// and file-backed RSS of its server; the difference between two rows is
// what that role costs at idle.
//
//	go test ./cmd/izwi -run '^$' -bench IdleMemoryByEngine -benchtime 1x
func BenchmarkIdleMemoryByEngine(b *testing.B) {
	off := func(roles ...string) []string {
		var env []string
		for _, r := range roles {
			env = append(env, "IZWI_"+r+"_ENGINE=off")
		}
		return env
	}
	sets := []struct {
		name string
		env  []string
	}{
		{"none", off("ASR", "TRANSCRIBE", "TTS", "VAD")},
		{"vad", off("ASR", "TRANSCRIBE", "TTS")},
		{"vad+tts", off("ASR", "TRANSCRIBE")},
		{"vad+tts+transcribe", off("ASR")},
		{"default", nil},
	}
	models := "IZWI_MODELS_DIR=" + importVAD(b, false)
	for range b.N {
		servers := make([]*server, len(sets))
		for i, set := range sets {
			servers[i] = startServe(b, append(set.env, models, "IZWI_DATA_DIR="+b.TempDir()))
		}
		time.Sleep(35 * time.Second) // idle decoders are freed after 30 s
		for i, set := range sets {
			st := procStatusMiB(b, servers[i].cmd.Process.Pid)
			servers[i].stop(b)
			b.Run(set.name, func(b *testing.B) {
				b.ReportMetric(st["RssAnon"], "MiB-anon-idle")
				b.ReportMetric(st["RssFile"], "MiB-file-idle")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func median(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }

// procStatusMiB reads a process's VmRSS, RssAnon and RssFile from /proc,
// in MiB.
func procStatusMiB(tb testing.TB, pid int) map[string]float64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if k := strings.TrimSuffix(f[0], ":"); k == "VmRSS" || k == "RssAnon" || k == "RssFile" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				tb.Fatal(err)
			}
			out[k] = kb / 1024
		}
	}
	if len(out) != 3 {
		tb.Fatalf("pid %d: /proc status lacks VmRSS, RssAnon or RssFile", pid)
	}
	return out
}
