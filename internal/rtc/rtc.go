// Package rtc owns Izwi's WebRTC: ingest for live sessions, where a
// browser (the /mic page) sends its microphone as an Opus track over
// DTLS-SRTP and gets the session's captions back over a data channel named
// "captions"; and calls (Calls, call.go), where the caller POSTs its SDP
// offer as OpenAI's Realtime API takes it and a service (the Realtime API,
// /v1/converse) talks to it through a Bridge: events on a data channel,
// the microphone as PCM16 messages, replies on an outgoing Opus track
// encoded with libopus in 20 ms frames paced in real time. A revoked key's
// peers end at once (RevokeSubject).
//
// Signalling is a WebSocket, GET /v1/sessions/{id}/webrtc, opened with a
// single-use live.write ticket (or the owner's key) exactly as the audio
// WebSocket is: the client sends {"type":"offer","sdp":"…"} (ICE
// candidates gathered, no trickle), the server answers
// {"type":"answer","sdp":"…"}, and the socket stays open as the peer's
// lifeline: closing it ends the peer, the peer ending closes it;
// {"type":"finalize"} on it ends the current utterance (Stop). The
// session's audio arrives through the same entry point every source uses
// (live.Sessions.Attach), decoded by internal/codec/opus at the
// recognizer's rate. Only Opus is negotiated, ICE offers host candidates
// (and STUN/TURN ones when configured), and media is DTLS-SRTP: pion
// offers nothing else.
//
// It imports live's contracts, never its manager, HTTP handlers or storage.
package rtc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/streams"
)

// Sessions is what WebRTC ingest needs of live sessions (live.Sessions).
type Sessions interface {
	Get(ctx context.Context, owner, id string) (live.Info, error)
	Attach(ctx context.Context, owner, id, source string) (live.Ingest, error)
	Watch(ctx context.Context, id string, after uint64) (live.Feed, error)
}

var _ Sessions = (live.Sessions)(nil)

// ICEServer is a STUN or TURN server offered to ICE.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Options are the handler's dependencies and settings.
type Options struct {
	// Sessions are the live sessions ingest feeds; nil serves calls only
	// (the signalling route answers 503).
	Sessions Sessions
	Slots    livehttp.Slots // a session slot while a peer streams, audio charged; nil: no quota
	// ICEServers are STUN/TURN servers; none: host candidates only (a
	// browser on the same network, or reaching the server directly).
	ICEServers []ICEServer
	// UDPPortMin and UDPPortMax bound the UDP ports ICE listens on (both
	// 0: any), for firewalls.
	UDPPortMin, UDPPortMax uint16
	// Loopback lets ICE use loopback addresses (tests on 127.0.0.1).
	Loopback bool
	// Idle closes a peer that sent no audio this long (default 15s).
	Idle time.Duration
	// OfferTimeout bounds the wait for the offer and for ICE gathering
	// (default 10s).
	OfferTimeout time.Duration
	Logger       *slog.Logger
}

// Handler serves the signalling WebSocket. Close ends its peers.
type Handler struct {
	opts  Options
	api   *webrtc.API
	open  streams.Set
	peers peers
}

// New builds the WebRTC stack: Opus only, DTLS-SRTP, UDP ICE.
func New(opts Options) (*Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Idle <= 0 {
		opts.Idle = 15 * time.Second
	}
	if opts.OfferTimeout <= 0 {
		opts.OfferTimeout = 10 * time.Second
	}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("rtc: registering opus: %w", err)
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetIncludeLoopbackCandidate(opts.Loopback)
	if opts.UDPPortMin != 0 || opts.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(opts.UDPPortMin, opts.UDPPortMax); err != nil {
			return nil, fmt.Errorf("rtc: udp port range: %w", err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	return &Handler{opts: opts, api: api}, nil
}

// Close ends every peer and waits for them until ctx ends; new ones are
// refused.
func (h *Handler) Close(ctx context.Context) error { return h.open.Close(ctx) }

func (h *Handler) config() webrtc.Configuration {
	var c webrtc.Configuration
	for _, s := range h.opts.ICEServers {
		c.ICEServers = append(c.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return c
}

var _ http.Handler = (*Handler)(nil)
