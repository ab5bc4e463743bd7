package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// openaiEnv runs serve with PocketSphinx (asr, transcribe) and Flite (tts)
// and no VAD or speaker model.
func openaiEnv(t *testing.T) []string {
	return append(keysEnv(t.TempDir()), "IZWI_ASR_ENGINE=pocketsphinx", "IZWI_TRANSCRIBE_ENGINE=pocketsphinx",
		"IZWI_TTS_ENGINE=flite")
}

func openaiClient(url, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// rawPost sends body with key and returns the status and error code.
func rawPost(t *testing.T, url, key, ctype string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, body)
	req.Header.Set("Content-Type", ctype)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Error struct{ Code string } }
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code
}

func multipartFile(t *testing.T, file []byte) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("model", "whisper-1")
	w, _ := mw.CreateFormFile("file", "a.wav")
	_, _ = w.Write(file)
	_ = mw.Close()
	return &b, mw.FormDataContentType()
}

// The OpenAI routes of a real izwi serve, driven by the official client:
// a transcription of shared audio, a streamed one, speech synthesized and
// transcribed back through the same server, the model list, and every
// route refusing keys without its scope.
func TestOpenAIEndToEnd(t *testing.T) {
	var u testdata.Utterance
	for _, x := range testdata.Utterances(t) {
		if x.ID == "1089-134691-0001" { // 5.4 s; PocketSphinx WER 0.059
			u = x
		}
	}
	env := openaiEnv(t)
	asrKey := newKey(t, env, "--name", "asr", "--scopes", "asr.read")
	ttsKey := newKey(t, env, "--name", "tts", "--scopes", "tts.read")
	liveKey := newKey(t, env, "--name", "live", "--scopes", "live.read")
	s := startServe(t, env)
	ctx := context.Background()
	wav, err := os.ReadFile(u.WAV)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := rawPost(t, s.url+"/v1/audio/speech", ttsKey, "application/json", strings.NewReader(`{}`)); code == 404 {
		t.Fatal("the OpenAI routes are not mounted by izwi serve (POST /v1/audio/speech answered 404)")
	}

	asr := openaiClient(s.url, asrKey)
	res, err := asr.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{
		File: openai.File(bytes.NewReader(wav), filepath.Base(u.WAV), "audio/wav"), Model: "whisper-1"})
	if err != nil {
		t.Fatal(err)
	}
	if r := wer.Compute(u.Reference, res.Text).Rate(); r > 0.2 {
		t.Errorf("transcription WER %.3f: %q", r, res.Text)
	}
	st := asr.Audio.Transcriptions.NewStreaming(ctx, openai.AudioTranscriptionNewParams{
		File: openai.File(bytes.NewReader(wav), "a.wav", "audio/wav"), Model: "whisper-1"})
	var deltas strings.Builder
	done := ""
	for st.Next() {
		switch ev := st.Current(); ev.Type {
		case "transcript.text.delta":
			deltas.WriteString(ev.Delta)
		case "transcript.text.done":
			done = ev.Text
		}
	}
	if err := st.Err(); err != nil || done == "" || deltas.String() != done || done != res.Text {
		t.Errorf("stream: err %v, deltas %q, done %q, json said %q", err, deltas.String(), done, res.Text)
	}
	st.Close()

	// Speech from the tts key, transcribed back with the asr key.
	const said = "Please call me back when you get home tonight."
	tts := openaiClient(s.url, ttsKey)
	sp, err := tts.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: "tts-1", Input: said,
		Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("echo")}, ResponseFormat: "flac"})
	if err != nil {
		t.Fatal(err)
	}
	audio, err := io.ReadAll(sp.Body)
	sp.Body.Close()
	if err != nil || sp.Header.Get("Content-Type") != "audio/flac" || len(audio) < 1000 {
		t.Fatalf("speech: %v, %s, %d bytes", err, sp.Header.Get("Content-Type"), len(audio))
	}
	back, err := asr.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{
		File: openai.File(bytes.NewReader(audio), "speech.flac", "audio/flac"), Model: "whisper-1"})
	if err != nil {
		t.Fatal(err)
	}
	if r := wer.Compute(said, back.Text).Rate(); r > 0.3 {
		t.Errorf("round trip WER %.3f: %q", r, back.Text)
	}

	// The model list, to any authenticated caller.
	lc := openaiClient(s.url, liveKey)
	page, err := lc.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if got := strings.Join(ids, " "); !strings.Contains(got, "pocketsphinx/") || !strings.Contains(got, "flite/") {
		t.Errorf("models %q", got)
	}

	// Scopes: each route refuses a key without its scope, and no key.
	_, err = tts.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{
		File: openai.File(bytes.NewReader(wav), "a.wav", "audio/wav"), Model: "whisper-1"})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 {
		t.Errorf("transcription with a tts.read key: %v", err)
	}
	body := `{"model":"tts-1","input":"hello","voice":"alloy"}`
	for _, key := range []string{asrKey, liveKey} {
		if code, ecode := rawPost(t, s.url+"/v1/audio/speech", key, "application/json", strings.NewReader(body)); code != 403 || ecode != "forbidden" {
			t.Errorf("speech with a key lacking tts.read: %d %s", code, ecode)
		}
	}
	if code, ecode := rawPost(t, s.url+"/v1/audio/speech", "", "application/json", strings.NewReader(body)); code != 401 || ecode != "unauthenticated" {
		t.Errorf("speech without a key: %d %s", code, ecode)
	}

	// Bad uploads: over the 25 MB default, and not audio.
	big, ctype := multipartFile(t, make([]byte, 26<<20))
	if code, ecode := rawPost(t, s.url+"/v1/audio/transcriptions", asrKey, ctype, big); code != 413 || ecode != "payload_too_large" {
		t.Errorf("26 MB upload: %d %s", code, ecode)
	}
	junk, ctype := multipartFile(t, []byte("certainly not audio, only text pretending"))
	if code, ecode := rawPost(t, s.url+"/v1/audio/transcriptions", asrKey, ctype, junk); code != 400 || ecode != "bad_request" {
		t.Errorf("garbage upload: %d %s", code, ecode)
	}
	logs := strings.ToLower(s.logs.String())
	for _, w := range strings.Fields(res.Text + " " + strings.ToLower(said)) {
		if w = strings.Trim(w, ".,"); len(w) >= 5 && strings.Contains(logs, w) {
			t.Errorf("the word %q reached the server's logs", w)
		}
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.logs)
	}
}
