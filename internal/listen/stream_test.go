package listen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/logtest"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

// A shared utterance streamed faster than real time comes back as the
// right words, with interim and final Results, SpeechStarted, UtteranceEnd
// after the trailing silence, formatted text, and a closing Metadata whose
// duration and SHA-256 describe exactly the audio sent.
func TestStreamRecognisesUtterance(t *testing.T) {
	e := loadEngines(t)
	var logs logtest.Buffer
	opts := e.options()
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	base := serve(t, NewHandler(opts))
	u, samples, _ := utterance(t, shortID)
	pcm := append(audio.EncodePCM16(samples), silence(2*time.Second)...)

	s := dial(t, wsURL(base, "encoding=linear16&sample_rate=16000&channels=1&interim_results=true&vad_events=true&utterance_end_ms=1000&punctuate=true&model=nova-3&keyterm=stairs&extra=room:a"), nil)
	s.sendAudio(pcm, 3200) // 100 ms messages
	s.sendText(`{"type":"CloseStream"}`)
	msgs := s.until(nil)
	if code, reason := s.closeStatus(); code != websocket.StatusNormalClosure {
		t.Fatalf("close %d %q, want 1000", code, reason)
	}

	var finals []string
	var interims, started, ends int
	var lastStart, lastWordEnd float64
	for i, m := range msgs {
		switch m.Type {
		case typeResults:
			alt := m.alt()
			if !m.IsFinal {
				interims++
				continue
			}
			if alt.Transcript != "" {
				finals = append(finals, alt.Transcript)
				if !strings.HasSuffix(alt.Transcript, ".") || alt.Transcript[:1] != strings.ToUpper(alt.Transcript[:1]) {
					t.Errorf("punctuate=true: transcript %q not formatted", alt.Transcript)
				}
			}
			for _, w := range alt.Words {
				if w.Start < lastStart || w.End < w.Start {
					t.Errorf("word %+v goes back in time (last start %.3f)", w, lastStart)
				}
				lastStart, lastWordEnd = w.Start, w.End
			}
			if m.Metadata.ModelInfo.Arch != "pocketsphinx" || m.Metadata.ModelUUID == "" || m.Metadata.Extra["room"] != "a" {
				t.Errorf("result metadata %+v", m.Metadata)
			}
		case typeSpeechStarted:
			started++
		case typeUtteranceEnd:
			ends++
			if m.LastWordEnd <= 0 || m.LastWordEnd != lastWordEnd {
				t.Errorf("UtteranceEnd last_word_end %.3f", m.LastWordEnd)
			}
		case typeMetadata:
			if i != len(msgs)-1 {
				t.Errorf("Metadata is message %d of %d, want the last", i, len(msgs))
			}
			sum := sha256.Sum256(pcm)
			var md Metadata
			_ = json.Unmarshal(m.raw, &md)
			if md.SHA256 != hex.EncodeToString(sum[:]) || md.Channels != 1 || md.TransactionKey != "deprecated" ||
				len(md.Models) != 1 || md.ModelInfo[md.Models[0]].Arch != "pocketsphinx" || md.Extra["room"] != "a" ||
				len(md.Warnings) != 1 || md.Warnings[0].Parameter != "model" {
				t.Errorf("metadata %s", m.raw)
			}
			if want := float64(len(pcm)/2) / 16000; md.Duration < want-0.01 || md.Duration > want+0.01 {
				t.Errorf("metadata duration %.3f, want %.3f", md.Duration, want)
			}
		default:
			t.Errorf("unexpected message %s", m.raw)
		}
	}
	if len(msgs) == 0 || msgs[len(msgs)-1].Type != typeMetadata {
		t.Fatalf("no closing Metadata in %d messages", len(msgs))
	}
	if interims == 0 || started == 0 || ends == 0 {
		t.Errorf("interims %d, SpeechStarted %d, UtteranceEnd %d; want each ≥ 1", interims, started, ends)
	}
	checkWER(t, u.Reference, strings.Join(finals, " "), 0.25)
	// Privacy: the log has the stream's request ID, never its words.
	log := logs.String()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log, "stream closed") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the server logs after the client saw the close
		log = logs.String()
	}
	if !strings.Contains(log, `"msg":"listen: stream closed"`) || msgs[len(msgs)-1].RequestID == "" || !strings.Contains(log, msgs[len(msgs)-1].RequestID) {
		t.Errorf("log lacks the stream's close record:\n%s", log)
	}
	for _, w := range strings.Fields(strings.ToLower(u.Reference)) {
		if len(w) > 4 && strings.Contains(strings.ToLower(log), w) {
			t.Errorf("log holds the word %q:\n%s", w, log)
		}
	}
}

// Defaults: no interim results, no VAD events, no UtteranceEnd; finals
// ended by silence carry speech_final, not from_finalize.
func TestStreamDefaults(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewHandler(e.options()))
	u, samples, _ := utterance(t, shortID)
	// A new word with its phones in keyterm is added for this stream.
	s := dial(t, wsURL(base, "encoding=linear16&sample_rate=16000&keyterm=izwi:IH%20Z%20W%20IY"), nil)
	s.sendAudio(append(audio.EncodePCM16(samples), silence(2*time.Second)...), 3200)
	s.sendText(`{"type":"KeepAlive"}`)
	s.sendText(`{"type":"CloseStream"}`)
	var finals []string
	speechFinal := false
	for _, m := range s.until(nil) {
		switch {
		case m.Type == typeResults && !m.IsFinal:
			t.Errorf("interim result without interim_results: %s", m.raw)
		case m.Type == typeSpeechStarted || m.Type == typeUtteranceEnd:
			t.Errorf("%s without asking: %s", m.Type, m.raw)
		case m.Type == typeResults:
			speechFinal = speechFinal || m.SpeechFinal
			if m.FromFinalize {
				t.Errorf("from_finalize without Finalize: %s", m.raw)
			}
			finals = append(finals, m.alt().Transcript)
		}
	}
	if !speechFinal {
		t.Error("no final carried speech_final after 2 s of silence")
	}
	checkWER(t, u.Reference, strings.Join(finals, " "), 0.25)
	if code, _ := s.closeStatus(); code != websocket.StatusNormalClosure {
		t.Errorf("close %d, want 1000", code)
	}
}

// Finalize ends the utterance at once: its final is from_finalize and not
// speech_final, and the stream stays open for more. (PocketSphinx's live
// profile may already have ended an utterance at its trailing silence; the
// words of one cut mid-speech must come with the Finalize.)
func TestStreamFinalize(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewHandler(e.options()))
	u, samples, _ := utterance(t, shortID)
	s := dial(t, wsURL(base, "encoding=linear16&sample_rate=16000&endpointing=false"), nil)
	s.sendAudio(audio.EncodePCM16(samples), 3200)
	s.sendText(`{"type":"Finalize"}`)
	got := s.until(func(m message) bool { return m.FromFinalize })
	var finals []string
	for _, m := range got {
		if m.SpeechFinal {
			t.Errorf("speech_final with endpointing=false: %s", m.raw)
		}
		if m.IsFinal {
			finals = append(finals, m.alt().Transcript)
		}
	}
	if last := got[len(got)-1]; !last.IsFinal {
		t.Errorf("Finalize result %s", last.raw)
	}
	checkWER(t, u.Reference, strings.Join(finals, " "), 0.25)
	// Mid-speech: the words so far come with the Finalize.
	s.sendAudio(audio.EncodePCM16(samples[:16000]), 3200)
	s.sendText(`{"type":"Finalize"}`)
	got = s.until(func(m message) bool { return m.FromFinalize })
	if last := got[len(got)-1]; !last.IsFinal || last.alt().Transcript == "" {
		t.Errorf("Finalize mid-speech: %s", last.raw)
	}
	s.sendText(`{"type":"CloseStream"}`)
	rest := s.until(nil)
	if len(rest) == 0 || rest[len(rest)-1].Type != typeMetadata {
		t.Errorf("after Finalize the stream did not go on to a Metadata close: %d messages", len(rest))
	}
}

// 48 kHz stereo linear16 is downmixed and resampled for the engine (the
// other encodings are package audio's converter, tested there).
func TestStreamConvertsFormats(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewHandler(e.options()))
	u, samples, _ := utterance(t, shortID)
	up, err := audio.Resample(samples, 16000, 48000)
	if err != nil {
		t.Fatal(err)
	}
	stereo := make([]float32, 2*len(up))
	for i, v := range up {
		stereo[2*i], stereo[2*i+1] = v, v
	}
	s := dial(t, wsURL(base, "encoding=linear16&sample_rate=48000&channels=2"), nil)
	s.sendAudio(audio.EncodePCM16(stereo), 19200)
	s.sendText(`{"type":"CloseStream"}`)
	var finals []string
	var md Metadata
	for _, m := range s.until(nil) {
		if m.Type == typeResults {
			finals = append(finals, m.alt().Transcript)
		}
		if m.Type == typeMetadata {
			_ = json.Unmarshal(m.raw, &md)
		}
	}
	checkWER(t, u.Reference, strings.Join(finals, " "), 0.25)
	// The resampler's tail is flushed at CloseStream: every second sent is
	// counted.
	if want := float64(len(up)) / 48000; md.Channels != 2 || md.Duration < want-0.002 || md.Duration > want+0.002 {
		t.Errorf("metadata channels %d duration %.3f, want 2 and %.3f", md.Channels, md.Duration, want)
	}
}

// Refusals before the upgrade: Deepgram's error body with the catalogue
// code beside it.
func TestStreamRefusesBadQueries(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewHandler(e.options()))
	noEngine := serve(t, NewHandler(Options{}))
	for _, tc := range []struct {
		base, query string
		status      int
		code        string
	}{
		{base, "encoding=opus&sample_rate=16000", 400, "bad_request"},
		{base, "encoding=linear16", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=4000", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=16000&channels=3", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=16000&channels=2&multichannel=true", 400, "unsupported_option"},
		{base, "encoding=linear16&sample_rate=16000&diarize=true", 400, "unsupported_option"},
		{base, "encoding=linear16&sample_rate=16000&detect_language=true", 400, "unsupported_option"},
		{base, "encoding=linear16&sample_rate=16000&language=de", 400, "unsupported_language"},
		{base, "encoding=linear16&sample_rate=16000&language=1x", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=16000&utterance_end_ms=1000", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=16000&interim_results=maybe", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=16000&endpointing=-5", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=16000&keywords=foo:bar", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=16000&callback=http://169.254.169.254/", 400, "bad_request"},
		{base, "encoding=linear16&sample_rate=16000&keyterm=caf%C3%A9", 400, "bad_request"}, // not spellable
		{base, "encoding=linear16&sample_rate=16000", 400, "bad_request"},                   // not a WebSocket upgrade
		{noEngine, "encoding=linear16&sample_rate=16000", 503, "not_ready"},
	} {
		hdr := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
		if tc.status == 400 && tc.query == "encoding=linear16&sample_rate=16000" {
			hdr = nil
		}
		req, _ := http.NewRequest("GET", tc.base+"/v1/listen?"+tc.query, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body apierr.DeepgramBody
		_ = json.Unmarshal(b, &body)
		if resp.StatusCode != tc.status || string(body.Error.Code) != tc.code || body.ErrCode == "" || body.ErrMsg == "" ||
			body.ErrMsg != body.Error.Message {
			t.Errorf("%q: %d %s, want %d %s", tc.query, resp.StatusCode, b, tc.status, tc.code)
		}
	}
}

// Bad messages after the upgrade end the stream with a close code and a
// reason, never a crash or a hang.
func TestStreamBadMessages(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewHandler(e.options()))
	q := "encoding=linear16&sample_rate=16000"
	for _, tc := range []struct {
		name string
		send func(s *session)
		code websocket.StatusCode
	}{
		{"not JSON", func(s *session) { s.sendText("hello") }, websocket.StatusUnsupportedData},
		{"unknown type", func(s *session) { s.sendText(`{"type":"Configure"}`) }, websocket.StatusPolicyViolation},
		{"too large", func(s *session) {
			_ = s.conn.Write(t.Context(), websocket.MessageBinary, make([]byte, maxMessageBytes+2))
		}, websocket.StatusMessageTooBig},
		{"empty binary closes", func(s *session) { s.sendAudio(silence(time.Second), 3200); s.sendAudio([]byte{}, 1) }, websocket.StatusNormalClosure},
		{"odd bytes", func(s *session) { s.sendAudio([]byte{1, 2, 3}, 3); s.sendText(`{"type":"CloseStream"}`) }, websocket.StatusNormalClosure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := dial(t, wsURL(base, q), nil)
			if tc.name == "empty binary closes" {
				_ = s.conn.Write(t.Context(), websocket.MessageBinary, silence(time.Second))
				_ = s.conn.Write(t.Context(), websocket.MessageBinary, nil)
			} else {
				tc.send(s)
			}
			if code, reason := s.closeStatus(); code != tc.code {
				t.Errorf("close %d %q, want %d", code, reason, tc.code)
			}
		})
	}
}

// Deepgram's timeout: no audio and no KeepAlive for 10 s closes the
// stream with 1011 and a NET-0001 reason. The clock is a fake one.
func TestStreamIdleTimeout(t *testing.T) {
	e := loadEngines(t)
	clock := clocktest.New(time.Unix(1_700_000_000, 0))
	opts := e.options()
	opts.Now, opts.IdleCheck = clock.Now, 5*time.Millisecond
	base := serve(t, NewHandler(opts))
	s := dial(t, wsURL(base, "encoding=linear16&sample_rate=16000"), nil)
	clock.Advance(9 * time.Second) // inside the window: nothing happens
	select {
	case m := <-s.msgs:
		t.Fatalf("unexpected message %s", m.raw)
	case <-time.After(100 * time.Millisecond):
	}
	clock.Advance(2 * time.Second)
	code, reason := s.closeStatus()
	if code != websocket.StatusInternalError || !strings.HasPrefix(reason, "NET-0001") {
		t.Errorf("close %d %q, want 1011 NET-0001", code, reason)
	}
}

// Close ends open streams with 1001 and refuses new ones with 503.
func TestHandlerClose(t *testing.T) {
	e := loadEngines(t)
	h := NewHandler(e.options())
	base := serve(t, h)
	q := "encoding=linear16&sample_rate=16000"
	s := dial(t, wsURL(base, q), nil)
	s.sendAudio(silence(300*time.Millisecond), 3200)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if code, reason := s.closeStatus(); code != websocket.StatusGoingAway || reason != reasonShutdown {
		t.Errorf("close %d %q, want 1001", code, reason)
	}
	_, resp, err := websocket.Dial(ctx, wsURL(base, q), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %v %v, want 503", err, resp)
	}
}

// Without encoding the stream is a WAV file: its header sets the format
// (here 16 kHz mono PCM), the samples after it are recognised; anything
// else is refused with 1003 and a reason.
func TestStreamWAV(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewHandler(e.options()))
	u, _, wav := utterance(t, shortID)
	s := dial(t, wsURL(base, "punctuate=false"), nil)
	s.sendAudio(wav[:20], 20) // a header split across messages
	s.sendAudio(wav[20:], 3200)
	s.sendText(`{"type":"CloseStream"}`)
	var finals []string
	var md Metadata
	for _, m := range s.until(nil) {
		if m.Type == typeResults {
			finals = append(finals, m.alt().Transcript)
		} else if m.Type == typeMetadata {
			_ = json.Unmarshal(m.raw, &md)
		}
	}
	checkWER(t, u.Reference, strings.Join(finals, " "), 0.25)
	if md.Channels != 1 || md.Duration < 3.2 || md.Duration > 3.3 {
		t.Errorf("metadata %+v", md)
	}

	s = dial(t, wsURL(base, ""), nil)
	s.sendAudio([]byte("OggS\x00\x02 not a wav stream at all"), 64)
	if code, reason := s.closeStatus(); code != websocket.StatusUnsupportedData || !strings.Contains(reason, "WAV") {
		t.Errorf("not WAV: close %d %q, want 1003", code, reason)
	}
}

// A credential that expires while its stream is open ends the stream
// (1008); the clock is a fake one.
func TestStreamCredentialExpiry(t *testing.T) {
	e := loadEngines(t)
	clock := clocktest.New(time.Unix(1_700_000_000, 0))
	opts := e.options()
	opts.Now, opts.IdleCheck = clock.Now, 5*time.Millisecond
	h := NewHandler(opts)
	exp := clock.Now().Add(time.Minute)
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeASRRead}, Expires: exp}
		h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}))
	s := dial(t, wsURL(base, "encoding=linear16&sample_rate=16000"), nil)
	for range 7 { // 63 s kept alive: the idle timeout never fires, the expiry does
		// Finalize touches like KeepAlive and is answered, so the test
		// knows it was handled before moving the clock.
		s.sendText(`{"type":"Finalize"}`)
		s.until(func(m message) bool { return m.FromFinalize })
		clock.Advance(9 * time.Second)
	}
	if code, reason := s.closeStatus(); code != websocket.StatusPolicyViolation || reason != reasonExpired {
		t.Errorf("close %d %q, want 1008 %q", code, reason, reasonExpired)
	}
}

// With every decoder taken, /v1/listen answers at once with 503
// engine_busy and Retry-After (never a hang on a decoder), and the next
// stream opens once one is free.
func TestStreamRefusedAtCapacity(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewHandler(e.options()))
	release := speechtest.Exhaust(t, e.rec)
	_, resp, err := websocket.Dial(context.Background(), wsURL(base, "encoding=linear16&sample_rate=16000"), nil)
	if err == nil || resp == nil {
		t.Fatalf("a stream opened with every decoder taken: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	var body apierr.DeepgramBody
	_ = json.Unmarshal(b, &body)
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != "engine_busy" || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("at capacity: %d %s (Retry-After %q), want 503 engine_busy, Retry-After 1", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	release()
	s := dial(t, wsURL(base, "encoding=linear16&sample_rate=16000"), nil)
	s.sendText(`{"type":"CloseStream"}`)
	if code, _ := s.closeStatus(); code != websocket.StatusNormalClosure {
		t.Errorf("after a decoder was freed: close %d", code)
	}
}
