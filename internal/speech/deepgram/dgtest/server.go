// Package dgtest owns the Deepgram test double: an HTTP server on
// 127.0.0.1:0 that speaks Deepgram's live and pre-recorded /v1/listen
// protocol (Token auth, query parameters, Results/Metadata/UtteranceEnd/
// SpeechStarted messages in the official Go SDK's own types, close codes)
// and really recognises, with a local speech.Recognizer behind it
// (PocketSphinx in tests), so the words it returns are real.
//
// It can be told at runtime to misbehave (SetFault): stall (take audio,
// send nothing), reset every connection, send malformed JSON, drop a
// connection mid-utterance, refuse handshakes with 401/429/503 (SetDelay
// answers slowly), and to come back (FaultNone). Only tests import it.
package dgtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Fault is a way the double misbehaves.
type Fault int

const (
	FaultNone      Fault = iota
	FaultStall           // read audio, send nothing (Finalize unanswered too)
	FaultReset           // drop every connection; drop new ones at the handshake
	FaultMalformed       // send a malformed JSON message in place of each result
	FaultDropMid         // drop a connection right after it sends a partial result
	Fault401             // refuse handshakes and files with 401
	Fault429             // ... with 429
	Fault503             // ... with 503
)

var faultNames = [...]string{"none", "stall", "reset", "malformed", "drop_mid", "401", "429", "503"}

func (f Fault) String() string { return faultNames[f] }

// Server is a running double. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to configure the engine with (ws://127.0.0.1:port).
	URL string

	rec speech.Recognizer
	srv *httptest.Server

	mu    sync.Mutex
	keys  map[string]bool
	fault Fault
	delay time.Duration
	conns map[*websocket.Conn]bool
	uris  []string
	auths []string
	opens int
}

// New starts a double that recognises with rec and accepts key. It is
// closed when t ends (open sockets are dropped first).
func New(t testing.TB, rec speech.Recognizer, key string) *Server {
	t.Helper()
	s := &Server{rec: rec, keys: map[string]bool{key: true}, conns: map[*websocket.Conn]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/listen", s.live)
	mux.HandleFunc("POST /v1/listen", s.file)
	s.srv = httptest.NewServer(mux)
	s.URL = "ws" + strings.TrimPrefix(s.srv.URL, "http")
	t.Cleanup(s.Close)
	return s
}

// Close drops every socket and stops the server.
func (s *Server) Close() {
	s.dropAll()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// SetKeys replaces the accepted API keys (a key rotation).
func (s *Server) SetKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = map[string]bool{}
	for _, k := range keys {
		s.keys[k] = true
	}
}

// SetFault switches behaviour now; FaultReset also drops open sockets.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
	if f == FaultReset {
		s.dropAll()
	}
}

// SetDelay makes every answer (handshake and message) wait d first.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Opens counts live connections accepted so far.
func (s *Server) Opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// Requests returns every request URI seen, and every Authorization header
// value, in order (tests check where a key did and did not travel).
func (s *Server) Requests() (uris, auths []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.uris...), append([]string(nil), s.auths...)
}

func (s *Server) state() (Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault, s.delay
}

func (s *Server) dropAll() {
	s.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.CloseNow()
	}
}

// admit checks the key and the handshake faults; it writes the refusal
// and returns false when the request may not proceed. Deepgram answers a
// bad key with 401 and a JSON error.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	s.uris = append(s.uris, r.RequestURI)
	s.auths = append(s.auths, auth)
	token, ok := strings.CutPrefix(auth, "Token ")
	ok = ok && s.keys[token]
	fault, delay := s.fault, s.delay
	s.mu.Unlock()
	time.Sleep(delay)
	status := 0
	switch {
	case fault == FaultReset:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.(*net.TCPConn).SetLinger(0) // RST, as a dead middlebox does
				c.Close()
				return false
			}
		}
		status = http.StatusBadGateway
	case !ok, fault == Fault401:
		status = http.StatusUnauthorized
	case fault == Fault429:
		status = http.StatusTooManyRequests
	case fault == Fault503:
		status = http.StatusServiceUnavailable
	}
	if status != 0 {
		refuse(w, status)
		return false
	}
	return true
}

func refuse(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	code := map[int]string{401: "INVALID_AUTH", 429: "TOO_MANY_REQUESTS", 400: "Bad Request"}[status]
	if code == "" {
		code = "INTERNAL_SERVER_ERROR"
	}
	_, _ = w.Write([]byte(`{"err_code":"` + code + `","err_msg":"refused by the test double","request_id":"dgtest"}`))
}
