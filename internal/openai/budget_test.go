package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// TestSpeechBudget: a valid input at the 4,096-character limit that would
// make more audio than the budget is refused with 413 output_too_large
// before any synthesis (the review saw 1.3 GB, 30 s of CPU and a 200 with
// a truncated WAV); input within the budget is spoken whole.
func TestSpeechBudget(t *testing.T) {
	srv, _ := newServer(t, newHandlers(t, Options{}))
	body := func(input string, speed float64) string {
		b, _ := json.Marshal(map[string]any{"model": "tts-1", "input": input, "voice": "alloy", "speed": speed})
		return string(b)
	}
	digits := strings.Repeat("1234567890", MaxSpeechInput/10+1)[:MaxSpeechInput]
	for _, tc := range []struct {
		name  string
		body  string
		limit time.Duration
	}{
		{"digits at the input limit, slow", body(digits, 0.25), 0},
		{"digits at the input limit", body(digits, 1), 0},
		{"one sentence over a tiny budget", body("Welcome to the hall.", 1), 500 * time.Millisecond},
	} {
		s := srv
		if tc.limit > 0 {
			s, _ = newServer(t, newHandlers(t, Options{MaxSpeechAudio: tc.limit}))
		}
		resp := post(t, s.URL+"/v1/audio/speech", "application/json", tc.body)
		checkError(t, tc.name, resp, http.StatusRequestEntityTooLarge, "output_too_large")
	}
	within := strings.Replace(body("Welcome to the hall.", 1), "{", `{"response_format":"wav",`, 1)
	resp := post(t, srv.URL+"/v1/audio/speech", "application/json", within)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(b) < 16000 {
		t.Fatalf("within budget: %d, %d bytes, %v", resp.StatusCode, len(b), err)
	}
}

// failingSynth fails after its first chunk, as an engine that breaks
// mid-stream would.
type failingSynth struct{ speech.Synthesizer }

func (f failingSynth) Synthesize(ctx context.Context, req speech.SynthesisRequest, sink func([]float32) error) error {
	if err := sink(make([]float32, 1600)); err != nil {
		return err
	}
	return errors.New("engine broke")
}

// TestSpeechMidStreamFailureIsNotA200: once audio has left, a failing
// engine ends the chunked response without its terminating chunk, which
// every HTTP client reports as an error: never a short file that looks
// whole.
// An MP3 encoder may not have made a byte yet when the engine breaks; the
// connection is then cut before the status line, an error too.
func TestSpeechMidStreamFailureIsNotA200(t *testing.T) {
	srv, _ := newServer(t, newHandlers(t, Options{Synthesizer: failingSynth{loadEngines(t).syn}}))
	for _, f := range []string{"wav", "mp3"} {
		resp, err := http.Post(srv.URL+"/v1/audio/speech", "application/json",
			strings.NewReader(`{"model":"tts-1","input":"hello","voice":"alloy","response_format":"`+f+`"}`))
		if err != nil {
			continue
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatalf("%s: a broken synthesis read as a whole %d response", f, resp.StatusCode)
		}
	}
}
