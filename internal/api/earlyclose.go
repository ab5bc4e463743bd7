package api

import (
	"io"
	"net/http"
	"sync/atomic"
)

// withEarlyRefusalClose closes the connection after a refusal (status ≥
// 400) whose request body was never read to its end. net/http otherwise
// tries to drain up to 256 KB of the unread body before it sends the
// refusal, so a client that sends headers and then a body that never ends
// would hold the refusal (and its goroutine) hostage: a 429 for a taken
// session slot or a 413 for an oversize upload must leave at once.
func withEarlyRefusalClose(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		b := &eofBody{ReadCloser: r.Body}
		r.Body = b
		next.ServeHTTP(&refusalWriter{ResponseWriter: w, body: b}, r)
	})
}

// eofBody notes whether the body was read to its end.
type eofBody struct {
	io.ReadCloser
	eof atomic.Bool
}

func (b *eofBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

type refusalWriter struct {
	http.ResponseWriter
	body  *eofBody
	wrote bool
}

func (w *refusalWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code >= 400 && !w.body.eof.Load() {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
