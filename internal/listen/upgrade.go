package listen

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/izwi-speech/izwi/internal/streams"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/recognize"
	"github.com/izwi-speech/izwi/internal/speech"
)

// streamHandler checks a /v1/listen request, builds its pipeline, upgrades
// it and runs the stream; it tracks open streams for Handler.Close.
type streamHandler struct {
	opts Options

	open streams.Set
}

func (h *streamHandler) shutdown(ctx context.Context) error {
	if err := h.open.Close(ctx); err != nil {
		return fmt.Errorf("listen: streams still open at shutdown: %w", err)
	}
	return nil
}

func (h *streamHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := ParseParams(r.URL.Query(), true)
	if err == nil && h.opts.Recognizer != nil {
		err = checkLanguage(&p, h.opts.Recognizer.Info())
	}
	if err != nil {
		writeRefusal(w, r, err)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeError(w, r, apierr.CodeBadRequest, "GET /v1/listen is a WebSocket; POST audio to /v1/listen to transcribe a file")
		return
	}
	if h.opts.Pipeline == nil {
		writeError(w, r, apierr.CodeNotReady, "no streaming recognizer is loaded")
		return
	}
	s := &stream{opts: h.opts, p: p, requestID: requestID(r), created: h.opts.Now(), sha: sha256.New()}
	s.sess, _ = limit.SessionFrom(r.Context())
	s.principal, s.authed = auth.FromContext(r.Context())
	// The pipeline is built before the upgrade so that a missing or
	// failing engine is an HTTP answer, not a dropped socket.
	pl, rate, err := h.opts.Pipeline(r.Context(), PipelineConfig{Hotwords: p.Hotwords, Context: p.Context(), Endpointing: p.Endpointing}, s.emit)
	if err != nil {
		h.opts.Logger.Warn("listen: pipeline refused", "request_id", s.requestID, "err", err)
		if badTerms(p, err) {
			writeError(w, r, apierr.CodeBadRequest, msgBadTerms)
			return
		}
		if errors.Is(err, recognize.ErrBusy) {
			w.Header().Set("Retry-After", "1")
			writeError(w, r, apierr.CodeEngineBusy, "")
			return
		}
		writeError(w, r, apierr.CodeNotReady, "the streaming recognizer is not available")
		return
	}
	s.pl, s.rate = pl, rate
	if p.Format.Encoding != "" {
		if s.conv, err = audio.NewConverter(p.Format, rate); err != nil {
			_ = pl.Close()
			writeError(w, r, apierr.CodeBadRequest, "encoding is not a format this server converts")
			return
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	done, ok := h.open.Add(cancel)
	if !ok {
		_ = pl.Close()
		writeError(w, r, apierr.CodeNotReady, "the server is shutting down")
		return
	}
	defer done()
	s.touch() // before the upgrade, so the idle clock starts when the client's dial returns
	w.Header().Set("dg-request-id", s.requestID)
	// Credentials are the gateway's business: API keys and tickets, never
	// ambient cookies, so a cross-origin page cannot ride on a user's
	// session and Origin is not checked here. "token" is the marker left
	// of Deepgram's "Sec-WebSocket-Protocol: token, KEY" after the gateway
	// strips the key; browsers need it echoed.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"token"}, InsecureSkipVerify: true})
	if err != nil {
		_ = pl.Close()
		return // Accept has answered
	}
	conn.SetReadLimit(maxMessageBytes)
	s.conn = conn
	s.run(ctx)
}

// requestID is the gateway's request ID, which every message and log line
// of the stream quotes, or a random one outside the gateway.
func requestID(r *http.Request) string {
	if id := apierr.RequestID(r.Context()); id != "" {
		return id
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// run reads the client's messages until the stream ends; the watchdog

// msgBadTerms explains a refused keyterm or keywords list; the engine's
// own error stays in the log.
const msgBadTerms = "keyterm/keywords: the loaded engine cannot use one of these terms " +
	"(PocketSphinx takes dictionary words, or a new word with its phones as word:PH ON EMES in keyterm)"

// badTerms reports whether err is the engine refusing the request's
// hotwords rather than failing.
func badTerms(p Params, err error) bool {
	return len(p.Hotwords) > 0 && (errors.Is(err, speech.ErrUnsupported) || errors.Is(err, speech.ErrBadInput))
}
