package ticket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/config"
)

func newClock() *clocktest.Clock { return clocktest.New(time.Unix(1_900_000_000, 0)) }

const venue = "https://venue.example"

func newIssuer(t testing.TB, clk *clocktest.Clock, mut ...func(*config.Tickets)) *Issuer {
	t.Helper()
	cfg := config.Tickets{AllowedOrigins: []string{venue, "http://localhost:3000"}}
	for _, m := range mut {
		m(&cfg)
	}
	is, err := NewIssuer(cfg, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func grant() Grant {
	return Grant{Subject: "key:k1", SessionID: "sess-1", Scope: auth.ScopeLiveRead, Origin: venue}
}

// wsRequest is a WebSocket upgrade to the session's captions route, routed
// through a real ServeMux so {session_id} is set.
func wsRequest(t testing.TB, a *Authenticator, session, tok, origin string, ws bool) (auth.Principal, error, *http.Request) {
	t.Helper()
	var p auth.Principal
	var err error
	var seen *http.Request
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/live/{session_id}/captions", func(w http.ResponseWriter, r *http.Request) {
		p, err = a.Authenticate(r)
		seen = r
	})
	r := httptest.NewRequest(http.MethodGet, "/v1/live/"+session+"/captions?lang=en", nil)
	if tok != "" {
		r.Header.Set("Sec-WebSocket-Protocol", Subprotocol+", "+tok)
	}
	if ws {
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
	}
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	mux.ServeHTTP(httptest.NewRecorder(), r)
	if seen == nil {
		t.Fatal("route not reached")
	}
	return p, err, seen
}

func TestRedeemOnceBindsEverything(t *testing.T) {
	clk := newClock()
	is := newIssuer(t, clk)
	a := NewAuthenticator(is)
	got, err := is.Issue(context.Background(), grant())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Ticket, Prefix) || len(got.Ticket) != ticketLen || !got.ExpiresAt.Equal(clk.Now().Add(30*time.Second)) {
		t.Fatalf("issued %d-byte ticket expiring %v", len(got.Ticket), got.ExpiresAt)
	}
	p, err, seen := wsRequest(t, a, "sess-1", got.Ticket, venue, true)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Principal{Kind: auth.KindTicket, ID: got.ID, Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeLiveRead},
		Expires: got.ExpiresAt, SessionID: "sess-1", Origin: venue}
	if p.Kind != want.Kind || p.ID != want.ID || p.Subject != want.Subject || len(p.Scopes) != 1 || p.Scopes[0] != auth.ScopeLiveRead ||
		!p.Expires.Equal(want.Expires) || p.SessionID != want.SessionID || p.Origin != want.Origin {
		t.Fatalf("principal %+v", p)
	}
	if p.Has(auth.ScopeLiveWrite) {
		t.Fatal("live.read ticket grants live.write")
	}
	// The ticket is scrubbed from the request so nothing downstream logs it.
	if strings.Contains(seen.URL.String(), got.Ticket) || strings.Contains(seen.RequestURI, got.Ticket) || seen.URL.Query().Get("lang") != "en" {
		t.Fatalf("ticket left in %q / %q", seen.URL, seen.RequestURI)
	}
	// Replay → 401.
	if _, err, _ := wsRequest(t, a, "sess-1", got.Ticket, venue, true); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("replay: %v", err)
	}
	if is.Outstanding() != 0 {
		t.Fatal("redeemed ticket still held")
	}
}

func TestRedeemRefusals(t *testing.T) {
	clk := newClock()
	is := newIssuer(t, clk)
	a := NewAuthenticator(is)
	issue := func(g Grant) string {
		got, err := is.Issue(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		return got.Ticket
	}
	cases := []struct {
		name            string
		session, origin string
		ws              bool
		tok             func() string
		want            error
	}{
		{"wrong origin", "sess-1", "https://evil.example", true, func() string { return issue(grant()) }, auth.ErrInvalidCredentials},
		{"origin other port", "sess-1", venue + ":8443", true, func() string { return issue(grant()) }, auth.ErrInvalidCredentials},
		{"origin http", "sess-1", "http://venue.example", true, func() string { return issue(grant()) }, auth.ErrInvalidCredentials},
		{"no origin", "sess-1", "", true, func() string { return issue(grant()) }, auth.ErrInvalidCredentials},
		{"wrong session", "sess-2", venue, true, func() string { return issue(grant()) }, auth.ErrInvalidCredentials},
		{"not a websocket", "sess-1", venue, false, func() string { return issue(grant()) }, auth.ErrInvalidCredentials},
		{"api key as ticket", "sess-1", venue, true, func() string { return "izk_" + strings.Repeat("A", 43) }, auth.ErrInvalidCredentials},
		{"forged ticket", "sess-1", venue, true, func() string { return Prefix + strings.Repeat("A", 43) }, auth.ErrInvalidCredentials},
		{"truncated", "sess-1", venue, true, func() string { return issue(grant())[:20] }, auth.ErrInvalidCredentials},
		{"empty", "sess-1", venue, true, func() string { return "" }, auth.ErrInvalidCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.tok()
			_, err, _ := wsRequest(t, a, tc.session, tok, tc.origin, tc.ws)
			if tok == "" { // ?ticket= with an empty value
				_, err, _ = wsRequestRaw(t, a, "/v1/live/sess-1/captions?ticket=", venue)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "ticket="+tok) || (len(tok) > 8 && strings.Contains(err.Error(), tok[4:])) {
				t.Fatalf("error leaks the ticket: %v", err)
			}
		})
	}
}

func wsRequestRaw(t testing.TB, a *Authenticator, url, origin string) (auth.Principal, error, *http.Request) {
	r := httptest.NewRequest(http.MethodGet, url, nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Origin", origin)
	r.SetPathValue("session_id", "sess-1")
	p, err := a.Authenticate(r)
	return p, err, r
}

// A wrong guess burns the ticket: a thief cannot try origins or sessions.
func TestFailedPresentationConsumes(t *testing.T) {
	clk := newClock()
	is := newIssuer(t, clk)
	a := NewAuthenticator(is)
	got, _ := is.Issue(context.Background(), grant())
	if _, err, _ := wsRequest(t, a, "sess-1", got.Ticket, "https://evil.example", true); err == nil {
		t.Fatal("wrong origin accepted")
	}
	if _, err, _ := wsRequest(t, a, "sess-1", got.Ticket, venue, true); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("ticket survived a failed presentation: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	clk := newClock()
	is := newIssuer(t, clk, func(c *config.Tickets) { c.TTL = config.Duration(20 * time.Second) })
	a := NewAuthenticator(is)
	g := grant()
	long, _ := is.Issue(context.Background(), g)
	g.TTL = 5 * time.Second // a caller may shorten, never lengthen
	short, _ := is.Issue(context.Background(), g)
	g.TTL = time.Hour
	capped, _ := is.Issue(context.Background(), g)
	if !capped.ExpiresAt.Equal(clk.Now().Add(20 * time.Second)) {
		t.Fatalf("TTL not capped: %v", capped.ExpiresAt)
	}
	clk.Advance(5 * time.Second)
	if _, err, _ := wsRequest(t, a, "sess-1", short.Ticket, venue, true); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("short ticket at its expiry: %v", err)
	}
	clk.Advance(14 * time.Second)
	if _, err, _ := wsRequest(t, a, "sess-1", long.Ticket, venue, true); err != nil {
		t.Fatalf("ticket 1s before expiry: %v", err)
	}
	clk.Advance(time.Second)
	if _, err, _ := wsRequest(t, a, "sess-1", capped.Ticket, venue, true); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("expired ticket: %v", err)
	}
}

func TestTTLAboveSixtySecondsRefused(t *testing.T) {
	if _, err := NewIssuer(config.Tickets{TTL: config.Duration(61 * time.Second)}, nil, nil); err == nil {
		t.Fatal("61s TTL accepted")
	}
}

// 50 goroutines present one ticket at once: exactly one gets in.
func TestConcurrentRedeemExactlyOnce(t *testing.T) {
	clk := newClock()
	is := newIssuer(t, clk)
	a := NewAuthenticator(is)
	for round := range 20 {
		got, _ := is.Issue(context.Background(), grant())
		var ok, denied atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err, _ := wsRequest(t, a, "sess-1", got.Ticket, venue, true); err == nil {
					ok.Add(1)
				} else if errors.Is(err, auth.ErrInvalidCredentials) {
					denied.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != 1 || denied.Load() != 49 {
			t.Fatalf("round %d: %d succeeded, %d denied", round, ok.Load(), denied.Load())
		}
	}
}

func TestIssueRefusals(t *testing.T) {
	clk := newClock()
	is := newIssuer(t, clk)
	for name, mut := range map[string]func(*Grant){
		"origin not allowed": func(g *Grant) { g.Origin = "https://evil.example" },
		"origin malformed":   func(g *Grant) { g.Origin = "venue.example" },
		"scope asr":          func(g *Grant) { g.Scope = auth.ScopeASRRead },
		"scope admin":        func(g *Grant) { g.Scope = auth.ScopeAdmin },
		"no subject":         func(g *Grant) { g.Subject = "" },
		"bad session":        func(g *Grant) { g.SessionID = "../x" },
		"empty session":      func(g *Grant) { g.SessionID = "" },
	} {
		g := grant()
		mut(&g)
		if _, err := is.Issue(context.Background(), g); !errors.Is(err, ErrBadGrant) {
			t.Errorf("%s: %v", name, err)
		}
	}
	g := grant()
	g.Origin = "HTTPS://Venue.Example:443/" // normalised to the allowed origin
	if _, err := is.Issue(context.Background(), g); err != nil {
		t.Fatal(err)
	}
}

func TestBoundedAndSwept(t *testing.T) {
	clk := newClock()
	is := newIssuer(t, clk, func(c *config.Tickets) { c.MaxOutstanding = 10 })
	for range 10 {
		if _, err := is.Issue(context.Background(), grant()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := is.Issue(context.Background(), grant()); !errors.Is(err, ErrFull) {
		t.Fatalf("11th ticket: %v", err)
	}
	clk.Advance(30 * time.Second) // all expired: the next issue sweeps them
	if _, err := is.Issue(context.Background(), grant()); err != nil {
		t.Fatal(err)
	}
	if n := is.Outstanding(); n != 1 {
		t.Fatalf("%d outstanding after sweep", n)
	}
}

func TestUniqueAndHighEntropy(t *testing.T) {
	is := newIssuer(t, newClock(), func(c *config.Tickets) { c.MaxOutstanding = 5000 })
	seen := map[string]bool{}
	for range 2000 {
		got, err := is.Issue(context.Background(), grant())
		if err != nil {
			t.Fatal(err)
		}
		if seen[got.Ticket] || seen[got.ID] {
			t.Fatal("duplicate ticket or id")
		}
		seen[got.Ticket], seen[got.ID] = true, true
		if strings.Contains(got.Ticket, got.ID[4:]) {
			t.Fatal("public id derived visibly from the ticket text")
		}
	}
}

// Revoking a key drops the tickets issued on its behalf.
func TestRevokeSubject(t *testing.T) {
	is := newIssuer(t, newClock())
	a := NewAuthenticator(is)
	mine, _ := is.Issue(context.Background(), grant())
	g := grant()
	g.Subject = "key:other"
	theirs, _ := is.Issue(context.Background(), g)
	if n := is.RevokeSubject("key:k1"); n != 1 {
		t.Fatalf("revoked %d", n)
	}
	if _, err, _ := wsRequest(t, a, "sess-1", mine.Ticket, venue, true); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("revoked subject's ticket: %v", err)
	}
	if _, err, _ := wsRequest(t, a, "sess-1", theirs.Ticket, venue, true); err != nil {
		t.Fatalf("other subject's ticket: %v", err)
	}
}
