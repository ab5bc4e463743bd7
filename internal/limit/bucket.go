package limit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Error codes the API returns with 429 (and 403 for a per-key IP refusal).
const (
	CodeRateLimited   = "rate_limited"   // a per-second rate; retry soon
	CodeQuotaExceeded = "quota_exceeded" // a daily quota or the session cap
	CodeIPDenied      = "ip_denied"
)

// ErrLimited is wrapped by every *Error.
var ErrLimited = errors.New("limit: over limit")

// Error says which limit refused and when to retry. It never names another
// subject's usage.
type Error struct {
	Code string // CodeRateLimited or CodeQuotaExceeded
	// Limit is the field that refused ("rps", "max_sessions", ...).
	Limit string
	// RetryAfter is the computed wait before the same call could succeed;
	// for daily quotas, the time to the next UTC midnight.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("limit: %s exceeded (%s); retry after %s", e.Limit, e.Code, e.RetryAfter.Round(time.Millisecond))
}

// Unwrap makes errors.Is(err, ErrLimited) true.
func (e *Error) Unwrap() error { return ErrLimited }

// RetryAfterSeconds is the Retry-After header value: whole seconds, rounded
// up, at least 1.
func (e *Error) RetryAfterSeconds() int64 {
	s := int64(math.Ceil(e.RetryAfter.Seconds()))
	return max(s, 1)
}

// bucket is a token bucket driven by explicit times (so tests use a fake
// clock). Hand-written rather than golang.org/x/time/rate because chat
// tokens are charged after they are produced: the bucket must be able to go
// into debt, which rate.Limiter cannot represent, and it lives under the
// subject's mutex anyway. Not safe for concurrent use on its own.
type bucket struct {
	tokens float64
	last   time.Time
	rate   float64 // tokens per second; <= 0 means unlimited
	size   float64
}

// configure sets rate and size, keeping the current fill (refilled at the
// old rate, then capped); a new bucket starts full.
func (b *bucket) configure(rate, size float64, now time.Time) {
	if b.last.IsZero() {
		b.tokens, b.last = size, now
	} else if b.rate > 0 {
		b.refill(now)
	} else {
		b.tokens, b.last = size, now // was unlimited: start full
	}
	b.rate, b.size = rate, size
	b.tokens = min(b.tokens, size)
}

func (b *bucket) refill(now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.size, b.tokens+dt*b.rate)
		b.last = now
	}
}

// take removes n tokens if at least min(n, size) are available (so a
// charge larger than the bucket succeeds from a full bucket and leaves it
// in debt); otherwise it takes nothing and returns the wait until it could.
func (b *bucket) take(n float64, now time.Time) (ok bool, wait time.Duration) {
	if b.rate <= 0 {
		return true, 0
	}
	b.refill(now)
	need := min(n, b.size)
	if b.tokens >= need {
		b.tokens -= n
		return true, 0
	}
	secs := (need - b.tokens) / b.rate
	return false, time.Duration(math.Ceil(secs * float64(time.Second)))
}

// refund gives back n tokens a take removed for work that was then refused.
func (b *bucket) refund(n float64) {
	if b.rate > 0 {
		b.tokens = min(b.size, b.tokens+n)
	}
}

// full reports whether the bucket has refilled (an idle subject can be
// evicted without losing anything).
func (b *bucket) full(now time.Time) bool {
	if b.rate <= 0 || b.last.IsZero() {
		return true
	}
	b.refill(now)
	return b.tokens >= b.size
}
