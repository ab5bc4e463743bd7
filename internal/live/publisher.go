package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// publisher numbers a session's events, publishes them on the bus and
// keeps the session's history in memory (finals and state events, plus
// the latest open partial) to answer catch-up requests. The session's
// owner process runs exactly one.
type publisher struct {
	id    string
	subj  Subjects
	nc    *nats.Conn
	now   func() time.Time
	limit int
	count func(Event) // metrics hook; may be nil

	// send keeps the events in Seq order from numbering to the bus, and
	// is held while a kept final is stored (Privacy.Keep); mu guards the
	// fields below for moments only (no I/O), so readers (lastSeq, the
	// history answers) never wait on a store. send before mu.
	send   sync.Mutex
	mu     sync.Mutex
	seq    uint64
	hist   []Event
	open   *Event // the latest partial of a segment not yet final
	engine string // the engine the latest caption named (console stats)
	sub    *nats.Subscription
	// In a cluster, each event carries the end of the latest final
	// (finalEndHeader) for an owner that takes the session over.
	headers  bool
	finalEnd float64
}

// finalEndHeader carries, on a clustered session's events, the end of
// its latest final caption (session seconds).
const finalEndHeader = "Izwi-Final-End"

// historyPage bounds one history reply, so it stays far below the bus's
// maximum message size; the requester asks again after the last event.
const historyPage = 256

// historyRequest is the body of a .history request.
type historyRequest struct {
	After uint64 `json:"after"`
}

func newPublisher(nc *nats.Conn, id string, seq uint64, limit int, now func() time.Time, count func(Event)) (*publisher, error) {
	p := &publisher{id: id, subj: SubjectsFor(id), nc: nc, now: now, limit: limit, seq: seq, count: count}
	sub, err := nc.Subscribe(p.subj.History, p.answer)
	if err != nil {
		return nil, fmt.Errorf("live: history subscription: %w", err)
	}
	p.sub = sub
	return p, nil
}

// publish numbers, records and sends e, and returns it as sent.
func (p *publisher) publish(e Event) Event { return p.publishKept(e, nil) }

// publishKept is publish for a session that keeps its transcript: keep
// receives each final caption, numbered, before any viewer can see it
// (before it joins the history or goes on the bus), and returns once it
// is stored, so a crash after a viewer saw a final never loses it from the
// kept transcript. The store runs under p.send only: later events wait
// for it (numbering, storing and sending stay in one order), readers of
// the publisher do not.
func (p *publisher) publishKept(e Event, keep func(Event)) Event {
	p.send.Lock()
	defer p.send.Unlock()
	p.mu.Lock()
	p.seq++
	e.Seq, e.SessionID, e.Time = p.seq, p.id, p.now().UTC()
	if e.Engine != "" {
		p.engine = e.Engine
	}
	p.mu.Unlock()
	if keep != nil && e.Type == TypeCaption && e.Final && e.Text != "" {
		keep(e)
	}
	p.mu.Lock()
	switch {
	case e.Type == TypeCaption && !e.Final:
		c := e
		p.open = &c
	case e.Type == TypeCaption || e.Type == TypeState || e.Type == TypeEngine:
		if e.Type == TypeCaption && p.open != nil && p.open.Segment == e.Segment {
			p.open = nil
		}
		p.hist = append(p.hist, e)
		if len(p.hist) > 2*p.limit { // trim in batches: amortised O(1)
			p.hist = append([]Event(nil), p.hist[len(p.hist)-p.limit:]...)
		}
	}
	if e.Type == TypeCaption && e.Final && e.Text != "" {
		p.finalEnd = max(p.finalEnd, e.End)
	}
	finalEnd := p.finalEnd
	p.mu.Unlock()
	data, err := json.Marshal(e)
	switch {
	case err == nil && p.headers:
		msg := &nats.Msg{Subject: p.subj.Events, Data: data, Header: nats.Header{}}
		msg.Header.Set(finalEndHeader, strconv.FormatFloat(finalEnd, 'f', 3, 64))
		err = p.nc.PublishMsg(msg)
	case err == nil:
		err = p.nc.Publish(p.subj.Events, data)
	}
	if p.count != nil {
		p.count(e)
	}
	_ = err // a closed connection at shutdown; viewers catch up from history
	return e
}

// lastEngine names the engine of the latest event that named one.
func (p *publisher) lastEngine() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.engine
}

// lastSeq is the Seq of the latest event numbered (it may be on its way
// to the bus).
func (p *publisher) lastSeq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// after returns up to n held events with Seq > after, in order.
func (p *publisher) after(after uint64, n int) []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hist
	if len(h) > p.limit {
		h = h[len(h)-p.limit:]
	}
	i := sort.Search(len(h), func(i int) bool { return h[i].Seq > after })
	out := make([]Event, 0, min(n, len(h)-i+1))
	open := p.open
	if open != nil && open.Seq <= after {
		open = nil
	}
	for ; i < len(h) && len(out) < n; i++ {
		if open != nil && open.Seq < h[i].Seq {
			out = append(out, *open)
			open = nil
			if len(out) == n {
				break
			}
		}
		out = append(out, h[i])
	}
	if open != nil && len(out) < n {
		out = append(out, *open)
	}
	return out
}

// answer replies to a .history request with a JSON array of events.
func (p *publisher) answer(m *nats.Msg) {
	after, err := parseHistoryRequest(m.Data)
	if err != nil {
		_ = m.Respond([]byte("[]"))
		return
	}
	data, err := json.Marshal(p.after(after, historyPage))
	if err != nil {
		data = []byte("[]")
	}
	_ = m.Respond(data)
}

// parseHistoryRequest reads {"after": N}; an empty body means after 0.
func parseHistoryRequest(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > 1024 {
		return 0, errors.New("live: history request too long")
	}
	var r historyRequest
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("live: history request: %w", err)
	}
	return r.After, nil
}

func (p *publisher) close() {
	if p.sub != nil {
		_ = p.sub.Unsubscribe()
	}
}
