package auth

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"
)

// Tickets and rotated keys resolve limits by quota subject: the live key of
// the lineage answers, a fully revoked lineage and non-key subjects have none.
func TestSubjectPolicyFollowsLineage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	limits := json.RawMessage(`{"rps":2,"burst":3}`)
	deny := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	k, _, err := f.ks.Create(ctx, cli(), KeySpec{Name: "a", Scopes: []Scope{ScopeLiveRead}, Limits: limits, Deny: deny})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, wantOK bool) {
		t.Helper()
		p, ok, err := f.ks.SubjectPolicy(ctx, k.Subject())
		if err != nil || ok != wantOK {
			t.Fatalf("%s: SubjectPolicy = %v, %v; want ok=%v", when, ok, err, wantOK)
		}
		if ok && (string(p.Limits) != string(limits) || len(p.Deny) != 1 || p.Deny[0] != deny[0]) {
			t.Fatalf("%s: policy %+v, want the key's own", when, p)
		}
	}
	check("fresh key", true)
	next, _, err := f.ks.Rotate(ctx, cli(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if next.Subject() != k.Subject() {
		t.Fatalf("rotation changed the quota subject: %s → %s", k.Subject(), next.Subject())
	}
	check("after rotation", true)
	if err := f.ks.Revoke(ctx, cli(), next.ID); err != nil {
		t.Fatal(err)
	}
	check("lineage revoked", false)
	for _, s := range []string{"jwt:iss#sub", "key:", "key:../../etc", "anonymous"} {
		if _, ok, err := f.ks.SubjectPolicy(ctx, s); ok || err != nil {
			t.Errorf("SubjectPolicy(%q) = %v, %v; want none", s, ok, err)
		}
	}
}
