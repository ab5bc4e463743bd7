package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"mime/multipart"
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

// callPeer is a pion peer playing a browser on a WebRTC call: a
// microphone track, one data channel, and the server's track recorded.
type callPeer struct {
	pc     *webrtc.PeerConnection
	mic    *webrtc.TrackLocalStaticSample
	dc     *webrtc.DataChannel
	events chan []byte
	opened chan struct{}
	closed chan struct{}

	mu    sync.Mutex
	heard []float32 // the server's track, decoded at 48 kHz
}

// dialCall offers a call to url with key and sets the answer.
func dialCall(t *testing.T, url, key, label string) *callPeer {
	t.Helper()
	return dialCallWith(t, label, func(offer string) string {
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

// dialCallWith makes the peer, has post exchange its offer for the
// answer, and waits for the data channel.
func dialCallWith(t *testing.T, label string, post func(offer string) string) *callPeer {
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
	mic, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "mic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(mic); err != nil {
		t.Fatal(err)
	}
	p := &callPeer{pc: pc, mic: mic, events: make(chan []byte, 256), opened: make(chan struct{}), closed: make(chan struct{})}
	if p.dc, err = pc.CreateDataChannel(label, nil); err != nil {
		t.Fatal(err)
	}
	p.dc.OnOpen(func() { close(p.opened) })
	p.dc.OnClose(func() { close(p.closed) })
	p.dc.OnMessage(func(m webrtc.DataChannelMessage) { p.events <- m.Data })
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

// send writes one event on the data channel.
func (p *callPeer) send(t *testing.T, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.dc.SendText(string(b)); err != nil {
		t.Fatal(err)
	}
}

// next is the next event, its type read.
func (p *callPeer) next(ctx context.Context, t *testing.T) (string, []byte) {
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

// speak plays 24 kHz PCM16 on the microphone track in 20 ms Opus frames,
// in real time, then seconds of silence.
func (p *callPeer) speak(t *testing.T, pcm []byte, silence float64) {
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
	for i := 0; i+960 <= len(s); i += 960 {
		pkt, err := enc.Encode(s[i : i+960])
		if err != nil {
			t.Fatal(err)
		}
		if err := p.mic.WriteSample(media.Sample{Data: pkt, Duration: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
}

// voiced is how much of what the peer heard is not silence (20 ms frames
// with some energy).
func (p *callPeer) voiced() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return voicedIn(p.heard, 48000)
}

func voicedIn(s []float32, rate int) time.Duration {
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

// recording is what the peer heard, as a WAV file.
func (p *callPeer) recording(t *testing.T) []byte {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var b bytes.Buffer
	if err := audio.EncodeWAV(&b, p.heard, 48000, 1); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// transcribe is a WAV file's words by the server's own recognizer.
func transcribe(t *testing.T, url, key string, wav []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("model", "whisper-1")
	fw, _ := mw.CreateFormFile("file", "reply.wav")
	_, _ = fw.Write(wav)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/audio/transcriptions", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Text string }
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("transcribing the reply: %d %s", resp.StatusCode, b)
	}
	return strings.ToLower(out.Text)
}

// pcmDuration is the length of 24 kHz PCM16.
func pcmDuration(pcm []byte) time.Duration {
	return time.Duration(len(pcm)/2) * time.Second / 24000
}
