package limit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/store"
)

// Overrides are what one credential carries beyond its scopes: its limits
// (zero fields inherit the defaults) and its own IP rules.
type Overrides struct {
	Limits Limits
	IP     netpolicy.Rules
}

// Resolver looks up a principal's overrides (the integrator reads them from
// the key store; a JWT subject usually has none). It runs at most once per
// subject per Options.ResolveTTL, outside the limiter's locks, with whichever
// of the subject's principals comes first: principals sharing a Subject (a
// key and the tickets it issued) must get the same answer, so resolve from
// p.Subject ("key:<id>"), not p.ID or p.Kind. An error fails the request
// closed.
type Resolver func(ctx context.Context, p auth.Principal) (Overrides, error)

// Options configure a Limiter. The zero value is memory-only with no limits.
type Options struct {
	// Defaults apply to every subject; a key's Overrides replace fields.
	Defaults Limits
	// Resolve finds per-credential overrides; nil gives everyone Defaults.
	Resolve Resolver
	// Store persists daily usage; nil keeps it in memory only.
	Store *store.Store
	// Now is the clock (tests pass a fake); nil uses time.Now.
	Now func() time.Time
	// FlushInterval bounds how long usage stays only in memory: the
	// background writer flushes at least this often. Default 5s.
	FlushInterval time.Duration
	// IdleTTL evicts a subject with no activity, no open session and a
	// full bucket after this long, bounding memory. Default 10m.
	IdleTTL time.Duration
	// ResolveTTL is how long resolved overrides are reused. Default 2s, so
	// a key's changed limits or IP rules apply within that time; negative
	// resolves on every call.
	ResolveTTL time.Duration
	// LocalRate keeps rates (rps and burst, chat tokens per second) per process even on a
	// PostgreSQL store several gateways share: cheaper (no database round
	// trip per request), but N gateways then admit up to N times a rate.
	// The default counts rates in the database too (sharedrate.go).
	LocalRate bool
	// Logger gets IDs only (subject, counts), never credentials.
	Logger *slog.Logger
	// OnLimited, if set, is called with the refusing limit's name ("rps",
	// "max_sessions", ...) for every refusal: a metrics hook that never
	// sees the subject. It must be fast and must not block.
	OnLimited func(limit string)
	// WriteError writes refusals in the API's error shape; nil uses
	// netpolicy.WriteError (the same shape).
	WriteError func(w http.ResponseWriter, r *http.Request, status int, code, msg string)
}

// Limiter enforces Limits per subject. Safe for concurrent use. Close it to
// stop the background writer and flush the last usage.
type Limiter struct {
	opts Options
	db   *store.Store

	mu       sync.Mutex // guards subjects; order: mu before subject.mu
	subjects map[string]*subject

	retiredMu sync.Mutex // guards retired; taken under subject.mu
	retired   []usageRow // finished days' unflushed usage

	flushMu   sync.Mutex // one flush at a time
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// counters are one subject's usage for one day.
type counters struct {
	requests, audioMs, chatTokens int64
}

func (c counters) zero() bool { return c == counters{} }

func (c counters) plus(o counters) counters {
	return counters{c.requests + o.requests, c.audioMs + o.audioMs, c.chatTokens + o.chatTokens}
}

// subject is one subject's state. Every field is guarded by mu.
type subject struct {
	mu      sync.Mutex
	name    string
	evicted bool // removed from the map; callers must look up again

	ov         Overrides
	eff        Limits
	resolvedAt time.Time
	resolved   bool

	req, chat bucket
	// lease is shared request tokens taken from the database and not yet
	// used, valid until leaseUntil (sharedrate.go).
	lease      float64
	leaseUntil time.Time
	// leaseMu serialises taking shared request tokens (database I/O,
	// never under mu), so a burst waits for one lease instead of racing
	// to the database; taken before mu.
	leaseMu  sync.Mutex
	sessions int
	lastSeen time.Time

	// Daily usage: total = base (from the database when loaded, plus
	// flushed deltas) + inflight (being written) + pending (not yet).
	day                     string
	loaded                  bool
	base, inflight, pending counters
	inflightDay             string // the day inflight belongs to
	audioRemUs              int64  // sub-millisecond audio not yet counted
	// audioGrantMs is audio of this day already counted in the database
	// (a shared audio quota reserves it in grants) and not yet used here.
	audioGrantMs int64
	// grantMu serialises reserving audio grants (database I/O, never
	// under mu); taken before mu.
	grantMu sync.Mutex
}

func (s *subject) total() counters {
	t := s.base.plus(s.pending)
	if s.inflightDay == s.day {
		t = t.plus(s.inflight)
	}
	return t
}

// New builds a Limiter, migrating its table when opts.Store is set, and
// starts the background writer (owned by the Limiter; Close waits for it).
func New(ctx context.Context, opts Options) (*Limiter, error) {
	if err := opts.Defaults.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 5 * time.Second
	}
	if opts.IdleTTL <= 0 {
		opts.IdleTTL = 10 * time.Minute
	}
	if opts.ResolveTTL == 0 {
		opts.ResolveTTL = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.WriteError == nil {
		opts.WriteError = netpolicy.WriteError
	}
	l := &Limiter{opts: opts, subjects: map[string]*subject{}, stop: make(chan struct{}), done: make(chan struct{})}
	if opts.Store != nil {
		if err := Migrate(ctx, opts.Store); err != nil {
			return nil, fmt.Errorf("limit: %w", err)
		}
		l.db = opts.Store
	}
	go l.loop()
	return l, nil
}

// Close stops the background writer and flushes pending usage. The Limiter
// keeps enforcing limits in memory afterwards (a late request during
// shutdown is still limited), but nothing more is persisted.
func (l *Limiter) Close(ctx context.Context) error {
	l.closeOnce.Do(func() { close(l.stop) })
	select {
	case <-l.done:
	case <-ctx.Done():
		return fmt.Errorf("limit: close: %w", ctx.Err())
	}
	return errors.Join(l.Flush(ctx), l.returnAudioGrants(ctx))
}

func (l *Limiter) loop() {
	defer close(l.done)
	t := time.NewTicker(l.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.FlushInterval)
			if err := l.Flush(ctx); err != nil {
				l.opts.Logger.Warn("usage flush failed; will retry", "err", err)
			}
			cancel()
			l.Sweep()
		}
	}
}

// with runs fn on p's subject, locked, after refreshing its overrides and
// rolling its day over. It retries if the subject was evicted meanwhile.
func (l *Limiter) with(ctx context.Context, p auth.Principal, need loadNeed, fn func(s *subject, now time.Time) error) error {
	if p.Subject == "" {
		return errors.New("limit: principal has no subject")
	}
	for {
		s := l.lookup(p.Subject)
		if err := l.refresh(ctx, s, p); err != nil {
			return err
		}
		s.mu.Lock()
		if s.evicted {
			s.mu.Unlock()
			continue
		}
		now := l.opts.Now()
		s.lastSeen = now
		if err := l.rollDay(ctx, s, now, need); err != nil {
			s.mu.Unlock()
			return err
		}
		err := fn(s, now)
		s.mu.Unlock()
		return err
	}
}

func (l *Limiter) lookup(name string) *subject {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.subjects[name]
	if s == nil {
		s = &subject{name: name}
		l.subjects[name] = s
	}
	return s
}

// refresh re-resolves the subject's overrides when they are older than
// ResolveTTL. The resolver runs without locks held.
func (l *Limiter) refresh(ctx context.Context, s *subject, p auth.Principal) error {
	now := l.opts.Now()
	s.mu.Lock()
	age := now.Sub(s.resolvedAt)
	fresh := s.resolved && age >= 0 && age < l.opts.ResolveTTL
	s.mu.Unlock()
	if fresh {
		return nil
	}
	var ov Overrides
	if l.opts.Resolve != nil {
		var err error
		if ov, err = l.opts.Resolve(ctx, p); err != nil {
			return fmt.Errorf("limit: resolving %s: %w", p.Subject, err)
		}
	}
	eff := Merge(l.opts.Defaults, ov.Limits)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ov, s.eff, s.resolvedAt, s.resolved = ov, eff, now, true
	s.req.configure(eff.RPS, float64(eff.Burst), now)
	s.chat.configure(eff.ChatTokensPerSecond, max(eff.ChatTokensPerSecond, 1), now)
	return nil
}

// loadNeed says whether an operation needs the day's stored usage.
type loadNeed int

const (
	noLoad   loadNeed = iota // touches no daily counter
	tryLoad                  // counts requests: load if possible, else skip counting
	mustLoad                 // enforces a daily quota: fail if the usage cannot be read
)

// rollDay moves the subject to now's UTC day, retiring the old day's
// unflushed usage, and loads the day's stored usage once when need asks.
// Counters accumulate only once loaded, so a load never misses a delta.
// Called with s.mu held.
func (l *Limiter) rollDay(ctx context.Context, s *subject, now time.Time, need loadNeed) error {
	day := utcDay(now)
	if s.day != day {
		if !s.pending.zero() && s.day != "" {
			l.retire(usageRow{subject: s.name, day: s.day, c: s.pending})
		}
		s.day, s.loaded = day, false
		s.base, s.pending, s.audioRemUs, s.audioGrantMs = counters{}, counters{}, 0, 0
		// inflight belongs to the old day; the flush that owns it settles it.
	}
	if need == noLoad || s.loaded {
		return nil
	}
	if l.db != nil {
		c, err := loadUsage(ctx, l.db, s.name, day)
		if err != nil {
			if need == tryLoad {
				// A request count is informational: admit the request
				// uncounted rather than fail it on a database hiccup.
				l.opts.Logger.Warn("usage not loaded; request not counted", "subject", s.name, "err", err)
				return nil
			}
			return fmt.Errorf("limit: loading usage: %w", err)
		}
		s.base = c
	}
	s.loaded = true
	return nil
}

func (l *Limiter) retire(r usageRow) {
	l.retiredMu.Lock()
	l.retired = append(l.retired, r)
	l.retiredMu.Unlock()
}

// Sweep evicts subjects idle for IdleTTL that hold nothing worth keeping:
// no open session, no unflushed usage and a refilled bucket. The
// background writer calls it after each flush.
func (l *Limiter) Sweep() {
	now := l.opts.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, s := range l.subjects {
		// A subject whose lock is held is in use, hence not idle; skipping
		// it keeps the sweep from waiting on a database read under l.mu.
		if !s.mu.TryLock() {
			continue
		}
		if !s.grantMu.TryLock() { // reserving audio: in use too
			s.mu.Unlock()
			continue
		}
		if now.Sub(s.lastSeen) >= l.opts.IdleTTL && s.sessions == 0 && s.pending.zero() && s.inflight.zero() &&
			s.audioGrantMs == 0 && s.req.full(now) && s.chat.full(now) {
			s.evicted = true
			delete(l.subjects, name)
		}
		s.grantMu.Unlock()
		s.mu.Unlock()
	}
}

// Subjects is how many subjects are held in memory.
func (l *Limiter) Subjects() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subjects)
}
