package streams

import (
	"context"
	"time"
)

// Guard is what a long-lived stream asks every few seconds: may its
// caller go on? A credential past its expiry may not, nor one Recheck
// refuses (a revoked key). Used by one goroutine.
type Guard struct {
	// Expires is when the credential stops working (zero: never).
	Expires time.Time
	// Recheck, if set, is asked at most every RecheckEvery whether the
	// credential is still valid.
	Recheck      func(ctx context.Context) error
	RecheckEvery time.Duration
	last         time.Time
}

// Check returns "" while the stream may go on, else the close reason.
func (g *Guard) Check(ctx context.Context) string {
	now := time.Now()
	if !g.Expires.IsZero() && !now.Before(g.Expires) {
		return "credential expired"
	}
	if g.last.IsZero() {
		g.last = now
	}
	if g.Recheck != nil && now.Sub(g.last) >= g.RecheckEvery {
		g.last = now
		if err := g.Recheck(ctx); err != nil && ctx.Err() == nil {
			return "credential no longer valid"
		}
	}
	return ""
}
