package ticket

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
)

// QueryParam is where a ticket must NOT ride: a URL ends up in proxy and
// browser histories. A ticket there is refused (the documented carrier is
// the Sec-WebSocket-Protocol offer below); Authenticate still removes it
// from the request and RedactURL from logs.
const QueryParam = "ticket"

// Subprotocol is the WebSocket subprotocol a browser offers, followed by the
// ticket, to keep the ticket out of the URL altogether:
// new WebSocket(url, ["izwi-ticket", ticket]). The WebSocket handler must
// then accept with subprotocol "izwi-ticket" (browsers require the echo).
const Subprotocol = "izwi-ticket"

// Authenticator accepts a ticket only on a WebSocket upgrade whose Origin
// and session match the ticket's binding, and consumes it.
type Authenticator struct {
	Issuer *Issuer
	// SessionID returns the session the route addresses; nil reads the path
	// wildcard {session_id}, else {id} (r.PathValue), so the authenticator
	// must run after routing. A request with no session id never accepts a
	// ticket.
	SessionID func(r *http.Request) string
}

var _ auth.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an Authenticator over is reading the session id
// from the {session_id} (or {id}) path wildcard.
func NewAuthenticator(is *Issuer) *Authenticator { return &Authenticator{Issuer: is} }

// Authenticate implements auth.Authenticator. No ticket offered →
// auth.ErrNoCredentials; a ticket in the URL → auth.ErrCredentialsInURL. A ticket on anything but a WebSocket upgrade (a
// ticket is not an API token), an API key presented as a ticket, a wrong
// origin or session, a replay or an expired ticket → an error wrapping
// auth.ErrInvalidCredentials or auth.ErrExpired. The ticket is removed from
// r.URL and r.RequestURI either way, so nothing downstream can log it.
func (a *Authenticator) Authenticate(r *http.Request) (auth.Principal, error) {
	vals, inURL := takeTickets(r)
	if inURL {
		return auth.Principal{}, fmt.Errorf("ticket: not accepted in the URL; offer it as Sec-WebSocket-Protocol: %s, <ticket>: %w",
			Subprotocol, auth.ErrCredentialsInURL)
	}
	if len(vals) == 0 {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	if len(vals) != 1 {
		return auth.Principal{}, fmt.Errorf("ticket: more than one ticket: %w", auth.ErrInvalidCredentials)
	}
	if !IsWebSocketUpgrade(r) {
		return auth.Principal{}, fmt.Errorf("ticket: only accepted on a WebSocket upgrade: %w", auth.ErrInvalidCredentials)
	}
	if !WellFormed(vals[0]) {
		return auth.Principal{}, fmt.Errorf("ticket: not a ticket: %w", auth.ErrInvalidCredentials)
	}
	sid := ""
	if a.SessionID != nil {
		sid = a.SessionID(r)
	} else if sid = r.PathValue("session_id"); sid == "" {
		sid = r.PathValue("id")
	}
	origins := r.Header.Values("Origin")
	if len(origins) != 1 {
		return auth.Principal{}, fmt.Errorf("ticket: exactly one Origin header required: %w", auth.ErrInvalidCredentials)
	}
	return a.Issuer.Redeem(vals[0], sid, origins[0])
}

// takeTickets removes every ticket from the query string and from a
// Sec-WebSocket-Protocol offer ("izwi-ticket, <ticket>"), returns those
// offered and whether any was in the URL.
func takeTickets(r *http.Request) (vals []string, inURL bool) {
	if q := r.URL.Query(); q.Has(QueryParam) {
		inURL = true
		q.Del(QueryParam)
		r.URL.RawQuery = q.Encode()
		r.RequestURI = r.URL.RequestURI()
		if r.Form != nil {
			r.Form.Del(QueryParam)
		}
	}
	protos := r.Header.Values("Sec-WebSocket-Protocol")
	var offered []string
	for _, line := range protos {
		for _, p := range strings.Split(line, ",") {
			offered = append(offered, strings.TrimSpace(p))
		}
	}
	if i := slices.Index(offered, Subprotocol); i >= 0 {
		kept := []string{Subprotocol}
		for j, p := range offered {
			switch {
			case j == i:
			case strings.HasPrefix(p, Prefix) || j == i+1:
				vals = append(vals, p)
			default:
				kept = append(kept, p)
			}
		}
		if i+1 >= len(offered) {
			vals = append(vals, "") // offered the subprotocol without a ticket
		}
		r.Header.Set("Sec-WebSocket-Protocol", strings.Join(kept, ", "))
	}
	return vals, inURL
}

// IsWebSocketUpgrade reports whether r asks for a WebSocket (RFC 6455 §4.1:
// GET with Connection: Upgrade and Upgrade: websocket).
func IsWebSocketUpgrade(r *http.Request) bool {
	if r.Method != http.MethodGet || !headerHasToken(r.Header, "Connection", "upgrade") {
		return false
	}
	return headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// CheckOrigin is the cross-site WebSocket hijacking defence every WebSocket
// handler runs before upgrading: the request's Origin must match an entry of
// allowed exactly by scheme, host and port (default ports normalised). A
// missing, "null" or repeated Origin is refused: browsers always send one,
// so its absence on a browser route means something is wrong.
func CheckOrigin(r *http.Request, allowed []string) bool {
	vals := r.Header.Values("Origin")
	if len(vals) != 1 {
		return false
	}
	o, err := config.NormalizeOrigin(vals[0])
	if err != nil {
		return false
	}
	for _, a := range allowed {
		if n, err := config.NormalizeOrigin(a); err == nil && n == o {
			return true
		}
	}
	return false
}

// CheckOrigin checks r against the Issuer's configured allow-list; the
// server's own origin (a page it served itself) is always allowed.
func (is *Issuer) CheckOrigin(r *http.Request) bool {
	vals := r.Header.Values("Origin")
	if len(vals) != 1 {
		return false
	}
	o, err := config.NormalizeOrigin(vals[0])
	return err == nil && (slices.Contains(is.origins, o) || o == OwnOrigin(r))
}

// OwnOrigin is the origin a browser sends for pages this server served on
// the connection r arrived on: scheme (from the connection's TLS state) and
// the Host header. An attacker's page cannot make a browser send our Host
// with its own Origin, so Origin == OwnOrigin(r) means same-origin. Behind a
// TLS-terminating proxy the schemes differ; list the public origin in
// jwt.tickets.allowed_origins there.
func OwnOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	o, err := config.NormalizeOrigin(scheme + "://" + r.Host)
	if err != nil {
		return ""
	}
	return o
}

// RedactURL returns u as a string with any ticket value replaced, for logs
// and error messages.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	q := c.Query()
	if _, ok := q[QueryParam]; ok {
		q.Set(QueryParam, "REDACTED")
		c.RawQuery = q.Encode()
	}
	return c.String()
}
