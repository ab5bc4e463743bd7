package api

import (
	"strings"

	"github.com/izwi-speech/izwi/internal/auth"
)

// Access says who may call a route. It is a required field of every Route,
// so adding a route forces a decision; New refuses a route whose access is
// missing or names something this build does not enforce, and a test walks
// the whole table with every kind of credential.
//
// It is a string so the levels can be constants; build them with Scope and
// Ticket, never by hand.
type Access string

const (
	// Public routes need no credentials: the health probes only.
	Public Access = "public"
	// Authenticated routes need any valid credential but no particular
	// scope (a caller reading its own usage, asking for a ticket).
	Authenticated Access = "authenticated"
	// Admin routes need the admin scope.
	Admin Access = "scope:admin"
	// Metrics is /metrics: an admin, or a scraper with the scrape token
	// (which opens nothing else).
	Metrics Access = "metrics"
)

// Scope is the access of routes any principal holding s may call.
func Scope(s auth.Scope) Access { return Access("scope:" + string(s)) }

// Viewer is the access of caption feeds (WebSocket and SSE) and other
// per-session viewer routes: credentials are optional at the gateway —
// none passes with no principal, any presented (tickets included, on a
// WebSocket upgrade) must be valid — and the handler enforces the session's
// own viewer mode (public, link, password, private), answering 404 to a
// caller who may not watch it. The scope is what a credential must hold to
// watch a non-public session.
func Viewer(s auth.Scope) Access { return Access("viewer:" + string(s)) }

// Ticket is the access of WebSocket routes that accept a single-use ticket
// (or any other credential) holding s. Tickets are refused everywhere else:
// a ticket is not an API token.
func Ticket(s auth.Scope) Access { return Access("ticket:" + string(s)) }

// parse splits a into its kind ("public", "authenticated", "scope",
// "ticket", "viewer") and scope, reporting whether this build enforces it.
func (a Access) parse() (kind string, scope auth.Scope, ok bool) {
	switch a {
	case Public, Authenticated, Metrics:
		return string(a), "", true
	}
	kind, name, found := strings.Cut(string(a), ":")
	if !found || (kind != "scope" && kind != "ticket" && kind != "viewer") {
		return "", "", false
	}
	sc, err := auth.ParseScope(name)
	if err != nil {
		return "", "", false
	}
	return kind, sc, true
}

func knownAccess(a Access) bool {
	_, _, ok := a.parse()
	return ok
}
