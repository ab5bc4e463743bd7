package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/transcript"
)

// langTranscriber is fakeTranscriber hearing the given languages and
// remembering the language it was last asked for.
type langTranscriber struct {
	fakeTranscriber
	langs []string
	mu    *sync.Mutex
	asked *string
}

func newLangTranscriber(langs ...string) langTranscriber {
	return langTranscriber{langs: langs, mu: &sync.Mutex{}, asked: new(string)}
}

func (l langTranscriber) Info() speech.EngineInfo {
	info := l.fakeTranscriber.Info()
	info.Languages = l.langs
	return info
}

func (l langTranscriber) Transcribe(ctx context.Context, s []float32, o speech.TranscribeOptions) (speech.Transcript, error) {
	l.mu.Lock()
	*l.asked = o.Language
	l.mu.Unlock()
	return l.fakeTranscriber.Transcribe(ctx, s, o)
}

func (l langTranscriber) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return *l.asked
}

func wavFile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(utterance(t, testID).WAV)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// /v1/models lists every name a request may give, each one is accepted by
// its route, and an unknown name is refused with that list.
func TestModelsListEveryAcceptedName(t *testing.T) {
	wav := wavFile(t)
	h := New(Options{Transcriber: fakeTranscriber{}, Synthesizer: loadEngines(t).syn})
	srv, c := newServer(t, h)
	page, err := c.Models.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	for _, want := range append(append(slices.Clone(TranscribeAliases), SpeechAliases...), "fake/m1", modelID(h.o.Synthesizer.Info())) {
		if !slices.Contains(ids, want) {
			t.Errorf("/v1/models lacks %s: %v", want, ids)
		}
	}
	for _, id := range ids {
		tts := slices.Contains(SpeechAliases, id) || strings.HasPrefix(id, "flite/")
		if tts {
			body := `{"model":"` + id + `","input":"hi","voice":"alloy","response_format":"wav"}`
			resp := post(t, srv.URL+"/v1/audio/speech", "application/json", body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("speech with listed model %s: %d", id, resp.StatusCode)
			}
			continue
		}
		_, err := c.Audio.Transcriptions.New(t.Context(), openai.AudioTranscriptionNewParams{
			File: openai.File(bytes.NewReader(wav), "a.wav", "audio/wav"), Model: id})
		if err != nil {
			t.Errorf("transcription with listed model %s: %v", id, err)
		}
	}
	body, ctype := form(wav, "model", "whisper-2")
	resp := post(t, srv.URL+"/v1/audio/transcriptions", ctype, body)
	msg := checkError(t, "unknown model", resp, 400, "bad_request")
	for _, a := range append(slices.Clone(TranscribeAliases), "fake/m1") {
		if !strings.Contains(msg, a) {
			t.Errorf("the refusal does not list %s: %q", a, msg)
		}
	}
	resp = post(t, srv.URL+"/v1/audio/speech", "application/json", `{"model":"fake/m1","input":"hi"}`)
	msg = checkError(t, "transcription model for speech", resp, 400, "bad_request")
	if !strings.Contains(msg, "tts-1-hd") {
		t.Errorf("the refusal does not list the speech names: %q", msg)
	}
}

// language reaches an engine that hears it (primary subtag, lower case),
// any language reaches a multilingual engine, and a language the engine
// does not hear or a malformed one is refused with its code.
func TestLanguage(t *testing.T) {
	wav := wavFile(t)
	for _, tc := range []struct {
		langs        []string
		sent, passed string
		status       int
		code         string
	}{
		{[]string{"en"}, "en-US", "en", 200, ""},
		{[]string{"en"}, "EN", "en", 200, ""},
		{[]string{"en"}, "", "", 200, ""},
		{[]string{"en"}, "de", "", 400, "unsupported_language"},
		{nil, "de", "de", 200, ""},
		{nil, "english please", "", 400, "bad_request"},
	} {
		tr := newLangTranscriber(tc.langs...)
		srv, _ := newServer(t, New(Options{Transcriber: tr}))
		body, ctype := form(wav, "model", "whisper-1", "language", tc.sent)
		resp := post(t, srv.URL+"/v1/audio/transcriptions", ctype, body)
		if tc.status != 200 {
			checkError(t, tc.sent, resp, tc.status, tc.code)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || tr.last() != tc.passed {
			t.Errorf("%v %q: %d, engine asked for %q, want %q", tc.langs, tc.sent, resp.StatusCode, tr.last(), tc.passed)
		}
	}
}

// Translations through the official client: with an engine that hears only
// English (PocketSphinx here) the answer is the English transcript, task
// "translate"; an engine that hears other languages is refused, since Izwi
// does not translate speech.
func TestTranslations(t *testing.T) {
	e := loadEngines(t)
	u := utterance(t, testID)
	want := transcript.Text(direct(t, e.tr, u.WAV))
	_, c := newServer(t, newHandlers(t, Options{}))
	wav := wavFile(t)
	res, err := c.Audio.Translations.New(t.Context(), openai.AudioTranslationNewParams{
		File: openai.File(bytes.NewReader(wav), "a.wav", "audio/wav"), Model: openai.AudioModelWhisper1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != want {
		t.Errorf("translation %q, the engine hears %q", res.Text, want)
	}
	var verbose struct {
		Task, Language, Text string
	}
	err = c.Post(t.Context(), "audio/translations", openai.AudioTranslationNewParams{
		File: openai.File(bytes.NewReader(wav), "a.wav", "audio/wav"), Model: openai.AudioModelWhisper1,
		ResponseFormat: openai.AudioTranslationNewParamsResponseFormatVerboseJSON}, &verbose)
	if err != nil || verbose.Task != "translate" || verbose.Language != "english" || verbose.Text != want {
		t.Errorf("verbose translation %+v, %v", verbose, err)
	}
	body, ctype := form(wav, "model", "whisper-1")
	for _, langs := range [][]string{nil, {"de"}} {
		srv, _ := newServer(t, New(Options{Transcriber: newLangTranscriber(langs...)}))
		checkError(t, "engine hearing "+strings.Join(langs, ","), post(t, srv.URL+"/v1/audio/translations", ctype, body), 400, "unsupported_language")
	}
}

// fakeTracker names the first 1.5 s "Ada" (enrolled) and the rest an
// unknown "Speaker 1", and remembers what it was asked and heard.
type fakeTracker struct {
	mu     sync.Mutex
	heard  time.Duration
	speech time.Duration
}

func (f *fakeTracker) SampleRate() int { return 16000 }
func (f *fakeTracker) Accept(_ context.Context, s []float32, sp bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := speech.SamplesToDuration(len(s), 16000)
	f.heard += d
	if sp {
		f.speech += d
	}
	return nil
}
func (f *fakeTracker) SpeakerAt(start, end time.Duration) speaker.Label {
	if end <= 1500*time.Millisecond {
		return speaker.Label{Name: "Ada", Known: true}
	}
	return speaker.Label{Name: "Speaker 1"}
}

// diarized_json names each segment's speaker from the tracker that heard
// the whole file (segments as speech); known_speaker_names[] reach the
// tracker factory; references, a missing speaker model, and names without
// diarized_json are refused before any work.
func TestDiarizedJSON(t *testing.T) {
	wav := wavFile(t)
	tr := &fakeTracker{}
	var asked []string
	h := New(Options{Transcriber: fakeTranscriber{}, Speakers: func(_ context.Context, names []string) (SpeakerTracker, error) {
		asked = names
		return tr, nil
	}})
	srv, _ := newServer(t, h)
	body, ctype := form(wav, "model", "gpt-4o-transcribe-diarize", "response_format", "diarized_json",
		"known_speaker_names[]", "Ada", "known_speaker_names[]", "Grace")
	resp := post(t, srv.URL+"/v1/audio/transcriptions", ctype, body)
	defer resp.Body.Close()
	var got diarizedTranscription
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if len(got.Segments) != 2 || got.Segments[0].Speaker != "Ada" || got.Segments[1].Speaker != "Speaker 1" ||
		got.Segments[0].Type != "transcript.text.segment" || got.Segments[1].ID != "seg_1" || got.Text != "hello there general" {
		t.Errorf("diarized %+v", got)
	}
	if !slices.Equal(asked, []string{"Ada", "Grace"}) {
		t.Errorf("the tracker was asked for %v", asked)
	}
	if tr.heard < 4*time.Second || tr.speech != 2*time.Second {
		t.Errorf("the tracker heard %v, %v of it as speech; want the whole file, the two segments' 2 s as speech", tr.heard, tr.speech)
	}
	for _, tc := range []struct {
		name   string
		h      *Handlers
		fields []string
		code   string
	}{
		{"references", h, []string{"response_format", "diarized_json", "known_speaker_references[]", "data:audio/wav;base64,UklGRg=="}, "unsupported_option"},
		{"no speaker model", New(Options{Transcriber: fakeTranscriber{}}), []string{"response_format", "diarized_json"}, "unsupported_option"},
		{"names without diarized_json", h, []string{"known_speaker_names[]", "Ada"}, "bad_request"},
		{"too many names", h, []string{"response_format", "diarized_json", "known_speaker_names[]", "a", "known_speaker_names[]", "b",
			"known_speaker_names[]", "c", "known_speaker_names[]", "d", "known_speaker_names[]", "e"}, "bad_request"},
		{"stream", h, []string{"response_format", "diarized_json", "stream", "true"}, "bad_request"},
	} {
		s, _ := newServer(t, tc.h)
		body, ctype := form(wav, tc.fields...)
		checkError(t, tc.name, post(t, s.URL+"/v1/audio/transcriptions", ctype, body), 400, tc.code)
	}
}
