package live

import (
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// registry owns the sessions this process holds in memory: the map from
// id to session, lookup by owner, and whether the manager is closing. It
// does no I/O; its mutex is the first in the lock order (Manager).
type registry struct {
	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
}

func newRegistry() *registry { return &registry{sessions: map[string]*session{}} }

// session is one session held in memory. rec is its stored record; the
// runtime fields exist while it is not stopped (pub also after, so late
// viewers still catch up).
//
// Two locks: fx serialises the session's transitions and their effects
// (record writes, audit, pipelines opened and drained, state events), and
// is held while they do I/O; mu guards the fields below for moments and
// is never held across I/O, so the audio path (acceptAudio takes mu only)
// never waits behind a transition's I/O. fx before mu.
type session struct {
	fx sync.Mutex

	mu        sync.Mutex
	rec       record
	pub       *publisher
	audio     *nats.Subscription
	pipe      *Pipeline
	ring      *ring
	ingest    *ingest
	source    string
	deleted   bool
	natsDrops int // the audio subscription's drops already counted
	msgsIn    int64
	bytesIn   int64
	pipeDrops time.Duration
	// lastSpeech is when speech was last heard (Session.LastSpeech): set
	// by Next only (apply), read by Next for the silence auto-stop.
	lastSpeech time.Time
	level      levelMeter // recent input peak, for the console (stats.go)
	// context is the session's prepared text: in memory only, never in
	// its record, gone with the process (prepared.go).
	context string
	// contextInfo describes context; its engine reports are asked for
	// until contextReported (every engine answered), last at contextAsked.
	contextInfo     *ContextInfo
	contextReported bool
	contextAsked    time.Time

	// In a cluster (cluster.go): the lease while this process owns the
	// session, its commands' subscription, its audio intake from the
	// stream, where a session taken over resumes (nil otherwise), the
	// samples its pipeline took and where they came from.
	lease     Held
	renewedAt time.Time
	control   *nats.Subscription
	intake    jetstream.ConsumeContext
	from      *mark
	told      float64 // the end of the last final viewers were told (a taken-over session)
	fed       int64
	pos       positions
}

// newSession is a session for r, heard last at now.
func newSession(r record, now time.Time) *session {
	return &session{rec: r, lastSpeech: now}
}

// add holds s; errShutdown once the manager is closing.
func (g *registry) add(s *session) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errShutdown
	}
	g.sessions[s.rec.ID] = s
	return nil
}

// addIfAbsent holds s unless a session with its id is held: it returns
// the one held, and whether it is s.
func (g *registry) addIfAbsent(s *session) (*session, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if held := g.sessions[s.rec.ID]; held != nil {
		return held, false
	}
	g.sessions[s.rec.ID] = s
	return s, true
}

// forgetCopy drops this process's copy of session id, gone from the
// store, unless this process runs it.
func (g *registry) forgetCopy(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.sessions[id]; s != nil && !s.held() {
		delete(g.sessions, id)
	}
}

// lookup finds a session the owner may act on ("" = administrator).
func (g *registry) lookup(owner, id string) (*session, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errShutdown
	}
	s := g.sessions[id]
	if s == nil || (owner != "" && s.rec.Owner != owner) {
		return nil, ErrNotFound
	}
	return s, nil
}

// local is this process's copy of session id, or nil.
func (g *registry) local(id string) *session {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions[id]
}

// forget removes s from the registry (if it is still there).
func (g *registry) forget(s *session) {
	g.mu.Lock()
	if g.sessions[s.rec.ID] == s {
		delete(g.sessions, s.rec.ID)
	}
	g.mu.Unlock()
}

// snapshot is every session held, oldest first.
func (g *registry) snapshot() []*session {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*session, 0, len(g.sessions))
	for _, s := range g.sessions {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rec.CreatedAt.Before(out[j].rec.CreatedAt) })
	return out
}

// close marks the registry closing; false when it already was.
func (g *registry) close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	first := !g.closed
	g.closed = true
	return first
}

func (g *registry) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}
