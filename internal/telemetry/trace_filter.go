package telemetry

import (
	"context"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// allowListExporter is the last gate before spans leave the process: it
// keeps only allow-listed attributes, drops events (an error event carries
// the error's text) and link attributes, and clears status descriptions.
type allowListExporter struct {
	next sdktrace.SpanExporter
}

var _ sdktrace.SpanExporter = allowListExporter{}

// ExportSpans filters then forwards.
func (e allowListExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = filterSpan(s)
	}
	return e.next.ExportSpans(ctx, out)
}

// Shutdown forwards.
func (e allowListExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

func filterSpan(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	if clean(s) {
		return s
	}
	stub := tracetest.SpanStubFromReadOnlySpan(s)
	stub.Attributes = allowed(stub.Attributes)
	stub.Events = nil
	for i := range stub.Links {
		stub.Links[i].Attributes = nil
	}
	stub.Status.Description = ""
	return stub.Snapshot()
}

// clean reports whether s needs no filtering (the common case: no copy).
func clean(s sdktrace.ReadOnlySpan) bool {
	if len(s.Events()) > 0 || s.Status().Description != "" {
		return false
	}
	for _, l := range s.Links() {
		if len(l.Attributes) > 0 {
			return false
		}
	}
	return len(allowed(s.Attributes())) == len(s.Attributes())
}

func allowed(attrs []attribute.KeyValue) []attribute.KeyValue {
	keys := AllowedAttributes()
	var out []attribute.KeyValue
	for _, a := range attrs {
		if slices.Contains(keys, a.Key) {
			out = append(out, a)
		}
	}
	return out
}
