package converse

import (
	"context"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
)

// This file is a conversation over a WebRTC call (package rtc answers
// the offer; its Bridge is the Call): the config and the events travel on
// the call's data channel, the caller's audio arrives from its Opus track
// and the reply plays on the call's own track. The Realtime API's calls
// (package realtime) use the same contracts.

// Conn is a session's message connection: a WebSocket, or a WebRTC
// call's data channel (rtc.Bridge).
type Conn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, b []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

var _ Conn = (*websocket.Conn)(nil)

// Call is a WebRTC call (rtc.Bridge): its Read returns the caller's audio
// as binary PCM16 LE mono messages at InputRate besides the data
// channel's events; WriteAudio plays reply audio on its track, paced, and
// ClearAudio discards what is queued (barge-in).
type Call interface {
	Conn
	InputRate() int
	WriteAudio(ctx context.Context, samples []float32, rate int) error
	ClearAudio()
}

// Charger charges a session's audio to the caller's quota (a held
// session slot: *limit.Session).
type Charger interface {
	ChargeAudio(ctx context.Context, d time.Duration) error
}

var _ Charger = (*limit.Session)(nil)

// ServeCall runs a conversation over a WebRTC call until it ends: the
// first data channel message is the config (its sample_rate may be left
// out: the call's audio is PCM16 at its InputRate), then events as on
// the WebSocket, without binary messages. who is the caller; slot (nil:
// no quota) is charged for the audio.
func (h *Handler) ServeCall(ctx context.Context, c Call, who auth.Principal, slot Charger, requestID string) {
	o := h.opts
	if o.Recognizer == nil || o.Synthesizer == nil || o.Chat == nil {
		_ = c.Close(websocket.StatusInternalError, "voice conversations need a streaming recognizer, a synthesizer and a chat upstream")
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &session{h: h, opts: o, id: requestID, stop: cancel, evSig: make(chan struct{}, 1), who: &who, sess: slot, conn: c, media: c}
	if s.id == "" {
		s.id = newRequestID()
	}
	s.log = o.Logger.With("request_id", s.id)
	s.run(ctx)
}
