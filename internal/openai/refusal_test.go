package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/speech"
)

// checkError asserts resp is status with catalogue code and a message,
// and returns the message.
func checkError(t *testing.T, name string, resp *http.Response, status int, code string) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body apierr.Body
	_ = json.Unmarshal(b, &body)
	if resp.StatusCode != status || string(body.Error.Code) != code || body.Error.Message == "" {
		t.Errorf("%s: %d %s, want %d %s", name, resp.StatusCode, b, status, code)
	}
	return body.Error.Message
}

// form builds a transcription form with a file part holding file (none
// when nil) and the given fields.
func form(file []byte, fields ...string) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = mw.WriteField(fields[i], fields[i+1])
	}
	if file != nil {
		w, _ := mw.CreateFormFile("file", "audio.bin")
		_, _ = w.Write(file)
	}
	_ = mw.Close()
	return b.String(), mw.FormDataContentType()
}

// temperature=NaN passed the 0–1 check on main, and verbose_json answered
// 200 with an empty body while charging the audio: non-finite numbers are
// refused before any audio is charged.
func TestTemperatureMustBeFinite(t *testing.T) {
	u := utterance(t, testID)
	wav, err := os.ReadFile(u.WAV)
	if err != nil {
		t.Fatal(err)
	}
	quota := &fakeQuota{left: time.Hour}
	srv, _ := newServer(t, newHandlers(t, Options{Quota: quota}))
	for _, v := range []string{"NaN", "nan", "Inf", "-Infinity"} {
		body, ctype := form(wav, "model", "whisper-1", "response_format", "verbose_json", "temperature", v)
		checkError(t, "temperature "+v, post(t, srv.URL+"/v1/audio/transcriptions", ctype, body), 400, "bad_request")
	}
	quota.mu.Lock()
	defer quota.mu.Unlock()
	if quota.charged != 0 {
		t.Errorf("refused requests charged %v of audio", quota.charged)
	}
}

func TestTranscriptionRefusals(t *testing.T) {
	u := utterance(t, testID)
	wav, err := os.ReadFile(u.WAV)
	if err != nil {
		t.Fatal(err)
	}
	quota := &fakeQuota{left: time.Hour}
	h := newHandlers(t, Options{MaxUploadBytes: int64(len(wav)) + 100, MaxDuration: 3 * time.Second, Quota: quota})
	srv, _ := newServer(t, h)
	url := srv.URL + "/v1/audio/transcriptions"
	send := func(name string, file []byte, status int, code string, fields ...string) {
		t.Helper()
		body, ctype := form(file, fields...)
		checkError(t, name, post(t, url, ctype, body), status, code)
	}
	send("no file", nil, 400, "bad_request", "model", "whisper-1")
	send("garbage", []byte("this is not audio at all, just words"), 400, "bad_request", "model", "whisper-1")
	send("empty file", []byte{}, 400, "bad_request")
	send("ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03"), 415, "unsupported_media_type")
	send("webm", []byte{0x1A, 0x45, 0xDF, 0xA3, 1, 2, 3, 4, 5, 6, 7, 8}, 415, "unsupported_media_type")
	send("oversize", append(wav, make([]byte, 200)...), 413, "payload_too_large")
	send("too long", wav, 400, "bad_request") // 5.4 s over a 3 s limit
	send("unknown model", wav, 400, "bad_request", "model", "whisper-9000")
	send("bad format", wav, 400, "bad_request", "response_format", "docx")
	send("bad granularity", wav, 400, "bad_request", "timestamp_granularities[]", "phoneme")
	send("bad temperature", wav, 400, "bad_request", "temperature", "hot")
	send("bad stream", wav, 400, "bad_request", "stream", "perhaps")
	for _, tc := range []struct {
		ctype string
		file  []byte
	}{
		{"audio/mpeg", wav},
		{"audio/flac", wav},
		{"audio/ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00")},
		{"audio/webm; codecs=opus", wav},
	} {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		pw, _ := mw.CreatePart(map[string][]string{"Content-Disposition": {`form-data; name="file"; filename="a"`}, "Content-Type": {tc.ctype}})
		_, _ = pw.Write(tc.file)
		_ = mw.Close()
		checkError(t, "claimed "+tc.ctype, post(t, url, mw.FormDataContentType(), b.String()), 415, "unsupported_media_type")
	}
	checkError(t, "json body", post(t, url, "application/json", `{"file":"x"}`), 415, "unsupported_media_type")
	checkError(t, "huge body", post(t, url, "multipart/form-data; boundary=x",
		"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"+strings.Repeat("a", len(wav)+2<<20)), 413, "payload_too_large")
	if quota.charged != 0 {
		t.Errorf("refused requests charged %v of audio", quota.charged)
	}

	// The quota: a request within it is charged its duration; a file
	// longer than what is left is refused while it is decoded (the decode
	// is bounded by the 1.6 s left, AudioAllowance), and nothing is charged.
	h2 := newHandlers(t, Options{Quota: &fakeQuota{left: 6 * time.Second}})
	srv2, c := newServer(t, h2)
	q2 := h2.o.Quota.(*fakeQuota)
	short := utterance(t, "3752-4944-0001") // 4.4 s
	if _, err := c.Audio.Transcriptions.New(context.Background(), params(t, short.WAV, "whisper-1")); err != nil {
		t.Fatal(err)
	}
	if d := q2.charged; d < 4*time.Second || d > 5*time.Second {
		t.Errorf("charged %v for a 4.4 s file", d)
	}
	body, ctype := form(wav)
	resp := post(t, srv2.URL+"/v1/audio/transcriptions", ctype, body)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("quota refusal without Retry-After")
	}
	checkError(t, "over quota", resp, 429, "quota_exceeded")
	if d := q2.charged; d > 5*time.Second {
		t.Errorf("the refused file was charged: %v in all", d)
	}

	// No engine loaded: 503.
	srv3, _ := newServer(t, New(Options{}))
	body, ctype = form(wav)
	checkError(t, "no engine", post(t, srv3.URL+"/v1/audio/transcriptions", ctype, body), 503, "not_ready")
}

// fakeChat lists chat models, or fails.
type fakeChat struct{ fail bool }

func (f fakeChat) Models(context.Context) ([]Model, error) {
	if f.fail {
		return nil, errors.New("upstream down")
	}
	return []Model{{ID: "llama3", Created: 1, OwnedBy: "ollama"}}, nil
}

func TestModels(t *testing.T) {
	e := loadEngines(t)
	for _, fail := range []bool{false, true} {
		_, c := newServer(t, newHandlers(t, Options{ChatModels: fakeChat{fail: fail}}))
		page, err := c.Models.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, m := range page.Data {
			if m.Object != "model" || m.OwnedBy == "" {
				t.Errorf("model %+v", m)
			}
			ids[m.ID] = true
		}
		for _, id := range []string{modelID(e.rec.Info()), modelID(e.syn.Info())} {
			if !ids[id] {
				t.Errorf("fail=%v: %s missing from %v", fail, id, ids)
			}
		}
		if ids["llama3"] == fail {
			t.Errorf("fail=%v: chat model listed %v", fail, ids["llama3"])
		}
		if m, err := c.Models.Get(context.Background(), "x"); err == nil {
			t.Errorf("GET /v1/models/x answered %+v", m)
		}
	}
}

func FuzzTranscriptionForm(f *testing.F) {
	body, ctype := form([]byte("RIFF....WAVE"), "model", "whisper-1", "response_format", "verbose_json",
		"timestamp_granularities[]", "word", "timestamp_granularities[]", "segment", "stream", "true", "temperature", "0.2")
	boundary := strings.TrimPrefix(ctype, "multipart/form-data; boundary=")
	f.Add([]byte(body))
	b2, _ := form(nil, "model", "x")
	f.Add([]byte(strings.ReplaceAll(b2, strings.Split(b2, "\r\n")[0][2:], boundary)))
	f.Add([]byte("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--" + boundary + "--\r\n"))
	f.Add([]byte("--" + boundary + "\r\n\r\n--" + boundary + "--"))
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := parseTranscriptionForm(bytes.NewReader(in), boundary, 1<<10)
		if err != nil {
			var re *reqError
			if !errors.As(err, &re) || re.msg == "" || apierr.Lookup(re.code).Status >= 500 {
				t.Fatalf("untyped refusal %v", err)
			}
			return
		}
		if int64(len(req.File)) > 1<<10 || (!req.Words && !req.Segments) {
			t.Fatalf("accepted %d-byte file, words %v segments %v", len(req.File), req.Words, req.Segments)
		}
		switch req.Format {
		case "json", "text", "srt", "vtt", "verbose_json", "diarized_json":
		default:
			t.Fatalf("accepted format %q", req.Format)
		}
	})
}

// fakeTranscriber answers every file with two fixed segments.
type fakeTranscriber struct{ speech.Transcriber }

func (fakeTranscriber) SampleRate() int { return 16000 }
func (fakeTranscriber) Info() speech.EngineInfo {
	return speech.EngineInfo{Engine: "fake", Role: "transcribe", Model: "m1"}
}
func (fakeTranscriber) Transcribe(ctx context.Context, s []float32, o speech.TranscribeOptions) (speech.Transcript, error) {
	w := func(t string, a, b int) speech.Word {
		return speech.Word{Text: t, Start: time.Duration(a) * time.Millisecond, End: time.Duration(b) * time.Millisecond, Confidence: 0.9}
	}
	return speech.Transcript{Duration: speech.SamplesToDuration(len(s), 16000), Segments: []speech.Result{
		{Segment: 0, Text: "hello there", Start: 0, End: time.Second, Confidence: 0.5, Final: true, Words: []speech.Word{w("hello", 0, 400), w("there", 500, 1000)}},
		{Segment: 1, Text: "general", Start: 2 * time.Second, End: 3 * time.Second, Confidence: 1, Final: true, Words: []speech.Word{w("general", 2000, 3000)}},
	}}, nil
}

// Without a streaming recogniser, stream=true sends the Transcriber's
// segments as deltas; verbose_json defaults to segments only; an engine
// named by its /v1/models ID or an OpenAI alias is accepted.
func TestTranscriptionWithoutRecognizer(t *testing.T) {
	wav, err := os.ReadFile(utterance(t, testID).WAV)
	if err != nil {
		t.Fatal(err)
	}
	_, c := newServer(t, New(Options{Transcriber: fakeTranscriber{}}))
	ctx := context.Background()
	file := func() openai.AudioTranscriptionNewParams {
		return openai.AudioTranscriptionNewParams{File: openai.File(bytes.NewReader(wav), "a.wav", "audio/wav"), Model: "fake/m1"}
	}
	st := c.Audio.Transcriptions.NewStreaming(ctx, file())
	var deltas []string
	var done string
	for st.Next() {
		if ev := st.Current(); ev.Type == "transcript.text.delta" {
			deltas = append(deltas, ev.Delta)
		} else {
			done = ev.Text
		}
	}
	st.Close()
	if err := st.Err(); err != nil || len(deltas) != 2 || deltas[0] != "hello there" || deltas[1] != " general" || done != "hello there general" {
		t.Fatalf("stream: %v %q %q", err, deltas, done)
	}
	p := file()
	p.Model = "gpt-4o-transcribe"
	p.ResponseFormat = openai.AudioResponseFormatVerboseJSON
	res, err := c.Audio.Transcriptions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Segments) != 2 || len(res.Words) != 0 || res.Segments[1].Start != 2 || res.Segments[1].AvgLogprob != 0 ||
		res.Segments[0].AvgLogprob >= 0 || res.Text != "hello there general" {
		t.Fatalf("verbose %+v", res)
	}
	p.TimestampGranularities = []string{"word"}
	p.File = file().File // the last request read the first reader
	res, err = c.Audio.Transcriptions.New(ctx, p)
	if err != nil || len(res.Segments) != 0 || len(res.Words) != 3 || res.Words[2].Word != "general" || res.Words[1].Start != 0.5 {
		t.Fatalf("words only: %v %+v", err, res)
	}
	p.ResponseFormat = openai.AudioResponseFormatSRT
	p.File = file().File
	var srt string
	if err := c.Post(ctx, "audio/transcriptions", p, &srt); err != nil || parseCues(t, srt) != "hello there general" {
		t.Fatalf("srt: %v %q", err, srt)
	}
}
