package listen

import (
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
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
