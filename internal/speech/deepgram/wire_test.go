package deepgram

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/speech"
)

// FuzzParseLive: no server message may panic the parser or yield a result
// whose times run backwards or outside the finite range.
func FuzzParseLive(f *testing.F) {
	for _, seed := range []string{
		`{"type":"Results","start":1.5,"duration":0.8,"is_final":true,"speech_final":true,"channel":{"alternatives":[{"transcript":"hello world","confidence":0.9,"words":[{"word":"hello","start":1.5,"end":1.9,"confidence":0.9},{"word":"world","start":1.9,"end":2.3,"confidence":0.8}]}]}}`,
		`{"type":"Results","start":0,"duration":1,"channel":{"alternatives":[]}}`,
		`{"type":"Metadata","request_id":"x","duration":3.2}`,
		`{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.3}`,
		`{"type":"Results","start":-1,"duration":1e400}`,
		`{"type":"Results","channel":{"alternatives":[{"words":[{"word":"x","start":2,"end":1}]}]}}`,
		`{"type":"Results","chan`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseLive(b)
		if err != nil {
			return
		}
		r, ok := m.result(3)
		if !ok {
			return
		}
		if r.Start < 0 || r.End < r.Start || r.Confidence < 0 || r.Confidence > 1 {
			t.Fatalf("bad result %+v from %q", r, b)
		}
		for _, w := range r.Words {
			if w.Start < 0 || w.End < w.Start || w.Confidence < 0 || w.Confidence > 1 {
				t.Fatalf("bad word %+v from %q", w, b)
			}
		}
	})
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{URL: "ftp://api.deepgram.com"},
		{URL: "wss://"},
		{URL: "wss://user:secret@api.deepgram.com"},
		{URL: "wss://api.deepgram.com?token=x"},
		{SampleRate: 4000},
		{UtteranceEnd: 500 * time.Millisecond},
		{UtteranceEnd: time.Second, NoInterim: true},
		{Model: "nova-3&token=x"},
		{DialTimeout: -1},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestEndpoint(t *testing.T) {
	c := Config{URL: "https://eu.example.com/dg/"}.withDefaults()
	live := c.endpoint(true, []string{"Izwi", " "})
	if !strings.HasPrefix(live, "wss://eu.example.com/dg/v1/listen?") || !strings.Contains(live, "keyterm=Izwi") ||
		strings.Count(live, "keyterm") != 1 || !strings.Contains(live, "interim_results=true") {
		t.Errorf("live endpoint %q", live)
	}
	file := Config{URL: "ws://127.0.0.1:1"}.withDefaults().endpoint(false, nil)
	if !strings.HasPrefix(file, "http://127.0.0.1:1/v1/listen?") || !strings.Contains(file, "utterances=true") {
		t.Errorf("file endpoint %q", file)
	}
	spec := speech.Spec{Model: "nova-2", Options: map[string]string{"interim_results": "false", "endpointing_ms": "10"}}
	cfg, err := ConfigFromSpec(spec)
	if err != nil || !cfg.NoInterim || cfg.Endpointing != 10*time.Millisecond {
		t.Errorf("ConfigFromSpec = %+v, %v", cfg, err)
	}
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		err    error
		reason string
		is     error
	}{
		{websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "DATA-0000"}, ReasonBadAudio, speech.ErrBadAudio},
		{websocket.CloseError{Code: websocket.StatusInternalError}, ReasonServerError, speech.ErrUnavailable},
		{io.EOF, ReasonReset, speech.ErrUnavailable},
		{context.DeadlineExceeded, ReasonStall, speech.ErrUnavailable},
		{&url.Error{Op: "Get", URL: "wss://x/v1/listen?keyterm=secret+name", Err: x509.UnknownAuthorityError{}}, ReasonTLS, speech.ErrUnavailable},
	} {
		err := classify(ctx, "receive", c.err)
		var de *Error
		if !errors.As(err, &de) || de.Reason != c.reason || !errors.Is(err, c.is) {
			t.Errorf("classify(%v) = %v, want reason %s wrapping %v", c.err, err, c.reason, c.is)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("the request URL (hotwords) leaked into %q", err)
		}
	}
	if speech.FailsOver(classify(ctx, "receive", websocket.CloseError{Code: websocket.StatusPolicyViolation})) {
		t.Error("bad audio fails over")
	}
	for status, reason := range map[int]string{401: ReasonAuth, 403: ReasonAuth, 429: ReasonRateLimited, 502: ReasonServerError, 400: ReasonRejected} {
		if e := statusError("connect", status); e.Reason != reason || !speech.FailsOver(e) {
			t.Errorf("status %d: %v, want %s and failover", status, e, reason)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := classify(cancelled, "send", io.EOF); speech.FailsOver(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("the caller's own cancellation = %v, want context.Canceled, no failover", err)
	}
}
