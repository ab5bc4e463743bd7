package openai

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// BenchmarkTranscribeAPIvsDirect transcribes speaker 1089's four
// utterances (21 s) per iteration twice: with the Transcriber used
// directly (decode, resample, transcribe) and through POST
// /v1/audio/transcriptions on a loopback listener (multipart upload, the
// same decode, JSON answer). Metrics: each path's speed in seconds of audio
// per second, and api/direct, the API's overhead as a ratio of throughput
// (1.0 = none).
func BenchmarkTranscribeAPIvsDirect(b *testing.B) {
	e := loadEngines(b)
	srv, _ := newServer(b, newHandlers(b, Options{}))
	var files [][]byte
	var audioDur time.Duration
	for _, u := range testdata.Utterances(b) {
		if u.Speaker != "1089" {
			continue
		}
		f, err := os.ReadFile(u.WAV)
		if err != nil {
			b.Fatal(err)
		}
		c, err := audio.Decode(bytes.NewReader(f), audio.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		files, audioDur = append(files, f), audioDur+c.Duration()
	}
	ctx := context.Background()
	var direct, api time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		for _, f := range files {
			c, err := audio.Decode(bytes.NewReader(f), audio.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			s, err := audio.Prepare(c, e.tr.SampleRate())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.tr.Transcribe(ctx, s, speech.TranscribeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		direct += time.Since(start)
		start = time.Now()
		for _, f := range files {
			body, ctype := form(f, "model", "whisper-1")
			resp, err := http.Post(srv.URL+"/v1/audio/transcriptions", ctype, strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		api += time.Since(start)
	}
	total := audioDur.Seconds() * float64(b.N)
	b.ReportMetric(total/direct.Seconds(), "direct_audio_s/s")
	b.ReportMetric(total/api.Seconds(), "api_audio_s/s")
	b.ReportMetric(direct.Seconds()/api.Seconds(), "api/direct")
}

// BenchmarkSpeechTTFB measures time to first audio byte of a sentence
// through POST /v1/audio/speech (request, JSON, synthesis of the first
// chunk, WAV header, flush, loopback) against the time the Synthesizer
// takes to hand over its first chunk when called directly.
func BenchmarkSpeechTTFB(b *testing.B) {
	e := loadEngines(b)
	srv, _ := newServer(b, newHandlers(b, Options{}))
	const text = "The weather today is cold and windy with rain in the afternoon, so take an umbrella."
	body := `{"model":"tts-1","voice":"alloy","response_format":"wav","input":"` + text + `"}`
	ctx := context.Background()
	var direct, api time.Duration
	errFirst := io.EOF // stops synthesis after the first chunk
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		err := e.syn.Synthesize(ctx, speech.SynthesisRequest{Text: text, Voice: "slt"}, func([]float32) error {
			direct += time.Since(start)
			return errFirst
		})
		if err != errFirst {
			b.Fatalf("direct: %v", err)
		}
		start = time.Now()
		resp, err := http.Post(srv.URL+"/v1/audio/speech", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := io.ReadFull(resp.Body, one); err != nil {
			b.Fatal(err)
		}
		api += time.Since(start)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(direct.Microseconds())/1000/float64(b.N), "direct_first_chunk_ms")
	b.ReportMetric(float64(api.Microseconds())/1000/float64(b.N), "api_ttfb_ms")
}
