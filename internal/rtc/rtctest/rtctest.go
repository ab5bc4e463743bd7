// Package rtctest is a pion peer playing a browser on a WebRTC call (the
// calls of package rtc): a microphone track it speaks PCM on in real time,
// one data channel, and the server's track recorded. For tests and
// benchmarks only.
package rtctest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/codec/opus"
)

// Peer is a pion peer playing a browser on a WebRTC call: a
// microphone track, one data channel, and the server's track recorded.
type Peer struct {
	PC     *webrtc.PeerConnection
	mic    *webrtc.TrackLocalStaticSample
	DC     *webrtc.DataChannel
	events chan []byte
	opened chan struct{}
	Closed chan struct{} // closed with the data channel

	mu     sync.Mutex
	heard  []float32   // the server's track, decoded at 48 kHz
	voiced []time.Time // when each voiced 20 ms frame of it arrived
}

// Dial offers a call to url with key and sets the answer.
func Dial(t testing.TB, url, key, label string) *Peer {
	t.Helper()
	return DialWith(t, label, func(offer string) string {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") == "" {
			t.Fatalf("POST %s: %d %s", url, resp.StatusCode, answer)
		}
		return string(answer)
	})
}

// NewPeerConnection is a browser-like PeerConnection on loopback UDP
// (pion's default codecs), closed when the test ends.
func NewPeerConnection(t testing.TB) *webrtc.PeerConnection {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// DialWith makes the peer, has post exchange its offer for the
// answer, and waits for the data channel.
func DialWith(t testing.TB, label string, post func(offer string) string) *Peer {
	t.Helper()
	pc := NewPeerConnection(t)
	mic, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "mic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(mic); err != nil {
		t.Fatal(err)
	}
	p := &Peer{PC: pc, mic: mic, events: make(chan []byte, 256), opened: make(chan struct{}), Closed: make(chan struct{})}
	if p.DC, err = pc.CreateDataChannel(label, nil); err != nil {
		t.Fatal(err)
	}
	p.DC.OnOpen(func() { close(p.opened) })
	p.DC.OnClose(func() { close(p.Closed) })
	p.DC.OnMessage(func(m webrtc.DataChannelMessage) { p.events <- m.Data })
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		dec, err := opus.NewDecoder(48000, 1)
		if err != nil {
			return
		}
		defer dec.Close()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if pcm, err := dec.Decode(pkt.Payload); err == nil {
				p.mu.Lock()
				p.heard = append(p.heard, pcm...)
				if Voiced(pcm, 48000) > 0 {
					p.voiced = append(p.voiced, time.Now())
				}
				p.mu.Unlock()
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	answer := post(pc.LocalDescription().SDP)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.opened:
	case <-time.After(15 * time.Second):
		t.Fatal("the data channel did not open")
	}
	return p
}

// Send writes one event on the data channel.
func (p *Peer) Send(t testing.TB, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.DC.SendText(string(b)); err != nil {
		t.Fatal(err)
	}
}

// Next is the next event, its type read.
func (p *Peer) Next(ctx context.Context, t testing.TB) (string, []byte) {
	t.Helper()
	select {
	case b := <-p.events:
		var e struct{ Type string }
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("event %s", b)
		}
		return e.Type, b
	case <-ctx.Done():
		t.Fatal("timed out waiting for an event")
	}
	return "", nil
}

// Await reads events until one of type typ and returns it; an error
// event fails the test.
func (p *Peer) Await(ctx context.Context, t testing.TB, typ string) []byte {
	t.Helper()
	for {
		got, raw := p.Next(ctx, t)
		if got == "error" && typ != "error" {
			t.Fatalf("error event: %s", raw)
		}
		if got == typ {
			return raw
		}
	}
}

// Speak plays 24 kHz PCM16 on the microphone track in 20 ms Opus frames,
// in real time, then seconds of silence; it returns when the last frame
// of speech was sent.
func (p *Peer) Speak(t testing.TB, pcm []byte, silence float64) time.Time {
	t.Helper()
	rs, err := audio.NewResampler(24000, 48000)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, len(pcm)/2)
	for i := range in {
		in[i] = float32(int16(uint16(pcm[2*i])|uint16(pcm[2*i+1])<<8)) / 32768
	}
	s := append(rs.Process(in), rs.Flush()...)
	s = append(s, make([]float32, int(silence*48000))...)
	enc, err := opus.NewEncoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	speech, last := len(s)-int(silence*48000), time.Time{}
	for i := 0; i+960 <= len(s); i += 960 {
		pkt, err := enc.Encode(s[i : i+960])
		if err != nil {
			t.Fatal(err)
		}
		if err := p.mic.WriteSample(media.Sample{Data: pkt, Duration: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		if i < speech {
			last = time.Now()
		}
		<-tick.C
	}
	return last
}

// FirstVoiceAfter is when the first voiced frame after t0 arrived (zero:
// none yet).
func (p *Peer) FirstVoiceAfter(t0 time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, at := range p.voiced {
		if at.After(t0) {
			return at
		}
	}
	return time.Time{}
}

// Voiced is how much of what the peer heard is not silence (20 ms frames
// with some energy).
func (p *Peer) Voiced() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Voiced(p.heard, 48000)
}

func Voiced(s []float32, rate int) time.Duration {
	n, size := 0, rate/50
	for i := 0; i+size <= len(s); i += size {
		var e float64
		for _, x := range s[i : i+size] {
			e += float64(x * x)
		}
		if math.Sqrt(e/float64(size)) > 0.01 {
			n++
		}
	}
	return time.Duration(n) * 20 * time.Millisecond
}

// Recording is what the peer heard, as a WAV file.
func (p *Peer) Recording(t testing.TB) []byte {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var b bytes.Buffer
	if err := audio.EncodeWAV(&b, p.heard, 48000, 1); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
