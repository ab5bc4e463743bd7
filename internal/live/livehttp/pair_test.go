package livehttp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
)

// TestMicTicket: a console pairing code buys one live.write ticket for its
// one session, from the origin it was issued for, once; the idle session
// starts; a used, foreign or made-up code is refused and throttled.
func TestMicTicket(t *testing.T) {
	pairs := ticket.NewPairingIssuer(10*time.Minute, 0, nil, nil)
	hs := newHarness(t, harnessOpts{mutate: func(o *Options) { o.Pairings = pairs }})
	s := hs.create("alice", map[string]any{"label": "Mic room"})
	other := hs.create("alice", map[string]any{"label": "Other"})
	origin := hs.srv.URL
	issue := func(id string) string {
		iss, err := pairs.Issue(t.Context(), ticket.Grant{Subject: "session:" + id, SessionID: id, Scope: auth.ScopeLiveWrite,
			Origin: origin, SameOrigin: true})
		if err != nil {
			t.Fatal(err)
		}
		return iss.Ticket
	}
	exchange := func(id, code string) (int, ticket.Response) {
		b, _ := json.Marshal(micTicketRequest{Code: code, Origin: origin})
		req, _ := http.NewRequestWithContext(t.Context(), "POST", hs.srv.URL+"/v1/sessions/"+id+"/mic-ticket", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out ticket.Response
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code := issue(s.ID)
	status, got := exchange(s.ID, code)
	if status != http.StatusOK || !ticket.WellFormed(got.Ticket) {
		t.Fatalf("exchange: %d %+v", status, got)
	}
	if info, _ := hs.fake.Get(t.Context(), "", s.ID); info.State != live.Live {
		t.Fatalf("the paired session did not start: %s", info.State)
	}
	p, err := hs.tickets.Redeem(got.Ticket, s.ID, origin)
	if err != nil || !p.Has(auth.ScopeLiveWrite) || p.SessionID != s.ID {
		t.Fatalf("the ticket bought is not live.write on the session: %+v %v", p, err)
	}
	if status, _ := exchange(s.ID, code); status != http.StatusUnauthorized {
		t.Fatalf("a used code: %d, want 401", status)
	}
	if status, _ := exchange(other.ID, issue(s.ID)); status != http.StatusUnauthorized {
		t.Fatalf("a code for another session: %d, want 401", status)
	}
	if status, _ := exchange(s.ID, "izt_"+string(bytes.Repeat([]byte("A"), 43))); status != http.StatusUnauthorized {
		t.Fatalf("a made-up code: %d, want 401", status)
	}
	if status, _ := exchange(s.ID, "not a code"); status != http.StatusBadRequest {
		t.Fatalf("a malformed code: %d, want 400", status)
	}
	if n := hs.fails.Load(); n != 3 {
		t.Fatalf("failed pairings spent %d of the failure budget, want 3", n)
	}
}
