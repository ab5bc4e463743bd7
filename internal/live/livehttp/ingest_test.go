package livehttp

import (
	"context"
	"encoding/binary"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/limit"
)

// tone is d of a 440 Hz tone at rate Hz, mono.
func tone(rate int, d time.Duration) []float32 {
	n := int(int64(rate) * int64(d) / int64(time.Second))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(0.3 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
	}
	return out
}

// stereo16 interleaves s into two identical linear16 channels.
func stereo16(s []float32) []byte {
	mono := audio.EncodePCM16(s)
	out := make([]byte, 0, 2*len(mono))
	for i := 0; i < len(mono); i += 2 {
		out = append(out, mono[i], mono[i+1], mono[i], mono[i+1])
	}
	return out
}

func writeAll(t *testing.T, c *websocket.Conn, pcm []byte, chunk int) {
	t.Helper()
	for len(pcm) > 0 {
		n := min(chunk, len(pcm))
		if err := c.Write(t.Context(), websocket.MessageBinary, pcm[:n]); err != nil {
			t.Fatalf("write: %v", err)
		}
		pcm = pcm[n:]
	}
}

func sendText(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.Write(t.Context(), websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write %s: %v", s, err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIngestStreamsAudio(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	for _, tc := range []struct {
		name, query, config string
		pcm                 []byte
		chunk               int
	}{
		{"query linear16 16k", "?encoding=linear16&sample_rate=16000&channels=1", "", audio.EncodePCM16(tone(16000, 2*time.Second)), 3200},
		{"config message 48k stereo", "", `{"type":"config","encoding":"linear16","sample_rate":48000,"channels":2}`, stereo16(tone(48000, 2*time.Second)), 19200},
		{"split sample frames 8k", "?sample_rate=8000", "", audio.EncodePCM16(tone(8000, 2*time.Second)), 333 * 2},
		{"float32 44.1k", "?encoding=float32&sample_rate=44100", "", f32le(tone(44100, 2*time.Second)), 4410 * 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c0 := hs.create("alice", map[string]any{"start": true})
			c, resp, err := hs.dial("/v1/sessions/"+c0.ID+"/audio"+tc.query, bearer("alice"))
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			defer c.CloseNow()
			if tc.config != "" {
				sendText(t, c, tc.config)
			}
			writeAll(t, c, tc.pcm, tc.chunk)
			sendText(t, c, `{"type":"keepalive"}`)
			sendText(t, c, `{"type":"finalize"}`)
			sendText(t, c, `{"type":"close"}`)
			if code, reason := closeOf(t, c); code != websocket.StatusNormalClosure {
				t.Fatalf("close %d %q", code, reason)
			}
			waitFor(t, "detach", func() bool { _, _, _, a := hs.fake.stats(c0.ID); return !a })
			samples, _, fin, _ := hs.fake.stats(c0.ID)
			// Two seconds at 16 kHz, whatever came in; the resampler's
			// edges may cost a few samples.
			if samples < 32000-64 || samples > 32000+64 {
				t.Errorf("session got %d samples, want about 32000", samples)
			}
			if fin != 1 {
				t.Errorf("finalized %d times, want 1", fin)
			}
		})
	}
}

func f32le(s []float32) []byte {
	out := make([]byte, 4*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// Every refusal has its documented close code and the server keeps
// serving: a good stream on the same session works afterwards.
// Every refusal closes the socket with its documented code and a reason,
// and only after the session's source is released, so a client may
// reconnect the moment it reads the close (releasing is made slow here;
// a refusal the WebSocket library sent from inside Read once reached the
// client first, and an immediate reconnect was refused as a second source).
func TestIngestRefusals(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	hs.fake.detachDelay = 50 * time.Millisecond
	c0 := hs.create("alice", map[string]any{"start": true})
	path := "/v1/sessions/" + c0.ID + "/audio"
	sec16 := audio.EncodePCM16(tone(16000, time.Second))
	cases := []struct {
		name, query string
		send        func(t *testing.T, c *websocket.Conn)
		code        websocket.StatusCode
	}{
		{"96 kHz", "?encoding=linear16&sample_rate=96000", nil, websocket.StatusUnsupportedData},
		{"3 channels", "?encoding=linear16&sample_rate=16000&channels=3", nil, websocket.StatusUnsupportedData},
		{"opus", "?encoding=opus&sample_rate=48000", nil, websocket.StatusUnsupportedData},
		{"rate not a number", "?sample_rate=fast", nil, websocket.StatusUnsupportedData},
		{"config 96 kHz", "", func(t *testing.T, c *websocket.Conn) {
			sendText(t, c, `{"type":"config","encoding":"linear16","sample_rate":96000,"channels":1}`)
		}, websocket.StatusUnsupportedData},
		{"odd length", "?sample_rate=16000", func(t *testing.T, c *websocket.Conn) {
			writeAll(t, c, make([]byte, 321), 321)
		}, websocket.StatusInvalidFramePayloadData},
		{"stereo half frame", "?sample_rate=16000&channels=2", func(t *testing.T, c *websocket.Conn) {
			writeAll(t, c, make([]byte, 322), 322)
		}, websocket.StatusInvalidFramePayloadData},
		{"more than 1 s", "?sample_rate=16000", func(t *testing.T, c *websocket.Conn) {
			_ = c.Write(t.Context(), websocket.MessageBinary, append(sec16, 0, 0))
		}, websocket.StatusMessageTooBig},
		{"binary before config", "", func(t *testing.T, c *websocket.Conn) {
			writeAll(t, c, sec16[:3200], 3200)
		}, websocket.StatusPolicyViolation},
		{"second config", "?sample_rate=16000", func(t *testing.T, c *websocket.Conn) {
			sendText(t, c, `{"type":"config","sample_rate":16000}`)
		}, websocket.StatusPolicyViolation},
		{"bad json", "?sample_rate=16000", func(t *testing.T, c *websocket.Conn) {
			sendText(t, c, `{"type":`)
		}, websocket.StatusInvalidFramePayloadData},
		{"unknown control", "?sample_rate=16000", func(t *testing.T, c *websocket.Conn) {
			sendText(t, c, `{"type":"rewind"}`)
		}, websocket.StatusUnsupportedData},
		{"invalid utf-8 text", "?sample_rate=16000", func(t *testing.T, c *websocket.Conn) {
			_ = c.Write(t.Context(), websocket.MessageText, []byte{'{', 0xff, 0xfe, '}'})
		}, websocket.StatusInvalidFramePayloadData},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := hs.dial(path+tc.query, bearer("alice"))
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			defer c.CloseNow()
			if tc.send != nil {
				tc.send(t, c)
			}
			code, reason := closeOf(t, c)
			if code != tc.code || reason == "" {
				t.Fatalf("close %d %q, want %d with a reason", code, reason, tc.code)
			}
			if _, _, _, attached := hs.fake.stats(c0.ID); attached {
				t.Fatal("the close reached the client before the session's source was released")
			}
		})
	}
	// Still serving, and the session takes a good stream.
	c, _, err := hs.dial(path+"?sample_rate=16000", bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	writeAll(t, c, sec16, 3200)
	sendText(t, c, `{"type":"close"}`)
	if code, _ := closeOf(t, c); code != websocket.StatusNormalClosure {
		t.Fatalf("good stream closed %d", code)
	}
}

func TestIngestSessionStates(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	c0 := hs.create("alice", map[string]any{"start": true})
	path := "/v1/sessions/" + c0.ID + "/audio?sample_rate=16000"
	// Not the owner: 404 before any upgrade.
	if _, resp, err := hs.dial(path, bearer("bob")); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("bob dial: %v %v", err, resp)
	}
	// Busy: a second source.
	a, _, err := hs.dial(path, bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.CloseNow()
	writeAll(t, a, make([]byte, 320), 320)
	waitFor(t, "attach", func() bool { _, w, _, _ := hs.fake.stats(c0.ID); return w > 0 })
	b, _, err := hs.dial(path, bearer("admin"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := closeOf(t, b); code != CloseBusy {
		t.Fatalf("second source closed %d, want %d", code, CloseBusy)
	}
	// Stopped while streaming.
	if code := hs.do("POST", "/v1/sessions/"+c0.ID+"/stop", "alice", nil, nil); code != 200 {
		t.Fatalf("stop %d", code)
	}
	_ = a.Write(t.Context(), websocket.MessageBinary, make([]byte, 320))
	if code, _ := closeOf(t, a); code != CloseBusy {
		t.Fatalf("stopped session closed %d, want %d", code, CloseBusy)
	}
	// Deleted: the id is gone.
	hs.do("DELETE", "/v1/sessions/"+c0.ID, "alice", nil, nil)
	if _, resp, err := hs.dial(path, bearer("alice")); err == nil || resp.StatusCode != 404 {
		t.Fatalf("deleted session dial: %v %v", err, resp)
	}
}

func TestIngestQuotas(t *testing.T) {
	// 0.05 minutes = 3 s of audio a day, one session at a time.
	hs := newHarness(t, harnessOpts{limits: limit.Limits{MaxSessions: 1, AudioMinutesPerDay: 0.05}})
	s1 := hs.create("alice", map[string]any{"start": true})
	s2 := hs.create("alice", map[string]any{"start": true})
	a, _, err := hs.dial("/v1/sessions/"+s1.ID+"/audio?sample_rate=16000", bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.CloseNow()
	writeAll(t, a, make([]byte, 320), 320)
	waitFor(t, "attach", func() bool { _, w, _, _ := hs.fake.stats(s1.ID); return w > 0 })
	b, _, err := hs.dial("/v1/sessions/"+s2.ID+"/audio?sample_rate=16000", bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := closeOf(t, b); code != CloseQuota {
		t.Fatalf("second session closed %d %q, want %d", code, reason, CloseQuota)
	}
	// Four seconds against a three-second quota.
	sec := make([]byte, 32000)
	for i := 0; i < 4; i++ {
		if err := a.Write(t.Context(), websocket.MessageBinary, sec); err != nil {
			break
		}
	}
	code, reason := closeOf(t, a)
	if code != CloseQuota {
		t.Fatalf("over quota closed %d %q, want %d", code, reason, CloseQuota)
	}
	samples, _, _, _ := hs.fake.stats(s1.ID)
	if samples > 3*16000+160 {
		t.Fatalf("%d samples reached the session past a 3 s quota", samples)
	}
}

func TestIngestIdleAndRate(t *testing.T) {
	hs := newHarness(t, harnessOpts{mutate: func(o *Options) { o.IngestIdle = 300 * time.Millisecond; o.MaxFramesPerSecond = 20 }})
	c0 := hs.create("alice", map[string]any{"start": true})
	path := "/v1/sessions/" + c0.ID + "/audio?sample_rate=16000"
	c, _, err := hs.dial(path, bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if code, reason := closeOf(t, c); code != CloseTimeout {
		t.Fatalf("idle closed %d %q, want %d", code, reason, CloseTimeout)
	}
	waitFor(t, "detach", func() bool { _, _, _, a := hs.fake.stats(c0.ID); return !a })
	d, _, err := hs.dial(path, bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.CloseNow()
	for i := 0; i < 100; i++ {
		if d.Write(t.Context(), websocket.MessageBinary, make([]byte, 32)) != nil {
			break
		}
	}
	if code, reason := closeOf(t, d); code != websocket.StatusPolicyViolation {
		t.Fatalf("flood closed %d %q, want 1008", code, reason)
	}
}

// Browsers get a live.write ticket from POST /v1/tickets (for a session
// they own) and offer it as a subprotocol, which is echoed.
func TestIngestTicket(t *testing.T) {
	origin := "https://venue.example"
	hs := newHarness(t, harnessOpts{origins: []string{origin}})
	c0 := hs.create("alice", map[string]any{"start": true})
	var tk ticket.Response
	req := map[string]any{"session_id": c0.ID, "scope": "live.write", "origin": origin}
	if code := hs.do("POST", "/v1/tickets", "bob", req, nil); code != 404 {
		t.Fatalf("bob's ticket for alice's session: %d, want 404", code)
	}
	if code := hs.do("POST", "/v1/tickets", "alice", req, &tk); code != 200 || tk.Ticket == "" {
		t.Fatalf("ticket %d", code)
	}
	h := http.Header{"Origin": {origin}}
	c, resp, err := hs.dial("/v1/sessions/"+c0.ID+"/audio?sample_rate=16000", h, ticket.Subprotocol, tk.Ticket)
	if err != nil {
		t.Fatalf("dial with ticket: %v %v", err, resp)
	}
	defer c.CloseNow()
	if c.Subprotocol() != ticket.Subprotocol {
		t.Fatalf("subprotocol %q not echoed", c.Subprotocol())
	}
	writeAll(t, c, make([]byte, 3200), 3200)
	sendText(t, c, `{"type":"close"}`)
	if code, _ := closeOf(t, c); code != websocket.StatusNormalClosure {
		t.Fatalf("closed %d", code)
	}
	// The ticket was single-use.
	if _, resp, err := hs.dial("/v1/sessions/"+c0.ID+"/audio?sample_rate=16000", h, ticket.Subprotocol, tk.Ticket); err == nil || resp.StatusCode != 401 {
		t.Fatalf("replayed ticket: %v %v", err, resp)
	}
}

// Close ends open sockets with 1001 and waits for their handlers.
func TestCloseEndsSockets(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	c0 := hs.create("alice", map[string]any{"start": true})
	in, _, err := hs.dial("/v1/sessions/"+c0.ID+"/audio?sample_rate=16000", bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.CloseNow()
	view, _, err := hs.dial("/v1/sessions/"+c0.ID+"/captions", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer view.CloseNow()
	writeAll(t, in, make([]byte, 320), 320)
	waitFor(t, "attach", func() bool { _, w, _, _ := hs.fake.stats(c0.ID); return w > 0 })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- hs.h.Close(ctx) }()
	for _, c := range []*websocket.Conn{in, view} {
		if code, _ := closeOf(t, c); code != websocket.StatusGoingAway {
			t.Fatalf("closed %d, want 1001", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Revoking a key closes the sockets it opened (4001), and only those.
func TestRevokeSubjectClosesSockets(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	a := hs.create("alice", map[string]any{"start": true, "viewer_mode": "private"})
	b := hs.create("bob", map[string]any{"start": true})
	in, _, err := hs.dial("/v1/sessions/"+a.ID+"/audio?sample_rate=16000", bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.CloseNow()
	view, _, err := hs.dial("/v1/sessions/"+a.ID+"/captions", bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer view.CloseNow()
	other, _, err := hs.dial("/v1/sessions/"+b.ID+"/audio?sample_rate=16000", bearer("bob"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.CloseNow()
	anon, _, err := hs.dial("/v1/sessions/"+b.ID+"/captions", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.CloseNow()
	writeAll(t, in, make([]byte, 320), 320)
	writeAll(t, other, make([]byte, 320), 320)
	waitFor(t, "attach", func() bool {
		_, w1, _, _ := hs.fake.stats(a.ID)
		_, w2, _, _ := hs.fake.stats(b.ID)
		return w1 > 0 && w2 > 0
	})
	hs.h.RevokeSubject("key:alice")
	for _, c := range []*websocket.Conn{in, view} {
		if code, reason := closeOf(t, c); code != CloseRevoked {
			t.Fatalf("alice's socket closed %d %q, want %d", code, reason, CloseRevoked)
		}
	}
	// Bob's ingest and an anonymous viewer stay up.
	writeAll(t, other, make([]byte, 320), 320)
	waitFor(t, "bob's audio", func() bool { _, w, _, _ := hs.fake.stats(b.ID); return w > 1 })
	seq := hs.fake.publish(b.ID, caption("still here", true))
	for {
		e := readEvent(t, anon)
		if e.Seq == seq {
			break
		}
	}
}
