package ticket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/auth"
)

// FuzzTicket presents arbitrary ticket values, origins and session ids on
// WebSocket upgrades: nothing panics, nothing but an issued ticket is ever
// accepted, and the value never survives in the request URL.
func FuzzTicket(f *testing.F) {
	f.Add("izt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "https://venue.example", "sess-1", "")
	f.Add("izk_live_abc", "null", "", "izwi-ticket")
	f.Add("", "https://venue.example:443/", "../..", "izwi-ticket, izt_x, chat")
	f.Add("izt_%00", "HTTPS://VENUE.EXAMPLE", "sess-1", ",,izwi-ticket,")
	f.Add("izt_"+string(make([]byte, 43)), "http://[::1]:0", "a", "token, izk_abc")
	is := newIssuer(f, newClock())
	real, err := is.Issue(context.Background(), grant())
	if err != nil {
		f.Fatal(err)
	}
	a := NewAuthenticator(is)
	f.Fuzz(func(t *testing.T, tok, origin, session, protos string) {
		r := httptest.NewRequest(http.MethodGet, "/v1/live/x/captions", nil)
		r.URL.RawQuery = url.Values{QueryParam: {tok}}.Encode()
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Origin", origin)
		r.SetPathValue("session_id", session)
		if protos != "" {
			r.Header.Set("Sec-WebSocket-Protocol", protos)
		}
		offered := false
		for _, p := range strings.Split(protos, ",") {
			offered = offered || strings.TrimSpace(p) == Subprotocol
		}
		p, err := a.Authenticate(r)
		if err == nil {
			if tok != real.Ticket {
				t.Fatalf("accepted %q as %+v", tok, p)
			}
			return
		}
		if !errors.Is(err, auth.ErrInvalidCredentials) && !errors.Is(err, auth.ErrExpired) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		if r.URL.Query().Has(QueryParam) {
			t.Fatal("ticket left in the URL")
		}
		if offered && strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), Prefix) {
			t.Fatalf("ticket left in Sec-WebSocket-Protocol: %q", r.Header.Get("Sec-WebSocket-Protocol"))
		}
		_ = WellFormed(tok)
		_ = CheckOrigin(r, []string{origin, "https://venue.example"})
	})
}

// BenchmarkIssueRedeem measures one ticket's issue plus redemption.
func BenchmarkIssueRedeem(b *testing.B) {
	is := newIssuer(b, newClock())
	g := grant()
	for b.Loop() {
		t, err := is.Issue(context.Background(), g)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := is.Redeem(t.Ticket, g.SessionID, g.Origin); err != nil {
			b.Fatal(err)
		}
	}
}
