package telemetry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

const (
	bearer     = "izk_live_SECRET0123456789abcdef"
	transcript = "hello alice my card is 4111 1111 1111 1111"
)

// tracedGateway: request ID → tracing → metrics → mux, as serve.go would
// wire it; the handlers misbehave on purpose.
func tracedGateway(tr *Tracing) http.Handler {
	m, _ := NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sessions/{id}/turns", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		span := trace.SpanFromContext(r.Context())
		// A careless handler tries to record credentials and content.
		span.SetAttributes(attribute.String("http.request.header.authorization", r.Header.Get("Authorization")),
			attribute.String("izwi.transcript", string(body)), attribute.String("url.full", r.URL.String()))
		span.RecordError(errors.New("decode failed: " + string(body)))
		ctx, end := tr.StartEngine(r.Context(), "asr.stream", "asr", "pocketsphinx",
			SessionID(r.PathValue("id")), TurnID("turn-7"), AudioMS(1500))
		trace.SpanFromContext(ctx).AddEvent("words", trace.WithAttributes(attribute.String("text", string(body))))
		end(errors.New("engine: " + string(body)))
		w.WriteHeader(http.StatusInternalServerError)
	})
	inner := tr.Middleware(m.Middleware(mux))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-42")
		inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, 1)))
	})
}

func post(t *testing.T, base, path string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(transcript))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestSpansCarryOnlyAllowedAttributes(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(context.Background(), TraceOptions{Exporter: exp, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) }) // stops the batcher's goroutine
	base := listen(t, tracedGateway(tr))
	post(t, base, "/v1/sessions/sess-123/turns?api_key="+bearer)
	post(t, base, "/v1/sessions/alice@example.com/turns") // not an ID: not recorded
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 4 {
		t.Fatalf("got %d spans, want 4 (2 requests × server + engine)", len(spans))
	}
	allowedKeys := AllowedAttributes()
	var names []string
	sessions := 0
	for _, s := range spans {
		names = append(names, s.Name)
		if s.SpanContext.TraceID().String() == "0af7651916cd43dd8448eb211c80319c" {
			t.Error("a client-supplied traceparent was adopted")
		}
		if len(s.Events) != 0 || s.Status.Description != "" {
			t.Errorf("span %s exports events %v or status text %q", s.Name, s.Events, s.Status.Description)
		}
		for _, a := range s.Attributes {
			if !slices.Contains(allowedKeys, a.Key) {
				t.Errorf("span %s carries attribute %s outside the allow-list", s.Name, a.Key)
			}
			v := a.Value.Emit()
			for _, bad := range []string{bearer, "alice", "4111", "@", "?"} {
				if strings.Contains(v, bad) {
					t.Errorf("span %s attribute %s=%q leaks %q", s.Name, a.Key, v, bad)
				}
			}
			if a.Key == AttrSessionID {
				sessions++
			}
		}
	}
	slices.Sort(names)
	if want := []string{"POST /v1/sessions/{id}/turns", "POST /v1/sessions/{id}/turns", "asr_stream", "asr_stream"}; !slices.Equal(names, want) {
		t.Fatalf("span names %v, want %v", names, want)
	}
	if sessions != 1 {
		t.Fatalf("session id recorded %d times, want once (the e-mail-shaped one is dropped)", sessions)
	}
	// The server span has what an operator needs.
	for _, s := range spans {
		if s.SpanKind != trace.SpanKindServer {
			continue
		}
		got := map[attribute.Key]string{}
		for _, a := range s.Attributes {
			got[a.Key] = a.Value.Emit()
		}
		if got[AttrRoute] != "/v1/sessions/{id}/turns" || got[AttrStatusCode] != "500" || got[AttrRequestID] != "req-42" || got[AttrMethod] != "POST" {
			t.Errorf("server span attributes %v", got)
		}
	}
}

func TestTracingOff(t *testing.T) {
	tr, err := NewTracing(context.Background(), TraceOptions{})
	if err != nil || tr.Enabled() {
		t.Fatalf("off: %v %v", tr.Enabled(), err)
	}
	h := http.NotFoundHandler()
	if got := tr.Middleware(h); got == nil {
		t.Fatal("nil handler")
	}
	ctx, end := tr.StartEngine(context.Background(), "x", "asr", "e")
	end(nil)
	if trace.SpanFromContext(ctx).SpanContext().IsValid() {
		t.Fatal("off tracing made a real span")
	}
	var nilT *Tracing
	if nilT.Enabled() || nilT.Shutdown(context.Background()) != nil {
		t.Fatal("nil tracing")
	}
	for _, bad := range []string{"ftp://x", "http://", "::"} {
		if _, err := NewTracing(context.Background(), TraceOptions{Endpoint: bad}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
}

// A real OTLP/HTTP collector on 127.0.0.1 receives the spans, and nothing
// secret is anywhere in the bytes sent.
func TestOTLPHTTPExport(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies [][]byte
		paths  []string
	)
	collector := listen(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, paths = append(bodies, b), append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	tr, err := NewTracing(context.Background(), TraceOptions{Endpoint: collector, SampleRatio: 1, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	base := listen(t, tracedGateway(tr))
	post(t, base, "/v1/sessions/sess-9/turns?token="+bearer)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) == 0 || paths[0] != "/v1/traces" {
		t.Fatalf("collector got %d requests at %v", len(bodies), paths)
	}
	var names []string
	for _, b := range bodies {
		for _, bad := range []string{bearer, "alice", "4111", "Bearer"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Fatalf("OTLP payload contains %q", bad)
			}
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, s.GetName())
				}
			}
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"POST /v1/sessions/{id}/turns", "asr_stream"}) {
		t.Fatalf("exported spans %v", names)
	}
}

// The filter recognises clean spans (passed on without a copy) and cleans dirty ones.
func TestFilterSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, s := tp.Tracer("t").Start(context.Background(), "x", trace.WithAttributes(AttrRole.String("asr")))
	s.End()
	_, d := tp.Tracer("t").Start(context.Background(), "y", trace.WithAttributes(attribute.String("user.email", "a@b.c")),
		trace.WithLinks(trace.Link{Attributes: []attribute.KeyValue{attribute.String("k", "v")}}))
	d.End()
	ro := exp.GetSpans().Snapshots()
	if !clean(ro[0]) || clean(ro[1]) {
		t.Error("clean() misjudges spans")
	}
	f := filterSpan(ro[1])
	if len(f.Attributes()) != 0 || len(f.Links()[0].Attributes) != 0 {
		t.Errorf("dirty span kept %v %v", f.Attributes(), f.Links())
	}
}

// BenchmarkTracingMiddleware measures the per-request cost of a server span
// (sampled, exported to a discarding in-memory exporter) and of tracing off.
func BenchmarkTracingMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	req, _ := http.NewRequest(http.MethodGet, "http://x/v1/sessions/abc", nil)
	w := &discardWriter{h: http.Header{}}
	off, _ := NewTracing(context.Background(), TraceOptions{})
	on, err := NewTracing(context.Background(), TraceOptions{Exporter: tracetest.NewNoopExporter()})
	if err != nil {
		b.Fatal(err)
	}
	defer on.Shutdown(context.Background())
	for name, tr := range map[string]*Tracing{"off": off, "on": on} {
		h := tr.Middleware(mux)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
