package limit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// benchChain is the part of the request chain this package owns: the
// global IP filter (with a trusted proxy and XFF), a stand-in for
// authentication that puts a principal in the context, and the rate-limit
// middleware with per-key IP rules. The integrator's auth-chain benchmark
// adds real authentication and the scope check to this.
func benchChain(b *testing.B, subjects int) (http.Handler, []*http.Request) {
	b.Helper()
	pol, err := netpolicy.New(netpolicy.Config{Allow: []string{"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"},
		Deny: []string{"10.66.0.0/16"}, TrustedProxies: []string{"127.0.0.1"}})
	if err != nil {
		b.Fatal(err)
	}
	keyRules, _ := netpolicy.ParseRules([]string{"10.0.0.0/8"}, []string{"10.99.0.0/16"})
	l, err := New(context.Background(), Options{Defaults: Limits{RPS: 1e9, Burst: 1e9},
		Resolve: func(context.Context, auth.Principal) (Overrides, error) { return Overrides{IP: keyRules}, nil }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close(context.Background()) })
	principals := make([]auth.Principal, subjects)
	reqs := make([]*http.Request, subjects)
	for i := range subjects {
		principals[i] = key("bench" + strconv.Itoa(i))
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.RemoteAddr = "127.0.0.1:5555"
		r.Header.Set("X-Forwarded-For", "203.0.113.1, 10.1.2."+strconv.Itoa(i%250))
		r.Header.Set("X-Test-Key", strconv.Itoa(i))
		reqs[i] = r
	}
	authStub := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i, _ := strconv.Atoi(r.Header.Get("X-Test-Key"))
			next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), principals[i])))
		})
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	return pol.Middleware(authStub(l.Middleware(ok))), reqs
}

type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header         { return w.h }
func (w nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w nopWriter) WriteHeader(int)             {}

// BenchmarkIPFilterAndRateLimit is the per-request cost of the IP filter
// plus rate limit, with p50/p99 latency per request reported.
func BenchmarkIPFilterAndRateLimit(b *testing.B) {
	h, reqs := benchChain(b, 64)
	w := nopWriter{http.Header{}}
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := reqs[i%len(reqs)]
		t0 := time.Now()
		h.ServeHTTP(w, r)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
		i++
	}
	reportPercentiles(b, lat)
}

// BenchmarkIPFilterAndRateLimitParallel runs the chain from all cores over
// many subjects (contention on the subject map).
func BenchmarkIPFilterAndRateLimitParallel(b *testing.B) {
	h, reqs := benchChain(b, 1024)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := nopWriter{http.Header{}}
		i := 0
		for pb.Next() {
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkChargeAudio(b *testing.B) {
	l, err := New(context.Background(), Options{Defaults: Limits{AudioMinutesPerDay: config.Unlimited}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	p := key("a")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.ChargeAudio(ctx, p, 20*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
}
