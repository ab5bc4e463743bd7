package converse

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/recognize"
	"github.com/izwi-speech/izwi/internal/streams"
)

// writeTimeout bounds one message to a client that stopped reading.
const writeTimeout = 10 * time.Second

// session is one conversation. The main loop (run) owns the fields below
// "main loop only"; the reader goroutine owns conv and the audio counters;
// the pipeline's goroutine only appends to evq.
type session struct {
	h    *Handler
	opts Options
	log  *slog.Logger
	id   string
	who  *auth.Principal
	sess Charger
	conn Conn
	// media is the WebRTC call (nil on the WebSocket): audio arrives as
	// its binary messages, replies play on its track.
	media Call
	stop  context.CancelFunc

	cfg     Config
	model   string
	recRate int
	outRate int
	conv    *audio.Converter
	pl      *recognize.Async

	evMu  sync.Mutex
	evq   []recognize.Event
	evSig chan struct{}

	arrMu    sync.Mutex
	arrivals []arrival
	received int64     // recognizer-rate samples handed to the pipeline
	lastSeen time.Time // the client's last message

	// main loop only
	history  []chat.Message
	pending  []string
	turns    int
	bargeIns int
	cur      *turn
}

// arrival is when the audio up to sample end (at the recognizer's rate)
// arrived, for measuring from the user's last word.
type arrival struct {
	end int64
	at  time.Time
}

// closeWith is how a conversation ends: a close code and reason.
type closeWith struct {
	code   websocket.StatusCode
	reason string
}

func newSession(h *Handler, r *http.Request, cancel context.CancelFunc) *session {
	s := &session{h: h, opts: h.opts, id: requestID(r), stop: cancel, evSig: make(chan struct{}, 1)}
	s.log = h.opts.Logger.With("request_id", s.id)
	if p, ok := auth.FromContext(r.Context()); ok {
		s.who = &p
	}
	if sl, ok := limit.SessionFrom(r.Context()); ok && sl != nil {
		s.sess = sl
	}
	return s
}

// run configures the conversation, then serves it until the client stops,
// the connection fails, or the server closes it.
func (s *session) run(ctx context.Context) {
	end := s.setup(ctx)
	switch {
	case end.code < 0:
		_ = s.conn.CloseNow()
		return
	case end.code > 0:
		_ = s.conn.Close(end.code, end.reason)
		return
	}
	s.log.Info("converse: opened", "input_sample_rate", s.cfg.SampleRate, "output_sample_rate", s.outRate)
	readEnd := make(chan closeWith, 1)
	ctl := make(chan string, 4)
	var wg sync.WaitGroup
	wg.Go(func() { readEnd <- s.read(ctx, ctl) })
	end = s.loop(ctx, readEnd, ctl)
	s.endTurn(false)
	if end.code >= 0 {
		_ = s.conn.Close(end.code, end.reason)
	} else {
		_ = s.conn.CloseNow()
	}
	wg.Wait()
	s.closePipeline(ctx)
	s.log.Info("converse: closed", "close_code", int(end.code), "turns", s.turns, "barge_ins", s.bargeIns,
		"audio_in_seconds", float64(s.received)/float64(s.recRate))
}

// setup reads and checks the config message, builds the pipeline and
// says ready.
func (s *session) setup(ctx context.Context) closeWith {
	// A timer closes the socket properly; a cancelled read would drop it
	// without a close frame.
	timedOut := make(chan struct{})
	timer := time.AfterFunc(s.opts.ConfigTimeout, func() {
		defer close(timedOut)
		_ = s.conn.Close(websocket.StatusPolicyViolation, "no config message in time")
	})
	typ, msg, err := s.conn.Read(context.WithoutCancel(ctx))
	if !timer.Stop() {
		<-timedOut
		return closeWith{-1, ""}
	}
	if err != nil {
		return closeWith{-1, ""}
	}
	if typ != websocket.MessageText {
		return closeWith{websocket.StatusPolicyViolation, "the first message must be the JSON config"}
	}
	rate := 0
	if s.media != nil {
		rate = s.media.InputRate() // the call's audio, whatever sample_rate says
	}
	if s.cfg, err = parseConfig(msg, rate); err != nil {
		return closeWith{websocket.StatusPolicyViolation, err.Error()}
	}
	syn := s.opts.Synthesizer
	voice, ok := s.opts.ResolveVoice(s.cfg.Voice, syn.Voices())
	if !ok {
		return closeWith{websocket.StatusPolicyViolation, "unknown voice"}
	}
	s.cfg.Voice = voice
	if s.model = s.cfg.Model; s.model == "" {
		s.model = s.opts.DefaultModel
	}
	if s.model == "" {
		return closeWith{websocket.StatusPolicyViolation, "model is required"}
	}
	s.recRate, s.outRate = s.opts.Recognizer.SampleRate(), syn.SampleRate()
	if s.conv, err = audio.NewConverter(audio.RawFormat{Encoding: audio.EncLinear16, SampleRate: s.cfg.SampleRate, Channels: 1}, s.recRate); err != nil {
		return closeWith{websocket.StatusPolicyViolation, "sample_rate is not one this server converts"}
	}
	s.pl, err = recognize.NewAsync(ctx, recognize.AsyncConfig{Config: recognize.Config{
		Recognizer: s.opts.Recognizer, VAD: s.opts.VAD, FinalizeAtSpeechEnd: true,
		UtteranceEndGap: s.opts.UtteranceEndGap, Logger: s.log}}, s.emit)
	if err != nil {
		s.log.Warn("converse: pipeline refused", "err", err)
		if errors.Is(err, recognize.ErrBusy) {
			return closeWith{closeBusy, "every recognizer is in use; retry shortly"}
		}
		return closeWith{websocket.StatusInternalError, "the recognizer is not available"}
	}
	if s.send(ctx, Event{Type: evReady, SessionID: s.id, InputSampleRate: s.cfg.SampleRate, OutputSampleRate: s.outRate}) != nil {
		s.closePipeline(ctx)
		return closeWith{-1, ""}
	}
	return closeWith{}
}

// closeBusy closes a conversation refused because every recognizer stream
// is in use: the same 4029 the live sockets use for capacity refusals.
const closeBusy websocket.StatusCode = 4029

// drainTimeout bounds recognising a conversation's last audio after the
// client left.
const drainTimeout = 5 * time.Second

// closePipeline ends recognition: the drain outlives a client that hung up
// but not drainTimeout.
func (s *session) closePipeline(ctx context.Context) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	_ = s.pl.Close(dctx)
}

// send writes one event unless ctx has ended. Safe for concurrent use
// (the WebSocket serialises writes).
func (s *session) send(ctx context.Context, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.write(ctx, websocket.MessageText, b)
}

// write sends one message unless ctx has ended. The write itself is bound
// only by writeTimeout, never by ctx: the WebSocket library drops the
// connection when a write's context ends mid-write, and a barge-in or a
// shutdown must stop the reply, not cut the socket without a close frame.
func (s *session) write(ctx context.Context, typ websocket.MessageType, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return s.conn.Write(wctx, typ, b)
}

// loop is the conversation's owner: it turns pipeline events into
// transcripts, turns and barge-ins.
func (s *session) loop(ctx context.Context, readEnd <-chan closeWith, ctl <-chan string) closeWith {
	s.arrMu.Lock()
	s.lastSeen = time.Now()
	s.arrMu.Unlock()
	idle := time.NewTicker(min(s.opts.IdleTimeout/4, s.opts.RecheckEvery, time.Second))
	defer idle.Stop()
	guard := CredentialGuard(s.who, s.opts.Recheck, s.opts.RecheckEvery)
	for {
		var turnDone <-chan turnResult
		if s.cur != nil {
			turnDone = s.cur.done
		}
		select {
		case <-ctx.Done():
			return closeWith{websocket.StatusGoingAway, "server closing"}
		case <-idle.C:
			s.arrMu.Lock()
			quiet := time.Since(s.lastSeen)
			s.arrMu.Unlock()
			if s.cur == nil && quiet > s.opts.IdleTimeout {
				return closeWith{websocket.StatusPolicyViolation, "idle: no audio or message"}
			}
			if why := guard.Check(ctx); why != "" {
				return closeWith{websocket.StatusPolicyViolation, why}
			}
		case end := <-readEnd:
			return end
		case c := <-ctl:
			if c == ctlCancel && s.cur != nil {
				s.bargeIn(ctx)
			}
		case res := <-turnDone:
			s.finishTurn(res)
		case <-s.evSig:
			s.evMu.Lock()
			evs := s.evq
			s.evq = nil
			s.evMu.Unlock()
			for _, e := range evs {
				if err := s.handle(ctx, e); err != nil {
					return closeWith{-1, ""}
				}
			}
		}
	}
}

// CredentialGuard checks a long-lived stream's caller (who may be nil):
// its credential's expiry, and recheck (nil: none) every so often. The
// Realtime API's sessions use it too.
func CredentialGuard(who *auth.Principal, recheck func(ctx context.Context, p auth.Principal) error, every time.Duration) *streams.Guard {
	g := &streams.Guard{RecheckEvery: every}
	if who != nil {
		p := *who
		g.Expires = p.Expires
		if recheck != nil {
			g.Recheck = func(ctx context.Context) error { return recheck(ctx, p) }
		}
	}
	return g
}

// handle reacts to one pipeline event.
func (s *session) handle(ctx context.Context, e recognize.Event) error {
	switch e.Kind {
	case recognize.KindSpeechStarted:
		if s.cur != nil {
			s.bargeIn(ctx)
		}
	case recognize.KindResult:
		r := e.Result
		if r.Text == "" {
			return nil
		}
		if s.cur != nil {
			s.bargeIn(ctx) // words over the reply, even without a VAD
		}
		if r.Final {
			s.pending = append(s.pending, r.Text)
		}
		return s.send(ctx, Event{Type: evTranscript, Turn: s.turns + 1, Text: r.Text, Final: boolp(r.Final)})
	case recognize.KindUtteranceEnd:
		if len(s.pending) == 0 {
			return nil
		}
		if s.cur != nil {
			s.bargeIn(ctx)
		}
		user := strings.Join(s.pending, " ")
		s.pending = nil
		s.startTurn(ctx, user, s.heardAt(e.At.Seconds()), time.Now())
	}
	return nil
}

// bargeIn stops the reply at once: the turn's chat stream and synthesis
// are cancelled and waited for, so no reply audio follows barge_in.
func (s *session) bargeIn(ctx context.Context) {
	n := s.cur.n
	s.endTurn(true)
	if s.media != nil {
		s.media.ClearAudio() // what the call had queued of the reply
	}
	s.bargeIns++
	s.h.metrics.bargeIn()
	_ = s.send(ctx, Event{Type: evBargeIn, Turn: n})
}

// endTurn cancels the current turn, if any, and records what it said.
func (s *session) endTurn(interrupted bool) {
	if s.cur == nil {
		return
	}
	s.cur.cancel()
	res := <-s.cur.done
	res.interrupted = res.interrupted || interrupted
	s.finishTurn(res)
}

// finishTurn adds the exchange to the bounded history.
func (s *session) finishTurn(res turnResult) {
	s.cur.cancel()
	s.cur = nil
	s.history = append(s.history, chat.Message{Role: "user", Content: res.user})
	if res.text != "" {
		s.history = append(s.history, chat.Message{Role: "assistant", Content: res.text})
	}
	if over := len(s.history) - s.opts.MaxHistory; over > 0 {
		s.history = slices.Delete(s.history, 0, over)
	}
}

// messages is what the next turn sends: the system prompt, the history
// and the user's new words.
func (s *session) messages(user string) []chat.Message {
	var msgs []chat.Message
	if s.cfg.System != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: s.cfg.System})
	}
	msgs = append(msgs, s.history...)
	return append(msgs, chat.Message{Role: "user", Content: user})
}
