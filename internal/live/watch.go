package live

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
)

// feed is one viewer's subscription. The hub queues events (shared,
// read-only items) without blocking. They leave either through Events,
// whose pump goroutine (started by the first call) sends them on out, or
// through Frames and Take, where the consumer drains the queue itself when
// notified and no goroutine is the feed's own. A queue that reaches the
// viewer buffer ends the feed with ErrSlow.
type feed struct {
	h     *hub
	after uint64
	size  int
	done  chan struct{} // closed when err is set
	once  sync.Once     // starts the pump

	mu    sync.Mutex
	err   error
	queue []*item
	stop  func() bool
	out   chan Event    // Events: made with the pump
	wake  chan struct{} // Events: the pump's doorbell
	// Frames: notify is the consumer's doorbell, catchup the events the
	// owner held when it began, last the Seq of the last frame taken.
	notify  func()
	catchup []Frame
	last    uint64
}

// item is one event as the hub received it: decoded, and the publisher's
// encoding, which every local viewer sends as it is.
type item struct {
	ev    Event
	frame Frame
}

// Frame is one caption-feed event encoded as the JSON a viewer receives
// (exactly what the publisher put on the bus). JSON is shared by every
// feed of the node: read it, never change it.
type Frame struct {
	Seq  uint64
	JSON []byte
}

// FrameFeed is a Feed a viewer socket drains without a goroutine of its
// own: each event arrives encoded once for all viewers. A consumer uses
// either Events or Frames and Take, never both.
type FrameFeed interface {
	Feed
	// Frames switches the feed to frame delivery: it fetches the catch-up
	// (the events after Watch's `after` that the owner holds) in the
	// caller's goroutine, then calls notify whenever frames wait or the
	// feed ends. notify is called with the feed's lock held (from the
	// hub's delivery among others): it must not block or call back into
	// the feed.
	Frames(ctx context.Context, notify func())
	// Take appends the waiting frames to buf, in Seq order, catch-up
	// first, each once. After the feed ended it appends nothing: Err says
	// why.
	Take(buf []Frame) []Frame
}

var (
	_ Feed      = (*feed)(nil)
	_ FrameFeed = (*feed)(nil)
)

// Events starts the pump on the first call.
func (f *feed) Events() <-chan Event {
	f.once.Do(func() {
		f.mu.Lock()
		f.out, f.wake = make(chan Event), make(chan struct{}, 1)
		f.mu.Unlock()
		go f.pump()
	})
	return f.out
}

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

// failLocked records err and wakes the consumer; f.mu is held.
func (f *feed) failLocked(err error) bool {
	if f.err != nil {
		return false
	}
	f.err = err
	f.queue, f.catchup = nil, nil
	close(f.done)
	if f.stop != nil {
		f.stop()
	}
	if f.notify != nil {
		f.notify()
	}
	return true
}

// deliver queues it without blocking; false when the queue was full and
// the feed failed with ErrSlow.
func (f *feed) deliver(it *item) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return true
	}
	if len(f.queue) >= f.size {
		f.failLocked(ErrSlow)
		return false
	}
	f.queue = append(f.queue, it)
	select {
	case f.wake <- struct{}{}: // nil until Events: never ready
	default:
	}
	if f.notify != nil && len(f.queue) == 1 {
		f.notify()
	}
	return true
}

// Frames implements FrameFeed.
func (f *feed) Frames(ctx context.Context, notify func()) {
	// The hub subscribed before the first request (see pump).
	var catchup []Frame
	last, subj := f.after, SubjectsFor(f.h.id).History
	for {
		page, err := f.h.hs.historyFrames(ctx, subj, last)
		if err != nil {
			break
		}
		catchup = append(catchup, page...)
		if len(page) > 0 {
			last = page[len(page)-1].Seq
		}
		if len(page) < historyPage {
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notify, f.last = notify, f.after
	if f.err == nil {
		f.catchup = catchup
	}
	if len(f.catchup) > 0 || len(f.queue) > 0 || f.err != nil {
		notify()
	}
}

// firstQueued is the Seq of the first queued event (max when none).
func (f *feed) firstQueued() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.firstQueuedLocked()
}

func (f *feed) firstQueuedLocked() uint64 {
	if len(f.queue) == 0 {
		return math.MaxUint64
	}
	return f.queue[0].ev.Seq
}

// Take implements FrameFeed. The catch-up goes up to what is queued (see
// pump).
func (f *feed) Take(buf []Frame) []Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	queued := f.firstQueuedLocked()
	for _, fr := range f.catchup {
		if fr.Seq >= queued {
			break
		}
		if fr.Seq > f.last {
			buf, f.last = append(buf, fr), fr.Seq
		}
	}
	f.catchup = nil
	for i, it := range f.queue {
		if it.frame.Seq > f.last {
			buf, f.last = append(buf, it.frame), it.frame.Seq
		}
		f.queue[i] = nil
	}
	f.queue = f.queue[:0]
	return buf
}

// Watch implements Sessions.
func (m *Manager) Watch(ctx context.Context, id string, after uint64) (Feed, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	if m.clustered() {
		// Any process's viewers watch any session: its owner publishes on
		// the bus (and may change while they watch).
		if _, err := m.recs.one(ctx, id); err != nil {
			return nil, err
		}
	} else if _, err := m.lookup("", id); errors.Is(err, errShutdown) {
		return nil, err
	} else if err != nil && !m.ownedElsewhere(id) {
		return nil, err
	}
	h, err := m.hubs.hubFor(id)
	if err != nil {
		return nil, err
	}
	f := &feed{h: h, after: after, done: make(chan struct{}), size: m.cfg.ViewerBuffer}
	if !h.add(f) {
		return nil, fmt.Errorf("%w: session closed", ErrNotFound)
	}
	m.met.feedsOpen.Inc()
	stop := context.AfterFunc(ctx, func() { f.fail(ctx.Err()) })
	f.mu.Lock()
	f.stop = stop
	f.mu.Unlock()
	return f, nil
}

// pump sends what the session's owner holds after `after` (catch-up),
// then the queued live events, skipping any already sent, until the feed
// ends; then it closes out.
func (f *feed) pump() {
	defer close(f.out)
	last := f.after
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
	// queue fill), and so does reaching what is queued (the queue goes on
	// from there: after a takeover the new owner's history may lack the
	// old owner's events the queue holds).
	subj := SubjectsFor(f.h.id).History
catchUp:
	for {
		evs, err := f.h.hs.history(subj, last)
		if err != nil {
			break
		}
		queued := f.firstQueued()
		for i := range evs {
			if evs[i].Seq >= queued {
				break catchUp
			}
			if !send(&evs[i]) {
				return
			}
		}
		if len(evs) < historyPage {
			break
		}
	}
	for {
		f.mu.Lock()
		q := f.queue
		f.queue = nil
		f.mu.Unlock()
		for _, it := range q {
			if !send(&it.ev) {
				return
			}
		}
		select {
		case <-f.done:
			return
		case <-f.wake:
		}
	}
}

// ownedElsewhere reports whether another process owns session id (its
// history subject answers), so viewers may watch sessions of other nodes.
func (m *Manager) ownedElsewhere(id string) bool {
	_, err := m.hubs.history(SubjectsFor(id).History, 1<<62)
	return err == nil
}
