package ticket

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/clocktest"
)

func TestCheckOrigin(t *testing.T) {
	allowed := []string{"https://venue.example", "http://localhost:3000", "https://[::1]:8443"}
	for _, tc := range []struct {
		origin []string
		ok     bool
	}{
		{[]string{"https://venue.example"}, true},
		{[]string{"https://VENUE.example:443"}, true},
		{[]string{"http://localhost:3000"}, true},
		{[]string{"https://[::1]:8443"}, true},
		{nil, false},
		{[]string{""}, false},
		{[]string{"null"}, false},
		{[]string{"http://venue.example"}, false},
		{[]string{"https://venue.example:8443"}, false},
		{[]string{"https://venue.example.evil.com"}, false},
		{[]string{"https://evil.com/https://venue.example"}, false},
		{[]string{"https://sub.venue.example"}, false},
		{[]string{"http://localhost:3001"}, false},
		{[]string{"https://venue.example", "https://venue.example"}, false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		for _, o := range tc.origin {
			r.Header.Add("Origin", o)
		}
		if got := CheckOrigin(r, allowed); got != tc.ok {
			t.Errorf("Origin %q: %v, want %v", tc.origin, got, tc.ok)
		}
	}
	is := newIssuer(t, newClock())
	r := httptest.NewRequest(http.MethodGet, "/ws", nil)
	r.Header.Set("Origin", "https://venue.example")
	if !is.CheckOrigin(r) {
		t.Fatal("Issuer.CheckOrigin refused an allowed origin")
	}
}

func TestRedactURL(t *testing.T) {
	is := newIssuer(t, newClock())
	got, _ := is.Issue(context.Background(), grant())
	r := httptest.NewRequest(http.MethodGet, "/v1/live/s/captions?ticket="+got.Ticket+"&lang=en", nil)
	s := RedactURL(r.URL)
	if strings.Contains(s, got.Ticket) || !strings.Contains(s, "ticket=REDACTED") || !strings.Contains(s, "lang=en") {
		t.Fatal(s)
	}
}

// A browser can offer the ticket as a WebSocket subprotocol instead of in
// the URL; the authenticator takes it out of the header it leaves behind.
func TestSubprotocolTicket(t *testing.T) {
	clk := newClock()
	is := newIssuer(t, clk)
	a := NewAuthenticator(is)
	req := func(protos, query string) (*http.Request, error) {
		r := httptest.NewRequest(http.MethodGet, "/v1/live/sess-1/captions"+query, nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Origin", venue)
		r.Header.Set("Sec-WebSocket-Protocol", protos)
		r.SetPathValue("session_id", "sess-1")
		_, err := a.Authenticate(r)
		return r, err
	}
	got, _ := is.Issue(context.Background(), grant())
	r, err := req("chat.v1, "+Subprotocol+", "+got.Ticket, "")
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Header.Get("Sec-WebSocket-Protocol"); h != Subprotocol+", chat.v1" {
		t.Fatalf("protocol header left as %q", h)
	}
	if _, err := req(Subprotocol+", "+got.Ticket, ""); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("replay via subprotocol: %v", err)
	}
	if _, err := req(Subprotocol, ""); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("subprotocol without a ticket: %v", err)
	}
	t1, _ := is.Issue(context.Background(), grant())
	t2, _ := is.Issue(context.Background(), grant())
	if _, err := req(Subprotocol+", "+t1.Ticket, "?ticket="+t2.Ticket); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("two tickets: %v", err)
	}
	if _, err := req("chat.v1", ""); !errors.Is(err, auth.ErrNoCredentials) {
		t.Fatalf("no ticket offered: %v", err)
	}
}

// Routes may name the session wildcard {session_id} or {id}.
func TestSessionWildcardNames(t *testing.T) {
	is := newIssuer(t, newClock())
	a := NewAuthenticator(is)
	for _, pattern := range []string{"GET /v1/live/{id}/captions", "GET /v1/live/{session_id}/captions"} {
		got, _ := is.Issue(context.Background(), grant())
		var err error
		mux := http.NewServeMux()
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { _, err = a.Authenticate(r) })
		r := httptest.NewRequest(http.MethodGet, "/v1/live/sess-1/captions", nil)
		r.Header.Set("Sec-WebSocket-Protocol", Subprotocol+", "+got.Ticket)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Origin", venue)
		mux.ServeHTTP(httptest.NewRecorder(), r)
		if err != nil {
			t.Fatalf("%s: %v", pattern, err)
		}
	}
}

// Pages the server serves itself may open its WebSockets without an
// allow-list entry; a page elsewhere may not, whatever Host it targets.
func TestSameOrigin(t *testing.T) {
	is := newIssuer(t, clocktest.New(time.Now()))
	for _, tc := range []struct {
		host, origin string
		tls, ok      bool
	}{
		{"izwi.local:8080", "http://izwi.local:8080", false, true},
		{"IZWI.local:8080", "http://izwi.local:8080", false, true},
		{"izwi.local", "https://izwi.local:443", true, true},
		{"izwi.local:8080", "https://izwi.local:8080", false, false}, // scheme differs
		{"izwi.local:8080", "http://evil.example", false, false},
		{"izwi.local:8080", "http://izwi.local:8081", false, false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.Host = tc.host
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		r.Header.Set("Origin", tc.origin)
		if got := is.CheckOrigin(r); got != tc.ok {
			t.Errorf("Host %s Origin %s: %v, want %v", tc.host, tc.origin, got, tc.ok)
		}
	}
	ctx := context.Background()
	g := Grant{Subject: "key:a", SessionID: "s1", Scope: auth.ScopeLiveRead, Origin: "http://izwi.local:8080"}
	if _, err := is.Issue(ctx, g); !errors.Is(err, ErrBadGrant) {
		t.Fatalf("an unlisted origin without SameOrigin: %v", err)
	}
	g.SameOrigin = true
	iss, err := is.Issue(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Redeem(iss.Ticket, "s1", "http://evil.example"); err == nil {
		t.Fatal("a same-origin ticket redeemed from another origin")
	}
}
