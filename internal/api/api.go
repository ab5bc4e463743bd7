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

	"github.com/izwi-speech/izwi/internal/engines"
)

// Access says who may call a route. It is a required field of every Route so
// that adding a route forces a decision, and a test walks the table.
type Access string

// Access levels. The gateway issue adds key and scope levels.
const (
	// Public routes need no credentials: health probes only.
	Public Access = "public"
)

// knownAccess lists the levels this build can enforce; New refuses others
// so a route cannot be exposed by naming a level nothing checks.
func knownAccess(a Access) bool { return a == Public }

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
}

// Component is a named readiness probe. Check must honour ctx.
type Component struct {
	Name  string
	Check func(ctx context.Context) error
}

// Routes returns the route table for opts.
func Routes(opts Options) []Route {
	return []Route{
		{Method: http.MethodGet, Pattern: "/healthz", Access: Public, Handler: http.HandlerFunc(healthz)},
		{Method: http.MethodGet, Pattern: "/readyz", Access: Public, Handler: readyz(opts.Engines, opts.Components)},
	}
}

// New builds the HTTP handler from Routes(opts), wrapped in the request-ID,
// access-log and panic-recovery middleware.
func New(opts Options) (http.Handler, error) {
	return newHandler(opts, Routes(opts))
}

func newHandler(opts Options, routes []Route) (http.Handler, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	methods := map[string][]string{} // pattern → allowed methods, for 405s
	for _, rt := range routes {
		if !knownAccess(rt.Access) {
			return nil, fmt.Errorf("api: route %s %s: access %q is not enforced by this build", rt.Method, rt.Pattern, rt.Access)
		}
		if rt.Handler == nil || rt.Method == "" || !strings.HasPrefix(rt.Pattern, "/") {
			return nil, fmt.Errorf("api: route %s %s is incomplete", rt.Method, rt.Pattern)
		}
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
		methods[rt.Pattern] = append(methods[rt.Pattern], rt.Method)
	}
	// Everything else gets a JSON 404 or 405 instead of the mux's plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allowed, ok := methods[r.URL.Path]; ok {
			if contains(allowed, http.MethodGet) && !contains(allowed, http.MethodHead) {
				allowed = append(allowed, http.MethodHead)
			}
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, r, CodeMethodNotAllowed, "")
			return
		}
		writeError(w, r, CodeNotFound, "")
	})
	return withRequestID(withAccessLog(log, withRecover(log, mux))), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
