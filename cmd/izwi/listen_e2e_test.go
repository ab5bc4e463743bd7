package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dgrest "github.com/deepgram/deepgram-go-sdk/v3/pkg/api/listen/v1/rest"
	dgws "github.com/deepgram/deepgram-go-sdk/v3/pkg/api/listen/v1/websocket/interfaces"
	dginterfaces "github.com/deepgram/deepgram-go-sdk/v3/pkg/client/interfaces"
	dglisten "github.com/deepgram/deepgram-go-sdk/v3/pkg/client/listen"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// dgCollector receives the Deepgram SDK's callbacks (from its own
// goroutine) into channels the test reads with deadlines.
type dgCollector struct {
	results  chan *dgws.MessageResponse
	started  chan *dgws.SpeechStartedResponse
	ends     chan *dgws.UtteranceEndResponse
	metadata chan *dgws.MetadataResponse
	closed   chan struct{}
	once     sync.Once
	mu       sync.Mutex
	errs     []string
}

var _ dgws.LiveMessageCallback = (*dgCollector)(nil)

func newCollector() *dgCollector {
	return &dgCollector{results: make(chan *dgws.MessageResponse, 1000), started: make(chan *dgws.SpeechStartedResponse, 100),
		ends: make(chan *dgws.UtteranceEndResponse, 100), metadata: make(chan *dgws.MetadataResponse, 10), closed: make(chan struct{})}
}

func (c *dgCollector) Open(*dgws.OpenResponse) error                     { return nil }
func (c *dgCollector) Message(m *dgws.MessageResponse) error             { c.results <- m; return nil }
func (c *dgCollector) Metadata(m *dgws.MetadataResponse) error           { c.metadata <- m; return nil }
func (c *dgCollector) SpeechStarted(m *dgws.SpeechStartedResponse) error { c.started <- m; return nil }
func (c *dgCollector) UtteranceEnd(m *dgws.UtteranceEndResponse) error   { c.ends <- m; return nil }
func (c *dgCollector) Close(*dgws.CloseResponse) error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
func (c *dgCollector) UnhandledEvent(b []byte) error {
	c.fail("unhandled event: " + string(b))
	return nil
}
func (c *dgCollector) Error(e *dgws.ErrorResponse) error { c.fail("error: " + e.ErrMsg); return nil }
func (c *dgCollector) fail(s string)                     { c.mu.Lock(); c.errs = append(c.errs, s); c.mu.Unlock() }

// untilFinal collects Results until one satisfies stop, within a deadline.
func (c *dgCollector) untilResult(t *testing.T, what string, stop func(*dgws.MessageResponse) bool) []*dgws.MessageResponse {
	t.Helper()
	var got []*dgws.MessageResponse
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case m := <-c.results:
			got = append(got, m)
			if stop(m) {
				return got
			}
		case <-deadline:
			t.Fatalf("no %s within 2 minutes (%d results)", what, len(got))
		}
	}
}

func finalText(ms []*dgws.MessageResponse) string {
	var parts []string
	for _, m := range ms {
		if m.IsFinal && len(m.Channel.Alternatives) > 0 && m.Channel.Alternatives[0].Transcript != "" {
			parts = append(parts, m.Channel.Alternatives[0].Transcript)
		}
	}
	return strings.Join(parts, " ")
}

func findUtterance(t *testing.T, id string) (testdata.Utterance, []byte) {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == id {
			clip, err := audio.DecodeFile(u.WAV, audio.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			return u, audio.EncodePCM16(clip.Mono())
		}
	}
	t.Fatalf("no shared utterance %s", id)
	return testdata.Utterance{}, nil
}

// The acceptance test of issue 4's Deepgram compatibility: the official
// Deepgram Go SDK, unmodified and configured only through its public
// options (host = this izwi serve, API key = an Izwi key with asr.read),
// streams shared utterances to the real binary running PocketSphinx and
// gets the right words back, interim and final Results, SpeechStarted and
// UtteranceEnd when asked, a from_finalize result after Finalize and a
// Metadata message and clean close after CloseStream; its pre-recorded
// client transcribes a file too.
func TestListenDeepgramSDK(t *testing.T) {
	// The SDK reads these from the environment over its options; a
	// developer's Deepgram settings must not redirect the test.
	for _, k := range []string{"DEEPGRAM_HOST", "DEEPGRAM_API_KEY", "DEEPGRAM_ACCESS_TOKEN", "DEEPGRAM_API_VERSION", "DEEPGRAM_API_PATH"} {
		t.Setenv(k, "")
	}
	env := []string{"IZWI_DATA_DIR=" + t.TempDir(), "IZWI_MODELS_DIR=" + importVAD(t, false), "IZWI_TTS_ENGINE=off", "IZWI_SPEAKER_ENGINE=off"}
	key := newKey(t, env, "--name", "deepgram-sdk", "--scopes", "asr.read")
	s := startServe(t, env)
	if code, body, _ := readyz(t, s); code != 200 {
		t.Fatalf("readyz %d %+v", code, body)
	}

	long, longPCM := findUtterance(t, "2412-153948-0000") // 11.6 s; PocketSphinx file-mode WER 0.361
	short, shortPCM := findUtterance(t, "3752-4944-0002") // 3.2 s; file-mode WER 0
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cb := newCollector()
	dg, err := dglisten.NewWSUsingCallback(ctx, key, &dginterfaces.ClientOptions{Host: "ws" + strings.TrimPrefix(s.url, "http")},
		&dginterfaces.LiveTranscriptionOptions{Model: "nova-3", Language: "en-US", Encoding: "linear16", SampleRate: 16000, Channels: 1,
			InterimResults: true, VadEvents: true, UtteranceEndMs: "1000", Endpointing: "300", SmartFormat: true}, cb)
	if err != nil {
		t.Fatal(err)
	}
	if !dg.Connect() {
		t.Fatalf("the SDK could not connect\n%s", s.logs)
	}
	defer dg.Stop()
	write := func(pcm []byte) {
		t.Helper()
		for off := 0; off < len(pcm); off += 3200 { // 100 ms messages, faster than real time
			if _, err := dg.Write(pcm[off:min(off+3200, len(pcm))]); err != nil {
				t.Fatalf("SDK write: %v", err)
			}
		}
	}

	// 1. An utterance and 2 s of silence: words, interims, SpeechStarted,
	// speech_final, UtteranceEnd.
	write(append(longPCM, make([]byte, 64000)...))
	// The reader pauses between sentences, so an UtteranceEnd may come
	// mid-utterance; the one after the last word ends near 11.6 s.
	var end *dgws.UtteranceEndResponse
	for end == nil || end.LastWordEnd < 10 {
		select {
		case end = <-cb.ends:
		case <-time.After(2 * time.Minute):
			t.Fatal("no UtteranceEnd after the last word within 2 minutes")
		}
	}
	var got []*dgws.MessageResponse
	for len(cb.results) > 0 {
		got = append(got, <-cb.results)
	}
	interims, speechFinal := 0, false
	for _, m := range got {
		if !m.IsFinal {
			interims++
		}
		speechFinal = speechFinal || m.SpeechFinal
		if m.Type != "Results" || m.Metadata.RequestID == "" || m.Metadata.ModelInfo.Arch != "pocketsphinx" {
			t.Errorf("result %+v", m)
		}
	}
	text := finalText(got)
	if rate := wer.Compute(long.Reference, text).Rate(); rate > 0.45 {
		t.Errorf("streamed WER %.3f > 0.45: %q", rate, text)
	}
	t.Logf("streamed %s: %d results (%d interim), WER %.3f", long.ID, len(got), interims, wer.Compute(long.Reference, text).Rate())
	if interims == 0 || !speechFinal || len(cb.started) == 0 {
		t.Errorf("interims %d, speech_final %v, SpeechStarted %d; want all", interims, speechFinal, len(cb.started))
	}
	if end.LastWordEnd <= 0 || end.LastWordEnd > 11.7 || end.Type != "UtteranceEnd" {
		t.Errorf("UtteranceEnd %+v", end)
	}

	// 2. Finalize without waiting for silence: the words so far come back
	// marked from_finalize.
	write(shortPCM)
	if err := dg.Finalize(); err != nil {
		t.Fatal(err)
	}
	fin := cb.untilResult(t, "from_finalize result", func(m *dgws.MessageResponse) bool { return m.FromFinalize })
	if rate := wer.Compute(short.Reference, finalText(fin)).Rate(); rate > 0.25 {
		t.Errorf("after Finalize WER %.3f > 0.25: %q", rate, finalText(fin))
	}

	// 3. CloseStream: Metadata, then the server closes normally.
	if err := dg.WriteJSON(map[string]string{"type": "CloseStream"}); err != nil {
		t.Fatal(err)
	}
	select {
	case md := <-cb.metadata:
		if md.Type != "Metadata" || len(md.Sha256) != 64 || md.Duration < 16.8 || md.Duration > 16.9 || md.Channels != 1 || len(md.Models) != 1 {
			t.Errorf("metadata %+v", md)
		}
	case <-time.After(time.Minute):
		t.Fatal("no Metadata after CloseStream")
	}
	select {
	case <-cb.closed:
	case <-time.After(time.Minute):
		t.Fatal("the connection did not close after CloseStream")
	}
	cb.mu.Lock()
	if len(cb.errs) > 0 {
		t.Errorf("SDK reported: %q", cb.errs)
	}
	cb.mu.Unlock()

	// 4. The pre-recorded client: a WAV file in, Deepgram's JSON out.
	rest := dgrest.New(dglisten.NewREST(key, &dginterfaces.ClientOptions{Host: s.url}))
	resp, err := rest.FromFile(t.Context(), short.WAV, &dginterfaces.PreRecordedTranscriptionOptions{Model: "nova-3", SmartFormat: true, Utterances: true})
	if err != nil {
		t.Fatalf("pre-recorded: %v", err)
	}
	if resp.Metadata == nil || resp.Results == nil || len(resp.Results.Channels) != 1 || len(resp.Results.Utterances) == 0 {
		t.Fatalf("pre-recorded response %+v", resp)
	}
	alt := resp.Results.Channels[0].Alternatives[0]
	if rate := wer.Compute(short.Reference, alt.Transcript).Rate(); rate > 0.1 || len(alt.Words) == 0 {
		t.Errorf("pre-recorded WER %.3f: %q (%d words)", rate, alt.Transcript, len(alt.Words))
	}

	// 4b. Word filters through the SDK's own options: replace, then
	// profanity_filter masks what a replacement made profane (the
	// LibriSpeech reading has no profanity of its own), redact turns a
	// replaced run of numerals into [REDACTED].
	resp, err = rest.FromFile(t.Context(), short.WAV, &dginterfaces.PreRecordedTranscriptionOptions{Model: "nova-3", SmartFormat: true,
		Replace: []string{"valley:Monica", "shadow:shit", "death:one two three"}, ProfanityFilter: true, Redact: []string{"numbers"}})
	if err != nil {
		t.Fatalf("pre-recorded with filters: %v", err)
	}
	filtered := resp.Results.Channels[0].Alternatives[0].Transcript
	if !strings.Contains(filtered, "Monica") || !strings.Contains(filtered, "Monica of the **** of [REDACTED] he is") || strings.Contains(filtered, "shit") ||
		strings.Contains(strings.ToLower(filtered), "valley") {
		t.Errorf("filtered transcript %q", filtered)
	}
	if _, err := rest.FromFile(t.Context(), short.WAV, &dginterfaces.PreRecordedTranscriptionOptions{Redact: []string{"pii"}}); err == nil {
		t.Error("redact=pii was not refused")
	}

	// 5. A key without asr.read is refused by the gateway.
	tts := newKey(t, env, "--name", "speaker", "--scopes", "tts.read")
	req, _ := http.NewRequest("GET", s.url+"/v1/listen?encoding=linear16&sample_rate=16000", nil)
	req.Header.Set("Authorization", "Token "+tts)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("tts.read key: %d, want 403", r.StatusCode)
	}
	if strings.Contains(s.logs.String(), key[4:]) || strings.Contains(s.logs.String(), "valley") {
		t.Error("the server log holds the key or words")
	}
}
