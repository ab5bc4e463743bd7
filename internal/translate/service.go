package translate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// Options configure a Service.
type Options struct {
	// Engines in priority order: the first that serves a pair translates
	// it; when it fails the next that serves it is tried.
	Engines []Engine
	// CacheSize bounds the translations kept in memory (default 4096):
	// every viewer of a language, and a reconnecting viewer's catch-up,
	// share one translation of each caption.
	CacheSize int
	// Timeout bounds one engine call (default 10 s).
	Timeout time.Duration
	// Logger gets engine names, pairs and error classes, never text.
	Logger *slog.Logger
	// Registerer, if set, receives the service's metrics.
	Registerer prometheus.Registerer
}

// Service translates through the configured engines. Safe for
// concurrent use.
type Service struct {
	engines []Engine
	timeout time.Duration
	log     *slog.Logger
	cache   *lru.Cache[key, string]
	flight  singleflight.Group
	calls   *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

type key struct {
	p    Pair
	text string
}

// NewService builds a service over opts.Engines (none: every pair is
// unsupported).
func NewService(opts Options) (*Service, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = 4096
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := lru.New[key, string](opts.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("translate: cache: %w", err)
	}
	s := &Service{engines: slices.Clone(opts.Engines), timeout: opts.Timeout, log: opts.Logger, cache: c,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "izwi_translate_calls_total",
			Help: "Translations by engine and outcome (ok, failed, over_quota: the session owner is over a chat quota, fallback: the source text was shown)."}, []string{"engine", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "izwi_translate_seconds",
			Help: "Time of one engine translation.", Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"engine"})}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.calls, s.seconds} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("translate: metrics: %w", err)
			}
		}
	}
	return s, nil
}

// serving returns the engines that serve p, in priority order.
func (s *Service) serving(p Pair) []Engine {
	var out []Engine
	for _, e := range s.engines {
		ps := e.Pairs()
		if ps == nil || slices.Contains(ps, p) {
			out = append(out, e)
		}
	}
	return out
}

// Supports reports whether some engine serves p.
func (s *Service) Supports(p Pair) bool { return p.From != p.To && len(s.serving(p)) > 0 }

// Pairs lists the fixed pairs the engines serve and whether some engine
// serves any pair (a chat model).
func (s *Service) Pairs() (fixed []Pair, anyPair bool) {
	for _, e := range s.engines {
		ps := e.Pairs()
		if ps == nil {
			anyPair = true
		}
		for _, p := range ps {
			if !slices.Contains(fixed, p) {
				fixed = append(fixed, p)
			}
		}
	}
	return fixed, anyPair
}

// UnsupportedError names the targets no engine serves from a language.
type UnsupportedError struct {
	From    string
	Targets []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("translate: no engine translates %s to %v", e.From, e.Targets)
}

func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// Check normalises targets (ISO 639-1, no duplicates, not from itself)
// and checks an engine serves each from from. Unknown codes and
// unserved pairs are an error (*UnsupportedError for the latter).
func (s *Service) Check(from string, targets []string) ([]string, error) {
	src, ok := NormLang(from)
	if !ok {
		return nil, fmt.Errorf("%w: unknown source language %q", ErrUnsupported, from)
	}
	var out, missing []string
	for _, t := range targets {
		to, ok := NormLang(t)
		if !ok {
			return nil, fmt.Errorf("%w: unknown language code %q", ErrUnsupported, t)
		}
		if to == src || slices.Contains(out, to) {
			continue
		}
		if !s.Supports(Pair{From: src, To: to}) {
			missing = append(missing, to)
			continue
		}
		out = append(out, to)
	}
	if len(missing) > 0 {
		return nil, &UnsupportedError{From: src, Targets: missing}
	}
	return out, nil
}

// Result is one translation as shown: Text in Lang, which is p.To, or
// p.From when every engine failed and the source text stands in (Err
// says why).
type Result struct {
	Text   string
	Lang   string
	Engine string
	Err    error
}

// Translate translates text along p through the first engine that
// serves it and answers, sharing the work with concurrent callers asking
// the same and remembering the answer. When no engine answers, the
// result is the source text in p.From: a viewer sees the words, never
// nothing.
func (s *Service) Translate(ctx context.Context, p Pair, text string) Result {
	if text == "" || p.From == p.To {
		return Result{Text: text, Lang: p.From}
	}
	k := key{p, text}
	if t, ok := s.cache.Get(k); ok {
		return Result{Text: t, Lang: p.To, Engine: "cache"}
	}
	// The payer is part of the flight's key: a payer over quota must not
	// make another's viewers see the source text (the cache, filled only
	// by answers, is shared).
	ch := s.flight.DoChan(Payer(ctx)+"\x00"+p.String()+"\x00"+text, func() (any, error) {
		// The work outlives one caller: another may be waiting on it.
		return s.translate(context.WithoutCancel(ctx), p, text), nil
	})
	select {
	case r := <-ch:
		return r.Val.(Result)
	case <-ctx.Done():
		return Result{Text: text, Lang: p.From, Err: ctx.Err()}
	}
}

func (s *Service) translate(ctx context.Context, p Pair, text string) Result {
	var errs []error
	if len(text) > MaxTextBytes {
		return Result{Text: text, Lang: p.From, Err: ErrTooLong}
	}
	for _, e := range s.serving(p) {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		start := time.Now()
		t, err := e.Translate(cctx, p, text)
		cancel()
		s.seconds.WithLabelValues(e.Name()).Observe(time.Since(start).Seconds())
		if err == nil && t != "" {
			s.calls.WithLabelValues(e.Name(), "ok").Inc()
			s.cache.Add(key{p, text}, t)
			return Result{Text: t, Lang: p.To, Engine: e.Name()}
		}
		if err == nil {
			err = fmt.Errorf("%w: %s answered nothing", ErrUnavailable, e.Name())
		}
		if errors.Is(err, ErrOverQuota) {
			s.calls.WithLabelValues(e.Name(), "over_quota").Inc()
			s.log.Warn("translation refused: the session owner is over quota", "engine", e.Name(), "pair", p.String(),
				"err", errClass(err))
		} else {
			s.calls.WithLabelValues(e.Name(), "failed").Inc()
			s.log.Warn("translation failed", "engine", e.Name(), "pair", p.String(), "err", errClass(err))
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%w: %s", ErrUnsupported, p))
	}
	s.calls.WithLabelValues("-", "fallback").Inc()
	return Result{Text: text, Lang: p.From, Err: errors.Join(errs...)}
}

// errClass names an error without its text (which an upstream may have
// filled with anything).
func errClass(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	case errors.Is(err, ErrTooLong):
		return "too_long"
	case errors.Is(err, ErrOverQuota):
		return "over_quota"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}
