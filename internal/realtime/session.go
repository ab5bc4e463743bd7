package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/converse"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/recognize"
)

// writeTimeout bounds one message to a client that stopped reading.
const writeTimeout = 10 * time.Second

// closeBusy is the close code for "every recognizer is in use", as on the
// live sockets and /v1/converse.
const closeBusy websocket.StatusCode = 4029

// queueAudio is how far recognition may trail the appends: clients send
// recorded audio faster than real time (30 s at 16 kHz is 1.9 MB).
// Audio beyond it is dropped and the client told with an error event.
const queueAudio = 30 * time.Second

// minCommit is the least audio a commit may hold (OpenAI's own bound).
const minCommit = 100 * time.Millisecond

// session is one socket. The main loop (run, loop and what they call)
// owns every field below conn; the reader goroutine only parses and
// forwards; the pipeline's goroutine only appends to evq.
type session struct {
	h    *Handler
	opts Options
	log  *slog.Logger
	sid  string
	who  *auth.Principal
	slot Charger
	conn Conn
	// media is the WebRTC call's audio (nil on the WebSocket): the
	// caller's audio arrives as binary messages, replies play on its
	// track.
	media Call

	evMu  sync.Mutex
	evq   []queued
	evSig chan struct{}

	set      settings
	conv     *audio.Converter
	pl       *recognize.Async
	items    []*item // transcription items not yet completed, oldest first
	prevItem string
	buffered time.Duration // audio appended since the last commit or clear
	audioIn  time.Duration
	dropped  time.Duration // audio the pipeline dropped, as last reported
	turns    int
	history  []chat.Message // conversation sessions
	resp     *response      // the answer in progress, if any
}

// item is one transcription item: the words of one turn.
type item struct {
	id        string
	text      []byte
	started   bool // speech_started sent
	committed bool // committed sent (by the client or server VAD)
	discard   bool // cleared: complete it silently
	start     time.Duration
	end       time.Duration
}

// queued is a pipeline event, or the mark a commit or clear left behind
// its finalize.
type queued struct {
	ev   recognize.Event
	mark *item
}

// closeWith is how a session ends: a close code (-1: drop without one).
type closeWith struct {
	code   websocket.StatusCode
	reason string
}

// inbound is one parsed client message, or a call's audio.
type inbound struct {
	ev  clientEvent
	err *wireError
	pcm []byte // PCM16 at the session's input format (WebRTC calls)
}

func newSession(h *Handler, r *http.Request) *session {
	s := &session{h: h, opts: h.opts, sid: newID("sess_"), evSig: make(chan struct{}, 1), set: defaultSettings()}
	s.log = h.opts.Logger.With("request_id", requestID(r))
	if p, ok := auth.FromContext(r.Context()); ok {
		s.who = &p
	}
	if sl, ok := limit.SessionFrom(r.Context()); ok && sl != nil {
		s.slot = sl
	}
	return s
}

func (s *session) run(ctx context.Context) {
	s.log.Info("realtime: opened", "session", s.sid)
	if s.send(ctx, serverEvent{Type: stSessionCreated, Session: s.set.view(s.sid)}) != nil {
		_ = s.conn.CloseNow()
		return
	}
	readEnd := make(chan closeWith, 1)
	in := make(chan inbound, 8)
	var wg sync.WaitGroup
	wg.Go(func() { readEnd <- s.read(ctx, in) })
	end := s.loop(ctx, readEnd, in)
	s.cancelResponse()
	if end.code >= 0 {
		_ = s.conn.Close(end.code, end.reason)
	} else {
		_ = s.conn.CloseNow()
	}
	wg.Wait()
	if s.pl != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = s.pl.Close(dctx)
		cancel()
	}
	s.log.Info("realtime: closed", "session", s.sid, "close_code", int(end.code), "turns", s.turns,
		"audio_in_seconds", s.audioIn.Seconds())
}

// read parses the client's messages until the connection ends. Reads are
// not bound to ctx: a cancelled read drops the socket without a close
// frame, so the main loop closes the connection instead.
func (s *session) read(ctx context.Context, in chan<- inbound) closeWith {
	for {
		typ, msg, err := s.conn.Read(context.WithoutCancel(ctx))
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				return closeWith{websocket.StatusMessageTooBig, "message too large"}
			}
			return closeWith{-1, ""}
		}
		if typ == websocket.MessageBinary && s.media != nil {
			select { // the call's audio: appended as it arrives
			case in <- inbound{pcm: msg}:
			case <-ctx.Done():
				return closeWith{-1, ""}
			}
			continue
		}
		if typ != websocket.MessageText {
			return closeWith{websocket.StatusUnsupportedData, "events are JSON text messages"}
		}
		ev, werr := parseEvent(msg)
		select {
		case in <- inbound{ev: ev, err: werr}:
		case <-ctx.Done():
			return closeWith{-1, ""}
		}
	}
}

// loop is the session's owner: client events, pipeline events, idleness
// and the credential's validity.
func (s *session) loop(ctx context.Context, readEnd <-chan closeWith, in <-chan inbound) closeWith {
	tick := time.NewTicker(min(s.opts.IdleTimeout/4, s.opts.RecheckEvery, time.Second))
	defer tick.Stop()
	lastSeen := time.Now()
	guard := converse.CredentialGuard(s.who, s.opts.Recheck, s.opts.RecheckEvery)
	for {
		var respDone <-chan respResult
		if s.resp != nil {
			respDone = s.resp.done
		}
		select {
		case <-ctx.Done():
			return closeWith{websocket.StatusGoingAway, "server closing"}
		case end := <-readEnd:
			return end
		case res := <-respDone:
			lastSeen = time.Now()
			s.finishResponse(res)
		case m := <-in:
			lastSeen = time.Now()
			s.settleResponse()
			if m.pcm != nil {
				if end := s.appendPCM(ctx, "", m.pcm); end.code != 0 {
					return end
				}
				continue
			}
			if m.err != nil {
				if s.sendErr(ctx, m.ev.EventID, m.err) != nil {
					return closeWith{-1, ""}
				}
				continue
			}
			if end := s.client(ctx, m.ev); end.code != 0 {
				return end
			}
		case <-s.evSig:
			s.evMu.Lock()
			evs := s.evq
			s.evq = nil
			s.evMu.Unlock()
			for _, q := range evs {
				if s.pipelineEvent(ctx, q) != nil {
					return closeWith{-1, ""}
				}
			}
		case <-tick.C:
			if time.Since(lastSeen) > s.opts.IdleTimeout {
				return closeWith{websocket.StatusPolicyViolation, "idle: no event"}
			}
			if why := guard.Check(ctx); why != "" {
				return closeWith{websocket.StatusPolicyViolation, why}
			}
		}
	}
}

// client applies one client event.
func (s *session) client(ctx context.Context, e clientEvent) closeWith {
	var err error
	switch e.Type {
	case ctSessionUpdate, ctTranscriptionUpdate:
		err = s.update(ctx, e)
	case ctAppend:
		return s.appendAudio(ctx, e)
	case ctCommit:
		err = s.commit(ctx, e)
	case ctClear:
		err = s.clear(ctx)
	case ctItemCreate:
		err = s.addItem(ctx, e)
	case ctResponseCreate:
		err = s.startResponse(ctx, e.EventID)
	case ctOutputClear:
		if s.media == nil {
			err = s.sendErr(ctx, e.EventID, &wireError{code: apierr.CodeUnprocessable, param: "type", message: "output_audio_buffer.clear is served on WebRTC calls"})
		} else {
			s.media.ClearAudio()
			err = s.send(ctx, serverEvent{Type: stOutputCleared})
		}
	case ctResponseCancel:
		if s.resp == nil {
			err = s.sendErr(ctx, e.EventID, &wireError{code: apierr.CodeUnprocessable, message: "no response is in progress"})
		} else {
			s.cancelResponse()
		}
	}
	if err != nil {
		return closeWith{-1, ""}
	}
	return closeWith{}
}

func (s *session) update(ctx context.Context, e clientEvent) error {
	beta := e.Type == ctTranscriptionUpdate
	next, werr := s.next(e.Session, beta)
	// A call's audio flows from the start: its session type may change
	// later (the pipeline does not depend on it).
	typeChanged := next.conversation != s.set.conversation && s.media == nil
	if werr == nil && s.pl != nil && (next.vad != s.set.vad || next.silence != s.set.silence || typeChanged) {
		werr = &wireError{code: apierr.CodeConflict, param: "session.audio.input.turn_detection",
			message: "turn_detection and the session type can change only before the first audio is appended"}
	}
	if werr != nil {
		return s.sendErr(ctx, e.EventID, werr)
	}
	if next.format != s.set.format && s.conv != nil {
		conv, err := audio.NewConverter(next.format, s.h.opts.Recognizer.SampleRate())
		if err != nil {
			return s.sendErr(ctx, e.EventID, badParam("session.audio.input.format", "this format is not one the server converts"))
		}
		s.conv = conv
	}
	s.set = next
	typ := stSessionUpdated
	if beta {
		typ = stTranscriptionUpdated
	}
	return s.send(ctx, serverEvent{Type: typ, Session: s.set.view(s.sid)})
}

// next is the settings a session.update asks for, checked against what
// the server and the caller's key can hold.
func (s *session) next(c *sessionConfig, beta bool) (settings, *wireError) {
	next, werr := s.set.apply(c, beta)
	if werr == nil && next.conversation {
		werr = s.canConverse()
	}
	if werr == nil {
		werr = s.checkModel(next)
	}
	if s.media != nil { // a call's audio is its track's, whatever the format says
		next.format, next.fmtName = s.set.format, s.set.fmtName
	}
	return next, werr
}

// checkModel refuses a transcription model the server does not serve,
// naming those it does, as the REST routes do.
func (s *session) checkModel(next settings) *wireError {
	ms := s.opts.TranscribeModels
	if ms == nil || slices.Contains(ms, next.model) {
		return nil
	}
	return badParam("session.audio.input.transcription.model",
		fmt.Sprintf("model %q is not available; use one of %s", clipName(next.model), strings.Join(ms, ", ")))
}

// clipName shortens a caller's name before it is quoted in an error.
func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// appendAudio charges, converts and queues one append's audio.
func (s *session) appendAudio(ctx context.Context, e clientEvent) closeWith {
	b, werr := decodeAudio(s.set, e.Audio)
	if werr == nil && s.media != nil {
		werr = &wireError{code: apierr.CodeUnprocessable, param: "type", message: "on a WebRTC call the audio comes from its track"}
	}
	if werr != nil {
		if s.sendErr(ctx, e.EventID, werr) != nil {
			return closeWith{-1, ""}
		}
		return closeWith{}
	}
	return s.appendPCM(ctx, e.EventID, b)
}

// appendPCM charges, converts and queues audio in the session's format.
func (s *session) appendPCM(ctx context.Context, eventID string, b []byte) closeWith {
	e := clientEvent{EventID: eventID}
	if s.pl == nil {
		if end := s.open(ctx, e.EventID); end.code != 0 {
			return end
		}
	}
	d := time.Duration(int64(len(b)/s.set.format.FrameSize()) * int64(time.Second) / int64(s.set.format.SampleRate))
	if s.slot != nil {
		if err := s.slot.ChargeAudio(ctx, d); err != nil {
			var le *limit.Error
			if errors.As(err, &le) {
				_ = s.sendErr(ctx, e.EventID, &wireError{code: apierr.CodeQuotaExceeded, message: "audio quota exhausted"})
				return closeWith{websocket.StatusPolicyViolation, "audio quota exhausted"}
			}
			return closeWith{websocket.StatusInternalError, "internal error"}
		}
	}
	if err := s.pl.Write(s.conv.Convert(b)); err != nil {
		if ctx.Err() != nil {
			return closeWith{-1, ""}
		}
		return closeWith{websocket.StatusInternalError, "recognition failed"}
	}
	s.buffered += d
	s.audioIn += d
	if dropped := s.pl.Stats().AudioDropped; dropped > s.dropped {
		s.dropped = dropped
		if s.sendErr(ctx, e.EventID, &wireError{code: apierr.CodeRateLimited,
			message: "audio arrives faster than it is recognised: some was dropped; send it at most 30 s ahead"}) != nil {
			return closeWith{-1, ""}
		}
	}
	return closeWith{}
}

// open builds the converter and the pipeline at the first audio, with
// the settings of that moment.
func (s *session) open(ctx context.Context, eventID string) closeWith {
	rec := s.opts.Recognizer
	conv, err := audio.NewConverter(s.set.format, rec.SampleRate())
	if err != nil {
		_ = s.sendErr(ctx, eventID, badParam("session.audio.input.format", "this format is not one the server converts"))
		return closeWith{websocket.StatusPolicyViolation, "unsupported audio format"}
	}
	cfg := recognize.Config{Recognizer: rec, Logger: s.log}
	if s.set.vad {
		gap := time.Duration(s.set.silence) * time.Millisecond
		cfg.VAD, cfg.FinalizeAtSpeechEnd, cfg.UtteranceEndGap = s.opts.VAD, true, gap
	}
	pl, err := recognize.NewAsync(ctx, recognize.AsyncConfig{Config: cfg, QueueAudio: queueAudio}, s.emit)
	if err != nil {
		s.log.Warn("realtime: pipeline refused", "err", err)
		if errors.Is(err, recognize.ErrBusy) {
			_ = s.sendErr(ctx, eventID, &wireError{code: apierr.CodeEngineBusy, message: "every recognizer is in use; retry shortly"})
			return closeWith{closeBusy, "every recognizer is in use; retry shortly"}
		}
		return closeWith{websocket.StatusInternalError, "the recognizer is not available"}
	}
	s.conv, s.pl = conv, pl
	return closeWith{}
}

// emit is the pipeline's callback: queue and signal, never block.
func (s *session) emit(e recognize.Event) { s.enqueue(queued{ev: e}) }

func (s *session) enqueue(q queued) {
	s.evMu.Lock()
	s.evq = append(s.evq, q)
	s.evMu.Unlock()
	select {
	case s.evSig <- struct{}{}:
	default:
	}
}

// send writes one event unless ctx has ended. The write is bound by
// writeTimeout, never by ctx: the WebSocket library drops the connection
// when a write's context ends mid-write.
func (s *session) send(ctx context.Context, e serverEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.EventID = newID("event_")
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return s.conn.Write(wctx, websocket.MessageText, b)
}

// sendErr sends an error event for a client event refused.
func (s *session) sendErr(ctx context.Context, eventID string, e *wireError) error {
	typ := "invalid_request_error"
	if apierr.Lookup(e.code).Status >= 500 {
		typ = "server_error"
	}
	return s.send(ctx, serverEvent{Type: stError, Error: &errorBody{Type: typ, Code: string(e.code),
		Message: e.message, Param: e.param, EventID: eventID}})
}
