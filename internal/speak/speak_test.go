package speak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	dgspeak "github.com/deepgram/deepgram-go-sdk/v3/pkg/api/speak/v1/rest"
	dgapi "github.com/deepgram/deepgram-go-sdk/v3/pkg/api/speak/v1/rest/interfaces"
	dginterfaces "github.com/deepgram/deepgram-go-sdk/v3/pkg/client/interfaces"
	dgclient "github.com/deepgram/deepgram-go-sdk/v3/pkg/client/speak"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/audio/audiotest"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/flite"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "izwi/internal/speak", "net/http.(*conn).serve", "net/http.(*persistConn)")
}

const said = "Your table is ready. Please come to the front desk."

var loadFlite = sync.OnceValues(func() (speech.Synthesizer, error) {
	reg := speech.NewRegistry()
	flite.Register(reg)
	return reg.Synthesizers.New(context.Background(), speech.Spec{Engine: "flite"}, speech.Deps{})
})

func server(t *testing.T) (*httptest.Server, speech.Synthesizer) {
	t.Helper()
	syn, err := loadFlite()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/speak", New(Options{Synthesizer: syn}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, syn
}

// Deepgram's official Go SDK, unmodified, speaks through /v1/speak in every
// encoding: the audio decodes back to as much speech as the WAV of the
// same text (within 150 ms of codec delay and padding), at the asked rate,
// and the dg-* headers the SDK reads are there.
func TestSpeakSDK(t *testing.T) {
	audiotest.FFmpeg(t)
	srv, _ := server(t)
	c := dgspeak.New(dgclient.NewREST("izk_test", &dginterfaces.ClientOptions{Host: srv.URL}))
	speak := func(o *dginterfaces.SpeakOptions) ([]byte, *dgapi.SpeakResponse) {
		t.Helper()
		var buf bytes.Buffer
		res, err := c.ToFile(t.Context(), said, o, &buf)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		return buf.Bytes(), res
	}
	wav, res := speak(&dginterfaces.SpeakOptions{Model: "aura-asteria-en", Encoding: "linear16", Container: "wav", SampleRate: 16000})
	if res.Characters != len(said) || res.ModelName != "aura-asteria-en" || res.ContextType != "audio/wav" {
		t.Errorf("response %+v", res)
	}
	ref, err := audio.Decode(bytes.NewReader(wav), audio.Limits{})
	if err != nil || ref.SampleRate != 16000 {
		t.Fatalf("wav: %v, %d Hz", err, ref.SampleRate)
	}
	for _, o := range []dginterfaces.SpeakOptions{
		{}, // Deepgram's default: mp3
		{Model: "aura-2-orion-en", Encoding: "mp3"},
		{Encoding: "opus"},
		{Encoding: "aac"},
		{Encoding: "flac", SampleRate: 24000},
		{Encoding: "linear16", Container: "wav", SampleRate: 48000},
	} {
		b, _ := speak(&o)
		clip, err := audio.DecodeContext(t.Context(), bytes.NewReader(b), audio.Limits{})
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if d := clip.Duration() - ref.Duration(); d < -150*time.Millisecond || d > 150*time.Millisecond {
			t.Errorf("%+v: %v of audio, the WAV %v", o, clip.Duration(), ref.Duration())
		}
		if o.SampleRate != 0 && clip.SampleRate != o.SampleRate {
			t.Errorf("%+v: %d Hz", o, clip.SampleRate)
		}
	}
	raw, res := speak(&dginterfaces.SpeakOptions{Encoding: "linear16", Container: "none", SampleRate: 8000})
	if d := time.Duration(len(raw)/2) * time.Second / 8000; d < ref.Duration()-20*time.Millisecond || d > ref.Duration()+20*time.Millisecond {
		t.Errorf("raw linear16 at 8 kHz: %v, the WAV %v (%s)", d, ref.Duration(), res.ContextType)
	}
	// G.711 for telephony: raw (one byte a sample) and in a WAV.
	for _, enc := range []string{"mulaw", "alaw"} {
		raw, _ := speak(&dginterfaces.SpeakOptions{Encoding: enc, Container: "none", SampleRate: 8000})
		clip, err := audio.DecodeRaw(raw, audio.RawFormat{Encoding: enc, SampleRate: 8000, Channels: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d := clip.Duration() - ref.Duration(); d < -20*time.Millisecond || d > 20*time.Millisecond {
			t.Errorf("raw %s: %v, the WAV %v", enc, clip.Duration(), ref.Duration())
		}
		w, res := speak(&dginterfaces.SpeakOptions{Encoding: enc})
		if res.ContextType != "audio/wav" || audio.Sniff(w) != "wav" {
			t.Errorf("%s in wav: %s, %q", enc, res.ContextType, audio.Sniff(w))
		}
	}
}

// Refusals are Deepgram-shaped with the catalogue's code, before any
// synthesis.
func TestSpeakRefusals(t *testing.T) {
	srv, _ := server(t)
	for _, tc := range []struct {
		name, query, ctype, body string
		status                   int
		code                     string
	}{
		{"empty", "", "application/json", `{"text":"  "}`, 400, "bad_request"},
		{"no text", "", "application/json", `{"txt":"hi"}`, 400, "bad_request"},
		{"too long", "", "application/json", `{"text":"` + strings.Repeat("a", MaxText+1) + `"}`, 400, "bad_request"},
		{"duplicate key", "", "application/json", `{"text":"a","text":"b"}`, 400, "bad_request"},
		{"not json", "", "text/plain", `hello`, 415, "unsupported_media_type"},
		{"huge", "", "application/json", `{"text":"` + strings.Repeat("a", maxBody) + `"}`, 413, "payload_too_large"},
		{"unknown model", "?model=eleven", "application/json", `{"text":"hi"}`, 400, "bad_request"},
		{"unknown encoding", "?encoding=vorbis", "application/json", `{"text":"hi"}`, 400, "bad_request"},
		{"mulaw at 24 kHz", "?encoding=mulaw&sample_rate=24000", "application/json", `{"text":"hi"}`, 400, "bad_request"},
		{"alaw in ogg", "?encoding=alaw&container=ogg", "application/json", `{"text":"hi"}`, 400, "bad_request"},
		{"bad rate", "?encoding=linear16&sample_rate=11025", "application/json", `{"text":"hi"}`, 400, "bad_request"},
		{"rate on mp3", "?encoding=mp3&sample_rate=16000", "application/json", `{"text":"hi"}`, 400, "bad_request"},
		{"callback", "?callback=http://169.254.169.254/", "application/json", `{"text":"hi"}`, 400, "bad_request"},
	} {
		resp, err := http.Post(srv.URL+"/v1/speak"+tc.query, tc.ctype, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body apierr.DeepgramBody
		_ = json.Unmarshal(b, &body)
		if resp.StatusCode != tc.status || string(body.Error.Code) != tc.code || body.ErrMsg == "" {
			t.Errorf("%s: %d %.200s, want %d %s", tc.name, resp.StatusCode, b, tc.status, tc.code)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/speak", New(Options{}))
	none := httptest.NewServer(mux)
	defer none.Close()
	resp, err := http.Post(none.URL+"/v1/speak", "application/json", strings.NewReader(`{"text":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("no synthesizer: %d", resp.StatusCode)
	}
}

// FuzzSpeakQuery: any query is a request within the formats offered or a
// refusal with a catalogue code.
func FuzzSpeakQuery(f *testing.F) {
	for _, s := range []string{"model=aura-asteria-en&encoding=linear16&sample_rate=8000&container=none",
		"encoding=opus&container=ogg", "encoding=mp3&bit_rate=48000", "model=aura-2-zeus-en", "encoding=mulaw", "model=%ff"} {
		f.Add(s)
	}
	voices := []speech.Voice{{ID: "a", Gender: "female"}, {ID: "b", Gender: "male"}}
	info := speech.EngineInfo{Engine: "x", Model: "y"}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, ws := range []bool{false, true} {
			req, err := parseQuery(q, info, voices, ws)
			if err != nil {
				var re *refusal
				if !errors.As(err, &re) || re.msg == "" || apierr.Lookup(re.code).Status != 400 {
					t.Fatalf("%q: untyped refusal %v", raw, err)
				}
				continue
			}
			if _, ok := audio.LookupStreamFormat(req.format); (!ok && !strings.HasPrefix(req.format, "mulaw") && !strings.HasPrefix(req.format, "alaw")) || req.contentType == "" ||
				(req.voice != "" && req.voice != "a" && req.voice != "b") || (ws && req.format != "pcm" && req.format != "mulaw" && req.format != "alaw") {
				t.Fatalf("%q: accepted %+v", raw, req)
			}
		}
	})
}
