// Package chain owns engine failover: a speech.Recognizer and a
// speech.Transcriber over several engines in priority order (say deepgram,
// then pocketsphinx), so captions keep coming when the first one fails.
//
// Public API (used by cmd/izwi): New builds a Recognizer over Engines,
// NewTranscriber a Transcriber; Config (zero value = defaults, Validate)
// tunes both. A Recognizer's Serving reports how many streams each engine
// serves now (for /readyz and metrics).
//
// A chain stream serves from one engine at a time. It keeps the last
// ReplayWindow of audio in memory (never on disk). When the serving engine
// fails in a way that is not the input's fault (an error wrapping
// speech.ErrUnavailable: network, TLS, 401/403, 429, 5xx, a malformed
// answer), or stalls (a stream that reports Acknowledged stops answering
// for Stall while audio flows), the stream opens the next engine and
// replays into it the audio since the last final result, so no speech
// falls between engines; words of the replayed span that end before that
// final are dropped, so each appears once. The switch happens inside the
// Accept or Flush call that saw the failure: there is no gap beyond the
// engine's open time plus the replay (docs/benchmarks.md measures it).
//
// Fallback engines are opened on demand rather than kept fed: a local
// engine's model stays loaded in its Recognizer, a stream from it opens in
// milliseconds when a decoder is free (BenchmarkFailover), and a session
// holds no second decoder while the primary serves.
//
// While a fallback serves, a goroutine probes the primary with exponential
// backoff (ProbeMin doubling to ProbeMax) by opening a stream; once one
// opens, the chain switches back at the next utterance boundary (no
// partial open), replaying the audio since the fallback's last final.
// Every switch is reported through StreamOptions.Events (Kind "switch",
// with the reason: an error's FailoverReason() string when it has one,
// else "stall" or "reset"; "recovered" on the way back), and every result
// carries the engine that made it in Result.Engine.
//
// With StreamOptions.KeepForCatchUp, the audio a fallback served is held in
// memory sealed with XChaCha20-Poly1305 under a random key that exists only
// in this process (at most CatchUpMax, oldest dropped first). When the
// primary is back, a goroutine re-transcribes that span with the primary
// (its Engine.Files transcriber if given, else a stream fed as fast as it
// goes) and the result is delivered as a "catchup" event on the next
// Accept or Flush. Without KeepForCatchUp nothing beyond the replay ring
// is held.
//
// Only cmd/izwi and tests import this package.
package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Defaults for zero Config fields.
const (
	DefaultStall        = 1500 * time.Millisecond
	DefaultReplayWindow = 10 * time.Second
	DefaultProbeMin     = time.Second
	DefaultProbeMax     = 30 * time.Second
	DefaultCatchUpMax   = time.Hour
	// openTimeout bounds opening a fallback stream during a failover.
	openTimeout = time.Second
)

// Config tunes a chain. The zero value uses the defaults above.
type Config struct {
	// Stall is how long a stream that reports Acknowledged may leave the
	// audio sent unanswered before the chain fails over.
	Stall time.Duration `json:"stall,omitempty"`
	// ReplayWindow is how much recent audio a stream keeps for replay.
	ReplayWindow time.Duration `json:"replay_window,omitempty"`
	// ProbeMin and ProbeMax bound the backoff between probes of the primary.
	ProbeMin time.Duration `json:"probe_min,omitempty"`
	ProbeMax time.Duration `json:"probe_max,omitempty"`
	// CatchUpMax bounds the outage audio held for catch-up.
	CatchUpMax time.Duration `json:"catch_up_max,omitempty"`
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.Stall < 0, c.ReplayWindow < 0, c.ProbeMin < 0, c.ProbeMax < 0, c.CatchUpMax < 0:
		return errors.New("chain: durations must not be negative")
	case c.ReplayWindow != 0 && c.ReplayWindow < time.Second:
		return errors.New("chain: replay_window below 1s cannot hold an utterance")
	case c.ReplayWindow > 5*time.Minute:
		return errors.New("chain: replay_window above 5m holds too much audio per stream")
	case c.ProbeMin != 0 && c.ProbeMax != 0 && c.ProbeMax < c.ProbeMin:
		return errors.New("chain: probe_max is below probe_min")
	case c.CatchUpMax > 24*time.Hour:
		return errors.New("chain: catch_up_max above 24h")
	}
	return nil
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Stall, DefaultStall)
	def(&c.ReplayWindow, DefaultReplayWindow)
	def(&c.ProbeMin, DefaultProbeMin)
	def(&c.ProbeMax, max(DefaultProbeMax, c.ProbeMin))
	def(&c.CatchUpMax, DefaultCatchUpMax)
	return c
}

// Engine is one link of a chain.
type Engine struct {
	// Name labels results, events and logs ("deepgram").
	Name string
	Rec  speech.Recognizer
	// Files, if set, re-transcribes outage audio for catch-up when this
	// engine is the primary; nil feeds Rec a stream instead.
	Files speech.Transcriber
}

// Recognizer is a chain of recognizers.
type Recognizer struct {
	cfg     Config
	log     *slog.Logger
	engines []Engine

	mu      sync.Mutex
	serving map[string]int
}

var _ speech.Recognizer = (*Recognizer)(nil)

// New builds a chain over engines, first = primary. All must share one
// sample rate. Closing the chain closes the engines.
func New(cfg Config, log *slog.Logger, engines ...Engine) (*Recognizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkEngines(len(engines), func(i int) (string, int) { return engines[i].Name, engines[i].Rec.SampleRate() }); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recognizer{cfg: cfg.withDefaults(), log: log, engines: engines, serving: map[string]int{}}, nil
}

// checkEngines wants at least one engine, unique names, one sample rate.
func checkEngines(n int, at func(int) (string, int)) error {
	if n == 0 {
		return errors.New("chain: no engines")
	}
	seen := map[string]bool{}
	_, rate := at(0)
	for i := range n {
		name, r := at(i)
		if name == "" || seen[name] {
			return fmt.Errorf("chain: engine %d: empty or repeated name %q", i, name)
		}
		seen[name] = true
		if r != rate {
			return fmt.Errorf("chain: engine %s takes %d Hz, %s %d Hz; a chain needs one rate", name, r, func() string { n, _ := at(0); return n }(), rate)
		}
	}
	return nil
}

func (r *Recognizer) SampleRate() int { return r.engines[0].Rec.SampleRate() }

// Info describes the primary, with Engine naming the whole chain
// ("deepgram,pocketsphinx").
func (r *Recognizer) Info() speech.EngineInfo {
	info := r.engines[0].Rec.Info()
	info.Engine = r.Names()
	return info
}

// Names is the chain in priority order, comma-separated.
func (r *Recognizer) Names() string {
	names := make([]string, len(r.engines))
	for i, e := range r.engines {
		names[i] = e.Name
	}
	return strings.Join(names, ",")
}

// Serving reports, per engine name, how many streams it serves now.
func (r *Recognizer) Serving() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.engines))
	for _, e := range r.engines {
		out[e.Name] = r.serving[e.Name]
	}
	return out
}

func (r *Recognizer) count(name string, d int) {
	if name == "" {
		return
	}
	r.mu.Lock()
	r.serving[name] += d
	r.mu.Unlock()
}

// Close closes every engine (after every stream has been closed).
func (r *Recognizer) Close() error {
	var errs []error
	for _, e := range r.engines {
		errs = append(errs, e.Rec.Close())
		if e.Files != nil {
			errs = append(errs, e.Files.Close())
		}
	}
	return errors.Join(errs...)
}

// NewStream opens a stream on the first engine that opens one.
func (r *Recognizer) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.Stream, error) {
	s := newStream(ctx, r, opts)
	if _, err := s.open(ctx, s.order(-1), ""); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ContextStats sums up the prepared-text adaptations each engine of the
// chain keeps, named as in the chain.
func (r *Recognizer) ContextStats() []speech.ContextStats {
	var out []speech.ContextStats
	for _, e := range r.engines {
		if cs, ok := e.Rec.(speech.ContextStatser); ok {
			for _, st := range cs.ContextStats() {
				st.Engine = e.Name
				out = append(out, st)
			}
		}
	}
	return out
}

// ContextReports tells what a prepared text became for each engine of the
// chain that adapts to prepared text, in priority order; complete is false
// while one of them has no report yet (no stream has used the text).
func (r *Recognizer) ContextReports(text string) (out []speech.ContextReport, complete bool) {
	complete = true
	for _, e := range r.engines {
		if cr, ok := e.Rec.(speech.ContextReporter); ok {
			rep, ok := cr.ContextReport(text)
			if !ok {
				complete = false
				continue
			}
			rep.Engine = e.Name
			out = append(out, rep)
		}
	}
	return out, complete
}
