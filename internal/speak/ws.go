package speak

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Bounds of one speak WebSocket.
const (
	// maxMessage bounds a client message ({"type":"Speak","text":…}).
	maxMessage = 64 << 10
	// IdleTimeout closes a socket that sends nothing and has nothing
	// being spoken.
	IdleTimeout = 60 * time.Second
	// maxQueued flushes wait behind the one being spoken; more is 1008.
	maxQueued = 8
)

// wsMsg is a client message: Speak (text), Flush, Clear (Reset in older
// SDKs) or Close.
type wsMsg struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// flushJob is the text of one Flush, spoken in order.
type flushJob struct {
	text     string
	seq, gen int
}

// socket is one open speak WebSocket. The reader goroutine owns pending;
// the speaker goroutine owns the synthesizer; both write to conn, which
// coder/websocket allows.
type socket struct {
	h      *Handler
	conn   *websocket.Conn
	req    request
	reqID  string
	jobs   chan flushJob
	mu     sync.Mutex
	cancel context.CancelFunc // of the job being spoken
	gen    int                // bumped by Clear: jobs of older generations are dropped
}

// serveWS runs one socket until the client closes it, goes idle, or ctx
// ends (shutdown: 1001).
func (h *Handler) serveWS(ctx context.Context, conn *websocket.Conn, req request, reqID string, p auth.Principal) {
	s := &socket{h: h, conn: conn, req: req, reqID: reqID, jobs: make(chan flushJob, maxQueued)}
	conn.SetReadLimit(maxMessage)
	info := h.o.Synthesizer.Info()
	s.send(ctx, map[string]string{"type": "Metadata", "request_id": reqID, "model_name": req.model,
		"model_version": info.Library, "model_uuid": speech.ModelUUID(info)})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.speak(ctx) }()
	rctx, stop := context.WithCancel(ctx)
	go func() { defer wg.Done(); s.watch(rctx, p) }()
	code, reason := s.read(ctx)
	stop()
	close(s.jobs)
	if code != websocket.StatusNormalClosure {
		s.clear()
	}
	wg.Wait() // a Close speaks what was flushed first, as Deepgram does
	_ = conn.Close(code, reason)
}

// watch closes the socket (1008) once its credentials expire or the key
// is revoked, checking every RecheckEvery.
func (s *socket) watch(ctx context.Context, p auth.Principal) {
	t := time.NewTicker(s.h.o.RecheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			expired := !p.Expires.IsZero() && !now.Before(p.Expires)
			revoked := s.h.o.Recheck != nil && p.Subject != "" && s.h.o.Recheck(ctx, p) != nil && ctx.Err() == nil
			if expired || revoked {
				s.clear()
				_ = s.conn.Close(websocket.StatusPolicyViolation, "credentials revoked or expired")
				return
			}
		}
	}
}

// read handles client messages until Close, an error or idleness.
func (s *socket) read(ctx context.Context) (websocket.StatusCode, string) {
	var pending strings.Builder
	seq := 0
	for {
		rctx, cancel := context.WithTimeout(ctx, IdleTimeout)
		typ, b, err := s.conn.Read(rctx)
		idle := rctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return websocket.StatusGoingAway, "server shutting down"
		case idle:
			return websocket.StatusPolicyViolation, "idle"
		case err != nil:
			if websocket.CloseStatus(err) != -1 {
				return websocket.StatusNormalClosure, ""
			}
			return websocket.StatusPolicyViolation, "read failed"
		case typ != websocket.MessageText:
			return websocket.StatusUnsupportedData, "send JSON text messages"
		}
		var m wsMsg
		if json.Unmarshal(b, &m) != nil {
			return websocket.StatusInvalidFramePayloadData, "a message is not JSON"
		}
		switch m.Type {
		case "Speak":
			if pending.Len()+len(m.Text) > 4*MaxText || utf8.RuneCountInString(pending.String()+m.Text) > MaxText {
				s.warn(ctx, "TEXT_TOO_LONG", "the text since the last Flush passes 2000 characters; Flush more often")
				continue
			}
			pending.WriteString(m.Text)
		case "Flush":
			seq++
			s.mu.Lock()
			gen := s.gen
			s.mu.Unlock()
			select {
			case s.jobs <- flushJob{text: pending.String(), seq: seq, gen: gen}:
			default:
				return websocket.StatusPolicyViolation, "too many flushes waiting"
			}
			pending.Reset()
		case "Clear", "Reset":
			pending.Reset()
			s.clear()
			s.send(ctx, map[string]any{"type": "Cleared", "sequence_id": seq})
		case "Close":
			return websocket.StatusNormalClosure, ""
		default:
			s.warn(ctx, "UNKNOWN_MESSAGE_TYPE", "message type "+clip(m.Type)+" is not Speak, Flush, Clear or Close")
		}
	}
}

// clear stops what is being spoken and drops the flushes waiting.
func (s *socket) clear() {
	s.mu.Lock()
	s.gen++
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
}

// speak synthesizes each flushed text in order, sending the audio as
// binary messages and then Flushed with its sequence number.
func (s *socket) speak(ctx context.Context) {
	for job := range s.jobs {
		s.mu.Lock()
		if job.gen != s.gen {
			s.mu.Unlock()
			continue // cleared before it was spoken
		}
		jctx, cancel := context.WithTimeout(ctx, s.h.o.WorkTimeout)
		s.cancel = cancel
		s.mu.Unlock()
		err := s.say(jctx, job.text)
		cleared := jctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case cleared:
			continue
		case err != nil && !errors.Is(err, speech.ErrBadInput):
			s.h.o.Logger.Error("speak: socket synthesis failed", "request_id", s.reqID, "err", err)
			s.warn(ctx, "SYNTHESIS_FAILED", "the text could not be spoken")
		}
		s.send(ctx, map[string]any{"type": "Flushed", "sequence_id": job.seq})
	}
}

// say speaks text as binary messages of raw linear16, mulaw or alaw.
func (s *socket) say(ctx context.Context, text string) error {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	syn := s.h.o.Synthesizer
	enc, err := audio.NewStreamEncoder(ctx, &wsSink{ctx: ctx, conn: s.conn}, s.req.format, syn.SampleRate(), s.req.rate)
	if err != nil {
		return err
	}
	err = syn.Synthesize(ctx, speech.SynthesisRequest{Text: text, Voice: s.req.voice, Speed: 1}, enc.Write)
	if err != nil {
		enc.Abort()
		return err
	}
	return enc.Close()
}

// send writes one JSON message; a failure ends the socket's reads too.
func (s *socket) send(ctx context.Context, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.conn.Write(wctx, websocket.MessageText, b); err != nil {
		_ = s.conn.CloseNow()
	}
}

func (s *socket) warn(ctx context.Context, code, msg string) {
	s.send(ctx, map[string]string{"type": "Warning", "warn_code": code, "warn_msg": msg})
}

// wsSink sends each flushed piece of audio as one binary message.
type wsSink struct {
	ctx  context.Context
	conn *websocket.Conn
	buf  []byte
}

func (w *wsSink) Write(p []byte) (int, error) { w.buf = append(w.buf, p...); return len(p), nil }

func (w *wsSink) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	err := w.conn.Write(wctx, websocket.MessageBinary, w.buf)
	w.buf = w.buf[:0]
	return err
}

var _ audio.Sink = (*wsSink)(nil)
