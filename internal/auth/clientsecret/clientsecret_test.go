package clientsecret

import (
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var minter = auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1",
	Scopes: []auth.Scope{auth.ScopeASRRead, auth.ScopeChatRead, auth.ScopeLiveWrite}}

func redeemAt(a *Authenticator, method, path, tok string) (auth.Principal, error) {
	r := httptest.NewRequest(method, path, nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return a.Authenticate(r)
}

// A secret opens one call: the minter's subject, the call's scopes only,
// its session once; a second use, another route, expiry and the minter's
// revocation refuse it.
func TestMintRedeem(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	st := New(3, c.now)
	a := &Authenticator{Store: st}
	m, err := st.Mint(minter, 0, []byte(`{"type":"realtime"}`))
	if err != nil || !WellFormed(m.Value) || !m.ExpiresAt.Equal(c.now().Add(DefaultTTL)) || strings.Contains(m.ID, m.Value[3:10]) {
		t.Fatalf("mint: %+v %v", m, err)
	}
	if _, err := redeemAt(a, "POST", "/v1/audio/transcriptions", m.Value); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("a secret on another route: %v", err)
	}
	if _, err := redeemAt(a, "POST", "/v1/realtime/calls", "izk_not_a_secret"); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("a key is not a secret: %v", err)
	}
	p, err := redeemAt(a, "POST", "/v1/realtime/calls", m.Value)
	if err != nil || p.Kind != Kind || p.Subject != "key:k1" || KeyID(p) != "k1" || p.Has(auth.ScopeLiveWrite) || !p.Has(auth.ScopeChatRead) {
		t.Fatalf("redeemed %+v %v", p, err)
	}
	if got := st.Session(p); string(got) != `{"type":"realtime"}` || st.Session(p) != nil {
		t.Errorf("session %q, then again", got)
	}
	if _, err := redeemAt(a, "POST", "/v1/realtime", m.Value); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("a second use: %v", err)
	}

	old, _ := st.Mint(minter, MinTTL, nil)
	c.add(MinTTL)
	if _, err := st.Redeem(old.Value); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	gone, _ := st.Mint(minter, 0, nil)
	other, _ := st.Mint(auth.Principal{Kind: auth.KindJWT, ID: "iss#sub", Subject: "jwt:iss#sub", Scopes: minter.Scopes}, 0, nil)
	st.RevokeSubject("key:k1")
	if _, err := st.Redeem(gone.Value); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("the minter revoked: %v", err)
	}
	if p, err := st.Redeem(other.Value); err != nil || KeyID(p) != "" {
		t.Errorf("another subject's secret: %+v %v", p, err)
	}
	for _, ttl := range []time.Duration{time.Second, MaxTTL + time.Second} {
		if _, err := st.Mint(minter, ttl, nil); !errors.Is(err, ErrTTL) {
			t.Errorf("ttl %v: %v", ttl, err)
		}
	}
	for range 3 {
		_, err = st.Mint(minter, 0, nil)
	}
	if !errors.Is(err, ErrFull) {
		t.Errorf("over the bound: %v", err)
	}
}

func FuzzRedeem(f *testing.F) {
	st := New(0, nil)
	m, _ := st.Mint(minter, 0, nil)
	f.Add(m.Value)
	f.Add("ek_")
	f.Add("ek_" + strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := st.Redeem(s); err == nil && s != m.Value {
			t.Fatalf("redeemed %q", s)
		}
	})
}
