// Package audittest is an in-memory audit.Recorder for tests of the code
// that audits (keys, tickets, the admin console, the gateway): it keeps the
// events it is given and can be told to fail, so "an action that cannot be
// audited does not happen" is testable. Only tests import it.
package audittest

import (
	"context"
	"errors"
	"sync"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// ErrFailing is what Record returns after SetFail(true).
var ErrFailing = errors.New("audittest: audit log unavailable")

// Recorder is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []audit.Event
	fail   bool
}

var _ audit.Recorder = (*Recorder)(nil)

// Record keeps e, or returns ErrFailing while failing.
func (r *Recorder) Record(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return ErrFailing
	}
	r.events = append(r.events, e)
	return nil
}

// RecordTx is Record for callers that audit inside their own transaction
// (it records at once; it cannot see whether the caller commits).
func (r *Recorder) RecordTx(ctx context.Context, _ *store.Tx, e audit.Event) error {
	return r.Record(ctx, e)
}

// SetFail makes later Records fail (true) or succeed again (false).
func (r *Recorder) SetFail(fail bool) {
	r.mu.Lock()
	r.fail = fail
	r.mu.Unlock()
}

// Events returns a copy of every recorded event, in order.
func (r *Recorder) Events() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// Find returns the events with this action and outcome ("" matches any outcome).
func (r *Recorder) Find(action, outcome string) []audit.Event {
	var out []audit.Event
	for _, e := range r.Events() {
		if e.Action == action && (outcome == "" || e.Outcome == outcome) {
			out = append(out, e)
		}
	}
	return out
}
