package rtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
)

// Why a peer's context ended, besides its own end.
var (
	errShutdown = errors.New("rtc: server closing")
	errRevoked  = errors.New("rtc: credential revoked")
)

// peers are the open peers by the subject that opened them, so a revoked
// key's peers end at once (RevokeSubject).
type peers struct {
	mu sync.Mutex
	m  map[*peerRef]struct{}
}

type peerRef struct {
	subject string
	cancel  context.CancelCauseFunc
}

// add registers a peer; forget unregisters it.
func (ps *peers) add(subject string, cancel context.CancelCauseFunc) (forget func()) {
	ref := &peerRef{subject: subject, cancel: cancel}
	ps.mu.Lock()
	if ps.m == nil {
		ps.m = map[*peerRef]struct{}{}
	}
	ps.m[ref] = struct{}{}
	ps.mu.Unlock()
	return func() {
		ps.mu.Lock()
		delete(ps.m, ref)
		ps.mu.Unlock()
	}
}

// RevokeSubject ends every peer (ingest and calls) opened by subject's
// credentials: the revocation hook the WebSocket paths use
// (livehttp.Handlers.RevokeSubject).
func (h *Handler) RevokeSubject(subject string) {
	h.peers.mu.Lock()
	var hit []context.CancelCauseFunc
	for ref := range h.peers.m {
		if ref.subject == subject {
			hit = append(hit, ref.cancel)
		}
	}
	h.peers.mu.Unlock()
	for _, cancel := range hit {
		cancel(errRevoked)
	}
}

// newCallID names a call in its Location header.
func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "rtc_" + hex.EncodeToString(b[:])
}
