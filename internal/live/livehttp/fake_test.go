package livehttp

import (
	"context"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

// fakeSessions is a small in-memory live.Sessions: enough state to test the
// handlers' mapping of requests, errors, access and feeds (the real
// Manager is exercised end to end in cmd/izwi).
type fakeSessions struct {
	mu   sync.Mutex
	n    int
	all  map[string]*fakeSession
	rate int // ingest rate
	// detachDelay makes releasing a source slow, as a loaded manager is:
	// a handler that closes the socket before releasing shows it.
	detachDelay time.Duration
}

type fakeSession struct {
	info      live.Info
	secret    string
	events    []live.Event
	subs      map[*fakeFeed]struct{}
	attached  bool
	samples   int
	finalized int
	writes    int
	context   string // the prepared text an update gave
}

func newFake() *fakeSessions { return &fakeSessions{all: map[string]*fakeSession{}, rate: 16000} }

var _ live.Sessions = (*fakeSessions)(nil)

func (f *fakeSessions) lookup(owner, id string) (*fakeSession, error) {
	s, ok := f.all[id]
	if !ok || (owner != "" && s.info.Owner != owner) {
		return nil, fmt.Errorf("fake: %s: %w", id, live.ErrNotFound)
	}
	return s, nil
}

func (f *fakeSessions) Create(_ context.Context, owner string, req live.CreateRequest) (live.Created, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mode := req.ViewerMode
	if mode == "" {
		mode = live.ViewPublic
	}
	switch mode {
	case live.ViewPublic, live.ViewPrivate, live.ViewLink:
	case live.ViewPassword:
		if len(req.Password) < 8 {
			return live.Created{}, fmt.Errorf("%w: password must be at least 8 characters", live.ErrBadConfig)
		}
	default:
		return live.Created{}, fmt.Errorf("%w: unknown viewer_mode", live.ErrBadConfig)
	}
	if len(f.all) >= 50 {
		return live.Created{}, live.ErrLimit
	}
	f.n++
	id := fmt.Sprintf("ses_fake%022d", f.n)
	s := &fakeSession{info: live.Info{ID: id, Label: req.Label, Owner: owner, State: live.Idle, ViewerMode: mode,
		CreatedAt: time.Now().UTC()}, subs: map[*fakeFeed]struct{}{}}
	c := live.Created{Info: s.info}
	switch mode {
	case live.ViewPassword:
		s.secret = req.Password
	case live.ViewLink:
		s.secret = fmt.Sprintf("link-token-%d", f.n)
		c.LinkToken = s.secret
	}
	f.all[id] = s
	if req.Start {
		s.info.State = live.Live
		c.Info = s.info
	}
	return c, nil
}

func (f *fakeSessions) Get(_ context.Context, owner, id string) (live.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup(owner, id)
	if err != nil {
		return live.Info{}, err
	}
	return s.info, nil
}

func (f *fakeSessions) List(_ context.Context, owner string) ([]live.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []live.Info
	for _, s := range f.all {
		if owner == "" || s.info.Owner == owner {
			out = append(out, s.info)
		}
	}
	return out, nil
}

func (f *fakeSessions) Update(_ context.Context, owner, id string, req live.UpdateRequest) (live.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup(owner, id)
	if err != nil {
		return live.Info{}, err
	}
	if req.Label != nil {
		s.info.Label = *req.Label
		f.publishLocked(s, live.Event{Type: live.TypeState, State: s.info.State, Label: s.info.Label})
	}
	if req.ViewerMode != nil {
		s.info.ViewerMode = *req.ViewerMode
	}
	if req.Password != nil {
		s.secret = *req.Password
	}
	if req.Context != nil {
		s.context = req.Context.Text
		s.info.Context = &live.ContextInfo{Bytes: len(req.Context.Text)}
	}
	return s.info, nil
}

func (f *fakeSessions) step(owner, id string, kind live.InputKind) (live.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup(owner, id)
	if err != nil {
		return live.Info{}, err
	}
	next, _, err := live.Next(live.Session{ID: id, Label: s.info.Label, State: s.info.State}, live.Input{Kind: kind, At: time.Now()})
	if err != nil {
		return live.Info{}, err
	}
	s.info.State = next.State
	f.publishLocked(s, live.Event{Type: live.TypeState, State: s.info.State})
	return s.info, nil
}

func (f *fakeSessions) Start(_ context.Context, owner, id string) (live.Info, error) {
	return f.step(owner, id, live.EvStart)
}
func (f *fakeSessions) Stop(_ context.Context, owner, id string) (live.Info, error) {
	return f.step(owner, id, live.EvStop)
}
func (f *fakeSessions) Resume(_ context.Context, owner, id string) (live.Info, error) {
	return f.step(owner, id, live.EvResume)
}

func (f *fakeSessions) Pause(_ context.Context, owner, id string) (live.Info, error) {
	return f.step(owner, id, live.EvPause)
}

func (f *fakeSessions) Delete(_ context.Context, owner, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup(owner, id)
	if err != nil {
		return err
	}
	for sub := range s.subs {
		sub.end(live.ErrNotFound)
	}
	delete(f.all, id)
	return nil
}

func (f *fakeSessions) CheckViewer(_ context.Context, id, secret string) (live.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup("", id)
	if err != nil {
		return live.Info{}, err
	}
	if s.info.ViewerMode == live.ViewLink || s.info.ViewerMode == live.ViewPassword {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1 {
			return live.Info{}, live.ErrSecret
		}
	}
	return s.info, nil
}

func (f *fakeSessions) Attach(_ context.Context, owner, id, _ string) (live.Ingest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup(owner, id)
	if err != nil {
		return nil, err
	}
	if s.attached {
		return nil, live.ErrBusy
	}
	if s.info.State == live.Stopped {
		return nil, fmt.Errorf("%w: stopped", live.ErrTransition)
	}
	s.attached = true
	return &fakeIngest{f: f, s: s}, nil
}

// publish appends an event to id's history and fans it out; a subscriber
// whose buffer is full is ended with ErrSlow, as the manager does.
func (f *fakeSessions) publish(id string, e live.Event) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.publishLocked(f.all[id], e)
}

func (f *fakeSessions) publishLocked(s *fakeSession, e live.Event) uint64 {
	e.SessionID, e.Seq, e.Time = s.info.ID, uint64(len(s.events))+1, time.Now().UTC()
	s.events = append(s.events, e)
	s.info.LastSeq = e.Seq
	for sub := range s.subs {
		select {
		case sub.ch <- e:
		default:
			sub.end(live.ErrSlow)
			delete(s.subs, sub)
		}
	}
	return e.Seq
}

func (f *fakeSessions) Watch(ctx context.Context, id string, after uint64) (live.Feed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lookup("", id)
	if err != nil {
		return nil, err
	}
	var catchup []live.Event
	for _, e := range s.events {
		if e.Seq > after {
			catchup = append(catchup, e)
		}
	}
	sub := &fakeFeed{ch: make(chan live.Event, len(catchup)+viewerBuffer), f: f, s: s}
	for _, e := range catchup {
		sub.ch <- e
	}
	s.subs[sub] = struct{}{}
	context.AfterFunc(ctx, sub.Close)
	return sub, nil
}

// viewerBuffer is the fake's per-viewer queue.
const viewerBuffer = 16

func (f *fakeSessions) stats(id string) (samples, writes, finalized int, attached bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.all[id]
	return s.samples, s.writes, s.finalized, s.attached
}

type fakeFeed struct {
	ch   chan live.Event
	f    *fakeSessions
	s    *fakeSession
	once sync.Once
	err  error // set before ch closes
}

func (ff *fakeFeed) Events() <-chan live.Event { return ff.ch }

func (ff *fakeFeed) Err() error {
	ff.f.mu.Lock()
	defer ff.f.mu.Unlock()
	return ff.err
}

// end closes the feed; f.mu is held.
func (ff *fakeFeed) end(err error) {
	ff.once.Do(func() { ff.err = err; close(ff.ch) })
}

func (ff *fakeFeed) Close() {
	ff.f.mu.Lock()
	defer ff.f.mu.Unlock()
	delete(ff.s.subs, ff)
	ff.end(context.Canceled)
}

type fakeIngest struct {
	f *fakeSessions
	s *fakeSession
}

func (fi *fakeIngest) SampleRate() int { return fi.f.rate }

func (fi *fakeIngest) Write(samples []float32) error {
	fi.f.mu.Lock()
	defer fi.f.mu.Unlock()
	if fi.s.info.State == live.Stopped {
		return fmt.Errorf("%w: stopped", live.ErrTransition)
	}
	fi.s.samples += len(samples)
	fi.s.writes++
	return nil
}

func (fi *fakeIngest) Finalize() error {
	fi.f.mu.Lock()
	defer fi.f.mu.Unlock()
	fi.s.finalized++
	return nil
}

func (fi *fakeIngest) Close() error {
	time.Sleep(fi.f.detachDelay)
	fi.f.mu.Lock()
	defer fi.f.mu.Unlock()
	fi.s.attached = false
	return nil
}
