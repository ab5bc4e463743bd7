package auth

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

type fixture struct {
	ks      *KeyStore
	audit   *audittest.Recorder
	clock   *clocktest.Clock
	st      *store.Store
	revoked []string // subjects OnRevoke reported
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := &audittest.Recorder{}
	clock := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	pepper := []byte(strings.Repeat("p", 32))
	f := fixture{audit: rec, clock: clock, st: st}
	ks, err := NewKeyStore(ctx, st, KeyStoreConfig{Pepper: pepper, Audit: rec, Now: clock.Now,
		OnRevoke: func(s string) { f.revoked = append(f.revoked, s) }})
	if err != nil {
		t.Fatal(err)
	}
	f.ks = ks
	return &f
}

func cli() Actor { return Actor{ID: "cli"} }

func TestCreateVerifyList(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	k, secret, err := f.ks.Create(ctx, cli(), KeySpec{Name: "captions", Scopes: []Scope{ScopeLiveRead, ScopeASRRead, ScopeLiveRead},
		Allow: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}, Limits: []byte(`{"rps":5}`)})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := ParseKey(secret)
	if err != nil || id != k.ID || !strings.HasPrefix(secret, "izk_"+k.ID+"_") {
		t.Fatalf("key %q for id %s: %v", secret[:16], k.ID, err)
	}
	got, err := f.ks.Verify(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID || len(got.Scopes) != 2 || got.Allow[0].String() != "10.0.0.0/8" || string(got.Limits) != `{"rps":5}` ||
		got.LastUsed.IsZero() {
		t.Fatalf("verified key = %+v", got)
	}
	p := got.Principal()
	if p.Kind != KindAPIKey || p.Subject != "key:"+k.ID || !p.Has(ScopeASRRead) || p.Has(ScopeAdmin) {
		t.Fatalf("principal = %+v", p)
	}
	keys, err := f.ks.List(ctx)
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("list = %+v, %v", keys, err)
	}
	// The database holds no secret, only the HMAC.
	var hash []byte
	var name string
	if err := f.st.QueryRowContext(ctx, `SELECT hash, name FROM auth_keys`).Scan(&hash, &name); err != nil {
		t.Fatal(err)
	}
	if tail := secret[len(secret)-52:]; bytes.Contains(hash, []byte(tail)) || strings.Contains(name, tail) {
		t.Fatal("secret found in the database")
	}
	pol, err := f.ks.Policy(ctx, k.ID)
	if err != nil || len(pol.Allow) != 1 || string(pol.Limits) != `{"rps":5}` {
		t.Fatalf("policy = %+v, %v", pol, err)
	}
	if a := actions(f.audit); len(a) != 1 || a[0] != "key.create key:"+k.ID+" ok" {
		t.Fatalf("audit = %v", a)
	}
}

func TestVerifyFailures(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	k, secret, err := f.ks.Create(ctx, cli(), KeySpec{Name: "a", Scopes: []Scope{ScopeTTSRead}, Expires: f.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := f.ks.Create(ctx, cli(), KeySpec{Name: "b", Scopes: []Scope{ScopeTTSRead}})
	otherID, otherSecret, _ := ParseKey(other)
	for _, tc := range []struct {
		name, key, actor, reason string
		is                       error
	}{
		{"malformed", "izk_nope", "anonymous", "malformed", ErrInvalidCredentials},
		{"unknown id", FormatKey("aaaaaaaaaaaa", newKeySecret()), "anonymous", "unknown_key", ErrInvalidCredentials},
		{"wrong secret", FormatKey(k.ID, newKeySecret()), "key:" + k.ID, "bad_secret", ErrInvalidCredentials},
		{"another key's secret", FormatKey(k.ID, otherSecret), "key:" + k.ID, "bad_secret", ErrInvalidCredentials},
		{"swapped id", FormatKey(otherID, secret[len(secret)-52:]), "key:" + otherID, "bad_secret", ErrInvalidCredentials},
	} {
		_, err := f.ks.Verify(ctx, tc.key)
		actor, reason := FailureOf(err)
		if !errors.Is(err, tc.is) || actor != tc.actor || reason != tc.reason {
			t.Errorf("%s: %v (%s, %s)", tc.name, err, actor, reason)
		}
		if err != nil && strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: error echoes the key", tc.name)
		}
	}
	f.clock.Advance(time.Hour)
	if _, err := f.ks.Verify(ctx, secret); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired key: %v", err)
	}
}

// Revocation applies to the very next Verify: nothing is cached.
func TestRevokeNextRequest(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	k, secret, _ := f.ks.Create(ctx, cli(), KeySpec{Name: "a", Scopes: []Scope{ScopeASRRead}})
	if _, err := f.ks.Verify(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := f.ks.Revoke(ctx, cli(), k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ks.Verify(ctx, secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked key verified: %v", err)
	}
	if len(f.revoked) != 1 || f.revoked[0] != k.Subject() {
		t.Fatalf("OnRevoke saw %v", f.revoked)
	}
	if err := f.ks.Revoke(ctx, cli(), "aaaaaaaaaaaa"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("revoking an unknown id: %v", err)
	}
}

func TestRotate(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	k, secret, _ := f.ks.Create(ctx, cli(), KeySpec{Name: "a", Scopes: []Scope{ScopeASRRead, ScopeTTSRead}})
	nk, nsecret, err := f.ks.Rotate(ctx, cli(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if nk.ID == k.ID || nk.Lineage != k.ID || nk.Subject() != k.Subject() || len(nk.Scopes) != 2 {
		t.Fatalf("rotated = %+v", nk)
	}
	if _, err := f.ks.Verify(ctx, secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("old key after rotate: %v", err)
	}
	if _, err := f.ks.Verify(ctx, nsecret); err != nil {
		t.Fatalf("new key: %v", err)
	}
	old, _ := f.ks.Get(ctx, k.ID)
	if old.RotatedTo != nk.ID {
		t.Fatalf("old.RotatedTo = %q", old.RotatedTo)
	}
	if _, _, err := f.ks.Rotate(ctx, cli(), k.ID); err == nil {
		t.Fatal("rotated a revoked key")
	}
}

// An action that cannot be audited does not happen.
func TestAuditFailureBlocksChange(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	k, secret, _ := f.ks.Create(ctx, cli(), KeySpec{Name: "a", Scopes: []Scope{ScopeASRRead}})
	f.audit.SetFail(true)
	if _, _, err := f.ks.Create(ctx, cli(), KeySpec{Name: "b", Scopes: []Scope{ScopeASRRead}}); err == nil {
		t.Fatal("created a key without an audit record")
	}
	if err := f.ks.Revoke(ctx, cli(), k.ID); err == nil {
		t.Fatal("revoked without an audit record")
	}
	if _, _, err := f.ks.Rotate(ctx, cli(), k.ID); err == nil {
		t.Fatal("rotated without an audit record")
	}
	f.audit.SetFail(false)
	if keys, _ := f.ks.List(ctx); len(keys) != 1 {
		t.Fatalf("%d keys after refused changes", len(keys))
	}
	if _, err := f.ks.Verify(ctx, secret); err != nil {
		t.Fatalf("key changed by a refused revoke: %v", err)
	}
}

func TestSpecValidation(t *testing.T) {
	f, ctx := newFixture(t), context.Background()
	for _, spec := range []KeySpec{
		{Name: "", Scopes: []Scope{ScopeASRRead}},
		{Name: "x", Scopes: nil},
		{Name: "x", Scopes: []Scope{"root"}},
		{Name: "bad\nname", Scopes: []Scope{ScopeASRRead}},
		{Name: "x", Scopes: []Scope{ScopeASRRead}, Limits: []byte(`[1]`)},
	} {
		if _, _, err := f.ks.Create(ctx, cli(), spec); err == nil {
			t.Errorf("accepted %+v", spec)
		}
	}
}

func TestPepperFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", "pepper")
	p1, err := LoadOrCreatePepper(path)
	if err != nil || len(p1) != 32 {
		t.Fatal(err)
	}
	p2, err := LoadOrCreatePepper(path)
	if err != nil || string(p1) != string(p2) {
		t.Fatalf("pepper changed between loads: %v", err)
	}
	if err := chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreatePepper(path); err == nil {
		t.Fatal("world-readable pepper accepted")
	}
}

// actions lists the recorded events as "action target outcome".
func actions(r *audittest.Recorder) []string {
	var out []string
	for _, e := range r.Events() {
		out = append(out, e.Action+" "+e.Target+" "+e.Outcome)
	}
	return out
}
