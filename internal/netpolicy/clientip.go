package netpolicy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Limits on X-Forwarded-For so a hostile header costs little: at most
// maxXFFBytes are read and at most maxXFFHops addresses walked.
const (
	maxXFFBytes = 4096
	maxXFFHops  = 32
)

// ErrMalformedXFF reports an X-Forwarded-For entry that is not an address.
var ErrMalformedXFF = errors.New("netpolicy: malformed X-Forwarded-For")

// ParseXFF parses X-Forwarded-For header values (several headers are one
// comma-separated list, in order) into addresses, left (client) to right
// (nearest proxy). Entries may carry a port ("192.0.2.1:443",
// "[2001:db8::1]:443") or IPv6 brackets; mapped IPv4 is unmapped. It reads
// at most the right-most maxXFFHops entries and maxXFFBytes bytes.
// An entry that is not an address ("unknown", an obfuscated RFC 7239 name,
// garbage, or one cut by the byte limit) stops parsing: the addresses to
// its right are returned with an error wrapping ErrMalformedXFF, because
// nothing left of it can be believed.
func ParseXFF(values []string) ([]netip.Addr, error) {
	var rev []netip.Addr
	err := walkXFF(values, func(a netip.Addr) bool {
		rev = append(rev, a)
		return true
	})
	slices.Reverse(rev)
	return rev, err
}

// walkXFF calls fn for each X-Forwarded-For entry from the right until fn
// returns false, the limits are reached, or an entry is malformed (then it
// returns ErrMalformedXFF). It does not allocate.
func walkXFF(values []string, fn func(netip.Addr) bool) error {
	budget, hops := maxXFFBytes, 0
	for v := len(values) - 1; v >= 0; v-- {
		rest := values[v]
		for {
			entry := rest
			i := strings.LastIndexByte(rest, ',')
			if i >= 0 {
				entry, rest = rest[i+1:], rest[:i]
			}
			if budget -= len(entry) + 1; budget < 0 {
				return ErrMalformedXFF // cut entries cannot be trusted
			}
			if hops++; hops > maxXFFHops {
				return nil
			}
			a, ok := parseHop(entry)
			if !ok {
				return ErrMalformedXFF
			}
			if !fn(a) {
				return nil
			}
			if i < 0 {
				break
			}
		}
	}
	return nil
}

// parseHop parses one X-Forwarded-For entry.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Zone() == "" && a.Is6() {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// PeerAddr parses an http.Request.RemoteAddr ("ip:port", or a bare IP);
// it returns the zero Addr for anything else (a Unix socket, a test stub).
func PeerAddr(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.WithZone("").Unmap()
	}
	return netip.Addr{}
}

// Resolver finds the client address of a request. The zero value trusts no
// proxy: the client is always the TCP peer.
type Resolver struct {
	// Trusted are the reverse proxies whose X-Forwarded-For is believed.
	Trusted List
}

// ClientAddr returns the request's client address: the TCP peer, or — only
// when the peer is a trusted proxy — the right-most address in
// X-Forwarded-For that is not itself a trusted proxy (walking from the
// right, as each proxy appends the peer it saw). A forged header from an
// untrusted peer is ignored; a malformed entry stops the walk at the last
// address reached; if every hop is trusted, the left-most one is the client.
func (res Resolver) ClientAddr(r *http.Request) netip.Addr {
	peer := PeerAddr(r.RemoteAddr)
	if !peer.IsValid() || res.Trusted.Len() == 0 || !res.Trusted.Contains(peer) {
		return peer
	}
	values := r.Header["X-Forwarded-For"]
	client := peer
	// On a malformed entry the walk stops at the last address reached.
	_ = walkXFF(values, func(a netip.Addr) bool {
		client = a
		return res.Trusted.Contains(a)
	})
	return client
}

type clientIPKey struct{}

// WithClientIP returns ctx carrying the resolved client address.
func WithClientIP(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, clientIPKey{}, a)
}

// ClientIP returns the client address the middleware resolved, for logs,
// audit records and per-key rules; ok is false outside the middleware or
// when the peer address was unknown.
func ClientIP(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(clientIPKey{}).(netip.Addr)
	return a, ok && a.IsValid()
}
