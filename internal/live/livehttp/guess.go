package livehttp

import (
	"context"
	"runtime"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Viewer-password guessing: the per-address failure budget (Options.Fail)
// does not stop a guesser spread over many addresses, so each session also
// has its own budget of wrong secrets. Past it, viewer-ticket requests for
// that session get 429 until the budget refills, right secret or not:
// that is what bounds guessing, at the cost of a short wait for real
// viewers while a session is under attack.

// DefaultViewerGuessesPerMinute is each session's budget of wrong viewer
// secrets per minute (also the burst).
const DefaultViewerGuessesPerMinute = 10

// maxGuessSessions bounds the table; sessions whose budget is full are
// dropped first.
const maxGuessSessions = 100_000

type guessLimiter struct {
	perMinute int
	now       func() time.Time
	// checks bounds viewer-secret checks running at once: a password
	// check is argon2id (19 MiB, tens of ms), and anonymous callers on
	// many addresses could otherwise run any number at once.
	checks chan struct{}

	mu  sync.Mutex
	ses map[string]*rate.Limiter
}

func newGuessLimiter(perMinute int, now func() time.Time) *guessLimiter {
	if now == nil {
		now = time.Now
	}
	return &guessLimiter{perMinute: perMinute, now: now, ses: map[string]*rate.Limiter{},
		checks: make(chan struct{}, maxConcurrentChecks())}
}

// maxConcurrentChecks is two argon2id checks per CPU (at most 38 MiB per
// CPU held by them).
func maxConcurrentChecks() int { return 2 * runtime.NumCPU() }

// acquire waits for a check slot until ctx ends or checkWait passes.
func (g *guessLimiter) acquire(ctx context.Context) (func(), bool) {
	t := time.NewTimer(checkWait)
	defer t.Stop()
	select {
	case g.checks <- struct{}{}:
		return func() { <-g.checks }, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

// checkWait is how long a viewer-ticket request waits for a check slot
// before 503.
const checkWait = 5 * time.Second

// wait is how long session id must wait before a secret is checked, or 0.
func (g *guessLimiter) wait(id string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.ses[id]
	if l == nil {
		return 0
	}
	tokens := l.TokensAt(g.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.Limit()) * float64(time.Second))
}

// fail spends one of session id's guesses.
func (g *guessLimiter) fail(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	l := g.ses[id]
	if l == nil {
		if len(g.ses) >= maxGuessSessions {
			g.evict(now)
		}
		l = rate.NewLimiter(rate.Every(time.Minute/time.Duration(g.perMinute)), g.perMinute)
		g.ses[id] = l
	}
	l.AllowN(now, 1)
}

// evict drops sessions whose budget has refilled, then any. Called with mu.
func (g *guessLimiter) evict(now time.Time) {
	for id, l := range g.ses {
		if l.TokensAt(now) >= float64(g.perMinute) {
			delete(g.ses, id)
		}
	}
	for id := range g.ses {
		if len(g.ses) < maxGuessSessions {
			return
		}
		delete(g.ses, id)
	}
}
