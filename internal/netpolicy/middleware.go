package netpolicy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
)

// CodeIPDenied is the API error code of a refused address (HTTP 403).
const CodeIPDenied = "ip_denied"

// Config is what New needs: CIDR strings as they appear in izwi.toml.
type Config struct {
	Allow          []string
	Deny           []string
	TrustedProxies []string
}

// Policy is the global network policy: which proxies are trusted and which
// client addresses may use the API at all. Safe for concurrent use; it never
// changes after New.
type Policy struct {
	resolver Resolver
	global   Rules
	// writeError writes a refusal; nil uses WriteError.
	writeError func(w http.ResponseWriter, r *http.Request, status int, code, msg string)
}

// New parses cfg into a Policy, reporting every bad CIDR.
func New(cfg Config) (*Policy, error) {
	rules, err := ParseRules(cfg.Allow, cfg.Deny)
	trusted, errT := ParseList(cfg.TrustedProxies)
	if err := errors.Join(err, errT); err != nil {
		return nil, err
	}
	return &Policy{resolver: Resolver{Trusted: trusted}, global: rules}, nil
}

// SetErrorWriter makes the policy write refusals through the API's error
// catalogue instead of its own copy of the JSON shape. Call before serving.
func (p *Policy) SetErrorWriter(f func(w http.ResponseWriter, r *http.Request, status int, code, msg string)) {
	p.writeError = f
}

// ClientAddr resolves r's client address (see Resolver.ClientAddr).
func (p *Policy) ClientAddr(r *http.Request) netip.Addr { return p.resolver.ClientAddr(r) }

// Check applies the global rules to addr.
func (p *Policy) Check(addr netip.Addr) error { return p.global.Check(addr) }

// Middleware resolves the client address, stores it in the request context
// (ClientIP) and refuses addresses the global rules deny with 403 ip_denied.
// It belongs before authentication, so a refused address never reaches the
// credential checks (and cannot probe keys).
func (p *Policy) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := p.resolver.ClientAddr(r)
		if err := p.global.Check(addr); err != nil {
			p.deny(w, r)
			return
		}
		if addr.IsValid() {
			r = r.WithContext(WithClientIP(r.Context(), addr))
		}
		next.ServeHTTP(w, r)
	})
}

// CheckRequest applies per-credential rules (from the key store, after
// authentication) to the client address of r's context, falling back to the
// TCP peer when the middleware did not run. It returns an error wrapping
// ErrDenied when the address is refused.
func CheckRequest(r *http.Request, rules Rules) error {
	if rules.Empty() {
		return nil
	}
	return rules.Check(requestAddr(r))
}

// Deny writes the 403 ip_denied refusal (for callers of CheckRequest).
func (p *Policy) Deny(w http.ResponseWriter, r *http.Request) { p.deny(w, r) }

func (p *Policy) deny(w http.ResponseWriter, r *http.Request) {
	write := p.writeError
	if write == nil {
		write = WriteError
	}
	write(w, r, http.StatusForbidden, CodeIPDenied, "requests from this address are not allowed")
}

func requestAddr(r *http.Request) netip.Addr {
	if a, ok := ClientIP(r.Context()); ok {
		return a
	}
	return PeerAddr(r.RemoteAddr)
}

// WriteError writes the API's error shape {"error":{"code","message",
// "request_id"}}. internal/api owns the catalogue but only cmd/izwi may
// import it, so this copy reads the request ID the API's middleware has
// already set on the response headers. The integrator can replace it with
// SetErrorWriter.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	type detail struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error detail `json:"error"`
	}{detail{code, msg, h.Get("X-Request-Id")}})
}
