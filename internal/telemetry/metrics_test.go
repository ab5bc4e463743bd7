package telemetry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/izwi-speech/izwi/internal/secrets"
)

const scrapeToken = "scrape-TOKEN-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

type ctxKey struct{}

// gateway mimics internal/api: a request-ID middleware that replaces the
// request, then the metrics middleware, then the mux.
func gateway(m *Metrics, access MetricsAccess) http.Handler {
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.Handle("GET /v1/sessions/{id}", ok)
	mux.Handle("POST /v1/keys/{id}/revoke", ok)
	mux.Handle("GET /v1/usage", ok)
	mux.Handle("GET /metrics", m.Handler(access))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusNotFound) })
	inner := m.Middleware(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-1")
		inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "x")))
	})
}

func listen(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func do(t *testing.T, method, url, bearer string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsCarryNoPII(t *testing.T) {
	m, err := NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	base := listen(t, gateway(m, MetricsAccess{Token: secrets.New(scrapeToken)}))
	m.ObserveRealTimeFactor("asr", "pocketsphinx", 2*time.Second, 500*time.Millisecond)
	m.ObserveModelLoad("vad", "sherpa", 300*time.Millisecond, nil)
	m.ObserveModelLoad("tts", "user@example.com", time.Second, errors.New("x")) // hostile label → "other"
	m.EngineError("asr", "pocketsphinx")

	pii := []string{
		"/v1/sessions/3f2a9c1e-7b4d-4e2a-9c1e-7b4d4e2a9c1e?key=" + scrapeToken,
		"/v1/sessions/alice@example.com",
		"/v1/sessions/192.168.1.77",
		"/v1/sessions/1234567890",
		"/v1/keys/izk_live_abcdef0123456789/revoke",
		"/v1/usage?email=bob@example.com&token=" + scrapeToken,
		"/nope/10.0.0.9/carol@example.org",
	}
	for _, p := range pii {
		method := http.MethodGet
		if strings.Contains(p, "revoke") {
			method = http.MethodPost
		}
		do(t, method, base+p, "")
	}
	do(t, "BREW", base+"/v1/usage", "") // invented method

	status, body := do(t, http.MethodGet, base+"/metrics", scrapeToken)
	if status != http.StatusOK {
		t.Fatalf("scrape: %d %s", status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"izwi_http_requests_total", "izwi_http_request_duration_seconds", "izwi_engine_real_time_factor",
		"izwi_engine_model_load_seconds", "izwi_engine_errors_total", "go_goroutines", "process_cpu_seconds_total"} {
		if fams[want] == nil {
			t.Errorf("metric %s missing", want)
		}
	}
	idLike := regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}|\d{4,}|@|(\d{1,3}\.){3}\d{1,3}|izk_|[?&=]|` + regexp.QuoteMeta(scrapeToken))
	routes := map[string]bool{}
	for name, fam := range fams {
		for _, metric := range fam.GetMetric() {
			for _, lp := range metric.GetLabel() {
				v := lp.GetValue()
				if strings.HasPrefix(name, "izwi_") && idLike.MatchString(v) {
					t.Errorf("%s{%s=%q} looks like an ID, address, e-mail or secret", name, lp.GetName(), v)
				}
				if strings.Contains(v, scrapeToken) {
					t.Errorf("%s carries the scrape token", name)
				}
				if lp.GetName() == "route" {
					routes[v] = true
				}
			}
		}
	}
	for _, want := range []string{"/v1/sessions/{id}", "/v1/keys/{id}/revoke", "/v1/usage", "/"} {
		if !routes[want] {
			t.Errorf("route label %q missing (have %v)", want, routes)
		}
	}
	if strings.Contains(body, scrapeToken) || strings.Contains(body, "example.com") {
		t.Fatal("exposition leaks request data")
	}
	if !strings.Contains(body, `method="OTHER"`) || !strings.Contains(body, `code="4xx"`) || !strings.Contains(body, `engine="other"`) {
		t.Fatalf("bounded labels missing:\n%s", body)
	}
}

func TestMetricsEndpointGuard(t *testing.T) {
	m, err := NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	admin := false
	base := listen(t, gateway(m, MetricsAccess{Token: secrets.New(scrapeToken), IsAdmin: func(*http.Request) bool { return admin }}))
	for _, tok := range []string{"", "wrong", scrapeToken[:len(scrapeToken)-1], scrapeToken + "x", strings.ToUpper(scrapeToken)} {
		status, body := do(t, http.MethodGet, base+"/metrics", tok)
		if status != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthenticated"`) || !strings.Contains(body, `"request_id":"req-1"`) {
			t.Fatalf("token %q: %d %s", tok, status, body)
		}
		if strings.Contains(body, scrapeToken) {
			t.Fatal("error echoes the token")
		}
	}
	if status, _ := do(t, http.MethodGet, base+"/metrics", scrapeToken); status != http.StatusOK {
		t.Fatalf("right token: %d", status)
	}
	admin = true
	if status, _ := do(t, http.MethodGet, base+"/metrics", ""); status != http.StatusOK {
		t.Fatalf("admin: %d", status)
	}

	// No token configured: an empty bearer must not match the zero secret.
	m2, _ := NewMetrics()
	base2 := listen(t, gateway(m2, MetricsAccess{}))
	req, _ := http.NewRequest(http.MethodGet, base2+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("empty bearer with no token configured: %d", resp.StatusCode)
	}
}

func TestLabelHelpers(t *testing.T) {
	for in, want := range map[string]string{"": "unmatched", "GET /v1/x/{id}": "/v1/x/{id}", "/healthz": "/healthz",
		"POST example.com/v1/y": "/v1/y", "GET /": "/"} {
		if got := RouteLabel(in); got != want {
			t.Errorf("RouteLabel(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int]string{0: "2xx", 101: "1xx", 204: "2xx", 404: "4xx", 503: "5xx", 999: "other"} {
		if got := StatusClass(in); got != want {
			t.Errorf("StatusClass(%d) = %q", in, got)
		}
	}
	var nilM *Metrics // nil-safe hooks
	nilM.ObserveRealTimeFactor("asr", "x", time.Second, time.Second)
	nilM.ObserveModelLoad("asr", "x", time.Second, nil)
	nilM.EngineError("asr", "x")
	if nilM.Middleware(http.NotFoundHandler()) == nil {
		t.Fatal("nil middleware")
	}
}

// BenchmarkMetricsMiddleware measures the per-request overhead the HTTP
// metrics middleware adds over calling the mux directly.
func BenchmarkMetricsMiddleware(b *testing.B) {
	m, err := NewMetrics()
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	req, _ := http.NewRequest(http.MethodGet, "http://x/v1/sessions/abc", nil)
	w := &discardWriter{h: http.Header{}}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mux.ServeHTTP(w, req)
		}
	})
	h := m.Middleware(mux)
	b.Run("metrics", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
