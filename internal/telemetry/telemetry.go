// Package telemetry owns Izwi's structured logging: a JSON slog logger whose
// handler redacts secrets and scrubs personal data before anything is
// written. The composition root (cmd/izwi) builds one logger and hands
// component loggers (logger.With("component", …)) to everything it starts.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ParseLevel turns "debug", "info", "warn" or "error" (any case; "" is info)
// into a slog level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("telemetry: unknown log level %q (want debug, info, warn or error)", s)
}

// NewLogger returns a JSON logger writing to w at level, with every record
// passed through a RedactingHandler.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(NewRedactingHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// Component returns logger tagged with the component that logs through it.
func Component(logger *slog.Logger, name string) *slog.Logger {
	return logger.With("component", name)
}

// RedactingHandler wraps another handler and rewrites every attribute
// (groups included) and the message: values under secret-looking keys become
// "[redacted]"; string values are scrubbed of bearer tokens, e-mail
// addresses, phone numbers and payment card numbers.
type RedactingHandler struct {
	next slog.Handler
}

var _ slog.Handler = (*RedactingHandler)(nil)

// NewRedactingHandler wraps next.
func NewRedactingHandler(next slog.Handler) *RedactingHandler {
	return &RedactingHandler{next: next}
}

// Enabled reports whether next handles level.
func (h *RedactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle redacts r and passes the copy on.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs redacts attrs once, when they are bound.
func (h *RedactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red)}
}

// WithGroup opens a group on next.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{next: h.next.WithGroup(name)}
}

// Redacted replaces the value of a secret attribute.
const Redacted = "[redacted]"

// secretKeyParts are substrings of attribute keys whose values are never logged.
func secretKey(key string) bool {
	k := strings.ToLower(key)
	for _, part := range []string{"key", "token", "password", "passwd", "secret", "authorization", "cookie", "credential"} {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

func redactAttr(a slog.Attr) slog.Attr {
	if secretKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Scrub(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		red := make([]slog.Attr, len(attrs))
		for i, g := range attrs {
			red[i] = redactAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		// Errors and Stringers become strings so their text is scrubbed too.
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Scrub(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Scrub(x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
