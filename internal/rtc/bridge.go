package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/codec/opus"
)

// Bridge is one call's PeerConnection seen as a message connection, the
// way the WebSocket endpoints see theirs (it has *websocket.Conn's Read,
// Write, Close and CloseNow): text messages are the data channel's, the
// caller's Opus track arrives as binary messages of PCM16 LE mono at
// InputRate, and WriteAudio plays reply audio on the outgoing Opus track
// in 20 ms frames, paced in real time. Reads and writes are safe from
// different goroutines.
type Bridge struct {
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticSample
	rate   int
	maxMsg int

	in     chan inMsg
	closed chan struct{}
	once   sync.Once
	why    string // set before closed is closed

	dcMu   sync.Mutex
	dc     *webrtc.DataChannel
	opened chan struct{}

	outMu   sync.Mutex
	out     []float32 // 48 kHz samples not yet played
	outRate int
	rs      *audio.Resampler
	space   chan struct{}
}

type inMsg struct {
	typ websocket.MessageType
	b   []byte
}

// playRate is the outgoing track's rate; frame is one 20 ms packet.
const (
	playRate  = 48000
	frame     = playRate / 50
	frameTime = 20 * time.Millisecond
	// playLead is how much reply audio may wait to be played: what a
	// barge-in discards at most.
	playLead = 5 * frame
)

// errCallEnded is what Read and Write return once the call has ended.
var errCallEnded = errors.New("rtc: the call has ended")

func newBridge(pc *webrtc.PeerConnection, track *webrtc.TrackLocalStaticSample, rate, maxMsg int) *Bridge {
	return &Bridge{pc: pc, track: track, rate: rate, maxMsg: maxMsg, in: make(chan inMsg, 16),
		closed: make(chan struct{}), opened: make(chan struct{}), space: make(chan struct{}, 1)}
}

// InputRate is the rate of the binary messages Read returns.
func (b *Bridge) InputRate() int { return b.rate }

// Read returns the next message: a data channel text message, or one
// packet of the caller's audio (binary PCM16 LE mono at InputRate).
func (b *Bridge) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	select {
	case m := <-b.in:
		return m.typ, m.b, nil
	case <-b.closed:
		return 0, nil, errCallEnded
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// Write sends a text message on the data channel, waiting for it to open.
// Binary messages are refused: reply audio goes through WriteAudio.
func (b *Bridge) Write(ctx context.Context, typ websocket.MessageType, p []byte) error {
	if typ != websocket.MessageText {
		return errors.New("rtc: binary messages go through WriteAudio")
	}
	select {
	case <-b.opened:
	case <-b.closed:
		return errCallEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	b.dcMu.Lock()
	dc := b.dc
	b.dcMu.Unlock()
	if dc.BufferedAmount() > maxBuffered {
		return errors.New("rtc: the data channel is not being read")
	}
	return dc.SendText(string(p))
}

// Close ends the call. A data channel has no close code, so the code and
// reason a WebSocket would close with are sent first as the last event,
// {"type":"call.closed","code":4029,"reason":"…"}.
func (b *Bridge) Close(code websocket.StatusCode, reason string) error {
	select {
	case <-b.opened:
		b.dcMu.Lock()
		dc := b.dc
		b.dcMu.Unlock()
		if msg, err := json.Marshal(closedEvent{Type: "call.closed", Code: int(code), Reason: reason}); err == nil {
			_ = dc.SendText(string(msg))
		}
	default:
	}
	b.end(reason)
	return nil
}

// closedEvent is the call's last event.
type closedEvent struct {
	Type   string `json:"type"`
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// CloseNow ends the call.
func (b *Bridge) CloseNow() error {
	b.end("")
	return nil
}

func (b *Bridge) end(why string) {
	b.once.Do(func() {
		b.why = why
		close(b.closed)
	})
}

// deliver queues one inbound message; it waits while the session is
// behind, and drops the message once the call has ended.
func (b *Bridge) deliver(m inMsg) {
	select {
	case b.in <- m:
	case <-b.closed:
	}
}

// attach takes the caller's data channel (label checked by the caller).
func (b *Bridge) attach(dc *webrtc.DataChannel) {
	b.dcMu.Lock()
	if b.dc != nil {
		b.dcMu.Unlock()
		_ = dc.Close() // one channel per call
		return
	}
	b.dc = dc
	b.dcMu.Unlock()
	dc.OnOpen(func() { close(b.opened) })
	dc.OnClose(func() { b.end("the data channel closed") })
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		switch {
		case !m.IsString:
			b.end("events are JSON text messages")
		case len(m.Data) > b.maxMsg:
			b.end("message too large")
		default:
			b.deliver(inMsg{websocket.MessageText, m.Data})
		}
	})
}

// WriteAudio queues reply samples at rate for the outgoing track; it
// waits while more than playLead is queued, so the reply is paced at
// playback speed and a barge-in (ClearAudio) discards little.
func (b *Bridge) WriteAudio(ctx context.Context, samples []float32, rate int) error {
	b.outMu.Lock()
	if rate != b.outRate {
		b.outRate, b.rs = rate, nil
		if rate != playRate {
			rs, err := audio.NewResampler(rate, playRate)
			if err != nil {
				b.outMu.Unlock()
				return err
			}
			b.rs = rs
		}
	}
	if b.rs != nil {
		samples = b.rs.Process(samples)
	}
	b.outMu.Unlock()
	for len(samples) > 0 {
		b.outMu.Lock()
		n := min(max(playLead-len(b.out), 0), len(samples))
		b.out = append(b.out, samples[:n]...)
		b.outMu.Unlock()
		samples = samples[n:]
		if len(samples) == 0 {
			return nil
		}
		select {
		case <-b.space:
		case <-b.closed:
			return errCallEnded
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ClearAudio discards the reply audio not yet played (barge-in).
func (b *Bridge) ClearAudio() {
	b.outMu.Lock()
	b.out = b.out[:0]
	b.outMu.Unlock()
	select {
	case b.space <- struct{}{}:
	default:
	}
}

// play sends one 20 ms Opus frame every 20 ms until the call ends: the
// queued reply audio, or silence, so the track's RTP timestamps follow
// the clock. Frames are counted against the wall clock, so a late tick
// (a loaded machine) is caught up rather than lost; a stall longer than
// maxCatchUp frames is skipped rather than burst.
func (b *Bridge) play(enc *opus.Encoder) {
	pcm := make([]float32, frame)
	t := time.NewTicker(frameTime)
	defer t.Stop()
	start, sent := time.Now(), 0
	for {
		select {
		case <-b.closed:
			return
		case <-t.C:
		}
		due := int(time.Since(start)/frameTime) + 1
		if due-sent > maxCatchUp {
			sent = due - maxCatchUp
		}
		for ; sent < due; sent++ {
			b.frame(enc, pcm)
		}
	}
}

// maxCatchUp bounds the frames play sends at once after a late tick.
const maxCatchUp = 10

// frame encodes and sends the next 20 ms of queued audio (or silence).
func (b *Bridge) frame(enc *opus.Encoder, pcm []float32) {
	b.outMu.Lock()
	n := copy(pcm, b.out)
	b.out = append(b.out[:0], b.out[n:]...)
	b.outMu.Unlock()
	clear(pcm[n:])
	select {
	case b.space <- struct{}{}:
	default:
	}
	pkt, err := enc.Encode(pcm)
	if err != nil {
		return
	}
	// Before the connection, or after it failed, there is no one to send
	// to: the frame is dropped, the clock goes on.
	_ = b.track.WriteSample(media.Sample{Data: pkt, Duration: frameTime})
}
