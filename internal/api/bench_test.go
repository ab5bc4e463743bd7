package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// benchGateway is the production chain: netpolicy IP filter, key
// authentication against SQLite, scope check, limit.Limiter with a rate
// limit high enough never to refuse.
func benchGateway(b *testing.B) (http.Handler, string) {
	return benchGatewayOn(b, newGW(b), limit.Options{})
}

// benchGatewayOn is benchGateway on g, with the limiter's Store and
// LocalRate from lo.
func benchGatewayOn(b *testing.B, g *gw, lo limit.Options) (http.Handler, string) {
	pol, err := netpolicy.New(limit.PolicyConfig(config.Limits{IP: config.IPRules{Allow: []string{"127.0.0.0/8", "10.0.0.0/8"},
		Deny: []string{"10.9.0.0/16"}}}))
	if err != nil {
		b.Fatal(err)
	}
	keys := g.keys
	lim, err := limit.New(context.Background(), limit.Options{Defaults: limit.Limits{RPS: 1e9, Burst: 1e9}, Store: lo.Store, LocalRate: lo.LocalRate,
		Resolve: func(ctx context.Context, p auth.Principal) (limit.Overrides, error) {
			pol, err := keys.Policy(ctx, p.ID)
			if err != nil {
				return limit.Overrides{}, err
			}
			return limit.OverridesFrom(pol.Limits, nil, nil)
		}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lim.Close(context.Background()) })
	g.opts.IPFilter, g.opts.Limiter = pol, lim
	g.opts.Logger = slog.New(slog.DiscardHandler)
	h, err := newHandler(g.opts, []Route{{Method: "GET", Pattern: "/v1/tts", Access: Scope(auth.ScopeTTSRead),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })}})
	if err != nil {
		b.Fatal(err)
	}
	_, key := g.key(b, "bench", auth.ScopeTTSRead)
	return h, key
}

// BenchmarkAuthChain is the per-request cost of IP filter + key
// authentication + scope + rate limit, in process (no network), with
// p50/p99 of single requests.
func BenchmarkAuthChain(b *testing.B) {
	h, key := benchGateway(b)
	req := httptest.NewRequest("GET", "/v1/tts", nil)
	req.RemoteAddr = "127.0.0.1:5000"
	req.Header.Set("Authorization", "Bearer "+key)
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := req.Clone(req.Context()) // the gateway strips the header it checked
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		durs = append(durs, time.Since(start))
		if w.Code != 204 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkAuthenticatedRPS drives authenticated requests through a real
// loopback listener with parallel keep-alive clients and reports req/s.
func BenchmarkAuthenticatedRPS(b *testing.B) {
	h, key := benchGateway(b)
	benchRPS(b, h, key)
}

// BenchmarkAuthenticatedRPSStore is BenchmarkAuthenticatedRPS on SQLite
// (embedded) beside PostgreSQL (a local server on a Unix socket), with the
// verified-key cache (production) and without it (every request reads its
// key from the store).
func BenchmarkAuthenticatedRPSStore(b *testing.B) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		for _, cache := range []bool{true, false} {
			name := d.String() + "/cache"
			if !cache {
				name = d.String() + "/no-cache"
			}
			b.Run(name, func(b *testing.B) {
				epoch := ""
				if cache {
					epoch = filepath.Join(b.TempDir(), "keys-epoch")
				}
				h, key := benchGatewayOn(b, newGWOn(b, storetest.OpenOf(b, d), epoch), limit.Options{})
				benchRPS(b, h, key)
			})
		}
	}
}

// BenchmarkAuthenticatedRPSSharedRate is the cost of holding a key's rate
// across gateways on PostgreSQL: the limiter counts each request in the
// shared token-bucket row (one key, so every request contends for it: the
// worst case) beside the same gateway counting it per process
// (limits.local_rate), with the key cache on and usage persisted.
func BenchmarkAuthenticatedRPSSharedRate(b *testing.B) {
	for _, local := range []bool{false, true} {
		name := "shared"
		if local {
			name = "local"
		}
		b.Run(name, func(b *testing.B) {
			st := storetest.OpenOf(b, store.Postgres)
			h, key := benchGatewayOn(b, newGWOn(b, st, filepath.Join(b.TempDir(), "keys-epoch")), limit.Options{Store: st, LocalRate: local})
			benchRPS(b, h, key)
		})
	}
}

func benchRPS(b *testing.B, h http.Handler, key string) {
	base := serve(b, h)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var bad atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", base+"/v1/tts", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := client.Do(req)
			if err != nil {
				bad.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 204 {
				bad.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if bad.Load() > 0 {
		b.Fatalf("%d requests failed", bad.Load())
	}
}
