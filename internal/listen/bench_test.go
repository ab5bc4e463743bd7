package listen

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

// BenchmarkStream streams a 3.2 s shared utterance through the handler over
// a real socket as fast as the server takes it, then Finalize: x_realtime
// is audio seconds per wall second for the whole stream, finalize_ms the
// time from sending Finalize to its from_finalize result (the recognizer's
// backlog included). With -short the VAD is left out, to show its cost.
func BenchmarkStream(b *testing.B) {
	e := loadEngines(b)
	opts := e.options()
	if testing.Short() {
		opts.VAD = nil
	}
	base := serve(b, NewHandler(opts))
	_, samples, _ := utterance(b, shortID)
	pcm := audio.EncodePCM16(samples)
	var wall, fin time.Duration
	for b.Loop() {
		start := time.Now()
		s := dial(b, wsURL(base, "encoding=linear16&sample_rate=16000&interim_results=true&endpointing=false"), nil)
		s.sendAudio(pcm, 3200)
		sent := time.Now()
		s.sendText(`{"type":"Finalize"}`)
		s.until(func(m message) bool { return m.FromFinalize })
		fin += time.Since(sent)
		wall += time.Since(start)
		s.sendText(`{"type":"CloseStream"}`)
		s.closeStatus()
	}
	n := float64(b.N)
	b.ReportMetric(float64(len(samples))/16000*n/wall.Seconds(), "x_realtime")
	b.ReportMetric(float64(fin.Milliseconds())/n, "finalize_ms")
}

// BenchmarkRefuseAtCapacity: with every decoder taken, how long a
// /v1/listen client waits for its 503 engine_busy (before issue 11 it
// waited 15 s and then failed). refuse_ms_p50/p95 are per request.
func BenchmarkRefuseAtCapacity(b *testing.B) {
	e := loadEngines(b)
	base := serve(b, NewHandler(e.options()))
	defer speechtest.Exhaust(b, e.rec)()
	hdr := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest("GET", base+"/v1/listen?encoding=linear16&sample_rate=16000", nil)
		req.Header = hdr.Clone()
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took = append(took, time.Since(start))
		if resp.StatusCode != http.StatusServiceUnavailable {
			b.Fatalf("status %d, want 503", resp.StatusCode)
		}
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "refuse_ms_p50")
	b.ReportMetric(float64(took[len(took)*95/100].Milliseconds()), "refuse_ms_p95")
}
