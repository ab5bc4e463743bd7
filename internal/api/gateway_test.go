package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
)

// A key in the query string is refused with credentials_in_url, on every
// route, and appears in no log line or audit record.
func TestKeyInQueryRefusedAndNotLogged(t *testing.T) {
	g := newGW(t)
	_, key := g.key(t, "k", auth.ScopeASRRead)
	base := serve(t, mustNew(t, g.opts))
	for _, q := range []string{"?api_key=" + key, "?key=" + key, "?token=" + key, "?x=" + key, "?Access_Token=abc", "?k=izk%5F" + key[4:]} {
		for _, path := range []string{"/v1/usage", "/v1/keys"} {
			resp, b := do(t, "GET", base+path+q, bearer(key), "")
			if resp.StatusCode != 401 || errCode(b) != apierr.CodeCredentialsInURL {
				t.Errorf("%s%s: %d %s", path, q[:5], resp.StatusCode, b)
			}
		}
		// Health probes take no credentials and keep answering.
		if resp, _ := do(t, "GET", base+"/healthz"+q, nil, ""); resp.StatusCode != 200 {
			t.Errorf("healthz with a query: %d", resp.StatusCode)
		}
	}
	secret := key[len(key)-52:]
	if strings.Contains(g.logs.String(), secret) || !strings.Contains(g.logs.String(), "http request") {
		t.Fatalf("logs hold the key or nothing: %s", g.logs.String())
	}
	for _, e := range g.audit.Events() {
		j, _ := json.Marshal(e)
		if strings.Contains(string(j), secret) {
			t.Fatalf("audit holds the key: %s", j)
		}
		if e.Action == "auth.failure" && e.Details["reason"] != "credentials_in_url" {
			t.Fatalf("unexpected failure %+v", e)
		}
	}
	// An ordinary query string is fine.
	if resp, _ := do(t, "GET", base+"/v1/usage?since=2026-01-01", bearer(key), ""); resp.StatusCode != 200 {
		t.Fatalf("ordinary query refused: %d", resp.StatusCode)
	}
}

// Deepgram clients: "Authorization: Token KEY" and, from browsers,
// "Sec-WebSocket-Protocol: token, KEY". The handler never sees the key.
func TestDeepgramStyleCredentials(t *testing.T) {
	g := newGW(t)
	k, key := g.key(t, "k", auth.ScopeLiveRead)
	var seen http.Header
	var who auth.Principal
	h, err := newHandler(g.opts, []Route{{Method: "GET", Pattern: "/v1/listen", Access: Scope(auth.ScopeLiveRead),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r.Header.Clone()
			who, _ = auth.FromContext(r.Context())
			w.WriteHeader(204)
		})}})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, h)
	for _, hdr := range []http.Header{
		{"Authorization": {"Token " + key}},
		{"Authorization": {"bearer " + key}},
		{"Sec-Websocket-Protocol": {"token, " + key}},
		{"Sec-Websocket-Protocol": {"token", key}},
	} {
		seen, who = nil, auth.Principal{}
		resp, b := do(t, "GET", base+"/v1/listen", hdr, "")
		if resp.StatusCode != 204 || who.ID != k.ID {
			t.Fatalf("%v: %d %s principal %+v", hdr, resp.StatusCode, b, who)
		}
		for name, vals := range seen {
			if strings.Contains(strings.Join(vals, ","), key[17:]) {
				t.Fatalf("handler saw the key in %s", name)
			}
		}
		if hdr.Get("Sec-Websocket-Protocol") != "" && seen.Get("Sec-Websocket-Protocol") != "token" {
			t.Fatalf("subprotocol after redaction = %q, want token", seen.Get("Sec-Websocket-Protocol"))
		}
	}
	if strings.Contains(g.logs.String(), key[17:]) {
		t.Fatal("key logged")
	}
}

// One key cannot see another's object: 404, exactly as for a missing one.
func TestObjectLevelNotFound(t *testing.T) {
	g := newGW(t)
	a, keyA := g.key(t, "a", auth.ScopeASRRead)
	_, keyB := g.key(t, "b", auth.ScopeASRRead)
	owners := map[string]string{"t1": a.Subject()}
	h, err := newHandler(g.opts, []Route{{Method: "GET", Pattern: "/v1/transcripts/{id}", Access: Scope(auth.ScopeASRRead),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := auth.FromContext(r.Context())
			owner, ok := owners[r.PathValue("id")]
			if !ok || !auth.Owns(p, owner) {
				apierr.Write(w, r, apierr.CodeNotFound, "")
				return
			}
			apierr.JSON(w, 200, map[string]string{"id": r.PathValue("id")})
		})}})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, h)
	if resp, _ := do(t, "GET", base+"/v1/transcripts/t1", bearer(keyA), ""); resp.StatusCode != 200 {
		t.Fatalf("owner got %d", resp.StatusCode)
	}
	other, ob := do(t, "GET", base+"/v1/transcripts/t1", bearer(keyB), "")
	missing, mb := do(t, "GET", base+"/v1/transcripts/nope", bearer(keyB), "")
	if other.StatusCode != 404 || missing.StatusCode != 404 || errCode(ob) != errCode(mb) {
		t.Fatalf("other's object %d %s; missing %d %s", other.StatusCode, ob, missing.StatusCode, mb)
	}
}

// Keys through the HTTP API: create (secret shown once), use, list (no
// secrets), revoke (refused on the very next request), rotate.
func TestKeyAPIAndRevocationNextRequest(t *testing.T) {
	g := newGW(t)
	_, admin := g.key(t, "admin", auth.ScopeAdmin)
	base := serve(t, mustNew(t, g.opts))
	resp, b := do(t, "POST", base+"/v1/keys", bearer(admin),
		`{"name":"captions","scopes":["asr.read"],"expires_in":"720h","allow_cidrs":["127.0.0.1"],"limits":{"rps":3}}`)
	var created auth.CreateResponse
	if err := json.Unmarshal(b, &created); err != nil || resp.StatusCode != 201 || !strings.HasPrefix(created.Secret, "izk_") ||
		created.Warning == "" || created.Key.Expires.IsZero() || created.Key.Allow[0].String() != "127.0.0.1/32" {
		t.Fatalf("create = %d %s", resp.StatusCode, b)
	}
	if resp, _ := do(t, "GET", base+"/v1/usage", bearer(created.Secret), ""); resp.StatusCode != 200 {
		t.Fatalf("new key refused: %d", resp.StatusCode)
	}
	resp, b = do(t, "GET", base+"/v1/keys", bearer(admin), "")
	if resp.StatusCode != 200 || strings.Contains(string(b), created.Secret[17:]) || !strings.Contains(string(b), created.Key.ID) {
		t.Fatalf("list = %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, "POST", base+"/v1/keys/"+created.Key.ID+"/rotate", bearer(admin), "")
	var rotated auth.CreateResponse
	if err := json.Unmarshal(b, &rotated); err != nil || resp.StatusCode != 201 || rotated.Key.Lineage != created.Key.ID {
		t.Fatalf("rotate = %d %s", resp.StatusCode, b)
	}
	if resp, _ := do(t, "GET", base+"/v1/usage", bearer(created.Secret), ""); resp.StatusCode != 401 {
		t.Fatalf("rotated-out key: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", base+"/v1/usage", bearer(rotated.Secret), ""); resp.StatusCode != 200 {
		t.Fatalf("rotated key: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "DELETE", base+"/v1/keys/"+rotated.Key.ID, bearer(admin), ""); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, b := do(t, "GET", base+"/v1/usage", bearer(rotated.Secret), ""); resp.StatusCode != 401 || errCode(b) != apierr.CodeUnauthenticated {
		t.Fatalf("revoked key on the next request: %d %s", resp.StatusCode, b)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"DELETE", "/v1/keys/aaaaaaaaaaaa", "", 404},
		{"POST", "/v1/keys/" + rotated.Key.ID + "/rotate", "", 409},
		{"POST", "/v1/keys", `{"name":"x","scopes":["root"]}`, 400},
		{"POST", "/v1/keys", `{"name":"x","scopes":["asr.read"],"bogus":1}`, 400},
		{"POST", "/v1/keys", `{"name":"x","scopes":["asr.read"],"allow_cidrs":["nope"]}`, 400},
		{"POST", "/v1/keys", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413},
		// The same strict decoder as every other JSON route: on main, the
		// last duplicate won, and trailing garbage and invalid UTF-8 passed.
		{"POST", "/v1/keys", `{"name":"x","scopes":["asr.read"],"scopes":["admin"]}`, 400},
		{"POST", "/v1/keys", `{"name":"x","scopes":["asr.read"]} trailing`, 400},
		{"POST", "/v1/keys", "{\"name\":\"x\xff\",\"scopes\":[\"asr.read\"]}", 400},
	} {
		if resp, b := do(t, tc.method, base+tc.path, bearer(admin), tc.body); resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, b, tc.status)
		}
	}
	var actions []string
	for _, e := range g.audit.Events() {
		if strings.HasPrefix(e.Action, "key.") && e.Actor != "test" {
			actions = append(actions, e.Action+" "+e.Actor)
		}
	}
	if len(actions) != 3 || !strings.HasPrefix(actions[0], "key.create key:") {
		t.Fatalf("key changes audited as %v", actions)
	}
}

type fakeLimiter struct {
	calls    atomic.Int32
	released atomic.Int32
	refuse   atomic.Bool
}

func (f *fakeLimiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if p, ok := auth.FromContext(r.Context()); !ok || p.ID == "" {
			apierr.Write(w, r, apierr.CodeInternal, "")
			return
		}
		if f.refuse.Load() {
			apierr.WriteErr(w, r, &apierr.Error{Code: apierr.CodeRateLimited, RetryAfter: 1500 * time.Millisecond})
			return
		}
		defer f.released.Add(1)
		next.ServeHTTP(w, r)
	})
}

type denyAll struct{}

func (denyAll) Middleware(http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apierr.Write(w, r, apierr.CodeIPDenied, "") })
}

// The chain's order: IP filter before authentication; the limiter only
// after the scope check, with the principal; 429 carries Retry-After.
func TestChainOrder(t *testing.T) {
	g := newGW(t)
	_, tts := g.key(t, "tts", auth.ScopeTTSRead)
	lim := &fakeLimiter{}
	g.opts.Limiter = lim
	h, err := newHandler(g.opts, []Route{{Method: "GET", Pattern: "/v1/asr", Access: Scope(auth.ScopeASRRead), Handler: http.NotFoundHandler()},
		{Method: "GET", Pattern: "/v1/tts", Access: Scope(auth.ScopeTTSRead),
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })}})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, h)
	if resp, _ := do(t, "GET", base+"/v1/asr", bearer(tts), ""); resp.StatusCode != 403 || lim.calls.Load() != 0 {
		t.Fatalf("under-scoped: %d, limiter called %d times", resp.StatusCode, lim.calls.Load())
	}
	if resp, _ := do(t, "GET", base+"/v1/tts", bearer(tts), ""); resp.StatusCode != 204 || lim.calls.Load() != 1 || lim.released.Load() != 1 {
		t.Fatalf("admitted: %d, calls %d released %d", resp.StatusCode, lim.calls.Load(), lim.released.Load())
	}
	lim.refuse.Store(true)
	resp, b := do(t, "GET", base+"/v1/tts", bearer(tts), "")
	if resp.StatusCode != 429 || errCode(b) != apierr.CodeRateLimited || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("limited: %d %s Retry-After %q", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	g.opts.IPFilter = denyAll{}
	h, _ = newHandler(g.opts, []Route{{Method: "GET", Pattern: "/v1/tts", Access: Scope(auth.ScopeTTSRead), Handler: http.NotFoundHandler()}})
	base = serve(t, h)
	before := len(g.audit.Events())
	if resp, b := do(t, "GET", base+"/v1/tts", nil, ""); resp.StatusCode != 403 || errCode(b) != apierr.CodeIPDenied || len(g.audit.Events()) != before {
		t.Fatalf("ip filter: %d %s", resp.StatusCode, b)
	}
}

// ticketAuth authenticates a fixed ticket, the way internal/auth/ticket does.
type ticketAuth struct{}

func (ticketAuth) Authenticate(r *http.Request) (auth.Principal, error) {
	if r.Header.Get("X-Test-Ticket") == "" {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	return auth.Principal{Kind: auth.KindTicket, ID: "t1", Subject: "key:x", Scopes: []auth.Scope{auth.ScopeLiveRead},
		SessionID: "s1", Origin: "https://captions.example"}, nil
}

// A ticket opens only ticket routes, from its own origin; it is not an API
// token.
func TestTicketOnlyOnTicketRoutes(t *testing.T) {
	g := newGW(t)
	g.opts.Authenticator = auth.Chain{&auth.KeyAuthenticator{Keys: g.keys}, ticketAuth{}}
	h, err := newHandler(g.opts, allRoutes(g))
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, h)
	tk := http.Header{"X-Test-Ticket": {"1"}, "Origin": {"https://captions.example"}}
	if resp, b := do(t, "GET", base+"/v1/sessions/s1/captions", tk, ""); resp.StatusCode != 200 {
		t.Fatalf("ticket on its route: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", base+"/v1/usage", tk, ""); resp.StatusCode != 401 {
		t.Fatalf("ticket as an API token: %d %s", resp.StatusCode, b)
	}
	evil := http.Header{"X-Test-Ticket": {"1"}, "Origin": {"https://evil.example"}}
	if resp, b := do(t, "GET", base+"/v1/sessions/s1/captions", evil, ""); resp.StatusCode != 403 {
		t.Fatalf("ticket from another origin: %d %s", resp.StatusCode, b)
	}

	// With an origin allow-list, a key-authenticated WebSocket from a
	// browser page elsewhere is refused; a client without Origin is not.
	g.opts.CheckOrigin = func(r *http.Request) bool { return r.Header.Get("Origin") == "https://captions.example" }
	h, err = newHandler(g.opts, allRoutes(g))
	if err != nil {
		t.Fatal(err)
	}
	base = serve(t, h)
	_, key := g.key(t, "viewer", auth.ScopeLiveRead)
	hdr := bearer(key)
	hdr.Set("Origin", "https://evil.example")
	if resp, b := do(t, "GET", base+"/v1/sessions/s1/captions", hdr, ""); resp.StatusCode != 403 || errCode(b) != apierr.CodeForbidden {
		t.Fatalf("cross-site WebSocket with a key: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", base+"/v1/sessions/s1/captions", bearer(key), ""); resp.StatusCode != 200 {
		t.Fatalf("server-side client without Origin: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, "GET", base+"/v1/sessions/s1/captions", tk, ""); resp.StatusCode != 200 {
		t.Fatalf("ticket from the allowed origin: %d %s", resp.StatusCode, b)
	}
}

// replacer is an IP filter that replaces the request, as netpolicy does.
type replacer struct{}

func (replacer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(w, r.WithContext(r.Context())) })
}

// The access log names the matched route even when middleware in front of
// the mux replaced the request.
func TestAccessLogRouteThroughFilter(t *testing.T) {
	g := newGW(t)
	g.opts.IPFilter = replacer{}
	_, key := g.key(t, "k", auth.ScopeASRRead)
	base := serve(t, mustNew(t, g.opts))
	if resp, _ := do(t, "GET", base+"/v1/usage", bearer(key), ""); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	if !strings.Contains(g.logs.String(), `"route":"GET /v1/usage"`) {
		t.Fatalf("access log lacks the route: %s", g.logs.String())
	}
}
