package chain

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/deepgram"
	"github.com/izwi-speech/izwi/internal/speech/deepgram/dgtest"
)

// BenchmarkFailover measures the failover gap a live session sees: audio
// goes in real time (100 ms frames, 100 ms apart) to a chain of the
// Deepgram double and local PocketSphinx; mid-utterance the double fails;
// gap_ms is the wall time from the fault to the next result with words
// (from the fallback, replay included). Each fault reports p50 and p95
// over b.N rounds. open_ms is how long the local fallback takes to open a
// stream (it is opened on demand, not kept fed).
func BenchmarkFailover(b *testing.B) {
	r := newRig(b, Config{Stall: DefaultStall, ProbeMin: time.Hour})
	samples, _ := dgtest.Speech(b, shortID)
	frame, half := 1600, len(samples)/2/1600*1600
	for _, fault := range []dgtest.Fault{dgtest.FaultReset, dgtest.FaultDropMid, dgtest.FaultMalformed, dgtest.FaultStall} {
		b.Run(fault.String(), func(b *testing.B) {
			var gaps, opens []time.Duration
			for b.Loop() {
				r.dbl.SetFault(dgtest.FaultNone)
				s := r.open(b, false)
				s.feed(samples[:half], 100*time.Millisecond)
				r.dbl.SetFault(fault)
				// The rest of the utterance, then silence: a stall is only
				// seen after Stall, possibly once the speaker has stopped.
				rest := append(slices.Clone(samples[half:]), make([]float32, 4*16000)...)
				start, got := time.Now(), false
				for off := 0; off < len(rest) && !got; off += frame {
					rs, err := s.st.Accept(context.Background(), rest[off:min(off+frame, len(rest))])
					if err != nil {
						b.Fatal(err)
					}
					for _, res := range rs {
						if res.Text != "" && res.Engine == "pocketsphinx" {
							got = true
						}
					}
					if !got {
						time.Sleep(100 * time.Millisecond)
					}
				}
				if got {
					gaps = append(gaps, time.Since(start))
				}
				s.st.Close()
				t0 := time.Now()
				st, err := r.local.NewStream(context.Background(), speech.StreamOptions{})
				if err != nil {
					b.Fatal(err)
				}
				opens = append(opens, time.Since(t0))
				st.Close()
			}
			if len(gaps) == 0 {
				b.Fatal("no result after any fault")
			}
			b.ReportMetric(pct(gaps, 50), "gap_p50_ms")
			b.ReportMetric(pct(gaps, 95), "gap_p95_ms")
			b.ReportMetric(pct(opens, 50), "open_p50_ms")
			b.ReportMetric(float64(len(gaps))/float64(b.N), "rounds_with_result")
		})
	}
}

func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[(len(s)-1)*p/100]) / float64(time.Millisecond)
}

// BenchmarkCatchUp measures catch-up speed against the double: 11.7 s of
// outage audio sealed as a live stream would hold it, then unsealed and
// re-transcribed by the primary, through its pre-recorded API (files) or a
// stream fed as fast as it takes audio (stream). x_realtime is audio
// seconds per wall second; seal_x_realtime is the chain's own share
// (sealing and unsealing only). engine-direct is PocketSphinx (the engine
// behind the double) transcribing the same audio with no network or
// sealing, for the side-by-side ratio.
func BenchmarkCatchUp(b *testing.B) {
	key, file := dgtest.CanaryKey(b)
	dbl := dgtest.New(b, dgtest.PocketSphinx(b, 2), key)
	cfg := deepgram.Config{URL: dbl.URL, APIKeyFile: file, FlushTimeout: time.Minute}
	rec, err := deepgram.New(cfg, secrets.Source{})
	if err != nil {
		b.Fatal(err)
	}
	files, err := deepgram.NewTranscriber(cfg, secrets.Source{})
	if err != nil {
		b.Fatal(err)
	}
	samples, _ := dgtest.Speech(b, "2412-153948-0000")
	audio := speech.SamplesToDuration(len(samples), 16000)
	for _, c := range []struct {
		name string
		tr   speech.Transcriber
	}{{"files", files}, {"stream", speech.StreamTranscriber(rec)},
		// The engine behind the double, driven directly: the ceiling.
		{"engine-direct", speech.StreamTranscriber(dgtest.PocketSphinx(b, 1))}} {
		b.Run(c.name, func(b *testing.B) {
			var total, sealing time.Duration
			for b.Loop() {
				t0 := time.Now()
				k, err := newSealed(int64(len(samples)))
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < len(samples); off += 1600 {
					if err := k.add(int64(off), samples[off:min(off+1600, len(samples))]); err != nil {
						b.Fatal(err)
					}
				}
				back, _, err := k.open()
				k.drop()
				if err != nil {
					b.Fatal(err)
				}
				sealing += time.Since(t0)
				if _, err := c.tr.Transcribe(context.Background(), back, speech.TranscribeOptions{}); err != nil {
					b.Fatal(err)
				}
				total += time.Since(t0)
			}
			b.ReportMetric(audio.Seconds()*float64(b.N)/total.Seconds(), "x_realtime")
			b.ReportMetric(audio.Seconds()*float64(b.N)/sealing.Seconds(), "seal_x_realtime")
		})
	}
}
