package limit

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// FailureOptions configure a FailureLimiter.
type FailureOptions struct {
	// PerMinute is how many failed authentications one client network
	// may make per minute, sustained; it is also the burst. <= 0 disables.
	PerMinute float64
	// MaxClients bounds memory: at most this many client networks are
	// tracked (default 65536); when full, refilled entries go first, then
	// arbitrary ones.
	MaxClients int
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// WriteError writes refusals; nil uses netpolicy.WriteError.
	WriteError func(w http.ResponseWriter, r *http.Request, status int, code, msg string)
}

// FailureLimiter throttles clients that keep failing authentication,
// before authentication runs: once a client network (an IPv4 address or an
// IPv6 /64) has spent its budget of failures, its requests without
// credentials get 429 rate_limited until the budget refills; requests with
// credentials are still checked, so a valid key works from a throttled
// address, and their failures are counted instead of audited. Successful requests cost nothing,
// so a busy legitimate client is never slowed. This bounds the CPU and the
// audit-log writes an unauthenticated flood can cause. Safe for concurrent
// use.
type FailureLimiter struct {
	opts       FailureOptions
	suppressed atomic.Int64 // failures not audited while throttled
	mu         sync.Mutex
	clients    map[netip.Prefix]*bucket
}

// throttledKey marks a request let through a throttled address because it
// presents a credential.
type throttledKey struct{}

// presentsCredential reports whether r carries something authentication
// will check: an Authorization header or a WebSocket subprotocol (where
// browsers put tickets and Deepgram clients put keys).
func presentsCredential(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("Sec-WebSocket-Protocol") != ""
}

// Suppressed is how many authentication failures were counted but not
// audited because their address was over its budget.
func (f *FailureLimiter) Suppressed() int64 { return f.suppressed.Load() }

// NewFailureLimiter builds a FailureLimiter.
func NewFailureLimiter(opts FailureOptions) *FailureLimiter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = 65536
	}
	if opts.WriteError == nil {
		opts.WriteError = netpolicy.WriteError
	}
	return &FailureLimiter{opts: opts, clients: map[netip.Prefix]*bucket{}}
}

// clientNet is the unit a budget belongs to: one IPv4 address, or an IPv6
// /64 (one host usually holds a whole /64, so per-address budgets would be
// free to multiply).
func clientNet(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

func clientAddr(r *http.Request) netip.Addr {
	if a, ok := netpolicy.ClientIP(r.Context()); ok {
		return a
	}
	return netpolicy.PeerAddr(r.RemoteAddr)
}

// Middleware refuses clients whose failure budget is spent. Put it after
// the IP filter (which resolves the client address) and before
// authentication.
func (f *FailureLimiter) Middleware(next http.Handler) http.Handler {
	if f.opts.PerMinute <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait := f.blocked(clientAddr(r)); wait > 0 {
			if presentsCredential(r) {
				// Valid credentials from a throttled address still work
				// (a guesser on the same NAT must not lock the owner
				// out); a failure costs one cheap key check and is
				// counted, not audited again (recorder below).
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), throttledKey{}, true)))
				return
			}
			e := &Error{Code: CodeRateLimited, Limit: "failed_auth_per_minute", RetryAfter: wait}
			w.Header().Set("Retry-After", strconv.FormatInt(e.RetryAfterSeconds(), 10))
			f.opts.WriteError(w, r, http.StatusTooManyRequests, CodeRateLimited, "too many failed authentication attempts; retry after the Retry-After seconds")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// blocked returns how long a's network must wait, or 0.
func (f *FailureLimiter) blocked(a netip.Addr) time.Duration {
	if !a.IsValid() {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.clients[clientNet(a)]
	if b == nil {
		return 0
	}
	now := f.opts.Now()
	b.refill(now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// Fail records one failed authentication by r's client. The gateway calls
// it wherever it answers 401 (or wraps its audit recorder with Recorder).
func (f *FailureLimiter) Fail(r *http.Request) { f.FailAddr(clientAddr(r)) }

// FailAddr records one failed authentication by the client at a.
func (f *FailureLimiter) FailAddr(a netip.Addr) {
	if f.opts.PerMinute <= 0 || !a.IsValid() {
		return
	}
	n := clientNet(a)
	now := f.opts.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.clients[n]
	if b == nil {
		f.makeRoom(now)
		b = &bucket{}
		b.configure(f.opts.PerMinute/60, f.opts.PerMinute, now)
		f.clients[n] = b
	}
	b.refill(now)
	b.tokens = max(b.tokens-1, -f.opts.PerMinute) // debt is bounded: one minute's budget
}

// Recorder wraps the gateway's audit recorder so that every audited
// authentication failure ("auth.failure", from its RemoteIP) also spends
// the client's failure budget: no change to the gateway is needed. Events
// pass through unchanged, and next's error is returned as is.
func (f *FailureLimiter) Recorder(next audit.Recorder) audit.Recorder {
	return failureRecorder{f: f, next: next}
}

type failureRecorder struct {
	f    *FailureLimiter
	next audit.Recorder
}

var _ audit.Recorder = failureRecorder{}

func (fr failureRecorder) Record(ctx context.Context, e audit.Event) error {
	if e.Action == "auth.failure" && ctx.Value(throttledKey{}) != nil {
		// The address is over its budget: its further failures are
		// counted, not written, so a flood cannot fill the audit log.
		fr.f.suppressed.Add(1)
		if a, perr := netip.ParseAddr(e.RemoteIP); perr == nil {
			fr.f.FailAddr(a)
		}
		return nil
	}
	err := fr.next.Record(ctx, e)
	if e.Action == "auth.failure" {
		if a, perr := netip.ParseAddr(e.RemoteIP); perr == nil {
			fr.f.FailAddr(a)
		}
	}
	return err
}

// makeRoom keeps the table under MaxClients. Called with mu held.
func (f *FailureLimiter) makeRoom(now time.Time) {
	if len(f.clients) < f.opts.MaxClients {
		return
	}
	for k, b := range f.clients {
		if b.full(now) {
			delete(f.clients, k)
		}
	}
	for k := range f.clients {
		if len(f.clients) < f.opts.MaxClients {
			break
		}
		delete(f.clients, k)
	}
}

// Clients is how many client networks are tracked.
func (f *FailureLimiter) Clients() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}
