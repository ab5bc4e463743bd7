package deepgram

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speech"
)

// maxMessage bounds one server message; a Results message is a few KiB.
const maxMessage = 1 << 20

// Register adds Deepgram to r for the asr and transcribe roles. src finds
// the deepgram_api_key secret when a spec names no api_key_file.
func Register(r *speech.Registry, src secrets.Source) {
	r.Recognizers.Register(Name, func(ctx context.Context, spec speech.Spec, _ speech.Deps) (speech.Recognizer, error) {
		cfg, err := ConfigFromSpec(spec)
		if err != nil {
			return nil, err
		}
		return New(cfg, src)
	})
	r.Transcribers.Register(Name, func(ctx context.Context, spec speech.Spec, _ speech.Deps) (speech.Transcriber, error) {
		cfg, err := ConfigFromSpec(spec)
		if err != nil {
			return nil, err
		}
		return NewTranscriber(cfg, src)
	})
}

// Recognizer opens Deepgram live streams. It holds no connection itself.
type Recognizer struct {
	cfg Config
	src secrets.Source
}

var _ speech.Recognizer = (*Recognizer)(nil)

// New checks cfg and that the key can be read now (so a missing key fails
// at startup), then returns a Recognizer.
func New(cfg Config, src secrets.Source) (*Recognizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Recognizer{cfg: cfg.withDefaults(), src: src}
	if _, err := r.key(); err != nil {
		return nil, err
	}
	return r, nil
}

// key reads the API key afresh. Its error names where it looked, never
// the value.
func (r *Recognizer) key() (secrets.Secret, error) {
	sec, _, err := r.src.Resolve(SecretName, r.cfg.APIKeyFile)
	if err != nil {
		return secrets.Secret{}, fmt.Errorf("deepgram: api key: %w", err)
	}
	return sec, nil
}

func (r *Recognizer) SampleRate() int { return r.cfg.SampleRate }

func (r *Recognizer) Info() speech.EngineInfo {
	return speech.EngineInfo{Engine: Name, Role: "asr", Model: r.cfg.Model, Library: "deepgram live API v1"}
}

var _ speech.ContextReporter = (*Recognizer)(nil)

// ContextReport implements speech.ContextReporter: a prepared text reaches
// Deepgram as its key terms, chosen as NewStream chooses them.
func (r *Recognizer) ContextReport(text string) (speech.ContextReport, bool) {
	if text == "" {
		return speech.ContextReport{}, false
	}
	start := time.Now()
	terms := keyterms(nil, text)
	return speech.ContextReport{Engine: Name, Terms: terms, BuildTime: time.Since(start)}, true
}

// Close does nothing: streams own their connections.
func (r *Recognizer) Close() error { return nil }

// NewStream opens a live connection (bounded by ctx and DialTimeout).
func (r *Recognizer) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.Stream, error) {
	s := &stream{rec: r, hotwords: keyterms(opts.Hotwords, opts.Context)}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// header is the handshake header: the key, read now, only here.
func (r *Recognizer) header(op string) (http.Header, error) {
	sec, err := r.key()
	if err != nil {
		return nil, &Error{Op: op, Reason: ReasonAuth, Err: err}
	}
	h := http.Header{}
	h.Set("Authorization", "Token "+sec.Reveal())
	return h, nil
}

// dial opens one live WebSocket.
func (r *Recognizer) dial(ctx context.Context, hotwords []string) (*websocket.Conn, error) {
	h, err := r.header("connect")
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, r.cfg.endpoint(true, hotwords), &websocket.DialOptions{
		HTTPClient: r.cfg.HTTPClient, HTTPHeader: h,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, statusError("connect", resp.StatusCode)
		}
		return nil, classify(ctx, "connect", err)
	}
	conn.SetReadLimit(maxMessage)
	return conn, nil
}
