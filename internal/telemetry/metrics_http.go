package telemetry

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/izwi-speech/izwi/internal/secrets"
)

// MetricsAccess says who may read /metrics: an admin (as the gateway's auth
// middleware decided) or a scraper presenting the bearer token.
type MetricsAccess struct {
	// Token is the scrape bearer token; the zero Secret disables token access.
	Token secrets.Secret
	// IsAdmin reports whether the request is authenticated with the admin
	// scope. Nil means no request is.
	IsAdmin func(*http.Request) bool
}

// Handler serves the registry in the Prometheus exposition format to callers
// a allows, and a JSON 401 to everyone else. The token is compared in
// constant time and never logged.
func (m *Metrics) Handler(a MetricsAccess) http.Handler {
	inner := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failing collector must not hide the others or crash the scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// Bounds concurrent scrapes; a scraper loop cannot pile up work.
		MaxRequestsInFlight: 4,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (a.IsAdmin != nil && a.IsAdmin(r)) || scrapeTokenOK(a.Token, r) {
			inner.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="izwi-metrics"`)
		writeJSONError(w, http.StatusUnauthorized, "unauthenticated",
			"metrics need an admin session or the scrape bearer token")
	})
}

// scrapeTokenOK checks "Authorization: Bearer <token>" against tok.
func scrapeTokenOK(tok secrets.Secret, r *http.Request) bool {
	if tok.IsZero() {
		return false
	}
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return tok.Equal(strings.TrimSpace(cred))
}

// writeJSONError answers in the API's error shape. The request ID is the one
// the request-ID middleware already put on the response.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	body := map[string]map[string]string{"error": {"code": code, "message": msg,
		"request_id": w.Header().Get("X-Request-Id")}}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// recorder notes the status a handler wrote while keeping the writer's
// optional interfaces reachable (flushing for streams, hijacking for
// WebSockets).
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush forwards to the underlying writer when it can flush.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack forwards to the underlying writer; a hijacked request (a WebSocket
// upgrade) is counted as 101.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

var (
	_ http.Flusher  = (*recorder)(nil)
	_ http.Hijacker = (*recorder)(nil)
)
