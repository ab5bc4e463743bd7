package converse

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/wer"
)

const (
	question = "what is the weather like today"
	answer   = "It will be sunny and warm all day. Enjoy the good weather."
)

const cfgMsg = `{"type":"config","sample_rate":16000,"model":"test-model","system":"You are brief."}`

// A whole turn with real engines: Flite speaks the question, PocketSphinx
// hears it, the upstream double answers, Flite speaks the answer, and
// PocketSphinx hears the reply audio back.
func TestConversationRoundTrip(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{Reply: func(chattest.Request) string { return answer }})
	defer up.Close()
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), Pace: 50})
	c := dial(t, serve(t, h), cfgMsg)
	ready, _ := c.until(evReady)
	if ready.InputSampleRate != 16000 || ready.OutputSampleRate != 16000 || ready.SessionID == "" {
		t.Fatalf("ready %+v", ready)
	}
	c.speak(say(t, e.syn, question), 1500*time.Millisecond)

	start, before := c.until(evAudioStart)
	var heard string
	for _, it := range before {
		if it.ev.Type == evTranscript && it.ev.Final != nil && *it.ev.Final {
			heard = strings.TrimSpace(heard + " " + it.ev.Text)
		}
	}
	if r := wer.Compute(question, heard).Rate(); r > 0.5 {
		t.Errorf("the question was heard as %q (WER %.2f)", heard, r)
	}
	if start.Turn != 1 || start.OutputSampleRate != 16000 {
		t.Errorf("audio.start %+v", start)
	}
	_, got := c.until(evAudioDone)
	var frames [][]byte
	for _, it := range got {
		if it.audio != nil {
			frames = append(frames, it.audio)
		}
	}
	done, _ := c.until(evDone)
	if done.Text != answer || done.Usage == nil || done.Usage.CompletionTokens == 0 {
		t.Errorf("response.done %+v", done)
	}
	m, _ := c.until(evMetrics)
	if m.Metrics == nil || m.Metrics.EndOfSpeechToFirstAudio <= 0 || m.Metrics.EndOfSpeechToFirstAudio < m.Metrics.EndpointToFirstAudio {
		t.Errorf("turn.metrics %+v", m.Metrics)
	}
	reply := recognizeText(t, e.rec, samplesOf(frames))
	t.Logf("heard %q; reply heard as %q; metrics %+v", heard, reply, *m.Metrics)
	if r := wer.Compute(answer, reply).Rate(); r > 0.5 {
		t.Errorf("the reply audio was heard as %q (WER %.2f)", reply, r)
	}
	// The upstream got the system prompt and what was heard, nothing else.
	reqs := up.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d upstream requests", len(reqs))
	}
	msgs := reqs[0].Messages
	if len(msgs) != 2 || msgs[0].Role != "system" || msgs[1].Role != "user" || msgs[1].Content != heard {
		t.Errorf("upstream messages %+v", msgs)
	}
	c.text(`{"type":"stop"}`)
	if it := c.next(); websocket.CloseStatus(it.err) != websocket.StatusNormalClosure {
		t.Errorf("after stop: %+v", it)
	}
}

// Speaking over the reply stops it: barge_in, and no reply audio after it.
// With a VAD the first speech frames trigger it; without one, the first
// recognised words.
func TestBargeIn(t *testing.T) {
	e := loadEngines(t)
	t.Run("vad", func(t *testing.T) { bargeIn(t, e, true) })
	t.Run("words", func(t *testing.T) { bargeIn(t, e, false) })
}

func bargeIn(t *testing.T, e engines, withVAD bool) {
	long := strings.Repeat("This reply goes on for a long time so that it can be interrupted. ", 6)
	up := chattest.New(chattest.Options{Reply: func(chattest.Request) string { return long }})
	defer up.Close()
	o := Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), Pace: 2}
	if !withVAD {
		o.VAD = nil
	}
	h := NewHandler(o)
	c := dial(t, serve(t, h), cfgMsg)
	c.until(evReady)
	speech := say(t, e.syn, question)
	c.speak(speech, 1500*time.Millisecond)
	c.until(evAudioStart)
	// Let some reply audio play, then talk over it.
	for n := 0; n < 10; {
		if it := c.next(); it.audio != nil {
			n++
		}
	}
	go c.speak(speech, 0)
	ev, during := c.until(evBargeIn)
	if ev.Turn != 1 {
		t.Errorf("barge_in %+v", ev)
	}
	frames := 0
	for _, it := range during {
		if it.audio != nil {
			frames++
		}
	}
	// 2 s of reply audio (100 frames) is the bound: the VAD needs a little
	// speech, and Lead lets 300 ms run ahead of playback.
	t.Logf("%d reply frames (20 ms each) between the user starting to speak and barge_in", frames)
	if frames > 100 {
		t.Errorf("%d reply frames after the user started speaking", frames)
	}
	// Nothing of turn 1 follows the barge-in.
	for {
		it := c.next()
		if it.err != nil {
			t.Fatal(it.err)
		}
		if it.audio != nil {
			t.Fatal("reply audio after barge_in")
		}
		if it.ev.Type == evAudioStart || it.ev.Type == evTranscript {
			break // the new turn begins
		}
		if it.ev.Turn == 1 {
			t.Fatalf("turn 1 event %s after barge_in", it.ev.Type)
		}
	}
	c.text(`{"type":"stop"}`)
}

// A failing upstream is an error event; the conversation goes on.
func TestUpstreamDown(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{})
	px := newChat(t, up)
	up.Close()
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: px, Pace: 50})
	c := dial(t, serve(t, h), cfgMsg)
	c.until(evReady)
	c.speak(say(t, e.syn, question), 1500*time.Millisecond)
	ev, _ := c.until(evError)
	if ev.Code != "upstream_unavailable" || ev.Turn != 1 {
		t.Errorf("error %+v", ev)
	}
	c.until(evDone)
	c.text(`{"type":"stop"}`)
}

func TestProtocolErrors(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{})
	defer up.Close()
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), ConfigTimeout: time.Second})
	url := serve(t, h)
	for name, tc := range map[string]struct {
		first  string
		reason string
	}{
		"not json":    {`hello`, "JSON config"},
		"wrong type":  {`{"type":"start"}`, `"type":"config"`},
		"bad rate":    {`{"type":"config","sample_rate":100,"model":"m"}`, "sample_rate"},
		"no model":    {`{"type":"config","sample_rate":16000}`, "model is required"},
		"bad voice":   {`{"type":"config","sample_rate":16000,"model":"m","voice":"nobody"}`, "unknown voice"},
		"no config":   {"", "no config message"},
		"bad control": {cfgMsg + "\n", ""},
	} {
		c := dial(t, url, tc.first)
		if name == "bad control" {
			c.until(evReady)
			c.text(`{"type":"dance"}`)
			tc.reason = "text messages"
		}
		var it item
		for it = c.next(); it.err == nil; it = c.next() {
		}
		var ce websocket.CloseError
		if !errors.As(it.err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, tc.reason) {
			t.Errorf("%s: %v, want 1008 %q", name, it.err, tc.reason)
		}
	}
	// Not a WebSocket, and no engines: HTTP errors.
	srv := strings.Replace(url, "ws", "http", 1)
	resp, err := http.Get(srv)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET: %d", resp.StatusCode)
	}
	bare := serve(t, NewHandler(Options{}))
	_, resp, err = websocket.Dial(context.Background(), bare, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no engines: %v", err)
	}
}

func TestSplitter(t *testing.T) {
	var sp splitter
	var got []string
	for _, d := range []string{"Hel", "lo there. How", " are you? I am", " fine;", " thanks", "\nBye", " now"} {
		got = append(got, sp.push(d)...)
	}
	got = append(got, sp.flush())
	want := []string{"Hello there.", "How are you?", "I am fine;", "thanks", "Bye now"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("word ", 100)
	pieces := sp.push(long)
	for _, p := range pieces {
		if len(p) > maxPiece {
			t.Errorf("piece of %d bytes", len(p))
		}
	}
	if len(pieces) == 0 {
		t.Error("a long sentence was not cut")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(cfgMsg))
	f.Add([]byte(`{"type":"config","sample_rate":8000,"model":"m","voice":"kal","system":"x"} {}`))
	f.Add([]byte(`{"type":"config","sample_rate":1e9}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseConfig(b, 0)
		if err != nil {
			if len(err.Error()) > 123 {
				t.Fatalf("close reason too long: %q", err)
			}
			return
		}
		if c.SampleRate < minSampleRate || c.SampleRate > maxSampleRate || len(c.System) > maxSystem {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// Whatever the deltas, the pieces spoken are the text, in order, each at
// most maxPiece bytes once cut at a space.
func FuzzSplitter(f *testing.F) {
	f.Add("Hello there. How are you?", 3)
	f.Add(strings.Repeat("long ", 80)+"end.", 7)
	f.Add("a\n\nb;c; d", 1)
	f.Fuzz(func(t *testing.T, text string, step int) {
		step = max(1, min(step, 64))
		var sp splitter
		var got []string
		for i := 0; i < len(text); i += step {
			got = append(got, sp.push(text[i:min(i+step, len(text))])...)
		}
		if rest := sp.flush(); rest != "" {
			got = append(got, rest)
		}
		squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if squash(strings.Join(got, " ")) != squash(text) {
			t.Fatalf("pieces %q lose or reorder %q", got, text)
		}
	})
}

func TestMatchVoice(t *testing.T) {
	voices := []speech.Voice{{ID: "slt"}, {ID: "kal16"}}
	for asked, want := range map[string]string{"": "", "SLT": "slt", "kal16": "kal16"} {
		if got, ok := matchVoice(asked, voices); !ok || got != want {
			t.Errorf("%q → %q %v", asked, got, ok)
		}
	}
	if _, ok := matchVoice("alloy", voices); ok {
		t.Error("an unknown voice matched")
	}
}
