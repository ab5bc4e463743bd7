package limit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
)

func TestFailureLimiter(t *testing.T) {
	clock := newClock(noon)
	f := NewFailureLimiter(FailureOptions{PerMinute: 5, MaxClients: 100, Now: clock.Now})
	// A stand-in gateway: "bad" credentials fail and are recorded.
	h := f.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "bad" {
			f.Fail(r)
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200)
	}))
	do := func(remote, authz string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.RemoteAddr = remote
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// Successes cost nothing.
	for range 100 {
		if c := do("10.0.0.1:1", "").Code; c != 200 {
			t.Fatalf("good request %d", c)
		}
	}
	for i := range 5 {
		if c := do("10.0.0.1:1", "bad").Code; c != 401 {
			t.Fatalf("failure %d answered %d", i, c)
		}
	}
	w := do("10.0.0.1:2", "")
	if w.Code != 429 || w.Header().Get("Retry-After") != "12" || errCodeOf(t, w) != CodeRateLimited {
		t.Fatalf("after the budget: %d Retry-After %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if c := do("10.0.0.2:1", "").Code; c != 200 {
		t.Fatalf("another client blocked: %d", c)
	}
	clock.Advance(12 * time.Second)
	if c := do("10.0.0.1:1", "bad").Code; c != 401 {
		t.Fatalf("after one refill: %d", c)
	}
	if c := do("10.0.0.1:1", "").Code; c != 429 {
		t.Fatalf("budget not spent again: %d", c)
	}

	// IPv6: one /64 shares a budget; mapped IPv4 is the IPv4 client.
	for range 5 {
		do("[2001:db8::1]:1", "bad")
	}
	if c := do("[2001:db8::ffff]:1", "").Code; c != 429 {
		t.Fatalf("same /64 not throttled: %d", c)
	}
	if c := do("[2001:db8:0:1::1]:1", "").Code; c != 200 {
		t.Fatalf("other /64 throttled: %d", c)
	}
	if c := do("[::ffff:10.0.0.1]:1", "").Code; c != 429 {
		t.Fatalf("mapped form escaped the IPv4 budget: %d", c)
	}

	// Memory stays bounded under a spray of addresses.
	for i := range 1000 {
		do("192.0."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250)+":1", "bad")
	}
	if n := f.Clients(); n > 100 {
		t.Fatalf("%d clients tracked, cap 100", n)
	}

	// Disabled: a no-op.
	off := NewFailureLimiter(FailureOptions{})
	r := httptest.NewRequest("GET", "/", nil)
	for range 1000 {
		off.Fail(r)
	}
	if off.Clients() != 0 {
		t.Fatal("disabled limiter tracks clients")
	}
}

func errCodeOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	return errCode(t, w.Body.Bytes())
}

type recorded struct{ events []audit.Event }

func (r *recorded) Record(_ context.Context, e audit.Event) error {
	r.events = append(r.events, e)
	return nil
}

// Wrapping the audit recorder charges audited authentication failures
// without any change to the gateway.
func TestFailureRecorder(t *testing.T) {
	clock := newClock(noon)
	f := NewFailureLimiter(FailureOptions{PerMinute: 2, Now: clock.Now})
	inner := &recorded{}
	rec := f.Recorder(inner)
	ctx := context.Background()
	for _, e := range []audit.Event{
		{Action: "auth.forbidden", RemoteIP: "10.0.0.9"}, // a scope refusal is not a failed login
		{Action: "auth.failure", RemoteIP: "not an ip"},
		{Action: "auth.failure", RemoteIP: "10.0.0.9"},
		{Action: "auth.failure", RemoteIP: "10.0.0.9"},
	} {
		if err := rec.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if len(inner.events) != 4 {
		t.Fatalf("%d events passed through", len(inner.events))
	}
	h := f.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for remote, want := range map[string]int{"10.0.0.9:1": 429, "10.0.0.8:1": 200} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", remote, w.Code, want)
		}
	}
}

// After 30 bad tokens from one address, a valid key from that address
// still works (the review saw it refused: one guesser behind a NAT locked
// everyone out); requests without credentials are refused, and the
// further failures are counted, not audited.
func TestThrottleKeepsValidCredentials(t *testing.T) {
	clock := newClock(noon)
	f := NewFailureLimiter(FailureOptions{PerMinute: 5, Now: clock.Now})
	inner := &recorded{}
	rec := f.Recorder(inner)
	h := f.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			w.WriteHeader(200)
		case "":
			w.WriteHeader(200) // a public route
		default:
			_ = rec.Record(r.Context(), audit.Event{Action: "auth.failure", RemoteIP: "10.0.0.1"})
			w.WriteHeader(401)
		}
	}))
	do := func(authz string) int {
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.RemoteAddr = "10.0.0.1:1"
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for range 30 {
		if c := do("Bearer bad"); c != 401 {
			t.Fatalf("bad token: %d", c)
		}
	}
	if c := do("Bearer good"); c != 200 {
		t.Errorf("a valid key from a throttled address: %d, want 200", c)
	}
	if c := do(""); c != 429 {
		t.Errorf("no credentials from a throttled address: %d, want 429", c)
	}
	if len(inner.events) != 5 || f.Suppressed() != 25 {
		t.Errorf("%d failures audited, %d suppressed; want 5 and 25", len(inner.events), f.Suppressed())
	}
}
