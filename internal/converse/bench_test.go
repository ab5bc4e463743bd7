package converse

import (
	"slices"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
)

// BenchmarkTurnLatency measures, with the real engines and an instant
// upstream double, the latency a user feels: from the arrival of the audio
// holding their last word to the first byte of reply audio. The question
// and the silence after it arrive in real time (100 ms every 100 ms), as
// from a microphone, so the endpointing wait is included.
// Reports p50 and p95 over b.N turns of one conversation.
func BenchmarkTurnLatency(b *testing.B) {
	e := loadEngines(b)
	up := chattest.New(chattest.Options{Reply: func(chattest.Request) string { return "Okay." }})
	defer up.Close()
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(b, up), Pace: 100})
	c := dial(b, serve(b, h), cfgMsg)
	c.until(evReady)
	q := say(b, e.syn, question)
	var eos, endpoint []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The question, then silence, 100 ms every 100 ms.
		audio := q
		tick := time.NewTicker(100 * time.Millisecond)
	wait:
		for {
			select {
			case <-tick.C:
				chunk := make([]float32, 1600)
				audio = audio[copy(chunk, audio):]
				c.speak(chunk, 0)
			case it := <-c.in:
				if it.err != nil {
					b.Fatal(it.err)
				}
				if it.ev.Type == evMetrics {
					if it.ev.Metrics.EndOfSpeechToFirstAudio <= 0 {
						b.Fatalf("turn %d sent no audio", it.ev.Turn)
					}
					eos = append(eos, it.ev.Metrics.EndOfSpeechToFirstAudio)
					endpoint = append(endpoint, it.ev.Metrics.EndpointToFirstAudio)
					break wait
				}
			}
		}
		tick.Stop()
	}
	b.StopTimer()
	slices.Sort(eos)
	slices.Sort(endpoint)
	pct := func(v []float64, p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	b.ReportMetric(pct(eos, 0.5), "p50-ms")
	b.ReportMetric(pct(eos, 0.95), "p95-ms")
	b.ReportMetric(pct(endpoint, 0.5), "endpoint-p50-ms")
	b.ReportMetric(pct(endpoint, 0.95), "endpoint-p95-ms")
	c.text(`{"type":"stop"}`)
}
