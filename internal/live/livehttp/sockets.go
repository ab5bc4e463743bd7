package livehttp

// Long-lived sockets and streams: counted for Close, registered by the
// subject that opened them for RevokeSubject, viewers capped.

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
)

// tracked counts a long-lived handler so Close can wait for it; after
// Close, new ones are refused. A handler may hand its connection on and
// return early (holdConn): the count, the context and the registration
// then last until the connection ends.
func (h *Handlers) tracked(fn func(ctx context.Context, w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.ctx.Err() != nil {
			apierr.Write(w, r, apierr.CodeNotReady, "the server is shutting down")
			return
		}
		h.wg.Add(1)
		lt := &lifetime{}
		lt.onEnd(h.wg.Done)
		// Hijacked connections outlive http.Server.Shutdown; this context
		// ends them at Close (cause errShutdown) or when the credential
		// they opened with is revoked (errRevoked), as well as when the
		// client goes (the request's context ends, which after a hijack
		// happens when the handler returns: a held connection ignores it).
		ctx, cancel := context.WithCancelCause(context.WithValue(context.WithoutCancel(r.Context()), lifetimeKey{}, lt))
		lt.onEnd(func() { cancel(nil) })
		rctx := r.Context() // not r: the closure lives as long as the connection
		stopReq := context.AfterFunc(rctx, func() {
			if !lt.isHeld() {
				cancel(rctx.Err())
			}
		})
		lt.onEnd(func() { stopReq() })
		stop := context.AfterFunc(h.ctx, func() { cancel(errShutdown) })
		lt.onEnd(func() { stop() })
		if p, ok := auth.FromContext(r.Context()); ok && p.Subject != "" && !(p.Kind == auth.KindTicket && !p.Has(auth.ScopeLiveWrite)) {
			// Viewer tickets come from a session's secret, not a key:
			// they are not the key's to revoke.
			lt.onEnd(h.register(p.Subject, cancel))
		}
		defer lt.returned()
		fn(ctx, w, r)
	})
}

// lifetime is what a tracked handler's connection holds until it ends:
// run in reverse order when the handler returns, or, once held, when the
// holder says the connection has ended.
type lifetime struct {
	mu    sync.Mutex
	held  bool
	ended bool
	fns   []func()
}

type lifetimeKey struct{}

// onEnd adds f to what runs at the end (before what was added earlier).
func (l *lifetime) onEnd(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fns = append(l.fns, f)
}

func (l *lifetime) isHeld() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// returned is the handler's return: the end, unless held.
func (l *lifetime) returned() {
	if !l.isHeld() {
		l.end()
	}
}

// end runs the end once.
func (l *lifetime) end() {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return
	}
	l.ended = true
	fns := l.fns
	l.fns = nil
	l.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// holdConn keeps a tracked handler's bookkeeping (and whatever it
// registered with onEndOf) past its return: the returned end func, called
// once the connection is over, releases it.
func holdConn(ctx context.Context) (end func()) {
	l := ctx.Value(lifetimeKey{}).(*lifetime)
	l.mu.Lock()
	l.held = true
	l.mu.Unlock()
	return l.end
}

// onEndOf runs f when ctx's tracked connection ends; false when ctx is
// not a tracked handler's (the caller defers f itself).
func onEndOf(ctx context.Context, f func()) bool {
	l, ok := ctx.Value(lifetimeKey{}).(*lifetime)
	if ok {
		l.onEnd(f)
	}
	return ok
}

// Why a tracked socket's context ended.
var (
	errShutdown = errors.New("livehttp: server shutting down")
	errRevoked  = errors.New("livehttp: credentials revoked")
)

// endCode is the close code for a socket whose context ended for cause.
func endCode(ctx context.Context) (websocket.StatusCode, string, bool) {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errRevoked):
		return CloseRevoked, "credentials revoked", true
	case errors.Is(cause, errShutdown):
		return websocket.StatusGoingAway, "server shutting down", true
	}
	return 0, "", false
}

// register records a socket opened by subject; the returned func forgets it.
func (h *Handlers) register(subject string, cancel context.CancelCauseFunc) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	id := h.n
	if h.socks == nil {
		h.socks = map[uint64]sock{}
	}
	h.socks[id] = sock{subject: subject, cancel: cancel}
	return func() {
		h.mu.Lock()
		delete(h.socks, id)
		h.mu.Unlock()
	}
}

// RevokeSubject closes (4001) every open ingest socket and viewer feed
// opened with a credential of subject (an API key's or JWT's, or an ingest
// ticket issued to it). Wire it to the key store's OnRevoke so a revoked
// key's sockets close at once, not at their next reconnect.
func (h *Handlers) RevokeSubject(subject string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.socks {
		if s.subject == subject {
			s.cancel(errRevoked)
		}
	}
}

type sock struct {
	subject string
	cancel  context.CancelCauseFunc
}
