package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// hub is this process's one subscription to a session's events, shared by
// all its local feeds. Delivery never blocks: a feed whose buffer is full
// is closed with ErrSlow.
//
// Lock order: hub.mu before feed.mu.
type hub struct {
	id     string
	m      *Manager
	sub    *nats.Subscription
	mu     sync.Mutex
	feeds  map[*feed]struct{}
	last   uint64 // Seq of the last event received (0: none yet)
	closed bool
}

// feed is one viewer's subscription. The hub queues events (shared,
// read-only pointers) without blocking; the feed's pump goroutine sends
// them on out, which it alone writes and closes. A queue that reaches the
// viewer buffer ends the feed with ErrSlow.
type feed struct {
	h    *hub
	out  chan Event
	done chan struct{} // closed when err is set
	wake chan struct{}
	size int

	mu    sync.Mutex
	err   error
	queue []*Event
	stop  func() bool
}

var _ Feed = (*feed)(nil)

func (f *feed) Events() <-chan Event { return f.out }

func (f *feed) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close ends the feed (Err reports context.Canceled unless it had
// already failed).
func (f *feed) Close() { f.fail(context.Canceled) }

// fail ends the feed with err (first error wins) and leaves the hub.
func (f *feed) fail(err error) {
	f.mu.Lock()
	first := f.failLocked(err)
	f.mu.Unlock()
	if first {
		f.h.remove(f)
	}
}

// failLocked records err and wakes the pump to close out; f.mu is held.
func (f *feed) failLocked(err error) bool {
	if f.err != nil {
		return false
	}
	f.err = err
	f.queue = nil
	close(f.done)
	if f.stop != nil {
		f.stop()
	}
	return true
}

// deliver queues e without blocking; false when the queue was full and
// the feed failed with ErrSlow.
func (f *feed) deliver(e *Event) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return true
	}
	if len(f.queue) >= f.size {
		f.failLocked(ErrSlow)
		return false
	}
	f.queue = append(f.queue, e)
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return true
}

// Watch implements Sessions.
func (m *Manager) Watch(ctx context.Context, id string, after uint64) (Feed, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	if m.clustered() {
		// Any process's viewers watch any session: its owner publishes on
		// the bus (and may change while they watch).
		if _, err := loadRecord(ctx, m.db, id); err != nil {
			return nil, err
		}
	} else if _, err := m.lookup("", id); errors.Is(err, errShutdown) {
		return nil, err
	} else if err != nil && !m.ownedElsewhere(id) {
		return nil, err
	}
	h, err := m.hubFor(id)
	if err != nil {
		return nil, err
	}
	f := &feed{h: h, out: make(chan Event), done: make(chan struct{}), wake: make(chan struct{}, 1), size: m.cfg.ViewerBuffer}
	if !h.add(f) {
		return nil, fmt.Errorf("%w: session closed", ErrNotFound)
	}
	m.met.feedsOpen.Inc()
	stop := context.AfterFunc(ctx, func() { f.fail(ctx.Err()) })
	f.mu.Lock()
	f.stop = stop
	f.mu.Unlock()
	go f.pump(m, after)
	return f, nil
}

// pump sends what the session's owner holds after `after` (catch-up),
// then the queued live events, skipping any already sent, until the feed
// ends; then it closes out.
func (f *feed) pump(m *Manager, after uint64) {
	defer close(f.out)
	last := after
	send := func(e *Event) bool {
		if e.Seq <= last {
			return true
		}
		select {
		case f.out <- *e:
			last = e.Seq
			return true
		case <-f.done:
			return false
		}
	}
	// The hub subscribed before the first request, so whatever the owner
	// publishes after a reply is in the queue: a short page ends the
	// catch-up (asking again while events keep coming would let the
	// queue fill).
	subj := SubjectsFor(f.h.id).History
	for {
		evs, err := m.history(subj, last)
		if err != nil {
			break
		}
		for i := range evs {
			if !send(&evs[i]) {
				return
			}
		}
		if len(evs) < historyPage {
			break
		}
	}
	for {
		select {
		case <-f.done:
			return
		case <-f.wake:
		}
		f.mu.Lock()
		q := f.queue
		f.queue = nil
		f.mu.Unlock()
		for _, e := range q {
			if !send(e) {
				return
			}
		}
	}
}

// ownedElsewhere reports whether another process owns session id (its
// history subject answers), so viewers may watch sessions of other nodes.
func (m *Manager) ownedElsewhere(id string) bool {
	_, err := m.history(SubjectsFor(id).History, 1<<62)
	return err == nil
}

// history asks the owner of a session for its events after `after`.
func (m *Manager) history(subj string, after uint64) ([]Event, error) {
	req, _ := json.Marshal(historyRequest{After: after})
	msg, err := m.nc.Request(subj, req, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var evs []Event
	if err := json.Unmarshal(msg.Data, &evs); err != nil {
		return nil, fmt.Errorf("live: history reply: %w", err)
	}
	return evs, nil
}

// hubFor returns the session's hub, subscribing when it is the first.
func (m *Manager) hubFor(id string) (*hub, error) {
	m.hubMu.Lock()
	defer m.hubMu.Unlock()
	if h := m.hubs[id]; h != nil {
		return h, nil
	}
	h := &hub{id: id, m: m, feeds: map[*feed]struct{}{}}
	sub, err := m.nc.Subscribe(SubjectsFor(id).Events, h.receive)
	if err != nil {
		return nil, fmt.Errorf("live: events subscription: %w", err)
	}
	// Bounded: a hub that cannot keep up loses messages (seen as a gap
	// below) instead of growing without limit.
	_ = sub.SetPendingLimits(4*m.cfg.ViewerBuffer+1024, 64<<20)
	// The subscription must reach the server before history is asked, or
	// an event published in between would be missed.
	if err := m.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("live: events subscription: %w", err)
	}
	h.sub = sub
	m.hubs[id] = h
	return h, nil
}

func (h *hub) add(f *feed) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.feeds[f] = struct{}{}
	return true
}

// remove drops f; the last feed out closes the hub.
func (h *hub) remove(f *feed) {
	h.m.met.feedsOpen.Dec()
	if f.Err() == ErrSlow {
		h.m.met.feedsSlow.Inc()
	}
	h.m.hubMu.Lock()
	defer h.m.hubMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.feeds, f)
	if len(h.feeds) == 0 && !h.closed {
		h.closed = true
		_ = h.sub.Unsubscribe()
		if h.m.hubs[h.id] == h {
			delete(h.m.hubs, h.id)
		}
	}
}

// receive is the subscription's callback: one goroutine, in bus order.
func (h *hub) receive(msg *nats.Msg) {
	var e Event
	if err := json.Unmarshal(msg.Data, &e); err != nil || e.Seq == 0 {
		return
	}
	h.mu.Lock()
	gap := h.last != 0 && e.Seq > h.last+1
	if e.Seq > h.last {
		h.last = e.Seq
	}
	var failed []*feed
	for f := range h.feeds {
		if gap {
			// The bus dropped events: every feed reconnects and catches up.
			f.mu.Lock()
			if f.failLocked(ErrSlow) {
				failed = append(failed, f)
			}
			f.mu.Unlock()
			continue
		}
		if !f.deliver(&e) {
			failed = append(failed, f)
		}
	}
	h.mu.Unlock()
	for _, f := range failed {
		h.remove(f)
	}
}

// closeAll ends every feed of the hub with err (the session is gone).
func (h *hub) closeAll(err error) {
	h.mu.Lock()
	fs := make([]*feed, 0, len(h.feeds))
	for f := range h.feeds {
		fs = append(fs, f)
	}
	h.mu.Unlock()
	for _, f := range fs {
		f.fail(err)
	}
}
