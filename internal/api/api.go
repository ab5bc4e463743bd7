// Package api owns Izwi's HTTP surface: the route table (each route declares
// who may call it), the JSON error catalogue, request IDs, panic recovery,
// access logs and the http.Server with its timeouts and graceful shutdown.
// Only cmd/izwi imports it; handlers get their dependencies through Options.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/engines"
)

// Route is one entry of the route table.
type Route struct {
	Method  string
	Pattern string // net/http ServeMux path pattern, e.g. "/healthz"
	Access  Access
	Handler http.Handler
}

// Readiness is what /readyz reports: the engines' per-role state.
type Readiness interface {
	Status() []engines.Status
	Ready() bool
}

var _ Readiness = (*engines.Set)(nil)

// Options are the handler's dependencies.
type Options struct {
	Logger *slog.Logger
	// Engines reports readiness; nil means no engines (every role off).
	Engines Readiness
	// Components are infrastructure probes (database, broker) that must
	// pass for /readyz to answer 200.
	Components []Component

	// Authenticator recognises credentials (auth.Chain of key, JWT and
	// ticket authenticators). Nil: every non-public route answers 401.
	Authenticator auth.Authenticator
	// Anonymous, if set, is the principal of requests that carry no
	// credentials at all (auth.require_auth = false on a loopback-only
	// server). Requests with bad credentials are still refused.
	Anonymous *auth.Principal
	// IPFilter runs first on every request (nil admits all).
	IPFilter IPFilter
	// Limiter admits authenticated requests (nil admits all).
	Limiter Limiter
	// Observe wraps the route mux, after the IP filter (metrics, traces:
	// telemetry.Metrics.Middleware reads r.Pattern, which the mux sets on
	// the request it is given). Nil adds nothing.
	Observe func(http.Handler) http.Handler
	// Audit records every authentication and authorization failure.
	Audit audit.Recorder
	// CheckOrigin, on WebSocket (Ticket) routes, refuses a request whose
	// Origin header is present but not allowed (ticket.Issuer.CheckOrigin).
	// Clients that send no Origin (servers, SDKs) are not browsers and are
	// judged by their credentials alone; tickets are origin-bound anyway.
	CheckOrigin func(*http.Request) bool
	// ClientIP gives the client address for audit records, honouring
	// trusted proxies (RemoteIP if nil).
	ClientIP func(*http.Request) string

	// Keys mounts the key-management routes under /v1/keys.
	Keys *auth.KeyStore
	// Tickets answers POST /v1/tickets (WebSocket tickets).
	Tickets http.Handler
	// Usage answers GET /v1/usage (the caller's own usage).
	Usage http.Handler
	// Metrics answers GET /metrics (Prometheus; admin or scrape token).
	Metrics http.Handler
	// AuditExport streams the audit log as JSON lines (GET /v1/audit) and
	// AuditCheckpoint serves its latest signed checkpoint; both admin only.
	AuditExport, AuditCheckpoint http.Handler

	// Live mounts the live-caption routes (sessions, ingest, viewer feeds,
	// pages, Deepgram-compatible /v1/listen); nil leaves them out.
	Live *LiveHandlers
	// OpenAI mounts the OpenAI-compatible routes (transcriptions, speech,
	// models, chat completions, converse); nil leaves them out.
	OpenAI *OpenAIHandlers
}

// Component is a named readiness probe. Check must honour ctx.
type Component struct {
	Name  string
	Check func(ctx context.Context) error
}

// Routes returns the route table for opts. Routes whose handler opts does
// not supply are left out.
func Routes(opts Options) []Route {
	routes := []Route{
		{Method: http.MethodGet, Pattern: "/healthz", Access: Public, Handler: http.HandlerFunc(healthz)},
		{Method: http.MethodGet, Pattern: "/readyz", Access: Public, Handler: readyz(opts.Engines, opts.Components)},
	}
	if opts.Keys != nil {
		kh := auth.KeyHandlers{Keys: opts.Keys, ClientIP: opts.ClientIP}
		routes = append(routes,
			Route{Method: http.MethodPost, Pattern: "/v1/keys", Access: Admin, Handler: kh.Create()},
			Route{Method: http.MethodGet, Pattern: "/v1/keys", Access: Admin, Handler: kh.List()},
			Route{Method: http.MethodDelete, Pattern: "/v1/keys/{id}", Access: Admin, Handler: kh.Revoke()},
			Route{Method: http.MethodPost, Pattern: "/v1/keys/{id}/rotate", Access: Admin, Handler: kh.Rotate()},
		)
	}
	if opts.Tickets != nil {
		routes = append(routes, Route{Method: http.MethodPost, Pattern: "/v1/tickets", Access: Authenticated, Handler: opts.Tickets})
	}
	if opts.Usage != nil {
		routes = append(routes, Route{Method: http.MethodGet, Pattern: "/v1/usage", Access: Authenticated, Handler: opts.Usage})
	}
	if opts.Metrics != nil {
		routes = append(routes, Route{Method: http.MethodGet, Pattern: "/metrics", Access: Metrics, Handler: opts.Metrics})
	}
	if opts.AuditExport != nil {
		routes = append(routes, Route{Method: http.MethodGet, Pattern: "/v1/audit", Access: Admin, Handler: opts.AuditExport})
	}
	if opts.AuditCheckpoint != nil {
		routes = append(routes, Route{Method: http.MethodGet, Pattern: "/v1/audit/checkpoint", Access: Admin, Handler: opts.AuditCheckpoint})
	}
	routes = append(routes, openaiRoutes(opts.OpenAI)...)
	return append(routes, liveRoutes(opts.Live)...)
}

// New builds the HTTP handler from Routes(opts). Every request passes, in
// order: request ID → access log → panic recovery → IP filter → Observe →
// route match → authenticate → scope → limits → handler.
func New(opts Options) (http.Handler, error) {
	return newHandler(opts, Routes(opts))
}

func newHandler(opts Options, routes []Route) (http.Handler, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gw := newGateway(opts, log)
	mux := http.NewServeMux()
	methods := map[string][]string{} // pattern → allowed methods, for 405s
	for _, rt := range routes {
		if !knownAccess(rt.Access) {
			return nil, fmt.Errorf("api: route %s %s: access %q is not enforced by this build", rt.Method, rt.Pattern, rt.Access)
		}
		if rt.Handler == nil || rt.Method == "" || !strings.HasPrefix(rt.Pattern, "/") {
			return nil, fmt.Errorf("api: route %s %s is incomplete", rt.Method, rt.Pattern)
		}
		mux.Handle(rt.Method+" "+rt.Pattern, gw.guard(rt.Access, rt.Handler))
		methods[rt.Pattern] = append(methods[rt.Pattern], rt.Method)
	}
	// Everything else gets a JSON 404 or 405 instead of the mux's plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allowed, ok := methods[r.URL.Path]; ok {
			if contains(allowed, http.MethodGet) && !contains(allowed, http.MethodHead) {
				allowed = append(allowed, http.MethodHead)
			}
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			apierr.Write(w, r, apierr.CodeMethodNotAllowed, "")
			return
		}
		apierr.Write(w, r, apierr.CodeNotFound, "")
	})
	var inner http.Handler = mux
	if opts.Observe != nil {
		inner = opts.Observe(mux)
	}
	return withRequestID(withAccessLog(log, withRecover(log, withEarlyRefusalClose(withIPFilter(opts.IPFilter, inner))))), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
