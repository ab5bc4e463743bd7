package ticket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
)

// server runs the tickets handler and a WebSocket-shaped captions route on a
// real listener. The X-Test-Principal header stands in for the key/JWT
// middleware that runs in front of the handler in izwi serve.
func server(t *testing.T, h *Handler) *httptest.Server {
	t.Helper()
	principals := map[string]auth.Principal{
		"reader": {Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeLiveRead, auth.ScopeASRRead}},
		"admin":  {Kind: auth.KindJWT, ID: "iss#root", Subject: "jwt:iss#root", Scopes: []auth.Scope{auth.ScopeAdmin}},
		"ticket": {Kind: auth.KindTicket, ID: "tkt_x", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeLiveRead}},
	}
	withPrincipal := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p, ok := principals[r.Header.Get("X-Test-Principal")]; ok {
				r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			}
			next.ServeHTTP(w, r)
		})
	}
	a := NewAuthenticator(h.Issuer)
	mux := http.NewServeMux()
	mux.Handle("POST /v1/tickets", withPrincipal(h))
	mux.HandleFunc("GET /v1/live/{session_id}/captions", func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(p)
	})
	mux.HandleFunc("GET /v1/usage", func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.Authenticate(r); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, srv *httptest.Server, who, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/tickets", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Principal", who)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("ticket responses must not be cached")
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

func upgrade(t *testing.T, srv *httptest.Server, path, origin string) int {
	t.Helper()
	return upgradeWith(t, srv, path, origin, "")
}

// upgradeWith offers tok in Sec-WebSocket-Protocol, as documented.
func upgradeWith(t *testing.T, srv *httptest.Server, path, origin, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Sec-WebSocket-Protocol", Subprotocol+", "+tok)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Origin", origin)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestHandlerIssuesAndTicketWorksOnce(t *testing.T) {
	var logs bytes.Buffer
	rec := &audittest.Recorder{}
	h := &Handler{Issuer: newIssuer(t, newClock()), Audit: rec, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	srv := server(t, h)
	code, body := post(t, srv, "reader", `{"session_id":"sess-1","scope":"live.read","origin":"https://venue.example"}`)
	tok, _ := body["ticket"].(string)
	if code != http.StatusOK || !WellFormed(tok) || body["expires_at"] == nil {
		t.Fatalf("%d %v", code, body)
	}
	if strings.Contains(logs.String(), tok) {
		t.Fatal("ticket logged")
	}
	if len(rec.Events()) != 1 || rec.Events()[0].Action != "ticket.issue" || rec.Events()[0].Actor != "key:k1" ||
		strings.Contains(rec.Events()[0].Details["ticket_id"], tok[4:]) {
		t.Fatalf("audit %+v", rec.Events())
	}
	// A ticket is not an API token: refused on a normal route, even as an upgrade.
	if c := upgradeWith(t, srv, "/v1/usage", venue, tok); c != http.StatusUnauthorized {
		t.Fatalf("ticket on a route without a session: %d", c)
	}
	tok2 := mustTicket(t, srv)
	// Only where documented: a ticket in the URL is refused, and not spent.
	if c := upgrade(t, srv, "/v1/live/sess-1/captions?ticket="+tok2, venue); c != http.StatusUnauthorized {
		t.Fatalf("ticket in the URL: %d, want 401", c)
	}
	if c := upgradeWith(t, srv, "/v1/live/sess-1/captions", venue, tok2); c != http.StatusOK {
		t.Fatalf("ticket upgrade: %d", c)
	}
	if c := upgradeWith(t, srv, "/v1/live/sess-1/captions", venue, tok2); c != http.StatusUnauthorized {
		t.Fatalf("replay: %d", c)
	}
}

func mustTicket(t *testing.T, srv *httptest.Server) string {
	code, body := post(t, srv, "reader", `{"session_id":"sess-1","scope":"live.read","origin":"https://venue.example"}`)
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, body)
	}
	return body["ticket"].(string)
}

func TestHandlerRefusals(t *testing.T) {
	rec := &audittest.Recorder{}
	h := &Handler{Issuer: newIssuer(t, newClock()), Audit: rec,
		Authorize: func(_ context.Context, p auth.Principal, sid string, _ auth.Scope) error {
			if sid == "someone-elses" {
				return errors.New("not yours")
			}
			return nil
		}}
	srv := server(t, h)
	ok := `{"session_id":"sess-1","scope":"live.read","origin":"https://venue.example"}`
	for _, tc := range []struct {
		name, who, body string
		status          int
		code            string
	}{
		{"anonymous", "", ok, 401, "unauthenticated"},
		{"ticket cannot mint tickets", "ticket", ok, 403, "forbidden"},
		{"scope not held", "reader", `{"session_id":"sess-1","scope":"live.write","origin":"https://venue.example"}`, 403, "forbidden"},
		{"not a live scope", "admin", `{"session_id":"sess-1","scope":"asr.read","origin":"https://venue.example"}`, 400, "bad_request"},
		{"origin not allowed", "reader", `{"session_id":"sess-1","scope":"live.read","origin":"https://evil.example"}`, 400, "bad_request"},
		{"bad session id", "reader", `{"session_id":"../../x","scope":"live.read","origin":"https://venue.example"}`, 400, "bad_request"},
		{"unknown field", "reader", `{"session_id":"sess-1","scope":"live.read","origin":"https://venue.example","ttl":3600}`, 400, "bad_request"},
		{"two objects", "reader", ok + ok, 400, "bad_request"},
		{"not json", "reader", "session_id=sess-1", 400, "bad_request"},
		{"too big", "reader", `{"session_id":"` + strings.Repeat("a", 5000) + `"}`, 413, "payload_too_large"},
		{"duplicate member", "reader", `{"session_id":"sess-1","scope":"live.read","scope":"live.write","origin":"https://venue.example"}`, 400, "bad_request"},
		{"invalid UTF-8", "reader", "{\"session_id\":\"sess-1\xff\",\"scope\":\"live.read\",\"origin\":\"https://venue.example\"}", 400, "bad_request"},
		{"another's session", "reader", `{"session_id":"someone-elses","scope":"live.read","origin":"https://venue.example"}`, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, srv, tc.who, tc.body)
			e, _ := body["error"].(map[string]any)
			if status != tc.status || e == nil || e["code"] != tc.code || e["message"] == "" {
				t.Fatalf("%d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if _, leaked := body["ticket"]; leaked {
				t.Fatal("error response carries a ticket")
			}
		})
	}
	if n := h.Issuer.Outstanding(); n != 0 || len(rec.Events()) != 0 {
		t.Fatalf("refused requests left %d tickets, %d audit events", n, len(rec.Events()))
	}
	// admin holds every scope, so it may get a live.write ticket.
	if status, body := post(t, srv, "admin", `{"session_id":"sess-1","scope":"live.write","origin":"https://venue.example"}`); status != 200 {
		t.Fatalf("admin live.write: %d %v", status, body)
	}
}

// An action that cannot be audited does not happen.
func TestHandlerAuditFailureWithholdsTicket(t *testing.T) {
	rec := &audittest.Recorder{}
	rec.SetFail(true)
	h := &Handler{Issuer: newIssuer(t, newClock()), Audit: rec}
	srv := server(t, h)
	status, body := post(t, srv, "reader", `{"session_id":"sess-1","scope":"live.read","origin":"https://venue.example"}`)
	if status != http.StatusInternalServerError || body["ticket"] != nil {
		t.Fatalf("%d %v", status, body)
	}
	if h.Issuer.Outstanding() != 0 {
		t.Fatal("unaudited ticket still redeemable")
	}
}

func TestHandlerFullIs429(t *testing.T) {
	h := &Handler{Issuer: newIssuer(t, newClock(), func(c *config.Tickets) { c.MaxOutstanding = 1 })}
	srv := server(t, h)
	body := `{"session_id":"sess-1","scope":"live.read","origin":"https://venue.example"}`
	if status, _ := post(t, srv, "reader", body); status != http.StatusOK {
		t.Fatal(status)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/tickets", strings.NewReader(body))
	req.Header.Set("X-Test-Principal", "reader")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
