package telemetry

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is Izwi's Prometheus registry and the instruments on it. The
// composition root builds one and hands it to what records into it; nothing
// uses the client library's global default registry.
//
// Labels are bounded and carry no personal data: HTTP metrics are labelled
// by route pattern (never the raw path, an ID or a query string), method and
// status class; engine metrics by role and engine name. A nil *Metrics
// records nothing, so components may hold one unconditionally.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	rtf       *prometheus.HistogramVec
	modelLoad *prometheus.HistogramVec
	engineErr *prometheus.CounterVec
}

// NewMetrics returns a registry with Go runtime and process collectors and
// Izwi's HTTP and engine instruments.
func NewMetrics() (*Metrics, error) {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "izwi_http_requests_total", Help: "HTTP requests by route pattern, method and status class.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "izwi_http_request_duration_seconds", Help: "HTTP request latency by route pattern, method and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "izwi_http_requests_in_flight", Help: "HTTP requests being served, WebSockets included.",
		}),
		rtf: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "izwi_engine_real_time_factor", Help: "Compute time divided by audio duration per engine call (below 1 is faster than real time).",
			Buckets: []float64{.01, .025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 5},
		}, []string{"role", "engine"}),
		modelLoad: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "izwi_engine_model_load_seconds", Help: "Time to load a model, by role, engine and result.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"role", "engine", "result"}),
		engineErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "izwi_engine_errors_total", Help: "Engine calls that failed, by role and engine.",
		}, []string{"role", "engine"}),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.inFlight, m.rtf, m.modelLoad, m.engineErr,
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: registering metrics: %w", err)
		}
	}
	return m, nil
}

// Registry is where other components register their own collectors; they
// must follow the same label rules (bounded, no IDs or personal data).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRealTimeFactor records one engine call that processed audio of the
// given duration in compute time.
func (m *Metrics) ObserveRealTimeFactor(role, engine string, audio, compute time.Duration) {
	if m == nil || audio <= 0 {
		return
	}
	m.rtf.WithLabelValues(nameLabel(role), nameLabel(engine)).Observe(compute.Seconds() / audio.Seconds())
}

// ObserveModelLoad records how long loading a role's model took and whether
// it succeeded.
func (m *Metrics) ObserveModelLoad(role, engine string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.modelLoad.WithLabelValues(nameLabel(role), nameLabel(engine), result).Observe(d.Seconds())
}

// EngineError counts a failed engine call.
func (m *Metrics) EngineError(role, engine string) {
	if m == nil {
		return
	}
	m.engineErr.WithLabelValues(nameLabel(role), nameLabel(engine)).Inc()
}

// Middleware records every request by route pattern, method and status
// class. It reads r.Pattern after next returns, which http.ServeMux sets on
// the request it is given: place Middleware where no handler between it and
// the mux replaces the request (r.WithContext), e.g. beside the access log
// inside the request-ID middleware. Requests no pattern matched are counted
// under route "unmatched".
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			m.inFlight.Dec()
			labels := []string{RouteLabel(r.Pattern), MethodLabel(r.Method), StatusClass(rec.status)}
			m.requests.WithLabelValues(labels...).Inc()
			m.duration.WithLabelValues(labels...).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

// RouteLabel turns a ServeMux pattern ("GET /v1/sessions/{id}") into the
// route label ("/v1/sessions/{id}"): the method goes in its own label, and
// the pattern's wildcards stand for IDs, which never appear themselves.
func RouteLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimSpace(pattern[i+1:])
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // drop a host part; hosts are not route identity
	}
	return pattern
}

// MethodLabel bounds the method label to the standard methods; anything else
// a client invents is "OTHER", so it cannot grow the label set.
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "OTHER"
}

// StatusClass is "2xx", "4xx", ...; 0 (nothing written) is a 200.
func StatusClass(status int) string {
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// nameLabel keeps role and engine labels to short lower-case identifiers.
func nameLabel(s string) string {
	if s == "" || len(s) > 32 {
		return "other"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "other"
		}
	}
	return s
}
