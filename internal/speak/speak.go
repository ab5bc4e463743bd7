// Package speak owns Izwi's Deepgram-compatible text-to-speech: POST
// /v1/speak (the audio streamed as it is synthesized, in every encoding
// Deepgram's REST API names) on the loaded synthesizer, so Deepgram's
// official SDKs work unchanged. The gateway checks keys, scopes and
// limits before a handler runs; only cmd/izwi builds them. Text and audio
// stay in memory and never reach a log.
package speak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/strictjson"
)

// Bounds of one request.
const (
	// MaxText is Deepgram's limit on the text of one request.
	MaxText = 2000
	// maxBody bounds the JSON body: MaxText characters, escaped.
	maxBody = 64 << 10
	// DefaultWorkTimeout bounds one synthesis.
	DefaultWorkTimeout = 5 * time.Minute
)

// Options are the handler's dependencies.
type Options struct {
	// Synthesizer speaks; nil answers 503 not_ready.
	Synthesizer speech.Synthesizer
	Logger      *slog.Logger
	// WorkTimeout caps one request; 0 means DefaultWorkTimeout.
	WorkTimeout time.Duration
	// Recheck, if set, is asked every RecheckEvery (5 s) whether the
	// credentials a socket was opened with still hold; an error (a
	// revoked key) closes it with 1008, as does their expiry.
	Recheck      func(ctx context.Context, p auth.Principal) error
	RecheckEvery time.Duration
}

// Handler serves POST /v1/speak and its WebSocket (GET /v1/speak).
//
// Lock order: mu guards open only; no I/O under it.
type Handler struct {
	o    Options
	mu   sync.Mutex
	open map[*context.CancelFunc]struct{}
	wg   sync.WaitGroup
}

// New returns the handler for opts, with defaults filled in.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.WorkTimeout <= 0 {
		opts.WorkTimeout = DefaultWorkTimeout
	}
	if opts.RecheckEvery <= 0 {
		opts.RecheckEvery = 5 * time.Second
	}
	return &Handler{o: opts, open: map[*context.CancelFunc]struct{}{}}
}

// Socket serves GET /v1/speak: Deepgram's text-to-speech WebSocket
// (Speak, Flush, Clear, Close in; Metadata, audio, Flushed, Cleared,
// Warning out), raw linear16 at the asked rate.
func (h *Handler) Socket() http.Handler { return http.HandlerFunc(h.socket) }

func (h *Handler) socket(w http.ResponseWriter, r *http.Request) {
	syn := h.o.Synthesizer
	if syn == nil {
		apierr.WriteDeepgram(w, r, apierr.CodeNotReady, "no speech synthesis engine is loaded")
		return
	}
	req, err := parseQuery(r.URL.Query(), syn.Info(), syn.Voices(), true)
	if err != nil {
		writeRefusal(w, r, err)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		apierr.WriteDeepgram(w, r, apierr.CodeBadRequest, "GET /v1/speak is a WebSocket; POST text to /v1/speak for one answer")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if !h.track(&cancel) {
		apierr.WriteDeepgram(w, r, apierr.CodeNotReady, "the server is shutting down")
		return
	}
	defer h.untrack(&cancel)
	reqID := apierr.RequestID(r.Context())
	w.Header().Set("dg-request-id", reqID)
	// Credentials are the gateway's (keys and tickets, never cookies), so
	// Origin is not checked here, as on /v1/listen; "token" is echoed for
	// browsers that sent "Sec-WebSocket-Protocol: token, KEY".
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"token"}, InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	p, _ := auth.FromContext(r.Context())
	h.serveWS(ctx, conn, req, reqID, p)
}

// track registers an open socket; false once Close has begun.
func (h *Handler) track(c *context.CancelFunc) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.open == nil {
		return false
	}
	h.open[c] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Handler) untrack(c *context.CancelFunc) {
	h.mu.Lock()
	delete(h.open, c)
	h.mu.Unlock()
	h.wg.Done()
}

// Close ends open sockets (1001) and waits for them, or for ctx.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	open := h.open
	h.open = nil
	h.mu.Unlock()
	for c := range open {
		(*c)()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("speak: sockets still open at shutdown: %w", ctx.Err())
	}
}

// ServeHTTP answers one request: the query and body are checked before
// the synthesizer runs; the audio then leaves as it is made, with
// Deepgram's dg-* headers. A failure after audio has begun aborts the
// response, so a client never takes a cut-short file for a whole one.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	syn := h.o.Synthesizer
	if syn == nil {
		apierr.WriteDeepgram(w, r, apierr.CodeNotReady, "no speech synthesis engine is loaded")
		return
	}
	req, err := parseQuery(r.URL.Query(), syn.Info(), syn.Voices(), false)
	if err != nil {
		writeRefusal(w, r, err)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		apierr.WriteDeepgram(w, r, apierr.CodeUnsupportedMediaType, `send {"text": "..."} as application/json`)
		return
	}
	text, err := readText(w, r)
	if err != nil {
		writeRefusal(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.WorkTimeout)
	defer cancel()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(h.o.WorkTimeout))
	enc, err := audio.NewStreamEncoder(ctx, audio.HTTPSink(w), req.format, syn.SampleRate(), req.rate)
	if err != nil {
		writeRefusal(w, r, err)
		return
	}
	started := false
	sink := func(samples []float32) error {
		if !started {
			started = true
			hd := w.Header()
			hd.Set("Content-Type", req.contentType)
			hd.Set("Cache-Control", "no-store")
			hd.Set("X-Content-Type-Options", "nosniff")
			hd.Set("dg-request-id", apierr.RequestID(r.Context()))
			hd.Set("dg-model-name", req.model)
			hd.Set("dg-model-uuid", speech.ModelUUID(syn.Info()))
			hd.Set("dg-char-count", strconv.Itoa(utf8.RuneCountInString(text)))
			w.WriteHeader(http.StatusOK)
		}
		return enc.Write(samples)
	}
	err = syn.Synthesize(ctx, speech.SynthesisRequest{Text: text, Voice: req.voice, Speed: 1}, sink)
	if err == nil && !started {
		err = fmt.Errorf("speak: %w: the text has nothing speakable", speech.ErrBadInput)
	}
	if err == nil {
		err = enc.Close()
	} else {
		enc.Abort()
	}
	switch {
	case err == nil:
		return
	case !started:
		writeRefusal(w, r, err)
		return
	case r.Context().Err() == nil:
		h.o.Logger.Error("speak: stream failed", "request_id", apierr.RequestID(r.Context()), "err", err)
	}
	panic(http.ErrAbortHandler)
}

// readText reads {"text": "..."}: strict JSON, 1–MaxText characters.
func readText(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", &refusal{apierr.CodePayloadTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBody)}
		}
		return "", &refusal{apierr.CodeBadRequest, "the body could not be read"}
	}
	var in struct {
		Text *string `json:"text"`
	}
	if err := strictjson.CheckObject(body); err != nil {
		return "", &refusal{apierr.CodeBadRequest, `the body must be {"text": "..."}`}
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Text == nil {
		return "", &refusal{apierr.CodeBadRequest, `the body must be {"text": "..."}`}
	}
	switch n := utf8.RuneCountInString(*in.Text); {
	case strings.TrimSpace(*in.Text) == "":
		return "", &refusal{apierr.CodeBadRequest, "text is empty"}
	case n > MaxText:
		return "", &refusal{apierr.CodeBadRequest, fmt.Sprintf("text is %d characters; the limit is %d", n, MaxText)}
	}
	return *in.Text, nil
}

// refusal is a request refused with its catalogue code.
type refusal struct {
	code apierr.Code
	msg  string
}

func (e *refusal) Error() string { return "speak: " + string(e.code) + ": " + e.msg }

// writeRefusal answers err before any audio: a refusal with its code, a
// caller's speech.ErrBadInput as 400, anything else 500.
func writeRefusal(w http.ResponseWriter, r *http.Request, err error) {
	var re *refusal
	switch {
	case errors.As(err, &re):
		apierr.WriteDeepgram(w, r, re.code, re.msg)
	case errors.Is(err, speech.ErrBadInput):
		apierr.WriteDeepgram(w, r, apierr.CodeBadRequest, err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
	default:
		apierr.WriteDeepgram(w, r, apierr.CodeInternal, "")
	}
}
