package pocketsphinx

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// BenchmarkTranscribe transcribes all 19 shared files per iteration with
// the registered Transcriber (model loaded once, outside the timer).
// Metrics: audio-s/s (audio seconds per wall second) and RTF (its inverse).
func BenchmarkTranscribe(b *testing.B) {
	reg := speech.NewRegistry()
	Register(reg)
	tr, err := reg.Transcribers.New(context.Background(), speech.Spec{Engine: Name}, speech.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	var audio [][]float32
	var total time.Duration
	for _, u := range testdata.Utterances(b) {
		s := readWAV(b, u.WAV)
		audio = append(audio, s)
		total += speech.SamplesToDuration(len(s), 16000)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for _, s := range audio {
			if _, err := tr.Transcribe(context.Background(), s, speech.TranscribeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	wall := time.Since(start)
	speed := total.Seconds() * float64(b.N) / wall.Seconds()
	b.ReportMetric(speed, "audio-s/s")
	b.ReportMetric(1/speed, "RTF")
	b.ReportMetric(total.Seconds(), "audio-s/op")
}

// BenchmarkModelLoad measures loading one decoder (acoustic model,
// dictionary and the 27 MB language model), the cost of a pool miss.
func BenchmarkModelLoad(b *testing.B) {
	cfg, err := newConfig(context.Background(), speech.Spec{Engine: Name}, speech.Deps{}, false)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		d, err := newDecoder(cfg.args())
		if err != nil {
			b.Fatal(err)
		}
		d.free()
	}
}

// statusKiB reads a kB field ("VmRSS", "RssAnon") of /proc/self/status.
func statusKiB(b *testing.B, field string) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	b.Skipf("no %s", field)
	return 0
}

// BenchmarkDecoderMemory reports the memory each pooled decoder adds once
// it has decoded real speech, from opening 8 streams over 8 decoders and
// feeding each a file: RSS (which counts the memory-mapped language model
// once per decoder, though the page cache holds it once) and anonymous
// RSS (private memory, the real per-decoder cost).
func BenchmarkDecoderMemory(b *testing.B) {
	const n = 8
	u := testdata.Utterances(b)[8]
	samples := readWAV(b, u.WAV)
	for range b.N {
		runtime.GC()
		rss0, anon0 := statusKiB(b, "VmRSS"), statusKiB(b, "RssAnon")
		rec, err := New(context.Background(), speech.Spec{Engine: Name, Options: map[string]string{"decoders": strconv.Itoa(n)}}, speech.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		var sts []speech.Stream
		for range n {
			st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.Accept(samples); err != nil {
				b.Fatal(err)
			}
			if _, err := st.Flush(); err != nil {
				b.Fatal(err)
			}
			sts = append(sts, st)
		}
		rss1, anon1 := statusKiB(b, "VmRSS"), statusKiB(b, "RssAnon")
		for _, st := range sts {
			st.Close()
		}
		rec.Close()
		b.ReportMetric(float64(rss1-rss0)/1024/n, "MiB-RSS/decoder")
		b.ReportMetric(float64(anon1-anon0)/1024/n, "MiB-anon/decoder")
	}
}

// BenchmarkRealtimeStreams finds how many streams this machine keeps up
// with when each is fed 100 ms of audio every 100 ms, as live clients do:
// it tries 1, 2, 3, ... streams until one falls more than a second behind
// (or IZWI_RT_MAX is reached) and reports the last count that kept up.
// It runs in real time (about 12 s per step), so only with -benchtime 1x.
func BenchmarkRealtimeStreams(b *testing.B) {
	u := testdata.Utterances(b)[8] // 11.7 s
	samples := readWAV(b, u.WAV)
	limit := 16
	if v, err := strconv.Atoi(os.Getenv("IZWI_RT_MAX")); err == nil && v > 0 {
		limit = v
	}
	rec := newRec(b, map[string]string{"decoders": strconv.Itoa(limit)})
	for range b.N {
		best := 0
		for n := 1; n <= limit; n++ {
			lag := realtimeLag(b, rec, samples, n)
			b.Logf("%d streams: worst lag %v", n, lag)
			if lag > time.Second {
				break
			}
			best = n
		}
		b.ReportMetric(float64(best), "streams")
	}
}

// realtimeLag runs n streams at real time and returns the worst delay
// between a chunk falling due and Accept returning for it.
func realtimeLag(b *testing.B, rec *Recognizer, samples []float32, n int) time.Duration {
	const chunk = 1600
	// Open (and so load) every decoder before the clock starts.
	sts := make([]speech.Stream, n)
	for i := range sts {
		st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
		if err != nil {
			b.Fatal(err)
		}
		sts[i] = st
	}
	var mu sync.Mutex
	var worst time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for _, st := range sts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			for k, off := 0, 0; off < len(samples); k, off = k+1, off+chunk {
				due := start.Add(time.Duration(k+1) * 100 * time.Millisecond)
				time.Sleep(time.Until(due)) // pacing a live client, not waiting for results
				if _, err := st.Accept(samples[off:min(off+chunk, len(samples))]); err != nil {
					b.Error(err)
					return
				}
				lag := time.Since(due)
				mu.Lock()
				worst = max(worst, lag)
				mu.Unlock()
			}
			if _, err := st.Flush(); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	return worst
}
