package pocketsphinx

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
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
	cpu0 := cpuTime(b)
	start := time.Now()
	for range b.N {
		for _, s := range audio {
			if _, err := tr.Transcribe(context.Background(), s, speech.TranscribeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	wall := time.Since(start)
	cpu := cpuTime(b) - cpu0
	speed := total.Seconds() * float64(b.N) / wall.Seconds()
	b.ReportMetric(total.Seconds()*float64(b.N)/cpu.Seconds(), "audio-s/cpu-s")
	b.ReportMetric(speed, "audio-s/s")
	b.ReportMetric(1/speed, "RTF")
	b.ReportMetric(total.Seconds(), "audio-s/op")
}

// cpuTime is the user+system CPU time this process has used, all threads:
// on a shared machine it is steadier than wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkModelLoad measures loading one decoder (acoustic model,
// dictionary and the 27 MB language model), the cost of a pool miss.
func BenchmarkModelLoad(b *testing.B) {
	cfg, err := newConfig(context.Background(), speech.Spec{Engine: Name}, speech.Deps{}, false)
	if err != nil {
		b.Fatal(err)
	}
	// own: a decoder loading every model file itself (before issue 14);
	// shared: one more decoder around the process's language model and
	// cut dictionary, as a pool loads them.
	b.Run("own", func(b *testing.B) {
		for range b.N {
			d, err := newDecoder(cfg.args(), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			d.free()
		}
	})
	b.Run("shared", func(b *testing.B) {
		lm, err := acquireLM(cfg.lm, cfg.args())
		if err != nil {
			b.Fatal(err)
		}
		defer lm.release()
		cut, err := lm.cut(cfg.dict)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			d, err := newDecoder(cfg.args(), lm, cut)
			if err != nil {
				b.Fatal(err)
			}
			d.free()
		}
	})
}

// BenchmarkDecoderMemory reports the private memory (anonymous RSS) of
// pooled decoders once they have decoded real speech, from opening 8
// streams over 8 decoders and feeding each a file: the first one with the
// recognizer's shared language model (/first), and each further one
// (/extra-decoder, the issue-14 figure).
func BenchmarkDecoderMemory(b *testing.B) {
	const n = 8
	samples := readWAV(b, testdata.Utterances(b)[8].WAV)
	for range b.N {
		base := speechtest.RSSAnonKiB(b)
		rec, err := New(context.Background(), speech.Spec{Engine: Name, Options: map[string]string{"decoders": strconv.Itoa(n)}}, speech.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		first, extra := speechtest.StreamMemory(b, rec, samples, n, base)
		rec.Close()
		b.ReportMetric(first, "MiB-anon/first")
		b.ReportMetric(extra, "MiB-anon/extra-decoder")
	}
}

// BenchmarkRealtimeStreams finds how many streams this machine keeps up
// with when each is fed 100 ms of audio every 100 ms, as live clients do:
// it tries 1, 2, 3, ... streams until one falls more than a second behind
// (or IZWI_RT_MAX is reached) and reports the last count that kept up.
// Each stream starts at a different point of the audio, so endpoints (where
// PocketSphinx runs its best-path search, a burst of a few hundred ms) do
// not all coincide. It runs in real time (about 12 s per stream count), so
// only with -benchtime 1x.
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
		var bestP95 time.Duration
		for n := 1; n <= limit; n++ {
			worst, p95 := realtimeLag(b, rec, samples, n)
			b.Logf("%d streams: worst lag %v, p95 %v", n, worst, p95)
			if worst > time.Second {
				break
			}
			best, bestP95 = n, p95
		}
		b.ReportMetric(float64(best), "streams")
		b.ReportMetric(float64(bestP95.Milliseconds()), "p95-lag-ms")
	}
}

// realtimeLag runs n streams at real time and returns the worst and 95th
// percentile delay between a chunk falling due and Accept returning for it.
func realtimeLag(b *testing.B, rec *Recognizer, samples []float32, n int) (time.Duration, time.Duration) {
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
	var lags []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for i, st := range sts {
		rot := (len(samples) / n * i) / chunk * chunk
		audio := append(append([]float32(nil), samples[rot:]...), samples[:rot]...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			for k, off := 0, 0; off < len(audio); k, off = k+1, off+chunk {
				due := start.Add(time.Duration(k+1) * 100 * time.Millisecond)
				time.Sleep(time.Until(due)) // pacing a live client, not waiting for results
				if _, err := st.Accept(context.Background(), audio[off:min(off+chunk, len(audio))]); err != nil {
					b.Error(err)
					return
				}
				lag := time.Since(due)
				mu.Lock()
				lags = append(lags, lag)
				mu.Unlock()
			}
			if _, err := st.Flush(context.Background()); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	slices.Sort(lags)
	return lags[len(lags)-1], lags[len(lags)*95/100]
}
