package identify

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// FindTimeout bounds one look for an identifier by a Finder.
const FindTimeout = 500 * time.Millisecond

// Finder finds an identifier lazily, when a session first needs one, and
// keeps the first that answers; until one does, every Find asks again
// (within FindTimeout), so an identifier started after the worker is
// found by the worker's next session.
type Finder struct {
	nc *nats.Conn
	mu sync.Mutex
	r  *Remote
}

// NewFinder looks for identifiers on nc.
func NewFinder(nc *nats.Conn) *Finder { return &Finder{nc: nc} }

// Find returns the remote embedder, or ErrUnavailable when no identifier
// answers in time.
func (f *Finder) Find(ctx context.Context) (*Remote, error) {
	f.mu.Lock()
	r := f.r
	f.mu.Unlock()
	if r != nil {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(ctx, FindTimeout)
	defer cancel()
	r, err := Discover(ctx, f.nc)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.r == nil {
		f.r = r
	}
	r = f.r
	f.mu.Unlock()
	return r, nil
}
