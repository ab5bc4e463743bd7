package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
)

// IPFilter refuses requests from addresses the global allow/deny lists
// reject, before authentication (so a refused address cannot probe keys),
// and resolves the client address behind trusted proxies for what follows.
// *netpolicy.Policy implements it.
//
// Contract: Middleware returns a handler that either answers 403 ip_denied
// through the error catalogue or calls next. Never block.
type IPFilter interface {
	Middleware(next http.Handler) http.Handler
}

// Limiter enforces an authenticated principal's per-key IP rules, rate
// limits and quotas, after the scope check. *limit.Limiter implements it.
//
// Contract: the returned handler reads the principal with auth.FromContext
// (the gateway has put it there), and either refuses through the error
// catalogue (429 rate_limited or quota_exceeded with Retry-After, 403
// ip_denied) or calls next. Admission is atomic: N parallel requests
// against a quota of k admit exactly k.
type Limiter interface {
	Middleware(next http.Handler) http.Handler
}

// gateway holds what every guarded route shares.
type gateway struct {
	log      *slog.Logger
	authn    auth.Authenticator
	limiter  Limiter
	audit    audit.Recorder
	clientIP func(*http.Request) string
	anon     *auth.Principal
	origin   func(*http.Request) bool
}

func newGateway(opts Options, log *slog.Logger) *gateway {
	g := &gateway{log: log, authn: opts.Authenticator, limiter: opts.Limiter, audit: opts.Audit,
		clientIP: opts.ClientIP, anon: opts.Anonymous, origin: opts.CheckOrigin}
	if g.clientIP == nil {
		g.clientIP = RemoteIP
	}
	return g
}

// RemoteIP is the connection's peer address without the port.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// withIPFilter puts f in front of next.
func withIPFilter(f IPFilter, next http.Handler) http.Handler {
	if f == nil {
		return next
	}
	return f.Middleware(next)
}

// guard enforces access on one route: authenticate → scope → limits.
func (g *gateway) guard(access Access, next http.Handler) http.Handler {
	kind, scope, _ := access.parse()
	if g.limiter != nil && kind != "public" {
		next = g.limiter.Middleware(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noteRoute(r)
		if kind == "public" {
			// Public routes take no credentials, so nothing in their URL
			// is read as one (health probes keep answering); the access
			// log never records query strings either way.
			next.ServeHTTP(w, r)
			return
		}
		if auth.CredentialsInURL(r.URL.RawQuery) {
			// Refused on every credentialed route, whatever else the
			// request carries, and never logged.
			g.fail(w, r, apierr.CodeCredentialsInURL, "anonymous", "credentials_in_url")
			return
		}
		if (kind == "ticket" || kind == "viewer") && g.origin != nil && len(r.Header.Values("Origin")) > 0 && !g.origin(r) {
			// Cross-site WebSocket hijacking: a browser always sends
			// Origin, and a page from elsewhere must not ride the
			// caller's credentials. Checked before a ticket is consumed.
			g.fail(w, r, apierr.CodeForbidden, "anonymous", "origin_not_allowed")
			return
		}
		p, err := g.authenticate(r)
		if kind == "viewer" && errors.Is(err, auth.ErrNoCredentials) {
			// No credentials on a viewer route: the handler decides by the
			// session's viewer mode (a public session needs none).
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			actor, reason := auth.FailureOf(err)
			g.fail(w, r, apierr.CodeUnauthenticated, actor, reason)
			return
		}
		actor := auth.ActorID(p)
		if p.Kind == auth.KindTicket {
			// A ticket opens only the WebSocket it was issued for, from
			// the origin it was issued to.
			if kind != "ticket" && kind != "viewer" {
				g.fail(w, r, apierr.CodeUnauthenticated, actor, "ticket_not_accepted")
				return
			}
			if p.Origin == "" || r.Header.Get("Origin") != p.Origin {
				g.fail(w, r, apierr.CodeForbidden, actor, "origin_mismatch")
				return
			}
		}
		if p.Kind == auth.KindScrape && kind != "metrics" {
			g.fail(w, r, apierr.CodeUnauthenticated, actor, "scrape_token_not_accepted")
			return
		}
		if kind == "metrics" && p.Kind != auth.KindScrape && !p.Has(auth.ScopeAdmin) {
			g.fail(w, r, apierr.CodeForbidden, actor, "missing_scope:admin")
			return
		}
		if scope != "" && kind != "viewer" && !p.Has(scope) {
			g.fail(w, r, apierr.CodeForbidden, actor, "missing_scope:"+string(scope))
			return
		}
		auth.Redact(r)
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// authenticate runs the authenticator chain; with no credentials at all it
// falls back to the configured anonymous principal, if any.
func (g *gateway) authenticate(r *http.Request) (auth.Principal, error) {
	if g.authn == nil {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	p, err := g.authn.Authenticate(r)
	if errors.Is(err, auth.ErrNoCredentials) && g.anon != nil {
		return *g.anon, nil
	}
	return p, err
}

// fail audits an access failure and answers it. The credential itself is
// never recorded: only the actor (a key's public id when known) and why.
func (g *gateway) fail(w http.ResponseWriter, r *http.Request, code apierr.Code, actor, reason string) {
	if g.audit != nil {
		action := "auth.failure"
		if code == apierr.CodeForbidden {
			action = "auth.forbidden"
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		err := g.audit.Record(ctx, audit.Event{Time: time.Now().UTC(), Actor: actor, Action: action, Outcome: "denied",
			RemoteIP: g.clientIP(r), RequestID: RequestID(r.Context()), Target: "route:" + r.Pattern,
			Details: map[string]string{"reason": reason}})
		cancel()
		if err != nil {
			g.log.Error("audit write failed", "request_id", RequestID(r.Context()), "action", action, "err", err)
		}
	}
	apierr.Write(w, r, code, "")
}
