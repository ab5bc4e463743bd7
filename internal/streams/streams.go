// Package streams tracks a server's long-lived connections (WebSockets whose
// connections are hijacked, so http.Server.Shutdown neither waits for nor
// ends them): each one registers the cancel func of its context; Close
// cancels them all, refuses new ones and waits until they have ended.
package streams

import (
	"context"
	"sync"
)

// Set is the open connections of one handler. The zero value is ready.
type Set struct {
	mu     sync.Mutex
	closed bool
	open   map[*entry]context.CancelFunc
	wg     sync.WaitGroup
}

type entry struct{}

// Add registers a connection whose context cancel ends it. It returns the
// func to call when the connection has ended, or ok=false once Close has
// begun (refuse the connection).
func (s *Set) Add(cancel context.CancelFunc) (done func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	if s.open == nil {
		s.open = map[*entry]context.CancelFunc{}
	}
	e := &entry{}
	s.open[e] = cancel
	s.wg.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.open, e)
			s.mu.Unlock()
			s.wg.Done()
		})
	}, true
}

// Len is how many connections are open.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// Close cancels every open connection, refuses new ones, and waits until
// all have called done or ctx ends (then it returns ctx's error).
func (s *Set) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, cancel := range s.open {
		cancel()
	}
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
