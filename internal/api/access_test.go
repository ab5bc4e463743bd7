package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// gw is a gateway under test: a real key store on a temporary database and
// every optional route mounted.
type gw struct {
	keys  *auth.KeyStore
	audit *audittest.Recorder
	clock *clocktest.Clock
	logs  *bytes.Buffer
	opts  Options
}

func newGW(t testing.TB) *gw {
	t.Helper()
	return newGWOn(t, storetest.OpenOf(t, store.SQLite), filepath.Join(t.TempDir(), "keys-epoch"))
}

// newGWOn is newGW on st; an empty epoch turns the verified-key cache off
// (every request reads the key from the store).
func newGWOn(t testing.TB, st *store.Store, epoch string) *gw {
	t.Helper()
	ctx := context.Background()
	var err error
	g := &gw{audit: &audittest.Recorder{}, clock: clocktest.New(time.Now()), logs: &bytes.Buffer{}}
	g.keys, err = auth.NewKeyStore(ctx, st, auth.KeyStoreConfig{Pepper: bytes.Repeat([]byte{7}, 32), Audit: g.audit, Now: g.clock.Now,
		EpochFile: epoch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.keys.Close() })
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apierr.JSON(w, 200, map[string]string{"ok": "yes"}) })
	g.opts = Options{Logger: slog.New(slog.NewJSONHandler(g.logs, nil)),
		Authenticator: auth.Chain{&auth.KeyAuthenticator{Keys: g.keys}, &auth.ScrapeAuthenticator{Token: secrets.New(scrapeToken)}},
		Audit:         g.audit, Keys: g.keys, Tickets: ok, Usage: ok, Metrics: ok, AuditExport: ok, AuditCheckpoint: ok}
	return g
}

func (g *gw) key(t testing.TB, name string, scopes ...auth.Scope) (auth.Key, string) {
	t.Helper()
	k, secret, err := g.keys.Create(context.Background(), auth.Actor{ID: "test"}, auth.KeySpec{Name: name, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

// scrapeToken is the metrics scrape token the test gateway accepts.
const scrapeToken = "scrape-token-0123456789abcdef0123456789"

// every route that exists, with every optional handler supplied.
func allRoutes(g *gw) []Route {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apierr.JSON(w, 200, map[string]string{"ok": "yes"}) })
	opts := g.opts
	opts.Live = &LiveHandlers{Create: ok, List: ok, Get: ok, Update: ok, Delete: ok, Context: ok, Start: ok, Stop: ok, Resume: ok,
		Ingest: ok, WebRTC: ok, Pause: ok, Transcript: ok, Filters: ok, SetFilters: ok, CaptionsWS: ok, CaptionsSSE: ok, View: ok, ViewerTicket: ok, MicTicket: ok, Pages: ok, Listen: ok, ListenFile: ok,
		OutputsCreate: ok, OutputsList: ok, OutputsDelete: ok}
	opts.OpenAI = &OpenAIHandlers{Transcriptions: ok, Translations: ok, Speech: ok, Models: ok, Chat: ok, Converse: ok, Speak: ok, SpeakSocket: ok, Realtime: ok,
		RealtimeCalls: ok, ConverseCalls: ok, RealtimeClientSecrets: ok, RealtimeSessions: ok}
	return Routes(opts)
}

func do(t testing.TB, method, url string, hdr http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func bearer(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }

func errCode(b []byte) apierr.Code {
	var body apierr.Body
	_ = json.Unmarshal(b, &body)
	return body.Error.Code
}

// The route-table walk: every route × every kind of caller gets the answer
// its declared access demands.
func TestRouteTableWalk(t *testing.T) {
	g := newGW(t)
	routes := allRoutes(g)
	h, err := newHandler(g.opts, routes)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, h)

	// The table is what this test expects: a new route must be added here.
	wantRoutes := map[string]Access{
		"GET /healthz": Public, "GET /readyz": Public,
		"POST /v1/keys": Admin, "GET /v1/keys": Admin, "DELETE /v1/keys/{id}": Admin, "POST /v1/keys/{id}/rotate": Admin,
		"POST /v1/tickets": Authenticated, "GET /v1/usage": Authenticated, "GET /metrics": Metrics,
		"GET /v1/audit": Admin, "GET /v1/audit/checkpoint": Admin,
		"POST /v1/sessions": Scope(auth.ScopeLiveWrite), "GET /v1/sessions": Scope(auth.ScopeLiveWrite),
		"GET /v1/sessions/{id}": Scope(auth.ScopeLiveWrite), "PATCH /v1/sessions/{id}": Scope(auth.ScopeLiveWrite),
		"PUT /v1/sessions/{id}/context": Scope(auth.ScopeLiveWrite),
		"DELETE /v1/sessions/{id}":      Scope(auth.ScopeLiveWrite), "POST /v1/sessions/{id}/start": Scope(auth.ScopeLiveWrite),
		"POST /v1/sessions/{id}/stop": Scope(auth.ScopeLiveWrite), "POST /v1/sessions/{id}/resume": Scope(auth.ScopeLiveWrite),
		"POST /v1/sessions/{id}/pause":     Scope(auth.ScopeLiveWrite),
		"GET /v1/sessions/{id}/transcript": Scope(auth.ScopeLiveWrite),
		"GET /v1/sessions/{id}/filters":    Scope(auth.ScopeLiveWrite), "PUT /v1/sessions/{id}/filters": Scope(auth.ScopeLiveWrite),
		"GET /v1/sessions/{id}/audio": Ticket(auth.ScopeLiveWrite), "GET /v1/sessions/{id}/webrtc": Ticket(auth.ScopeLiveWrite),
		"POST /v1/sessions/{id}/outputs": Scope(auth.ScopeLiveWrite), "GET /v1/sessions/{id}/outputs": Scope(auth.ScopeLiveWrite),
		"DELETE /v1/sessions/{id}/outputs/{oid}": Scope(auth.ScopeLiveWrite),
		// Viewer routes: the gateway checks any credential presented; the
		// handler enforces the session's viewer mode (livehttp's tests).
		"GET /v1/sessions/{id}/captions": Viewer(auth.ScopeLiveRead), "GET /v1/sessions/{id}/events": Viewer(auth.ScopeLiveRead),
		"GET /v1/sessions/{id}/view": Viewer(auth.ScopeLiveRead),
		// Public: exchanging a viewer password or link token for a ticket
		// (throttled and audited by the handler), and the embedded pages.
		"POST /v1/sessions/{id}/viewer-ticket": Public,
		// Public: a console pairing code (single use, in the body) for an
		// ingest ticket; bad codes are throttled and audited.
		"POST /v1/sessions/{id}/mic-ticket": Public,
		"GET /live/{id}":                    Public, "GET /display/{id}": Public, "GET /overlay/{id}": Public, "GET /mic/{id}": Public,
		"GET /assets/{file}": Public, "POST /display/{id}/qr": Public, "GET /{$}": Public,
		"GET /v1/listen": Scope(auth.ScopeASRRead),
		// OpenAI-compatible routes (issue 7).
		"POST /v1/audio/transcriptions": Scope(auth.ScopeASRRead), "POST /v1/audio/speech": Scope(auth.ScopeTTSRead),
		"POST /v1/audio/translations": Scope(auth.ScopeASRRead), "POST /v1/speak": Scope(auth.ScopeTTSRead),
		"GET /v1/speak":  Scope(auth.ScopeTTSRead),
		"GET /v1/models": Authenticated, "POST /v1/chat/completions": Scope(auth.ScopeChatRead),
		"GET /v1/converse": Scope(auth.ScopeChatRead), "GET /v1/realtime": Scope(auth.ScopeASRRead),
		"POST /v1/realtime/calls":          Scope(auth.ScopeASRRead),
		"POST /v1/realtime/client_secrets": Scope(auth.ScopeASRRead), "POST /v1/realtime/sessions": Scope(auth.ScopeASRRead), "POST /v1/converse/calls": Scope(auth.ScopeChatRead), "POST /v1/realtime": Scope(auth.ScopeASRRead),
		"POST /v1/listen": Scope(auth.ScopeASRRead),
	}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		want, ok := wantRoutes[key]
		if !ok || want != rt.Access {
			t.Errorf("%s: access %q, the reviewed table says %q", key, rt.Access, want)
		}
		delete(wantRoutes, key)
	}
	for k := range wantRoutes {
		t.Errorf("%s missing from the route table", k)
	}

	all := []auth.Scope{auth.ScopeASRRead, auth.ScopeTTSRead, auth.ScopeChatRead, auth.ScopeLiveWrite, auth.ScopeLiveRead}
	_, adminKey := g.key(t, "admin", auth.ScopeAdmin)
	revoked, revokedKey := g.key(t, "revoked", all...)
	if err := g.keys.Revoke(context.Background(), auth.Actor{ID: "test"}, revoked.ID); err != nil {
		t.Fatal(err)
	}
	_, expiredKey, err := g.keys.Create(context.Background(), auth.Actor{ID: "test"},
		auth.KeySpec{Name: "expiring", Scopes: all, Expires: g.clock.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	g.clock.Advance(2 * time.Minute)

	type caller struct {
		name string
		hdr  http.Header
		// fails is the code this caller gets on a route of the access kind
		// ("" means it passes authorization).
		fails func(kind string) apierr.Code
	}
	unauth := func(kind string) apierr.Code {
		if kind == "public" {
			return ""
		}
		return apierr.CodeUnauthenticated
	}
	// noCreds: viewer routes let a caller with no credentials through to
	// the handler (which allows only public sessions).
	noCreds := func(kind string) apierr.Code {
		if kind == "public" || kind == "viewer" {
			return ""
		}
		return apierr.CodeUnauthenticated
	}
	callersFor := func(kind string, scope auth.Scope) []caller {
		// lacking holds every scope but the route's (and never admin).
		var lacking []auth.Scope
		for _, s := range all {
			if s != scope {
				lacking = append(lacking, s)
			}
		}
		_, lackingKey := g.key(t, "lacking", lacking...)
		withScope := scope
		switch {
		case kind == "metrics":
			withScope = auth.ScopeAdmin
		case withScope == "":
			withScope = auth.ScopeASRRead
		}
		_, withKey := g.key(t, "with", withScope)
		return []caller{
			{"no credentials", nil, noCreds},
			{"malformed key", bearer("izk_garbage"), unauth},
			{"unknown key", bearer(auth.FormatKey("aaaaaaaaaaaa", strings.Repeat("a", 52))), unauth},
			{"revoked key", bearer(revokedKey), unauth},
			{"expired key", bearer(expiredKey), unauth},
			{"key lacking the scope", bearer(lackingKey), func(kind string) apierr.Code {
				if kind == "scope" || kind == "ticket" || kind == "metrics" {
					return apierr.CodeForbidden
				}
				return ""
			}},
			{"key with the scope", bearer(withKey), func(string) apierr.Code { return "" }},
			{"admin key", bearer(adminKey), func(string) apierr.Code { return "" }},
			{"scrape token", bearer(scrapeToken), func(kind string) apierr.Code {
				if kind == "public" || kind == "metrics" {
					return ""
				}
				return apierr.CodeUnauthenticated
			}},
		}
	}
	for _, rt := range routes {
		kind, scope, _ := rt.Access.parse()
		path := strings.ReplaceAll(strings.ReplaceAll(rt.Pattern, "{id}", "aaaaaaaaaaaa"), "{file}", "app.js")
		for _, c := range callersFor(kind, scope) {
			before := len(g.audit.Events())
			resp, b := do(t, rt.Method, base+path, c.hdr, "")
			want := c.fails(kind)
			got := errCode(b)
			name := rt.Method + " " + rt.Pattern + " / " + c.name
			switch want {
			case "":
				if resp.StatusCode == 401 || resp.StatusCode == 403 || got == apierr.CodeUnauthenticated || got == apierr.CodeForbidden {
					t.Errorf("%s: refused %d %s", name, resp.StatusCode, got)
				}
			default:
				if got != want || resp.StatusCode != apierr.Lookup(want).Status {
					t.Errorf("%s: %d %q, want %d %q", name, resp.StatusCode, got, apierr.Lookup(want).Status, want)
				}
				if want == apierr.CodeUnauthenticated && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: 401 without WWW-Authenticate: Bearer", name)
				}
				ev := g.audit.Events()
				if len(ev) != before+1 || ev[len(ev)-1].Outcome != "denied" || ev[len(ev)-1].RemoteIP != "127.0.0.1" ||
					ev[len(ev)-1].Details["reason"] == "" {
					t.Errorf("%s: refusal not audited: %+v", name, ev[before:])
				}
			}
		}
	}
	for _, e := range g.audit.Events() {
		j, _ := json.Marshal(e)
		for _, k := range []string{adminKey, revokedKey, expiredKey} {
			if strings.Contains(string(j), k[17:]) {
				t.Fatalf("audit event holds a key secret: %s", j)
			}
		}
	}
}

// A new route without a declared (or with an unenforced) access fails New.
func TestUndeclaredAccessRefused(t *testing.T) {
	for _, a := range []Access{"", "admin", "scope:root", "ticket:", "scope:", "private"} {
		if _, err := newHandler(Options{}, []Route{{Method: "GET", Pattern: "/x", Access: a, Handler: http.NotFoundHandler()}}); err == nil {
			t.Errorf("access %q accepted", a)
		}
	}
	for _, a := range []Access{Public, Authenticated, Admin, Scope(auth.ScopeTTSRead), Ticket(auth.ScopeLiveWrite)} {
		if _, err := newHandler(Options{}, []Route{{Method: "GET", Pattern: "/x", Access: a, Handler: http.NotFoundHandler()}}); err != nil {
			t.Errorf("access %q refused: %v", a, err)
		}
	}
}
