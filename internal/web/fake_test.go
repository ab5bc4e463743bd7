package web

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// event mirrors the JSON of event (internal/live/event.go) for the
// fields the pages read; a local copy keeps these tests building while the
// live package changes under other hands.
type event struct {
	Type       string    `json:"type"`
	SessionID  string    `json:"session_id"`
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Segment    int       `json:"segment,omitempty"`
	Final      bool      `json:"final"`
	Text       string    `json:"text,omitempty"`
	Speaker    string    `json:"speaker,omitempty"`
	Engine     string    `json:"engine,omitempty"`
	EngineFrom string    `json:"engine_from,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	State      string    `json:"state,omitempty"`
	Label      string    `json:"label,omitempty"`
}

// fakeLive is a stand-in for the live API (slice B's handlers), speaking
// the contract's JSON shapes, so the pages' own logic can be tested in a
// browser: sessions with a viewer mode and secret, an event history with
// ?after= catch-up, single-use tickets, and an ingest socket that measures
// what the mic page sends. Test hooks under /test/ let the browser script
// push events and drop sockets.
type fakeLive struct {
	mu       sync.Mutex
	sessions map[string]*fakeSession
	tickets  map[string]string // ticket → session id
	n        int
	// overlap makes catch-up resend this many already-seen events, so the
	// page's de-duplication by seq is exercised.
	overlap uint64
	afters  []uint64 // the ?after= of every captions connection
	ingest  ingestStats
}

type ingestStats struct {
	Query   string  `json:"query"`
	Bytes   int     `json:"bytes"`
	Frames  int     `json:"frames"`
	Peak    float64 `json:"peak"`
	Final   int     `json:"finalize"`
	Started bool    `json:"started"`
}

type fakeSession struct {
	mode, secret, state, label string
	events                     []event
	wake                       chan struct{}
	conns                      []*websocket.Conn
}

func newFakeLive() *fakeLive {
	return &fakeLive{sessions: map[string]*fakeSession{}, tickets: map[string]string{}, overlap: 3}
}

func (f *fakeLive) add(id, mode, secret, state string) *fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeSession{mode: mode, secret: secret, state: state, label: "Room " + id, wake: make(chan struct{})}
	f.sessions[id] = s
	return s
}

// push appends an event to session id's history and wakes its viewers.
func (f *fakeLive) push(id string, e event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[id]
	e.SessionID, e.Seq, e.Time = id, uint64(len(s.events))+1, time.Now()
	s.events = append(s.events, e)
	close(s.wake)
	s.wake = make(chan struct{})
}

func (f *fakeLive) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/sessions/{id}/view", func(w http.ResponseWriter, r *http.Request) {
		s := f.session(r)
		if s == nil || s.mode == "private" {
			http.Error(w, `{"error":{"code":"not_found","message":"no such resource"}}`, 404)
			return
		}
		writeJSON(w, map[string]any{"id": r.PathValue("id"), "viewer_mode": s.mode, "state": s.state,
			"label": s.label, "authorized": s.mode == "public"})
	})
	mux.HandleFunc("POST /v1/sessions/{id}/viewer-ticket", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Secret, Origin string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		s := f.session(r)
		if s == nil || body.Secret != s.secret || body.Origin != "http://"+r.Host {
			w.WriteHeader(401)
			writeJSON(w, map[string]any{"error": map[string]string{"code": "unauthenticated", "message": "valid credentials are required"}})
			return
		}
		writeJSON(w, map[string]any{"ticket": f.ticket(r.PathValue("id")), "expires_at": time.Now().Add(time.Minute)})
	})
	mux.HandleFunc("POST /v1/tickets", func(w http.ResponseWriter, r *http.Request) {
		var raw map[string]string
		_ = json.NewDecoder(r.Body).Decode(&raw)
		if r.Header.Get("Authorization") != "Bearer izk_test_key" || raw["scope"] == "" {
			w.WriteHeader(401)
			writeJSON(w, map[string]any{"error": map[string]string{"code": "unauthenticated", "message": "no"}})
			return
		}
		writeJSON(w, map[string]any{"ticket": f.ticket(raw["session_id"])})
	})
	mux.HandleFunc("POST /v1/sessions/{id}/start", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer izk_test_key" {
			w.WriteHeader(401)
			return
		}
		f.mu.Lock()
		f.ingest.Started = true
		f.mu.Unlock()
		f.push(r.PathValue("id"), event{Type: "state", State: "live"})
		writeJSON(w, map[string]any{})
	})
	mux.HandleFunc("GET /v1/sessions/{id}/captions", f.captions)
	mux.HandleFunc("GET /v1/sessions/{id}/audio", f.audio)
	mux.HandleFunc("POST /test/push", func(w http.ResponseWriter, r *http.Request) {
		var e event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.push(r.URL.Query().Get("session"), e)
	})
	mux.HandleFunc("POST /test/drop", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		f.mu.Lock()
		s := f.sessions[r.URL.Query().Get("session")]
		conns := s.conns
		s.conns = nil
		f.mu.Unlock()
		for _, c := range conns {
			_ = c.Close(websocket.StatusCode(code), "test drop")
		}
	})
	mux.HandleFunc("GET /test/stats", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, map[string]any{"afters": f.afters, "ingest": f.ingest})
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeLive) session(r *http.Request) *fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[r.PathValue("id")]
}

func (f *fakeLive) ticket(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	t := "izt_fake" + strconv.Itoa(f.n)
	f.tickets[t] = id
	return t
}

// redeem checks the ticket offered as a subprotocol, once.
func (f *fakeLive) redeem(r *http.Request, id string) bool {
	var offered []string
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		offered = append(offered, splitComma(h)...)
	}
	if len(offered) != 2 || offered[0] != "izwi-ticket" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := f.tickets[offered[1]] == id
	delete(f.tickets, offered[1])
	return ok
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			p := s[start:i]
			for len(p) > 0 && p[0] == ' ' {
				p = p[1:]
			}
			if p != "" {
				out = append(out, p)
			}
			start = i + 1
		}
	}
	return out
}

func (f *fakeLive) captions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s := f.session(r)
	if s == nil {
		http.Error(w, "no", 404)
		return
	}
	opts := &websocket.AcceptOptions{}
	if s.mode != "public" {
		if !f.redeem(r, id) {
			http.Error(w, "no ticket", 401)
			return
		}
		opts.Subprotocols = []string{"izwi-ticket"}
	}
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	c, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.afters = append(f.afters, after)
	s.conns = append(s.conns, c)
	next := after - min(after, f.overlap)
	f.mu.Unlock()
	ctx := c.CloseRead(r.Context())
	for {
		f.mu.Lock()
		pending := append([]event(nil), s.events[min(int(next), len(s.events)):]...)
		wake := s.wake
		f.mu.Unlock()
		for _, e := range pending {
			b, _ := json.Marshal(e)
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
			next = e.Seq
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

// audio is the ingest socket: it checks the declared format and measures
// the PCM16 it receives.
func (f *fakeLive) audio(w http.ResponseWriter, r *http.Request) {
	if !f.redeem(r, r.PathValue("id")) {
		http.Error(w, "no ticket", 401)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"izwi-ticket"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	f.mu.Lock()
	f.ingest.Query = r.URL.RawQuery
	f.mu.Unlock()
	for {
		typ, b, err := c.Read(r.Context())
		if err != nil {
			return
		}
		f.mu.Lock()
		if typ == websocket.MessageText {
			f.ingest.Final++
		} else {
			f.ingest.Frames++
			f.ingest.Bytes += len(b)
			for i := 0; i+1 < len(b); i += 2 {
				v := math.Abs(float64(int16(binary.LittleEndian.Uint16(b[i:])))) / 32768
				f.ingest.Peak = max(f.ingest.Peak, v)
			}
		}
		f.mu.Unlock()
	}
}
