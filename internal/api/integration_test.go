package api

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"testing"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
)

// withRealLimiter mounts limit.Limiter, resolving per-key overrides from
// the key store as izwi serve does.
func withRealLimiter(t *testing.T, g *gw, defaults limit.Limits) {
	t.Helper()
	keys := g.keys
	lim, err := limit.New(context.Background(), limit.Options{Defaults: defaults, ResolveTTL: -1,
		Resolve: func(ctx context.Context, p auth.Principal) (limit.Overrides, error) {
			if p.Kind != auth.KindAPIKey {
				return limit.Overrides{}, nil
			}
			pol, err := keys.Policy(ctx, p.ID)
			if err != nil {
				return limit.Overrides{}, err
			}
			str := func(ps []netip.Prefix) []string {
				var out []string
				for _, p := range ps {
					out = append(out, p.String())
				}
				return out
			}
			return limit.OverridesFrom(pol.Limits, str(pol.Allow), str(pol.Deny))
		},
		WriteError: func(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
			apierr.Write(w, r, apierr.Code(code), "")
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lim.Close(context.Background()) })
	g.opts.Limiter = lim
}

// A key's own IP rules and limits, stored by the key store, are enforced
// by the limiter after authentication.
func TestPerKeyRulesEnforced(t *testing.T) {
	g := newGW(t)
	withRealLimiter(t, g, limit.Limits{})
	ctx := context.Background()
	_, elsewhere, err := g.keys.Create(ctx, auth.Actor{ID: "t"}, auth.KeySpec{Name: "lan", Scopes: []auth.Scope{auth.ScopeASRRead},
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	_, limited, err := g.keys.Create(ctx, auth.Actor{ID: "t"}, auth.KeySpec{Name: "slow", Scopes: []auth.Scope{auth.ScopeASRRead},
		Limits: []byte(`{"rps":0.001,"burst":3}`)})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, mustNew(t, g.opts))
	// Parallel requests can leave a dialed but unused connection, which
	// the server's graceful shutdown would wait on; close it first.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	if resp, b := do(t, "GET", base+"/v1/usage", bearer(elsewhere), ""); resp.StatusCode != 403 || errCode(b) != apierr.CodeIPDenied {
		t.Fatalf("key allowed only from 10/8, used from loopback: %d %s", resp.StatusCode, b)
	}
	// Three in the burst, in parallel; the rest are refused with Retry-After.
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := do(t, "GET", base+"/v1/usage", bearer(limited), "")
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
			if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}()
	}
	wg.Wait()
	if codes[200] != 3 || codes[429] != 7 {
		t.Fatalf("statuses %v, want exactly 3×200 and 7×429", codes)
	}
}

// With require_auth = false, a request with no credentials acts as the
// anonymous principal (never admin); bad credentials are still refused.
func TestAnonymousPrincipal(t *testing.T) {
	g := newGW(t)
	g.opts.Anonymous = &auth.Principal{Kind: "anonymous", ID: "anonymous", Subject: "anonymous", Scopes: []auth.Scope{auth.ScopeASRRead}}
	base := serve(t, mustNew(t, g.opts))
	if resp, _ := do(t, "GET", base+"/v1/usage", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("anonymous on an authenticated route: %d", resp.StatusCode)
	}
	if resp, b := do(t, "GET", base+"/v1/keys", nil, ""); resp.StatusCode != 403 || errCode(b) != apierr.CodeForbidden {
		t.Fatalf("anonymous on an admin route: %d %s", resp.StatusCode, b)
	}
	if resp, _ := do(t, "GET", base+"/v1/usage", bearer("izk_bad"), ""); resp.StatusCode != 401 {
		t.Fatalf("bad credentials with anonymous allowed: %d", resp.StatusCode)
	}
}
