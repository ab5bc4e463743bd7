package livehttp

// Viewer admission: viewer feeds need no credentials, so what one client
// may hold is capped per address and per session, and what all anonymous
// viewers together may hold is derived from the process's descriptor
// limit, keeping headroom for authenticated callers, /healthz and the
// owner's own feed.

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
)

// Admission defaults.
const (
	DefaultMaxViewersPerIP      = 16
	DefaultMaxViewersPerSession = 5000
	DefaultReservedFDs          = 512
	viewerRetry                 = 5 * time.Second
)

// ProcessFDLimit is the soft RLIMIT_NOFILE of this process (Go raises it to
// the hard limit at start-up on Linux), or 0 if it cannot be read.
func ProcessFDLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return rl.Cur
}

// FeedCap is how many anonymous viewer feeds may be open at once: at most
// maxViewers, and never more than the descriptor limit less reserved
// descriptors for everything else (at least 1).
func FeedCap(maxViewers int, fdLimit uint64, reserved int) int {
	if fdLimit == 0 {
		return maxViewers
	}
	avail := int64(fdLimit) - int64(reserved)
	return int(max(1, min(int64(maxViewers), avail)))
}

// admission counts open viewer feeds. Its lock guards counters only.
type admission struct {
	anonCap, totalCap, perIP, perSession int

	mu         sync.Mutex
	anon       int
	total      int
	byIP       map[netip.Prefix]int
	bySession  map[string]int
	clientAddr func(*http.Request) string
}

func newAdmission(o Options) *admission {
	anonCap := FeedCap(o.MaxViewers, o.FDLimit, o.ReservedFDs)
	// Authenticated feeds may also use half the headroom, so the owner's
	// own feed opens while anonymous viewers fill theirs.
	total := anonCap + o.ReservedFDs/2
	if o.FDLimit > 0 {
		total = min(total, int(max(1, int64(o.FDLimit)-int64(o.ReservedFDs)/2)))
	}
	return &admission{anonCap: anonCap, totalCap: max(total, anonCap), perIP: o.MaxViewersPerIP, perSession: o.MaxViewersPerSession,
		byIP: map[netip.Prefix]int{}, bySession: map[string]int{}, clientAddr: o.ClientIP}
}

// clientNet is the unit the per-address cap counts: the address for IPv4,
// its /64 for IPv6 (one host usually holds a whole /64).
func clientNet(s string) netip.Prefix {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// admit takes a viewer place for r on session id, or says why not.
// Callers with an API key or JWT are counted only against the total.
func (a *admission) admit(r *http.Request, id string) (func(), *apierr.Error) {
	p, ok := auth.FromContext(r.Context())
	anon := !ok || p.Subject == "" || p.Kind == auth.KindTicket
	ip := clientNet(a.clientAddr(r))
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.total >= a.totalCap || (anon && a.anon >= a.anonCap):
		return nil, &apierr.Error{Code: apierr.CodeNotReady, Message: "too many viewers; retry shortly", RetryAfter: viewerRetry}
	case anon && a.byIP[ip] >= a.perIP:
		return nil, &apierr.Error{Code: apierr.CodeRateLimited, Message: "too many open viewer feeds from this address", RetryAfter: viewerRetry}
	case anon && a.bySession[id] >= a.perSession:
		return nil, &apierr.Error{Code: apierr.CodeNotReady, Message: "this session has as many viewers as it may; retry shortly", RetryAfter: viewerRetry}
	}
	a.total++
	if anon {
		a.anon++
		a.byIP[ip]++
		a.bySession[id]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.total--
			if anon {
				a.anon--
				dec(a.byIP, ip)
				dec(a.bySession, id)
			}
		})
	}, nil
}

func dec[K comparable](m map[K]int, k K) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// viewerSlot admits a viewer (before any upgrade or session lookup) and
// releases its place when the feed ends.
func (h *Handlers) viewerSlot(fn func(ctx context.Context, w http.ResponseWriter, r *http.Request)) func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
		release, refused := h.admit.admit(r, r.PathValue("id"))
		if refused != nil {
			apierr.WriteErr(w, r, refused)
			return
		}
		if !onEndOf(ctx, release) { // with the connection, which may outlive fn
			defer release()
		}
		fn(ctx, w, r)
	}
}

// open is how many viewer feeds are open.
func (a *admission) open() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}
