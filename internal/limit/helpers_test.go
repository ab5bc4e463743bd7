package limit

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

func newClock(t time.Time) *clocktest.Clock { return clocktest.New(t) }

// noon is a fixed instant well inside a UTC day.
var noon = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func key(id string) auth.Principal {
	return auth.Principal{Kind: auth.KindAPIKey, ID: id, Subject: "key:" + id, Scopes: []auth.Scope{auth.ScopeASRRead}}
}

// newLimiter builds a Limiter closed at the end of the test.
func newLimiter(t testing.TB, opts Options) *Limiter {
	t.Helper()
	l, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return l
}

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	if path == "" {
		path = storetest.Database(t)
	}
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// withTestPrincipal stands in for the authentication middleware: the
// subject comes from a test header (never from real credentials).
func withTestPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("X-Test-Key"); id != "" {
			r = r.WithContext(auth.WithPrincipal(r.Context(), key(id)))
		}
		next.ServeHTTP(w, r)
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
