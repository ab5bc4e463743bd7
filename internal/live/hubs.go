package live

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// hubs owns this process's viewers: one hub per watched session (its one
// subscription to the session's events on the bus) and the feeds hanging
// off it, and the catch-up requests a feed makes to the session's owner.
// It knows nothing of records or pipelines.
//
// Lock order: hubs.mu, then hub.mu, then feed.mu.
type hubs struct {
	nc     *nats.Conn
	buffer int // a viewer's queue (config live.viewer_buffer)
	met    *metrics

	mu sync.Mutex
	m  map[string]*hub
}

func newHubs(nc *nats.Conn, buffer int, met *metrics) *hubs {
	return &hubs{nc: nc, buffer: buffer, met: met, m: map[string]*hub{}}
}

// hub is this process's one subscription to a session's events, shared by
// all its local feeds. Delivery never blocks: a feed whose buffer is full
// is closed with ErrSlow.
type hub struct {
	id     string
	hs     *hubs
	sub    *nats.Subscription
	mu     sync.Mutex
	feeds  map[*feed]struct{}
	last   uint64 // Seq of the last event received (0: none yet)
	closed bool
}

// history asks the owner of a session for its events after `after`.
func (hs *hubs) history(subj string, after uint64) ([]Event, error) {
	req, _ := json.Marshal(historyRequest{After: after})
	msg, err := hs.nc.Request(subj, req, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var evs []Event
	if err := json.Unmarshal(msg.Data, &evs); err != nil {
		return nil, fmt.Errorf("live: history reply: %w", err)
	}
	return evs, nil
}

// historyFrames is history as frames: each event as the owner encoded it.
func (hs *hubs) historyFrames(ctx context.Context, subj string, after uint64) ([]Frame, error) {
	req, _ := json.Marshal(historyRequest{After: after})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := hs.nc.RequestWithContext(ctx, subj, req)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(msg.Data, &raws); err != nil {
		return nil, fmt.Errorf("live: history reply: %w", err)
	}
	frames := make([]Frame, 0, len(raws))
	for _, raw := range raws {
		var e struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("live: history reply: %w", err)
		}
		frames = append(frames, Frame{Seq: e.Seq, JSON: raw})
	}
	return frames, nil
}

// hubFor returns the session's hub, subscribing when it is the first.
func (hs *hubs) hubFor(id string) (*hub, error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if h := hs.m[id]; h != nil {
		return h, nil
	}
	h := &hub{id: id, hs: hs, feeds: map[*feed]struct{}{}}
	sub, err := hs.nc.Subscribe(SubjectsFor(id).Events, h.receive)
	if err != nil {
		return nil, fmt.Errorf("live: events subscription: %w", err)
	}
	// Bounded: a hub that cannot keep up loses messages (seen as a gap
	// below) instead of growing without limit.
	_ = sub.SetPendingLimits(4*hs.buffer+1024, 64<<20)
	// The subscription must reach the server before history is asked, or
	// an event published in between would be missed.
	if err := hs.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("live: events subscription: %w", err)
	}
	h.sub = sub
	hs.m[id] = h
	return h, nil
}

// viewers is the number of session id's feeds open in this process.
func (hs *hubs) viewers(id string) int {
	hs.mu.Lock()
	h := hs.m[id]
	hs.mu.Unlock()
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.feeds)
}

// end closes every feed of session id with err (the session is gone).
func (hs *hubs) end(id string, err error) {
	hs.mu.Lock()
	h := hs.m[id]
	hs.mu.Unlock()
	if h != nil {
		h.closeAll(err)
	}
}

// endAll closes every feed of every session with err (shutdown).
func (hs *hubs) endAll(err error) {
	hs.mu.Lock()
	all := make([]*hub, 0, len(hs.m))
	for _, h := range hs.m {
		all = append(all, h)
	}
	hs.mu.Unlock()
	for _, h := range all {
		h.closeAll(err)
	}
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
	h.hs.met.feedsOpen.Dec()
	if f.Err() == ErrSlow {
		h.hs.met.feedsSlow.Inc()
	}
	h.hs.mu.Lock()
	defer h.hs.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.feeds, f)
	if len(h.feeds) == 0 && !h.closed {
		h.closed = true
		_ = h.sub.Unsubscribe()
		if h.hs.m[h.id] == h {
			delete(h.hs.m, h.id)
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
	it := &item{ev: e, frame: Frame{Seq: e.Seq, JSON: msg.Data}}
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
		if !f.deliver(it) {
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
