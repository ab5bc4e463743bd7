package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
)

// RequestIDHeader carries the request ID in and out.
const RequestIDHeader = "X-Request-Id"

// RequestID returns the ID the middleware gave this request ("" outside it).
func RequestID(ctx context.Context) string { return apierr.RequestID(ctx) }

// validRequestID limits client-chosen IDs to short, log-safe tokens.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// withRequestID keeps a well-formed incoming X-Request-Id (so a proxy's ID
// carries through) or makes a random one, and echoes it on the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set(RequestIDHeader, id)
		// One request copy carries both the ID and the access log's route
		// holder (each WithContext copies the whole request).
		ctx := context.WithValue(apierr.WithRequestID(r.Context(), id), routeKey{}, &routeHolder{})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withRecover turns a handler panic into a logged 500 with code "internal".
// http.ErrAbortHandler is re-raised: it is net/http's way to abort a reply.
func withRecover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			log.Error("handler panicked", "request_id", RequestID(r.Context()), "route", r.Pattern, "panic", p)
			if !rec.wrote {
				apierr.Write(w, r, apierr.CodeInternal, "")
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// withAccessLog logs one line per request: IDs, route pattern and status,
// never the query string, headers or body.
func withAccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		// Middleware between here and the mux (the IP filter) may replace
		// the request, so the route pattern comes back through the holder
		// withRequestID put in the context.
		route, ok := r.Context().Value(routeKey{}).(*routeHolder)
		if !ok {
			route = &routeHolder{}
		}
		next.ServeHTTP(rec, r)
		if route.pattern == "" {
			route.pattern = r.Pattern
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		log.Info("http request", "request_id", RequestID(r.Context()), "method", r.Method,
			"route", route.pattern, "status", status, "bytes", rec.bytes, "duration_ms", time.Since(start).Milliseconds())
	})
}

// routeHolder carries the matched route pattern back out to the access log.
type routeHolder struct{ pattern string }

type routeKey struct{}

// noteRoute records r's matched pattern for the access log.
func noteRoute(r *http.Request) {
	if h, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
		h.pattern = r.Pattern
	}
}

// statusRecorder notes what a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Hijack hands the connection over (a WebSocket upgrade): the access log
// says 101, and the duration is the handshake's, the socket living on.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil && !s.wrote {
		s.status, s.wrote = http.StatusSwitchingProtocols, true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
