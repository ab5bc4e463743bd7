package livehttp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
)

func readEvent(t *testing.T, c *websocket.Conn) live.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("event as %v", typ)
	}
	var e live.Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("event %q: %v", b, err)
	}
	return e
}

func caption(text string, final bool) live.Event {
	return live.Event{Type: live.TypeCaption, Segment: 1, Text: text, Final: final, Start: 0.5, End: 1.5}
}

func TestCaptionsWebSocket(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	s := hs.create("alice", map[string]any{"start": true})
	hs.fake.publish(s.ID, caption("hello", false)) // seq 1 (history)
	c, _, err := hs.dial("/v1/sessions/"+s.ID+"/captions", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if e := readEvent(t, c); e.Seq != 1 || e.Text != "hello" || e.SessionID != s.ID {
		t.Fatalf("catch-up %+v", e)
	}
	hs.fake.publish(s.ID, caption("hello world", true))
	if e := readEvent(t, c); e.Seq != 2 || !e.Final || e.Text != "hello world" {
		t.Fatalf("live %+v", e)
	}
	c.Close(websocket.StatusNormalClosure, "")
	// Reconnect with after=: only what was missed, no duplicates.
	hs.fake.publish(s.ID, caption("next", false))
	hs.fake.publish(s.ID, caption("next one", true))
	c2, _, err := hs.dial("/v1/sessions/"+s.ID+"/captions?after=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	for _, want := range []uint64{3, 4} {
		if e := readEvent(t, c2); e.Seq != want {
			t.Fatalf("after=2 got seq %d, want %d", e.Seq, want)
		}
	}
	// Deleting the session ends the feed with 4004.
	hs.do("DELETE", "/v1/sessions/"+s.ID, "alice", nil, nil)
	if code, _ := closeOf(t, c2); code != CloseNotFound {
		t.Fatalf("deleted session closed %d", code)
	}
	if _, resp, err := hs.dial("/v1/sessions/"+s.ID+"/captions?after=x", nil); err == nil || resp.StatusCode != 404 {
		t.Fatalf("deleted: %v", resp)
	}
}

// A viewer that stops reading is dropped with 4008 and told where to
// resume; it catches up from there.
func TestSlowViewer(t *testing.T) {
	hs := newHarness(t, harnessOpts{mutate: func(o *Options) { o.WriteTimeout = 200 * time.Millisecond }})
	s := hs.create("alice", map[string]any{"start": true})
	c, _, err := hs.dial("/v1/sessions/"+s.ID+"/captions", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(-1)
	hs.fake.publish(s.ID, caption("first", true))
	if e := readEvent(t, c); e.Seq != 1 {
		t.Fatalf("%+v", e)
	}
	// Flood without reading: big events fill the socket buffers, then the
	// fake's queue, which ends the feed with ErrSlow (or the write times out).
	big := strings.Repeat("word ", 20000)
	waitFor(t, "the viewer to be dropped", func() bool {
		hs.fake.publish(s.ID, caption(big, true))
		hs.fake.mu.Lock()
		defer hs.fake.mu.Unlock()
		return len(hs.fake.all[s.ID].subs) == 0
	})
	code, reason := closeOf(t, c)
	if code != CloseTimeout || !strings.Contains(reason, "after=") {
		t.Fatalf("slow viewer closed %d %q", code, reason)
	}
	after, err := strconv.ParseUint(reason[strings.LastIndex(reason, "=")+1:], 10, 64)
	if err != nil {
		t.Fatalf("reason %q: %v", reason, err)
	}
	c2, _, err := hs.dial(fmt.Sprintf("/v1/sessions/%s/captions?after=%d", s.ID, after), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	c2.SetReadLimit(1 << 20)
	if e := readEvent(t, c2); e.Seq != after+1 {
		t.Fatalf("resumed at %d, want %d", e.Seq, after+1)
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, event, data string
}

func readSSE(t *testing.T, sc *bufio.Scanner) sseEvent {
	t.Helper()
	var e sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if e.event != "" || e.data != "" {
				return e
			}
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			e.data = line[6:]
		}
	}
	t.Fatalf("stream ended: %v", sc.Err())
	return e
}

func (hs *harness) sse(path string, h http.Header) (*http.Response, *bufio.Scanner) {
	hs.t.Helper()
	req, _ := http.NewRequestWithContext(hs.t.Context(), "GET", hs.srv.URL+path, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		hs.t.Fatal(err)
	}
	hs.t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewScanner(resp.Body)
}

func TestCaptionsSSE(t *testing.T) {
	hs := newHarness(t, harnessOpts{mutate: func(o *Options) { o.Heartbeat = 50 * time.Millisecond }})
	s := hs.create("alice", map[string]any{"start": true})
	hs.fake.publish(s.ID, caption("one", true))
	hs.fake.publish(s.ID, caption("two", true))
	resp, sc := hs.sse("/v1/sessions/"+s.ID+"/events", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{"1", "2"} {
		e := readSSE(t, sc)
		var ev live.Event
		if e.id != want || e.event != "caption" || json.Unmarshal([]byte(e.data), &ev) != nil || strconv.FormatUint(ev.Seq, 10) != want {
			t.Fatalf("event %+v, want id %s", e, want)
		}
	}
	hs.fake.publish(s.ID, live.Event{Type: live.TypeSpeechStarted, At: 2})
	if e := readSSE(t, sc); e.id != "3" || e.event != "speech_started" {
		t.Fatalf("live %+v", e)
	}
	// Heartbeat comments arrive while nothing happens.
	sawComment := false
	for i := 0; i < 10 && sc.Scan(); i++ {
		if strings.HasPrefix(sc.Text(), ": ") {
			sawComment = true
			break
		}
	}
	if !sawComment {
		t.Fatal("no heartbeat comment")
	}
	resp.Body.Close()
	// Resume with Last-Event-ID, and ?after= too.
	_, sc2 := hs.sse("/v1/sessions/"+s.ID+"/events", http.Header{"Last-Event-ID": {"2"}})
	if e := readSSE(t, sc2); e.id != "3" {
		t.Fatalf("Last-Event-ID 2 resumed at %+v", e)
	}
	_, sc3 := hs.sse("/v1/sessions/"+s.ID+"/events?after=1", nil)
	if e := readSSE(t, sc3); e.id != "2" {
		t.Fatalf("after=1 resumed at %+v", e)
	}
	if resp, _ := hs.sse("/v1/sessions/"+s.ID+"/events?after=-1", nil); resp.StatusCode != 400 {
		t.Fatalf("after=-1: %d", resp.StatusCode)
	}
}

// Viewer access by mode: public to anyone; link and password only with a
// viewer ticket (or the owner's credentials, or an admin's); private only
// with the owner's or an admin's. A refusal is 404 before any upgrade.
func TestViewerAccess(t *testing.T) {
	origin := "https://venue.example"
	hs := newHarness(t, harnessOpts{origins: []string{origin}})
	pub := hs.create("alice", map[string]any{"start": true})
	link := hs.create("alice", map[string]any{"viewer_mode": "link", "start": true})
	pw := hs.create("alice", map[string]any{"viewer_mode": "password", "password": "correct horse", "start": true})
	priv := hs.create("alice", map[string]any{"viewer_mode": "private", "start": true})

	type who struct {
		name string
		h    http.Header
	}
	anon, owner, other, admin := who{"anonymous", nil}, who{"owner", bearer("alice")}, who{"bob", bearer("bob")}, who{"admin", bearer("admin")}
	writer := who{"owner without live.read", bearer("writer")}
	for _, tc := range []struct {
		s       createdBody
		allowed []who
		refused []who
	}{
		{pub, []who{anon, owner, other, admin}, nil},
		{link, []who{owner, admin}, []who{anon, other, writer}},
		{pw, []who{owner, admin}, []who{anon, other}},
		{priv, []who{owner, admin}, []who{anon, other}},
	} {
		for _, w := range tc.allowed {
			c, resp, err := hs.dial("/v1/sessions/"+tc.s.ID+"/captions", w.h)
			if err != nil {
				t.Errorf("%s on %s: %v %v", w.name, tc.s.ViewerMode, err, resp)
				continue
			}
			c.Close(websocket.StatusNormalClosure, "")
			if resp, _ := hs.sse("/v1/sessions/"+tc.s.ID+"/events", w.h); resp.StatusCode != 200 {
				t.Errorf("%s SSE on %s: %d", w.name, tc.s.ViewerMode, resp.StatusCode)
			}
		}
		for _, w := range tc.refused {
			if _, resp, err := hs.dial("/v1/sessions/"+tc.s.ID+"/captions", w.h); err == nil || resp.StatusCode != 404 {
				t.Errorf("%s on %s: %v, want 404", w.name, tc.s.ViewerMode, resp)
			}
			if resp, _ := hs.sse("/v1/sessions/"+tc.s.ID+"/events", w.h); resp.StatusCode != 404 {
				t.Errorf("%s SSE on %s: %d, want 404", w.name, tc.s.ViewerMode, resp.StatusCode)
			}
		}
	}

	// /view: what a page may know.
	var v viewBody
	if code := hs.do("GET", "/v1/sessions/"+pw.ID+"/view", "", nil, &v); code != 200 || v.Authorized || v.ViewerMode != "password" || v.Label != "" {
		t.Fatalf("anonymous view of a password session: %d %+v", code, v)
	}
	if code := hs.do("GET", "/v1/sessions/"+priv.ID+"/view", "", nil, nil); code != 404 {
		t.Fatalf("anonymous view of a private session: %d", code)
	}
	if code := hs.do("GET", "/v1/sessions/"+priv.ID+"/view", "alice", nil, &v); code != 200 || !v.Authorized {
		t.Fatalf("owner view: %d %+v", code, v)
	}

	// Viewer tickets.
	vt := func(id, secret, org string) (int, ticket.Response) {
		var r ticket.Response
		code := hs.do("POST", "/v1/sessions/"+id+"/viewer-ticket", "", map[string]string{"secret": secret, "origin": org}, &r)
		return code, r
	}
	if code, _ := vt(pw.ID, "wrong password", origin); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if hs.fails.Load() != 1 {
		t.Fatalf("failure limiter called %d times, want 1", hs.fails.Load())
	}
	if got := hs.audit.Find("auth.failure", "denied"); len(got) != 1 || got[0].Target != "session:"+pw.ID {
		t.Fatalf("audit %+v", got)
	}
	for _, e := range hs.audit.Events() {
		for _, v := range e.Details {
			if strings.Contains(v, "wrong password") || strings.Contains(v, "correct horse") {
				t.Fatalf("secret in audit: %+v", e)
			}
		}
	}
	if code, _ := vt(priv.ID, "", origin); code != 404 {
		t.Fatalf("viewer ticket for a private session: %d", code)
	}
	if code, _ := vt(pw.ID, "correct horse", "https://evil.example"); code != 400 {
		t.Fatalf("origin not allowed: %d", code)
	}
	for _, s := range []struct {
		c      createdBody
		secret string
	}{{pw, "correct horse"}, {link, link.LinkToken}} {
		code, tk := vt(s.c.ID, s.secret, origin)
		if code != 200 || tk.Ticket == "" {
			t.Fatalf("viewer ticket for %s: %d", s.c.ViewerMode, code)
		}
		path := "/v1/sessions/" + s.c.ID + "/captions"
		// Cross-origin: refused before the ticket is consumed.
		if _, resp, err := hs.dial(path, http.Header{"Origin": {"https://evil.example"}}, ticket.Subprotocol, tk.Ticket); err == nil || resp.StatusCode != 403 {
			t.Fatalf("cross-origin viewer: %v", resp)
		}
		// Another session: refused, and the ticket is burnt.
		c, resp, err := hs.dial(path, http.Header{"Origin": {origin}}, ticket.Subprotocol, tk.Ticket)
		if err != nil {
			t.Fatalf("viewer with ticket on %s: %v %v", s.c.ViewerMode, err, resp)
		}
		if c.Subprotocol() != ticket.Subprotocol {
			t.Fatalf("subprotocol %q", c.Subprotocol())
		}
		c.Close(websocket.StatusNormalClosure, "")
		// Replay refused.
		if _, resp, err := hs.dial(path, http.Header{"Origin": {origin}}, ticket.Subprotocol, tk.Ticket); err == nil || resp.StatusCode != 401 {
			t.Fatalf("replayed viewer ticket: %v", resp)
		}
	}
	// A ticket is bound to its session.
	_, tk := vt(link.ID, link.LinkToken, origin)
	if _, resp, err := hs.dial("/v1/sessions/"+pw.ID+"/captions", http.Header{"Origin": {origin}}, ticket.Subprotocol, tk.Ticket); err == nil || resp.StatusCode != 401 {
		t.Fatalf("ticket on another session: %v", resp)
	}
	// Same-origin pages need no allow-list entry.
	if code, _ := vt(pw.ID, "correct horse", hs.srv.URL); code != 200 {
		t.Fatalf("same-origin viewer ticket: %d", code)
	}
}

// Viewer sockets and SSE streams, and ingest sockets, outlive the HTTP
// server's read and write timeouts.
func TestFeedsOutliveServerTimeouts(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	s := hs.create("alice", map[string]any{"start": true})
	c, _, err := hs.dial("/v1/sessions/"+s.ID+"/captions", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, sc := hs.sse("/v1/sessions/"+s.ID+"/events", nil)
	in, _, err := hs.dial("/v1/sessions/"+s.ID+"/audio?sample_rate=16000", bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.CloseNow()
	for i := 1; i <= 4; i++ {
		// Well past the timeouts each round; a ticker, not a sleep-and-hope:
		// the assertions below wait for delivery with deadlines.
		time.Sleep(serverTimeout)
		writeAll(t, in, make([]byte, 320), 320)
		seq := hs.fake.publish(s.ID, caption(fmt.Sprint("round ", i), true))
		if e := readEvent(t, c); e.Seq != seq {
			t.Fatalf("WebSocket got seq %d, want %d", e.Seq, seq)
		}
		if e := readSSE(t, sc); e.id != strconv.FormatUint(seq, 10) {
			t.Fatalf("SSE got %+v, want id %d", e, seq)
		}
	}
	waitFor(t, "audio", func() bool { _, w, _, _ := hs.fake.stats(s.ID); return w == 4 })
}

// Viewers need no credentials, so a cap bounds them: past it, 503 with
// Retry-After before any upgrade; a freed slot is reusable.
func TestMaxViewers(t *testing.T) {
	hs := newHarness(t, harnessOpts{mutate: func(o *Options) { o.MaxViewers = 2 }})
	s := hs.create("alice", map[string]any{"start": true})
	a, _, err := hs.dial("/v1/sessions/"+s.ID+"/captions", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.CloseNow()
	resp, _ := hs.sse("/v1/sessions/"+s.ID+"/events", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("second viewer: %d", resp.StatusCode)
	}
	if _, r, err := hs.dial("/v1/sessions/"+s.ID+"/captions", nil); err == nil || r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third viewer: %v %v", err, r)
	}
	if r, _ := hs.sse("/v1/sessions/"+s.ID+"/events", nil); r.StatusCode != 503 {
		t.Fatalf("third SSE viewer: %d", r.StatusCode)
	}
	a.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "a freed slot", func() bool { return hs.h.admit.open() < 2 })
	c, _, err := hs.dial("/v1/sessions/"+s.ID+"/captions", nil)
	if err != nil {
		t.Fatalf("viewer after one left: %v", err)
	}
	c.CloseNow()
}
