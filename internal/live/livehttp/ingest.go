package livehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/recognize"
)

// configReadLimit bounds messages before the format is known: a config
// message, never audio.
const configReadLimit = 8 << 10

// ingest serves GET /v1/sessions/{id}/audio: binary messages of raw audio
// in the declared format, text control messages. The caller is the
// session's owner (key or JWT with live.write), an admin, or holds a
// live.write ticket for this session (authorized when it was issued).
func (h *Handlers) ingest(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	owner := ownerOf(p)
	if p.Kind == auth.KindTicket {
		if p.SessionID != id || !p.Has(auth.ScopeLiveWrite) {
			apierr.Write(w, r, apierr.CodeNotFound, "no such session")
			return
		}
		owner = ""
	}
	// Sessions the caller cannot see are 404 before the upgrade (no
	// probing, no slot spent).
	if _, err := h.opts.Sessions.Get(ctx, owner, id); err != nil {
		h.writeLiveErr(w, r, err)
		return
	}
	format, ferr := formatFromQuery(r.URL.Query())
	c, err := AcceptWS(w, r)
	if err != nil {
		return
	}
	defer c.CloseNow()
	in := &ingestConn{h: h, c: c, p: p, owner: owner, id: id}
	// Shutdown closes with 1001 from here; reads use a context that is
	// never cancelled, because a cancelled read drops the connection
	// without a close frame.
	stop := context.AfterFunc(ctx, func() {
		if code, reason, ok := endCode(ctx); ok {
			in.closeAsync(code, reason)
		}
	})
	start := time.Now()
	code, reason := in.run(context.WithoutCancel(ctx), format, ferr)
	// Whoever closes first wins; after this no goroutine starts a close.
	in.closeOnce.Do(func() {
		if code != 0 {
			c.Close(code, closeReason(reason))
		}
	})
	stop()
	in.closers.Wait()
	h.log.Info("ingest closed", "request_id", apierr.RequestID(r.Context()), "session_id", id, "principal", p.ID,
		"audio_seconds", in.audioSecs, "frames", in.frames, "close_code", int(code), "duration_ms", time.Since(start).Milliseconds())
}

// ingestConn is one ingest socket's state, used by its handler goroutine
// only (the idle timer touches nothing but idled and the conn).
type ingestConn struct {
	h     *Handlers
	c     *websocket.Conn
	p     auth.Principal
	owner string
	id    string

	format audio.RawFormat
	conv   *audio.Converter
	sink   live.Ingest
	slot   Slot
	limit  int64 // the largest message accepted now, in bytes
	// closeOnce lets one close happen (idle timer, shutdown or the
	// handler's own); closers waits for the goroutines doing it.
	closeOnce sync.Once
	closers   sync.WaitGroup

	tokens    float64
	lastFill  time.Time
	frames    int64
	audioSecs float64
}

// run reads until the socket ends and returns the close code and reason to
// send (code 0: already closed).
func (in *ingestConn) run(ctx context.Context, format audio.RawFormat, ferr error) (websocket.StatusCode, string) {
	if ferr != nil && !errors.Is(ferr, errNoFormat) {
		return websocket.StatusUnsupportedData, unprefixed(ferr)
	}
	// The limit is enforced by read, not by the library (see read).
	in.c.SetReadLimit(-1)
	in.limit = configReadLimit
	if in.h.opts.Slots != nil {
		slot, err := in.h.opts.Slots.Acquire(ctx, in.p)
		if err != nil {
			return in.mapErr(err)
		}
		in.slot = slot
		defer slot.Release()
	}
	sink, err := in.h.opts.Sessions.Attach(ctx, in.owner, in.id, "websocket")
	if err != nil {
		return in.mapErr(err)
	}
	in.sink = sink
	defer sink.Close()
	if ferr == nil {
		if code, reason := in.setFormat(format); code != 0 {
			return code, reason
		}
	}

	idle := in.h.opts.IngestIdle
	timer := time.AfterFunc(idle, func() {
		in.closeAsync(CloseTimeout, fmt.Sprintf("idle: nothing received for %s", idle))
	})
	defer timer.Stop()
	in.tokens, in.lastFill = float64(in.h.opts.MaxFramesPerSecond), time.Now()
	for {
		typ, data, err := in.read(ctx)
		if err != nil {
			// Closed by us (idle, shutdown), or the client closed, went
			// away or broke the protocol (the library answered).
			return 0, ""
		}
		if data == nil {
			return websocket.StatusMessageTooBig, fmt.Sprintf("a message over %d bytes", in.limit)
		}
		if !timer.Reset(idle) {
			return 0, "" // the idle close is under way
		}
		if !in.take() {
			return websocket.StatusPolicyViolation, fmt.Sprintf("more than %d messages per second", in.h.opts.MaxFramesPerSecond)
		}
		var code websocket.StatusCode
		var reason string
		if typ == websocket.MessageText {
			code, reason = in.control(data)
		} else {
			code, reason = in.audio(ctx, data)
		}
		if code != 0 {
			return code, reason
		}
	}
}

// read returns the next message, or nil data when it is over in.limit
// bytes (at most limit+1 bytes are read). The handler enforces the limit
// itself rather than through the library's read limit, because the library
// closes the socket from inside Read: the client would see the close before
// this handler released the session's audio source, and a client that
// reconnects at once would be refused as a second source (4009).
func (in *ingestConn) read(ctx context.Context) (websocket.MessageType, []byte, error) {
	typ, r, err := in.c.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, in.limit+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > in.limit {
		return typ, nil, nil
	}
	if data == nil {
		data = []byte{}
	}
	return typ, data, nil
}

// closeAsync closes the socket with code from a goroutine other than the
// reader (the close handshake needs the reader running), once.
func (in *ingestConn) closeAsync(code websocket.StatusCode, reason string) {
	in.closeOnce.Do(func() {
		in.closers.Add(1)
		go func() {
			defer in.closers.Done()
			in.c.Close(code, closeReason(reason))
		}()
	})
}

// take spends one message from the per-second budget.
func (in *ingestConn) take() bool {
	now := time.Now()
	rate := float64(in.h.opts.MaxFramesPerSecond)
	in.tokens = min(rate, in.tokens+now.Sub(in.lastFill).Seconds()*rate)
	in.lastFill = now
	if in.tokens < 1 {
		return false
	}
	in.tokens--
	return true
}

func (in *ingestConn) setFormat(f audio.RawFormat) (websocket.StatusCode, string) {
	conv, err := audio.NewConverter(f, in.sink.SampleRate())
	if err != nil {
		return websocket.StatusUnsupportedData, unprefixed(err)
	}
	in.format, in.conv = f, conv
	in.limit = int64(f.SampleRate * f.FrameSize()) // one second
	return 0, ""
}

func (in *ingestConn) control(b []byte) (websocket.StatusCode, string) {
	msg, err := parseControl(b)
	switch {
	case errors.Is(err, errUnknown):
		return websocket.StatusUnsupportedData, unprefixed(err)
	case err != nil:
		return websocket.StatusInvalidFramePayloadData, unprefixed(err)
	}
	switch msg.Type {
	case ctlConfig:
		if in.conv != nil {
			return websocket.StatusPolicyViolation, "the audio format is already set"
		}
		f, err := parseFormat(msg.Encoding, msg.SampleRate, msg.Channels)
		if err != nil {
			return websocket.StatusUnsupportedData, unprefixed(err)
		}
		return in.setFormat(f)
	case ctlFinalize:
		if err := in.flush(); err != nil {
			return in.mapErr(err)
		}
		if err := in.sink.Finalize(); err != nil {
			return in.mapErr(err)
		}
	case ctlClose:
		if err := in.flush(); err != nil {
			return in.mapErr(err)
		}
		return websocket.StatusNormalClosure, "closed by the client"
	}
	return 0, "" // keepalive: the idle timer was reset
}

// flush hands the converter's tail to the session.
func (in *ingestConn) flush() error {
	if in.conv == nil {
		return nil
	}
	if s := in.conv.Flush(); len(s) > 0 {
		return in.sink.Write(s)
	}
	return nil
}

func (in *ingestConn) audio(ctx context.Context, b []byte) (websocket.StatusCode, string) {
	if in.conv == nil {
		return websocket.StatusPolicyViolation,
			"audio before its format: declare encoding, sample_rate and channels in the query or send a config message first"
	}
	fs := in.format.FrameSize()
	if len(b) == 0 {
		return 0, ""
	}
	if len(b)%fs != 0 {
		return websocket.StatusInvalidFramePayloadData,
			fmt.Sprintf("a frame of %d bytes is not whole %d-byte sample frames (%s, %d channels)", len(b), fs, in.format.Encoding, in.format.Channels)
	}
	frames := len(b) / fs
	if frames > in.format.SampleRate {
		return websocket.StatusMessageTooBig, "a frame holds more than one second of audio"
	}
	d := time.Duration(frames) * time.Second / time.Duration(in.format.SampleRate)
	if in.slot != nil {
		if err := in.slot.ChargeAudio(ctx, d); err != nil {
			return in.mapErr(err)
		}
	}
	in.frames++
	in.audioSecs += d.Seconds()
	if err := in.sink.Write(in.conv.Convert(b)); err != nil {
		return in.mapErr(err)
	}
	return 0, ""
}

// mapErr turns a live, limit or context error into a close code.
func (in *ingestConn) mapErr(err error) (websocket.StatusCode, string) {
	var le *limit.Error
	switch {
	case errors.As(err, &le) && le.Limit == "max_sessions":
		return CloseQuota, "quota: all your concurrent sessions are in use"
	case errors.As(err, &le):
		return CloseQuota, "quota: " + le.Limit + " exhausted"
	case errors.Is(err, live.ErrNotFound):
		return CloseNotFound, "no such session"
	case errors.Is(err, live.ErrBusy):
		return CloseBusy, "the session already has an audio source"
	case errors.Is(err, live.ErrTransition):
		return CloseBusy, "the session is stopped"
	case errors.Is(err, recognize.ErrBusy):
		return CloseQuota, "every recognizer is in use; retry shortly"
	case errors.Is(err, live.ErrLimit):
		return CloseQuota, "too many live sessions"
	case errors.Is(err, live.ErrNoEngine):
		return websocket.StatusInternalError, "no streaming recognizer is loaded"
	case in.h.ctx.Err() != nil:
		return websocket.StatusGoingAway, "server shutting down"
	case errors.Is(err, context.Canceled):
		return 0, ""
	}
	in.h.log.Error("ingest failed", "session_id", in.id, "err", err)
	return websocket.StatusInternalError, "internal error"
}

// unprefixed drops the "livehttp: audio: raw: " prefixes from an error safe
// to show the client.
func unprefixed(err error) string {
	msg := err.Error()
	for _, p := range []string{"livehttp: ", "audio: ", "raw: "} {
		if len(msg) > len(p) && msg[:len(p)] == p {
			msg = msg[len(p):]
		}
	}
	return msg
}
