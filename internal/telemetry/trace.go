package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TraceOptions configure tracing.
type TraceOptions struct {
	// Endpoint is the OTLP/HTTP collector base URL (spans go to
	// <Endpoint>/v1/traces). Empty turns tracing off.
	Endpoint string
	// SampleRatio is the fraction of new traces kept (0 < r <= 1).
	SampleRatio float64
	// Version is reported as service.version.
	Version string
	// Exporter replaces the OTLP exporter (tests use an in-memory one). It
	// is still wrapped so that only allow-listed attributes leave.
	Exporter sdktrace.SpanExporter
}

// Tracing starts spans for requests and engine calls and exports them over
// OTLP/HTTP. Spans carry IDs only (request, session, turn), the route
// pattern, method, status, role and engine: never bodies, transcripts,
// headers, paths, addresses or error messages. Every exported span passes
// through a filter that drops attributes outside AllowedAttributes, so a
// careless SetAttributes elsewhere cannot leak either.
//
// The zero of tracing is off: a nil *Tracing, or one built with no endpoint,
// starts no-op spans at almost no cost.
type Tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// Attribute keys spans may carry.
const (
	AttrRequestID  = attribute.Key("izwi.request_id")
	AttrSessionID  = attribute.Key("izwi.session_id")
	AttrTurnID     = attribute.Key("izwi.turn_id")
	AttrRole       = attribute.Key("izwi.role")
	AttrEngine     = attribute.Key("izwi.engine")
	AttrAudioMS    = attribute.Key("izwi.audio_ms")
	AttrRoute      = attribute.Key("http.route")
	AttrMethod     = attribute.Key("http.request.method")
	AttrStatusCode = attribute.Key("http.response.status_code")
	AttrErrorType  = attribute.Key("error.type")
)

// AllowedAttributes lists every attribute key an exported span may carry.
func AllowedAttributes() []attribute.Key {
	return []attribute.Key{AttrRequestID, AttrSessionID, AttrTurnID, AttrRole, AttrEngine, AttrAudioMS,
		AttrRoute, AttrMethod, AttrStatusCode, AttrErrorType}
}

// NewTracing builds the tracer provider, or a no-op one when o.Endpoint is
// empty and no exporter is given. Building does not connect; spans are
// batched and exported in the background until Shutdown.
func NewTracing(ctx context.Context, o TraceOptions) (*Tracing, error) {
	exp := o.Exporter
	if exp == nil {
		if o.Endpoint == "" {
			return &Tracing{tracer: noop.NewTracerProvider().Tracer("izwi")}, nil
		}
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("telemetry: otlp endpoint %q: want http(s)://host:port", o.Endpoint)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
		if err != nil {
			return nil, fmt.Errorf("telemetry: otlp exporter: %w", err)
		}
	}
	ratio := o.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	version := o.Version
	if version == "" {
		version = "dev"
	}
	res := resource.NewSchemaless(attribute.String("service.name", "izwi"), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(allowListExporter{next: exp}),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(res),
	)
	return &Tracing{tp: tp, tracer: tp.Tracer("github.com/izwi-speech/izwi")}, nil
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t != nil && t.tp != nil }

// Shutdown flushes pending spans and stops the exporter; ctx bounds it.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: tracing shutdown: %w", err)
	}
	return nil
}

// ForceFlush exports finished spans now (tests, and before a planned exit).
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

func (t *Tracing) tr() trace.Tracer {
	if t == nil || t.tracer == nil {
		return noop.NewTracerProvider().Tracer("izwi")
	}
	return t.tracer
}

// Middleware starts a server span per request. Incoming trace headers are
// ignored: a public client does not choose our trace IDs. Like the metrics
// middleware it reads the route pattern the mux sets, so place it where no
// handler between it and the mux replaces the request.
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	if !t.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := t.tracer.Start(r.Context(), "HTTP "+MethodLabel(r.Method),
			trace.WithSpanKind(trace.SpanKindServer), trace.WithNewRoot())
		defer span.End()
		rec := &recorder{ResponseWriter: w}
		r2 := r.WithContext(ctx)
		next.ServeHTTP(rec, r2)
		route := RouteLabel(r2.Pattern)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetName(MethodLabel(r.Method) + " " + route)
		attrs := []attribute.KeyValue{AttrRoute.String(route), AttrMethod.String(MethodLabel(r.Method)), AttrStatusCode.Int(status)}
		if id := w.Header().Get("X-Request-Id"); safeID(id) {
			attrs = append(attrs, AttrRequestID.String(id))
		}
		span.SetAttributes(attrs...)
		if status >= 500 {
			span.SetStatus(codes.Error, "")
			span.SetAttributes(AttrErrorType.String(StatusClass(status)))
		}
	})
}

// Attr is an attribute for StartEngine. Build them with SessionID, TurnID
// and AudioMS; their values are checked to be IDs, not text.
type Attr = attribute.KeyValue

// SessionID tags a span with a live session's ID (dropped if it is not a
// short token).
func SessionID(id string) Attr { return idAttr(AttrSessionID, id) }

// TurnID tags a span with a conversation turn's ID.
func TurnID(id string) Attr { return idAttr(AttrTurnID, id) }

// AudioMS tags a span with the duration of audio processed.
func AudioMS(ms int64) Attr { return AttrAudioMS.Int64(ms) }

func idAttr(k attribute.Key, id string) Attr {
	if !safeID(id) {
		return attribute.KeyValue{} // invalid: dropped by the SDK
	}
	return k.String(id)
}

// StartEngine starts a span for one engine call (op such as "asr.stream",
// "tts.synthesize") and returns the function that ends it. end(err) marks a
// failure with a fixed error type, never the error's text (which may quote
// input).
func (t *Tracing) StartEngine(ctx context.Context, op, role, engine string, attrs ...Attr) (context.Context, func(err error)) {
	if !t.Enabled() {
		return ctx, func(error) {}
	}
	all := append([]attribute.KeyValue{AttrRole.String(nameLabel(role)), AttrEngine.String(nameLabel(engine))}, attrs...)
	ctx, span := t.tracer.Start(ctx, nameLabel(strings.ReplaceAll(op, ".", "_")), trace.WithAttributes(all...))
	return ctx, func(err error) {
		if err != nil {
			kind := "error"
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				kind = "canceled"
			}
			span.SetAttributes(AttrErrorType.String(kind))
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

// safeID accepts short tokens of letters, digits, '-', '_' and '.'; anything
// else (an e-mail, free text) is not an ID and is not recorded.
func safeID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
