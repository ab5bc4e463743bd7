package livehttp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/live"
)

// A viewer's pings are answered and its close is answered and releases
// its place, over plain TCP (the poller reads the socket) and over TLS
// (a reader goroutine does).
func TestViewerPingAndClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"tcp", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, harnessOpts{tls: tc.tls})
			s := hs.create("alice", map[string]any{"start": true})
			c, _, err := hs.dial("/v1/sessions/"+s.ID+"/captions", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if hs.h.admit.open() != 1 {
				t.Fatalf("%d viewers open, want 1", hs.h.admit.open())
			}
			hs.fake.publish(s.ID, caption("hello", true))
			if e := readEvent(t, c); e.Text != "hello" {
				t.Fatalf("%+v", e)
			}
			// The client's ping needs a reader on its side for the pong.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			read := make(chan error, 1)
			go func() { _, _, err := c.Read(ctx); read <- err }()
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
				t.Fatalf("close handshake: %v", err)
			}
			<-read
			waitFor(t, "the viewer's place to be released", func() bool { return hs.h.admit.open() == 0 })
		})
	}
}

// A viewer that answers no pings is dropped after the next heartbeat.
func TestViewerWithoutPongsIsDropped(t *testing.T) {
	hs := newHarness(t, harnessOpts{mutate: func(o *Options) { o.Heartbeat = 50 * time.Millisecond }})
	s := hs.create("alice", map[string]any{"start": true})
	// A raw client that never reads, so never answers a ping.
	rc := hs.rawDial(t, "/v1/sessions/"+s.ID+"/captions", "")
	defer rc.c.Close()
	waitFor(t, "the silent viewer to be dropped", func() bool { return hs.h.admit.open() == 0 })
}

// Frames a client splits across reads, and a ping inside them, are put
// together; the pong comes back whole.
func TestViewerSplitFrames(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	s := hs.create("alice", map[string]any{"start": true})
	rc := hs.rawDial(t, "/v1/sessions/"+s.ID+"/captions", "")
	defer rc.c.Close()
	ping := maskedFrame(0x89, []byte("are you there"))
	for _, b := range ping {
		if _, err := rc.c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // separate reads on the server
	}
	op, p := rc.next(t)
	if op != 0xA || string(p) != "are you there" {
		t.Fatalf("got op %#x %q, want the pong", op, p)
	}
}

// FuzzViewerFrames: whatever a client sends a viewer socket, received
// neither panics nor keeps more than one frame's start.
func FuzzViewerFrames(f *testing.F) {
	f.Add(maskedFrame(0x89, []byte("hi")))
	f.Add(maskedFrame(0x88, []byte{0x03, 0xe8}))
	f.Add(maskedFrame(0x81, []byte("text")))
	f.Add(append(maskedFrame(0x8A, nil), 0x82, 0xFF))
	f.Add([]byte{0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		h := &Handlers{flush: newFlusher(1), opts: Options{WriteTimeout: time.Second, Heartbeat: time.Hour}}
		defer h.flush.close()
		srv, cli := net.Pipe()
		defer cli.Close()
		go func() {
			buf := make([]byte, 512)
			for {
				if _, err := cli.Read(buf); err != nil {
					return
				}
			}
		}()
		v := &wsViewer{h: h, ctx: context.Background(), conn: srv, feed: newFrameAdapter(&stubFeed{}), fd: -1, end: func() {}}
		for len(b) > 0 { // in two reads, as a socket may deliver it
			n := min(len(b), 1+len(b)/2)
			v.received(b[:n])
			b = b[n:]
			if len(v.partial) > 14+125 {
				t.Fatalf("kept %d bytes", len(v.partial))
			}
		}
		v.finish()
	})
}

// maskedFrame is one whole client frame.
func maskedFrame(first byte, p []byte) []byte { return clientFrame(first, uint64(len(p)), p) }

// stubFeed is a feed with nothing to say.
type stubFeed struct{ ch chan live.Event }

func (s *stubFeed) Events() <-chan live.Event {
	if s.ch == nil {
		s.ch = make(chan live.Event)
	}
	return s.ch
}
func (s *stubFeed) Err() error { return nil }
func (s *stubFeed) Close()     {}
