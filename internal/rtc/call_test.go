package rtc

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/rtc/rtctest"
)

// echo is a call's service: it counts the caller's audio, echoes text
// messages, plays {"play":seconds} of a tone at 24 kHz on the track and
// clears it on {"clear":true}.
type echo struct {
	samples  atomic.Int64
	ended    chan struct{}
	released atomic.Bool
}

func (e *echo) serve(ctx context.Context, b *Bridge, _ auth.Principal, _ livehttp.Slot, _ []byte) {
	defer close(e.ended)
	for {
		typ, msg, err := b.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			e.samples.Add(int64(len(msg) / 2))
			continue
		}
		var m struct {
			Play  float64 `json:"play"`
			Clear bool    `json:"clear"`
		}
		_ = json.Unmarshal(msg, &m)
		switch {
		case m.Play > 0:
			go func() {
				tone := make([]float32, int(m.Play*24000))
				for i := range tone {
					tone[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/24000))
				}
				_ = b.WriteAudio(ctx, tone, 24000)
			}()
		case m.Clear:
			b.ClearAudio()
		}
		if err := b.Write(ctx, websocket.MessageText, msg); err != nil {
			return
		}
	}
}

type countingSlots struct{ held atomic.Int32 }

func (s *countingSlots) Acquire(context.Context, auth.Principal) (livehttp.Slot, error) {
	s.held.Add(1)
	return &countedSlot{s: s}, nil
}

type countedSlot struct {
	s    *countingSlots
	once sync.Once
}

func (c *countedSlot) ChargeAudio(context.Context, time.Duration) error { return nil }
func (c *countedSlot) Release()                                         { c.once.Do(func() { c.s.held.Add(-1) }) }

// callServer mounts the echo service's calls on 127.0.0.1.
func callServer(t *testing.T) (*Handler, *echo, *countingSlots, string) {
	t.Helper()
	slots := &countingSlots{}
	h, _ := server(t, newFake(), Options{Slots: slots})
	e := &echo{ended: make(chan struct{})}
	calls := h.Calls(CallOptions{Label: "events", InputRate: 24000, Location: "/v1/calls/", Serve: e.serve})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Principal{Kind: auth.KindAPIKey, Subject: "u1", ID: "k1", Scopes: []auth.Scope{auth.ScopeASRRead}}
		calls.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}))
	t.Cleanup(srv.Close)
	return h, e, slots, srv.URL
}

func postOffer(t *testing.T, url, ctype, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A call: the offer POSTed as application/sdp is answered 201 with a
// DTLS-SRTP answer; the caller's Opus audio reaches the service as PCM16
// at the input rate, events go both ways on the data channel, reply audio
// arrives on the caller's track as 20 ms Opus frames of the right length,
// and revoking the caller's key ends the call and frees its slot.
func TestCallAudioBothWays(t *testing.T) {
	h, e, slots, url := callServer(t)
	p := rtctest.DialWith(t, "events", func(offer string) string {
		resp, answer := postOffer(t, url, "application/sdp", offer)
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/sdp" ||
			!strings.HasPrefix(resp.Header.Get("Location"), "/v1/calls/rtc_") || !strings.Contains(answer, "a=fingerprint:") {
			t.Fatalf("%d %v\n%s", resp.StatusCode, resp.Header, answer)
		}
		return answer
	})
	tone := make([]float32, 24000)
	for i := range tone {
		tone[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/24000))
	}
	p.Speak(t, audio.EncodePCM16(tone), 0)
	waitFor(t, "the caller's audio", func() bool { return e.samples.Load() >= 24000*9/10 })
	p.Send(t, map[string]float64{"play": 1})
	if typ, raw := p.Next(t.Context(), t); typ != "" || string(raw) != `{"play":1}` {
		t.Fatalf("echo %q", raw)
	}
	waitFor(t, "a second of reply audio", func() bool { return p.Voiced() >= 900*time.Millisecond })
	time.Sleep(200 * time.Millisecond) // the track's last queued frames
	if d := p.Voiced(); d > 1100*time.Millisecond {
		t.Errorf("heard %v of tone for 1 s asked", d)
	}
	if slots.held.Load() != 1 {
		t.Errorf("%d slots held during the call", slots.held.Load())
	}
	h.RevokeSubject("someone else")
	h.RevokeSubject("u1")
	select {
	case <-e.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("revoking the key did not end the call")
	}
	waitFor(t, "the slot's release", func() bool { return slots.held.Load() == 0 })
	select {
	case <-p.Closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the caller's data channel stayed open")
	}
}

// Offers that are not SDP with audio are refused before any peer is made.
func TestCallRefusals(t *testing.T) {
	_, _, slots, url := callServer(t)
	for _, tc := range []struct {
		ctype, body string
		status      int
	}{
		{"application/json", `{"sdp":"v=0"}`, http.StatusUnsupportedMediaType},
		{"application/sdp", "", http.StatusBadRequest},
		{"application/sdp", "not sdp at all", http.StatusBadRequest},
		{"application/sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", http.StatusBadRequest},
		{"application/sdp", strings.Repeat("a", maxSignal+1), http.StatusRequestEntityTooLarge},
		{"multipart/form-data; boundary=b", form("sdp", audioOffer, "session", `{}`), http.StatusBadRequest}, // no Check: no session
		{"multipart/form-data; boundary=b", form("sdp", audioOffer, "other", "x"), http.StatusBadRequest},
		{"multipart/form-data; boundary=b", form("session", `{}`), http.StatusBadRequest},
		{"multipart/form-data; boundary=b", form("sdp", strings.Repeat("a", maxSignal+1)), http.StatusRequestEntityTooLarge},
		{"multipart/form-data", form("sdp", audioOffer), http.StatusUnsupportedMediaType},
	} {
		resp, body := postOffer(t, url, tc.ctype, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(body, `"request_id"`) {
			t.Errorf("%s %.20q: %d %s", tc.ctype, tc.body, resp.StatusCode, body)
		}
	}
	if slots.held.Load() != 0 {
		t.Errorf("%d slots held after refusals", slots.held.Load())
	}
}

// audioOffer is a minimal offer with an audio section.
const audioOffer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"

// form is a multipart body with boundary "b" of name, value pairs.
func form(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("--b\r\nContent-Disposition: form-data; name=\"" + kv[i] + "\"\r\n\r\n" + kv[i+1] + "\r\n")
	}
	b.WriteString("--b--\r\n")
	return b.String()
}

// The multipart reader takes any body without failing open: an offer is
// accepted only with an audio section, a session only beside one.
func FuzzReadOffer(f *testing.F) {
	f.Add(form("sdp", audioOffer, "session", `{"type":"realtime"}`))
	f.Add(form("sdp", audioOffer))
	f.Add("--b\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
		offer, session, code, _ := readOffer(httptest.NewRecorder(), r)
		if code == "" && !strings.Contains(offer, "m=audio") || code != "" && (offer != "" || session != nil) {
			t.Fatalf("offer %q session %q code %q", offer, session, code)
		}
	})
}

func FuzzParseOffer(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")
	f.Add("v=0\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseOffer([]byte(s))
		if err == nil && (got != s || !strings.Contains(s, "m=audio")) {
			t.Fatalf("accepted %q", s)
		}
	})
}
