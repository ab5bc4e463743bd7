package livehttp

// Long-lived sockets and streams: counted for Close, registered by the
// subject that opened them for RevokeSubject, viewers capped.

import (
	"context"
	"errors"
	"net/http"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
)

// tracked counts a long-lived handler so Close can wait for it; after
// Close, new ones are refused.
func (h *Handlers) tracked(fn func(ctx context.Context, w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.ctx.Err() != nil {
			apierr.Write(w, r, apierr.CodeNotReady, "the server is shutting down")
			return
		}
		h.wg.Add(1)
		defer h.wg.Done()
		// Hijacked connections outlive http.Server.Shutdown; this context
		// ends them at Close (cause errShutdown) or when the credential
		// they opened with is revoked (errRevoked), as well as when the
		// client goes.
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		stop := context.AfterFunc(h.ctx, func() { cancel(errShutdown) })
		defer stop()
		if p, ok := auth.FromContext(r.Context()); ok && p.Subject != "" && !(p.Kind == auth.KindTicket && !p.Has(auth.ScopeLiveWrite)) {
			// Viewer tickets come from a session's secret, not a key:
			// they are not the key's to revoke.
			defer h.register(p.Subject, cancel)()
		}
		fn(ctx, w, r)
	})
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
