package chain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Acker is what a network engine's stream may implement so a chain can
// tell a stall from silence: how much of the audio sent the service has
// answered for, in the stream's time. Streams without it (local engines
// answer in the call) are never judged stalled.
type Acker interface {
	Acknowledged() time.Duration
}

// preRoll is audio replayed before the last final's end, so the next
// engine hears the lead-in to the first new word; words it finds there
// are dropped as already said.
const preRoll = 300 * time.Millisecond

// stream serves a chain stream from one engine at a time. All fields but
// the catch-up mailbox belong to the caller's goroutine (the Stream
// contract: one goroutine at a time); probe and catch-up goroutines talk
// to it through channels and catchMu only.
type stream struct {
	r    *Recognizer
	opts speech.StreamOptions // as given; engines get it without Events
	rate int

	cur    int // serving engine, -1 for none
	st     speech.Stream
	offset int64 // stream position of st's time 0
	pos    int64 // samples accepted
	ring   *ring

	finalEnd int64 // position where the last final ended
	nextSeg  int   // next segment number
	segBase  int   // segment number of st's segment 0
	showing  bool  // a partial is showing

	acked   time.Duration // st.Acknowledged() last seen
	waiting time.Time     // since when audio sent is unanswered (zero: none)

	probe   *probe
	backoff time.Duration
	keep    *sealed // outage audio (KeepForCatchUp only)

	bg      context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	catchMu sync.Mutex
	caught  []speech.StreamEvent // finished catch-ups, delivered on the next call
	closed  bool
}

var _ speech.Stream = (*stream)(nil)

// newStream makes a stream whose background work (probes, catch-up) keeps
// ctx's values but not its cancellation; Close ends it.
func newStream(ctx context.Context, r *Recognizer, opts speech.StreamOptions) *stream {
	rate := r.SampleRate()
	s := &stream{r: r, opts: opts, rate: rate, cur: -1, backoff: r.cfg.ProbeMin,
		ring: newRing(int(int64(rate) * int64(r.cfg.ReplayWindow) / int64(time.Second)))}
	s.bg, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return s
}

func (s *stream) engineOpts() speech.StreamOptions {
	return speech.StreamOptions{Hotwords: s.opts.Hotwords, Context: s.opts.Context}
}

func (s *stream) dur(samples int64) time.Duration {
	return speech.SamplesToDuration(int(samples), s.rate)
}
func (s *stream) samples(d time.Duration) int64 { return int64(d) * int64(s.rate) / int64(time.Second) }
func (s *stream) name() string {
	if s.cur < 0 {
		return ""
	}
	return s.r.engines[s.cur].Name
}

// open serves from the first engine in order that opens and takes the
// replay, reporting a switch for reason ("" on a fresh stream).
func (s *stream) open(ctx context.Context, order []int, reason string) ([]speech.Result, error) {
	var errs []error
	for _, i := range order {
		octx, cancel := ctx, context.CancelFunc(func() {})
		if reason != "" {
			octx, cancel = context.WithTimeout(ctx, openTimeout)
		}
		opts := s.engineOpts()
		st, err := s.r.engines[i].Rec.NewStream(octx, opts)
		if errors.Is(err, speech.ErrUnsupported) && len(opts.Hotwords) > 0 && i > 0 {
			// A fallback that cannot spell the session's vocabulary still
			// serves: captions without the boost beat no captions.
			s.r.log.Warn("fallback serves without hotwords", "engine", s.r.engines[i].Name)
			st, err = s.r.engines[i].Rec.NewStream(octx, speech.StreamOptions{})
		}
		cancel()
		if err == nil {
			var rs []speech.Result
			if rs, err = s.use(ctx, i, st, reason); err == nil {
				return rs, nil
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("chain: %w", ctx.Err())
		}
		if !failsOver(err) && !errors.Is(err, context.DeadlineExceeded) { // a busy engine may time out opening
			return nil, err
		}
		s.r.log.Warn("engine unavailable", "engine", s.r.engines[i].Name, "reason", reasonOf(err))
		errs = append(errs, err)
		if reason == "" {
			reason = reasonOf(err)
		}
	}
	return nil, fmt.Errorf("chain: no engine can serve: %w", errors.Join(errs...))
}

// use makes st (engine i) the serving stream: the old one is closed, the
// audio since the last final replayed into st, the switch reported.
func (s *stream) use(ctx context.Context, i int, st speech.Stream, reason string) ([]speech.Result, error) {
	audio, at := s.ring.since(max(s.finalEnd-s.samples(preRoll), 0))
	rs, err := st.Accept(ctx, audio)
	if err != nil {
		st.Close()
		return nil, err
	}
	from := s.name()
	if from == "" && i > 0 { // opened while the primary is down
		from = s.r.engines[0].Name
	}
	s.drop()
	s.cur, s.st, s.offset = i, st, at
	s.r.count(s.name(), 1)
	s.segBase, s.showing, s.acked, s.waiting = s.nextSeg, false, 0, time.Time{}
	if len(audio) > 0 {
		s.waiting = time.Now()
	}
	if from != "" && from != s.name() {
		s.r.log.Info("engine switch", "from", from, "to", s.name(), "reason", reason)
		s.event(speech.StreamEvent{Kind: speech.EventSwitch, From: from, To: s.name(), Reason: reason, At: s.dur(s.pos)})
	}
	if i > 0 {
		s.startProbe()
		if err := s.hold(at, audio); err != nil {
			return nil, err
		}
	} else {
		s.stopProbe()
	}
	return s.results(rs), nil
}

// drop closes the serving stream.
func (s *stream) drop() {
	if s.st != nil {
		s.st.Close()
		s.r.count(s.name(), -1)
	}
	s.st, s.cur = nil, -1
}

func (s *stream) event(e speech.StreamEvent) {
	if s.opts.Events != nil {
		s.opts.Events(e)
	}
}

// results maps the serving engine's results into the stream: times by the
// replay offset, segments by segBase, words already finalised dropped.
func (s *stream) results(rs []speech.Result) []speech.Result {
	off, said := s.dur(s.offset), s.dur(s.finalEnd)
	out := rs[:0]
	for _, r := range rs {
		r.Start, r.End = r.Start+off, r.End+off
		r.Segment += s.segBase
		r.Engine = s.name()
		words, cut := r.Words[:0:0], false
		for _, w := range r.Words {
			w.Start, w.End = w.Start+off, w.End+off
			if (w.Start+w.End)/2 < said {
				cut = true
				continue
			}
			words = append(words, w)
		}
		r.Words = words
		if cut {
			r.Text = joinWords(words)
			r.Start = max(r.Start, said)
		}
		if !r.Final && (r.Text == "" || r.End <= said) {
			continue
		}
		if r.Final {
			if r.Text == "" && !s.showing {
				continue
			}
			s.finalEnd = max(s.finalEnd, s.samples(r.End))
			s.nextSeg, s.showing = r.Segment+1, false
		} else {
			s.showing = true
		}
		out = append(out, r)
	}
	return out
}

func joinWords(ws []speech.Word) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}

// failsOver: the engine, not the input or the caller, failed.
func failsOver(err error) bool {
	return err != nil && speech.FailsOver(err)
}

// reasonOf names a failure for switch events and logs.
func reasonOf(err error) string {
	var fr interface{ FailoverReason() string }
	switch {
	case errors.As(err, &fr):
		return fr.FailoverReason()
	case errors.Is(err, context.DeadlineExceeded):
		return "stall"
	}
	return "reset"
}
