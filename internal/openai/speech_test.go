package openai

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/transcript"
	"github.com/izwi-speech/izwi/internal/wer"
)

// roundTripText is everyday English PocketSphinx's dictionary knows (from
// the Flite round-trip corpus, where kal16 measured 0.086 WER).
const roundTripText = "Please call me back when you get home tonight. She opened the window and looked out at the garden. " +
	"He has been working at the bank for twenty years."

// speechBytes asks for speech through the official client and returns the
// whole body and its content type.
func speechBytes(t *testing.T, c openai.Client, p openai.AudioSpeechNewParams) ([]byte, string) {
	t.Helper()
	res, err := c.Audio.Speech.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, res.Header.Get("Content-Type")
}

func speechParams(format openai.AudioSpeechNewParamsResponseFormat) openai.AudioSpeechNewParams {
	return openai.AudioSpeechNewParams{Model: openai.SpeechModelTTS1, Input: roundTripText,
		Voice:          openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("echo")}, // → kal16 (bit-exact)
		ResponseFormat: format}
}

// Speech in wav, pcm and flac, transcribed back: every format carries the
// same speech, wav and flac bit for bit, pcm at OpenAI's 24 kHz.
func TestSpeechRoundTrip(t *testing.T) {
	e := loadEngines(t)
	_, c := newServer(t, newHandlers(t, Options{}))
	got := map[string][]float32{}
	for _, f := range []openai.AudioSpeechNewParamsResponseFormat{"wav", "flac", "pcm"} {
		b, ctype := speechBytes(t, c, speechParams(f))
		if ctype != "audio/"+string(f) {
			t.Errorf("%s: Content-Type %q", f, ctype)
		}
		var samples []float32
		switch f {
		case "pcm":
			if len(b)%2 != 0 {
				t.Fatalf("pcm of %d bytes", len(b))
			}
			pcm := make([]float32, len(b)/2)
			for i := range pcm {
				pcm[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
			}
			var err error
			if samples, err = audio.Resample(pcm, PCMRate, e.syn.SampleRate()); err != nil {
				t.Fatal(err)
			}
		default:
			clip, err := audio.Decode(bytes.NewReader(b), audio.Limits{})
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if clip.SampleRate != e.syn.SampleRate() || clip.Channels != 1 {
				t.Fatalf("%s: %d Hz × %d", f, clip.SampleRate, clip.Channels)
			}
			samples = clip.Samples
		}
		got[string(f)] = samples
	}
	if !slicesEqual(got["wav"], got["flac"]) {
		t.Errorf("wav (%d samples) and flac (%d samples) differ", len(got["wav"]), len(got["flac"]))
	}
	if d := len(got["pcm"]) - len(got["wav"]); d < -10 || d > 10 {
		t.Errorf("pcm resampled back has %d samples, wav %d", len(got["pcm"]), len(got["wav"]))
	}
	// pcm, taken back to the engine's rate, is the wav's waveform (a
	// resampler's round trip, not bit-exact).
	if r := correlation(got["wav"], got["pcm"]); r < 0.98 {
		t.Errorf("pcm correlates %.3f with wav, want ≥ 0.98", r)
	}
	tr, err := e.tr.Transcribe(context.Background(), got["wav"], speech.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := transcript.Text(tr)
	if r := wer.Compute(roundTripText, text).Rate(); r > 0.25 {
		t.Errorf("round trip WER %.3f > 0.25: %q", r, text)
	}
}

// OpenAI's compressed formats (mp3, the default; opus; aac), streamed
// through the official client, decode back to audio as long as the WAV
// of the same request: within 150 ms, the encoder delay and last-frame
// padding of MP3 and of AAC in ADTS (which has no edit list to trim
// them; Ogg Opus's pre-skip does).
func TestSpeechCompressedFormats(t *testing.T) {
	_, c := newServer(t, newHandlers(t, Options{}))
	wav, _ := speechBytes(t, c, speechParams("wav"))
	ref, err := audio.Decode(bytes.NewReader(wav), audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format openai.AudioSpeechNewParamsResponseFormat
		ctype  string
		sniff  string
	}{{"", "audio/mpeg", "mp3"}, {"mp3", "audio/mpeg", "mp3"}, {"opus", "audio/ogg", "ogg"}, {"aac", "audio/aac", "aac"}} {
		b, ctype := speechBytes(t, c, speechParams(tc.format))
		if ctype != tc.ctype || audio.Sniff(b) != tc.sniff {
			t.Errorf("%q: Content-Type %q, bytes look like %q", tc.format, ctype, audio.Sniff(b))
		}
		clip, err := audio.DecodeContext(t.Context(), bytes.NewReader(b), audio.Limits{})
		if err != nil {
			t.Fatalf("%q: %v", tc.format, err)
		}
		if d := clip.Duration() - ref.Duration(); d < -150*time.Millisecond || d > 150*time.Millisecond {
			t.Errorf("%q: %v of audio, the WAV %v", tc.format, clip.Duration(), ref.Duration())
		}
		t.Logf("%q: %d bytes, %v (WAV %v)", tc.format, len(b), clip.Duration(), ref.Duration())
	}
}

// correlation is the normalised correlation of a and b over their common length.
func correlation(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range min(len(a), len(b)) {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// gatedSynth emits one chunk (first samples, default 1600), then waits
// until the test has seen bytes on the wire before emitting the rest: it
// proves the first chunk is flushed, not buffered until the end.
type gatedSynth struct {
	speech.Synthesizer
	gate  chan struct{}
	first int
}

func (g gatedSynth) Synthesize(ctx context.Context, req speech.SynthesisRequest, sink func([]float32) error) error {
	first := g.first
	if first == 0 {
		first = 1600
	}
	if err := sink(make([]float32, first)); err != nil {
		return err
	}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(20 * time.Second):
		return errors.New("gate never opened: the first chunk was not flushed")
	}
	return sink(make([]float32, 1600))
}

func TestSpeechFirstChunkFlushed(t *testing.T) {
	e := loadEngines(t)
	for _, f := range []string{"wav", "pcm", "flac", "mp3", "opus", "aac"} {
		gate := make(chan struct{})
		first := 0
		if f == "mp3" || f == "opus" || f == "aac" {
			// A codec holds a frame and its look-ahead (MP3 1152 + 576
			// samples; Ogg pages of 100 ms) before its first bytes exist.
			first = 8000
		}
		h := newHandlers(t, Options{Synthesizer: gatedSynth{Synthesizer: e.syn, gate: gate, first: first}})
		srv, _ := newServer(t, h)
		resp := post(t, srv.URL+"/v1/audio/speech", "application/json", `{"model":"tts-1","input":"hi","voice":"alloy","response_format":"`+f+`"}`)
		head := make([]byte, 4)
		if _, err := io.ReadFull(resp.Body, head); err != nil {
			t.Fatalf("%s: first bytes: %v", f, err)
		}
		close(gate)
		rest, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", f, resp.StatusCode, err)
		}
		if n := len(head) + len(rest); (f == "wav" && n != 44+2*3200) || (f == "pcm" && n < 2*4700) {
			t.Errorf("%s: %d bytes", f, n)
		}
	}
}

// A client that leaves mid-stream ends the synthesis: the engine's context
// is cancelled and the handler returns (leaktest checks no goroutine stays).
func TestSpeechClientGone(t *testing.T) {
	e := loadEngines(t)
	gate := make(chan struct{}) // never opened
	returned := make(chan error, 1)
	syn := notifySynth{gatedSynth{Synthesizer: e.syn, gate: gate}, returned}
	srv, _ := newServer(t, newHandlers(t, Options{Synthesizer: syn}))
	resp := post(t, srv.URL+"/v1/audio/speech", "application/json", `{"input":"hello there","voice":"alloy","response_format":"wav"}`)
	if _, err := io.ReadFull(resp.Body, make([]byte, 44)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("synthesis ended with %v, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("synthesis still running 15 s after the client left")
	}
}

// notifySynth reports when Synthesize returns.
type notifySynth struct {
	speech.Synthesizer
	done chan<- error
}

func (n notifySynth) Synthesize(ctx context.Context, req speech.SynthesisRequest, sink func([]float32) error) error {
	err := n.Synthesizer.Synthesize(ctx, req, sink)
	n.done <- err
	return err
}

// post sends a raw request, for the refusals the SDK would not send.
func post(t *testing.T, url, ctype, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestSpeechRefusals(t *testing.T) {
	srv, c := newServer(t, newHandlers(t, Options{}))
	long := strings.Repeat("a", MaxSpeechInput+1)
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"empty input", "application/json", `{"model":"tts-1","input":"  ","voice":"alloy"}`, 400, "bad_request"},
		{"input too long", "application/json", `{"model":"tts-1","input":"` + long + `","voice":"alloy"}`, 400, "bad_request"},
		{"unknown voice", "application/json", `{"model":"tts-1","input":"hello","voice":"nobody"}`, 400, "bad_request"},
		{"unknown model", "application/json", `{"model":"eleven","input":"hello","voice":"alloy"}`, 400, "bad_request"},
		{"vorbis", "application/json", `{"model":"tts-1","input":"hello","voice":"alloy","response_format":"vorbis"}`, 400, "bad_request"},
		{"speed too high", "application/json", `{"model":"tts-1","input":"hello","voice":"alloy","speed":4.5}`, 400, "bad_request"},
		{"speed zero", "application/json", `{"model":"tts-1","input":"hello","voice":"alloy","speed":0}`, 400, "bad_request"},
		{"sse", "application/json", `{"model":"tts-1","input":"hello","voice":"alloy","stream_format":"sse"}`, 400, "bad_request"},
		{"not json", "application/json", `model=tts-1`, 400, "bad_request"},
		{"form", "application/x-www-form-urlencoded", `model=tts-1`, 415, "unsupported_media_type"},
		{"huge body", "application/json", `{"input":"` + strings.Repeat("a", maxSpeechBody) + `"}`, 413, "payload_too_large"},
	} {
		resp := post(t, srv.URL+"/v1/audio/speech", tc.ctype, tc.body)
		checkError(t, tc.name, resp, tc.status, tc.code)
	}
	// The SDK sees an OpenAI-style error.
	_, err := c.Audio.Speech.New(context.Background(), openai.AudioSpeechNewParams{Model: "tts-1", Input: "hello",
		Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("nobody")}}, option.WithMaxRetries(0))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Errorf("SDK error %v", err)
	}
	// No synthesizer loaded: 503.
	h := New(Options{})
	srv2, _ := newServer(t, h)
	checkError(t, "no engine", post(t, srv2.URL+"/v1/audio/speech", "application/json", `{"input":"hi"}`), 503, "not_ready")
}

// Voice names: installed IDs, OpenAI names by gender, the object form.
func TestResolveVoice(t *testing.T) {
	voices := loadEngines(t).syn.Voices()
	for asked, want := range map[string]string{
		"": "", "kal16": "kal16", "SLT": "slt", "alloy": "slt", "nova": "slt", "ash": "kal16", "ballad": "rms",
		"cedar": "awb", "echo": "kal16", "onyx": "awb",
	} {
		if got, ok := ResolveVoice(asked, voices); !ok || got != want {
			t.Errorf("ResolveVoice(%q) = %q, %v; want %q", asked, got, ok, want)
		}
	}
	if _, ok := ResolveVoice("nobody", voices); ok {
		t.Error("unknown voice resolved")
	}
	info := loadEngines(t).syn.Info()
	p, err := parseSpeechRequest([]byte(`{"model":"`+modelID(info)+`","input":"hi","voice":{"id":"rms"},"speed":2,"instructions":"cheerful"}`),
		info, voices)
	if err != nil || p.Voice != "rms" || p.Speed != 2 || p.Format != "mp3" {
		t.Errorf("object voice: %+v, %v", p, err)
	}
}

func FuzzSpeechRequest(f *testing.F) {
	f.Add([]byte(`{"model":"tts-1","input":"hello","voice":"alloy","response_format":"flac","speed":1.5}`))
	f.Add([]byte(`{"model":"tts-1","input":"hello","voice":{"id":"slt"}}`))
	f.Add([]byte(`{"voice":null,"speed":null}`))
	f.Add([]byte(`{"speed":1e400}`))
	f.Add([]byte(`[]`))
	voices := []speech.Voice{{ID: "a", Gender: "female"}, {ID: "b", Gender: "male"}}
	info := speech.EngineInfo{Engine: "x", Model: "y", Role: "tts"}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := parseSpeechRequest(in, info, voices)
		if err != nil {
			var re *reqError
			if !errors.As(err, &re) || re.msg == "" {
				t.Fatalf("untyped refusal %v", err)
			}
			return
		}
		if p.Text == "" || p.Speed < 0.25 || p.Speed > 4 || (p.Voice != "" && p.Voice != "a" && p.Voice != "b") {
			t.Fatalf("accepted %+v", p)
		}
		if _, ok := audio.LookupStreamFormat(p.Format); !ok {
			t.Fatalf("accepted format %q", p.Format)
		}
	})
}
