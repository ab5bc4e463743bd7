package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/codec/opus"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/rtc/rtctest"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "internal/rtc.", "pion/", "coder/websocket.")
}

// fakeSessions is one session "s1" whose ingest counts samples and whose
// feed sends what the test pushes.
type fakeSessions struct {
	mu        sync.Mutex
	samples   int
	peak      float32
	finalized int
	attached  bool
	stopped   bool
	events    chan live.Event
}

func newFake() *fakeSessions { return &fakeSessions{events: make(chan live.Event, 16)} }

func (f *fakeSessions) Get(_ context.Context, _, id string) (live.Info, error) {
	if id != "s1" {
		return live.Info{}, live.ErrNotFound
	}
	return live.Info{ID: id}, nil
}

func (f *fakeSessions) Attach(_ context.Context, _, id, source string) (live.Ingest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attached {
		return nil, live.ErrBusy
	}
	f.attached = true
	return &fakeIngest{f: f}, nil
}

func (f *fakeSessions) Watch(ctx context.Context, id string, after uint64) (live.Feed, error) {
	return &fakeFeed{ch: f.events}, nil
}

func (f *fakeSessions) stats() (samples int, peak float32, finalized int, attached bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.samples, f.peak, f.finalized, f.attached
}

type fakeIngest struct{ f *fakeSessions }

func (in *fakeIngest) SampleRate() int { return 16000 }
func (in *fakeIngest) Write(s []float32) error {
	in.f.mu.Lock()
	defer in.f.mu.Unlock()
	if in.f.stopped {
		return live.ErrTransition
	}
	in.f.samples += len(s)
	for _, x := range s {
		in.f.peak = max(in.f.peak, float32(math.Abs(float64(x))))
	}
	return nil
}
func (in *fakeIngest) Finalize() error {
	in.f.mu.Lock()
	in.f.finalized++
	in.f.mu.Unlock()
	return nil
}
func (in *fakeIngest) Close() error {
	in.f.mu.Lock()
	in.f.attached = false
	in.f.mu.Unlock()
	return nil
}

type fakeFeed struct{ ch chan live.Event }

func (f *fakeFeed) Events() <-chan live.Event { return f.ch }
func (f *fakeFeed) Err() error                { return nil }
func (f *fakeFeed) Close()                    {}

// server runs the handler on 127.0.0.1 with a live.write key principal.
func server(t testing.TB, f Sessions, opts Options) (*Handler, string) {
	t.Helper()
	if opts.Sessions == nil {
		opts.Sessions = f
	}
	opts.Loopback = true
	opts.Idle = 2 * time.Second
	opts.OfferTimeout = 2 * time.Second
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/sessions/{id}/webrtc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Principal{Kind: auth.KindAPIKey, Subject: "u1", ID: "k1", Scopes: []auth.Scope{auth.ScopeLiveWrite}}
		h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		srv.Close()
	})
	return h, "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/sessions/"
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client is a pion peer playing a browser: a sendonly Opus track and a
// captions data channel.
type client struct {
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	captions chan string
}

func newClient(t testing.TB) *client {
	t.Helper()
	pc := rtctest.NewPeerConnection(t)
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "mic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(tr); err != nil {
		t.Fatal(err)
	}
	c := &client{pc: pc, track: tr, captions: make(chan string, 16)}
	dc, err := pc.CreateDataChannel("captions", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.OnMessage(func(m webrtc.DataChannelMessage) { c.captions <- string(m.Data) })
	return c
}

// offer returns the client's offer with its candidates gathered.
func (c *client) offer(t testing.TB) string {
	t.Helper()
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-done
	return c.pc.LocalDescription().SDP
}

// signal exchanges the offer for the answer on ws.
func (c *client) signal(t testing.TB, ws *websocket.Conn) {
	t.Helper()
	b, _ := json.Marshal(signal{Type: "offer", SDP: c.offer(t)})
	if err := ws.Write(t.Context(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	_, msg, err := ws.Read(t.Context())
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var ans signal
	if err := json.Unmarshal(msg, &ans); err != nil || ans.Type != "answer" {
		t.Fatalf("answer %s", msg)
	}
	if strings.Contains(ans.SDP, "RTP/AVP ") || !strings.Contains(ans.SDP, "a=fingerprint:") {
		t.Fatalf("the answer is not DTLS-SRTP:\n%s", ans.SDP)
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		t.Fatal(err)
	}
}

// send plays seconds of a 440 Hz tone as 20 ms Opus packets (not paced:
// the server must keep up with a burst).
func (c *client) send(t *testing.T, seconds float64) {
	t.Helper()
	enc, err := opus.NewEncoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	frame := make([]float32, 960)
	n := int(seconds * 50)
	for i := range n {
		for j := range frame {
			frame[j] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i*960+j)/48000))
		}
		pkt, err := enc.Encode(frame)
		if err != nil {
			t.Fatal(err)
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 1}, Payload: pkt}
		if err := c.track.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // a burst, not a flood the UDP buffers drop
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
		time.Sleep(20 * time.Millisecond)
	}
}

// A browser-like peer's Opus audio reaches the session decoded at the
// recognizer's rate, captions come back on the data channel, finalize is
// passed on, and closing the signalling socket detaches the source.
func TestAudioInCaptionsOut(t *testing.T) {
	f := newFake()
	_, base := server(t, f, Options{})
	ws := dial(t, base+"s1/webrtc")
	defer ws.CloseNow()
	c := newClient(t)
	c.signal(t, ws)
	waitFor(t, "the connection", func() bool { return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
	c.send(t, 1)
	waitFor(t, "a second of audio at 16 kHz", func() bool { n, _, _, _ := f.stats(); return n >= 15000 })
	if _, peak, _, _ := f.stats(); peak < 0.3 || peak > 0.7 {
		t.Errorf("the tone's peak after Opus is %.2f, want about 0.5", peak)
	}
	f.events <- live.Event{Type: live.TypeCaption, SessionID: "s1", Seq: 1, Final: true, Text: "hello there"}
	select {
	case m := <-c.captions:
		var ev live.Event
		if err := json.Unmarshal([]byte(m), &ev); err != nil || ev.Text != "hello there" || ev.Seq != 1 {
			t.Errorf("caption %s", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no caption on the data channel")
	}
	if err := ws.Write(t.Context(), websocket.MessageText, []byte(`{"type":"finalize"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "finalize", func() bool { _, _, n, _ := f.stats(); return n == 1 })
	_ = ws.Close(websocket.StatusNormalClosure, "done")
	waitFor(t, "the source detached", func() bool { _, _, _, a := f.stats(); return !a })
}

// Signalling refusals: an unknown session before the upgrade, a second
// source, a bad first message, no offer in time, and a peer that sends no
// audio; each with its close code.
func TestRefusals(t *testing.T) {
	f := newFake()
	_, base := server(t, f, Options{})
	if _, resp, err := websocket.Dial(t.Context(), base+"nope/webrtc", nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session: %v", err)
	}
	closeCode := func(ws *websocket.Conn) websocket.StatusCode {
		for {
			if _, _, err := ws.Read(t.Context()); err != nil {
				return websocket.CloseStatus(err)
			}
		}
	}
	ws := dial(t, base+"s1/webrtc")
	if err := ws.Write(t.Context(), websocket.MessageText, []byte(`{"type":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(ws); code != websocket.StatusPolicyViolation {
		t.Errorf("a bad first message: close %d", code)
	}
	waitFor(t, "the source detached", func() bool { _, _, _, a := f.stats(); return !a })

	ws = dial(t, base+"s1/webrtc")
	waitFor(t, "the first source", func() bool { _, _, _, a := f.stats(); return a })
	ws2 := dial(t, base+"s1/webrtc")
	if code := closeCode(ws2); code != closeConflict {
		t.Errorf("a second source: close %d", code)
	}
	if code := closeCode(ws); code != closeTimeout {
		t.Errorf("no offer: close %d", code)
	}
	waitFor(t, "the source detached", func() bool { _, _, _, a := f.stats(); return !a })

	ws = dial(t, base+"s1/webrtc")
	b, _ := json.Marshal(signal{Type: "offer", SDP: "v=0\r\nnot sdp"})
	_ = ws.Write(t.Context(), websocket.MessageText, b)
	if code := closeCode(ws); code != websocket.StatusPolicyViolation {
		t.Errorf("a bad SDP: close %d", code)
	}

	c := newClient(t)
	ws = dial(t, base+"s1/webrtc")
	c.signal(t, ws)
	if code := closeCode(ws); code != closeTimeout {
		t.Errorf("a peer without audio: close %d", code)
	}
}

// A session that stops while audio flows ends the peer with 4009, and a
// server shutdown with 1001.
func TestSessionStopAndShutdown(t *testing.T) {
	f := newFake()
	h, base := server(t, f, Options{})
	ws := dial(t, base+"s1/webrtc")
	c := newClient(t)
	c.signal(t, ws)
	waitFor(t, "the connection", func() bool { return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	c.send(t, 0.2)
	_, _, err := ws.Read(t.Context())
	if code := websocket.CloseStatus(err); code != closeConflict {
		t.Errorf("a stopped session: close %d (%v)", code, err)
	}

	f.mu.Lock()
	f.stopped = false
	f.mu.Unlock()
	waitFor(t, "the source detached", func() bool { _, _, _, a := f.stats(); return !a })
	ws = dial(t, base+"s1/webrtc")
	c = newClient(t)
	c.signal(t, ws)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _ = h.Close(ctx) }()
	_, _, err = ws.Read(t.Context())
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Errorf("shutdown: close %d (%v)", code, err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("Close did not finish")
	}
}

// Whatever a client sends as its offer, the handler's stack parses it or
// refuses it; none panics.
func FuzzOffer(f *testing.F) {
	f.Add("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\na=mid:0\r\na=setup:actpass\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\n")
	f.Add("v=0\r\n")
	f.Add("")
	h, err := New(Options{Sessions: newFake()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sdp string) {
		pc, err := h.api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp})
	})
}
