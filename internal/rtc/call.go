package rtc

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/codec/opus"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
)

// CallOptions describe one kind of call: a route the caller POSTs its SDP
// offer to (Content-Type application/sdp, ICE candidates gathered), which
// answers 201 with the SDP answer and then runs Serve over the call's
// Bridge, as OpenAI's Realtime API serves WebRTC.
type CallOptions struct {
	// Label is the data channel the caller opens for events
	// ("oai-events"); any other channel is closed.
	Label string
	// InputRate is the rate the caller's audio is decoded to (Bridge.Read).
	InputRate int
	// MaxMessage bounds one data channel message (default 64 KiB).
	MaxMessage int
	// Location is the prefix of the call's URL in the Location header
	// ("/v1/realtime/calls/").
	Location string
	// Check, if set, vets the offer's session part (OpenAI's multipart
	// form) before a peer is made; an *apierr.Error keeps its code. Nil:
	// a session part is refused.
	Check func(who auth.Principal, session []byte) error
	// Serve runs the call until it ends (ctx ends at shutdown or when the
	// caller's key is revoked); the peer is closed and the slot released
	// after it returns. slot is nil without a quota; session is the
	// offer's session part (nil: none).
	Serve func(ctx context.Context, b *Bridge, who auth.Principal, slot livehttp.Slot, session []byte)
}

// Calls returns the handler of one kind of call.
func (h *Handler) Calls(o CallOptions) http.Handler {
	if o.MaxMessage <= 0 {
		o.MaxMessage = 64 << 10
	}
	return &calls{h: h, o: o}
}

type calls struct {
	h *Handler
	o CallOptions
}

// ServeHTTP answers one offer and starts the call.
func (c *calls) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.Subject == "" {
		apierr.Write(w, r, apierr.CodeUnauthenticated, "")
		return
	}
	offer, session, code, msg := readOffer(w, r)
	if code == "" && session != nil && c.o.Check == nil {
		code, msg = apierr.CodeBadRequest, "this route takes no session part"
	}
	if code == "" && session != nil && c.o.Check != nil {
		if err := c.o.Check(p, session); err != nil {
			code, msg = apierr.CodeBadRequest, err.Error()
			var ae *apierr.Error
			if errors.As(err, &ae) {
				code, msg = ae.Code, ae.Message
			}
		}
	}
	if code != "" {
		apierr.Write(w, r, code, msg)
		return
	}
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	done, ok := c.h.open.Add(func() { cancel(errShutdown) })
	if !ok {
		cancel(nil)
		apierr.Write(w, r, apierr.CodeNotReady, "the server is shutting down")
		return
	}
	forget := c.h.peers.add(p.Subject, cancel)
	started := false
	defer func() {
		if !started {
			forget()
			cancel(nil)
			done()
		}
	}()
	var slot livehttp.Slot
	if c.h.opts.Slots != nil {
		var err error
		if slot, err = c.h.opts.Slots.Acquire(r.Context(), p); err != nil {
			apierr.Write(w, r, apierr.CodeQuotaExceeded, "no session slot free for this key")
			return
		}
	}
	cl, answer, err := c.start(r.Context(), offer)
	if err != nil {
		if slot != nil {
			slot.Release()
		}
		if errors.Is(err, errInternal) {
			apierr.Write(w, r, apierr.CodeInternal, "")
		} else {
			apierr.Write(w, r, apierr.CodeUnprocessable, err.Error())
		}
		return
	}
	started = true
	go func() {
		defer done()
		defer forget()
		defer cancel(nil)
		if slot != nil {
			defer slot.Release()
		}
		cl.run(ctx, func(ctx context.Context) { c.o.Serve(ctx, cl.b, p, slot, session) })
	}()
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", c.o.Location+cl.id)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// errInternal marks a failure that is the server's, not the offer's.
var errInternal = errors.New("internal error")

// call is one answered offer: its PeerConnection, bridge and goroutines.
type call struct {
	id        string
	pc        *webrtc.PeerConnection
	b         *Bridge
	enc       *opus.Encoder
	connected chan struct{}
	wg        sync.WaitGroup
}

// start builds the PeerConnection with its outgoing Opus track and
// answers the offer.
func (c *calls) start(ctx context.Context, offer string) (*call, string, error) {
	h := c.h
	enc, err := opus.NewEncoder(playRate, 1)
	if err != nil {
		return nil, "", errInternal
	}
	pc, err := h.api.NewPeerConnection(h.config())
	if err != nil {
		enc.Close()
		return nil, "", errInternal
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "izwi")
	if err != nil {
		enc.Close()
		_ = pc.Close()
		return nil, "", errInternal
	}
	cl := &call{id: newCallID(), pc: pc, enc: enc, connected: make(chan struct{}), b: newBridge(pc, track, c.o.InputRate, c.o.MaxMessage)}
	var once sync.Once
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		once.Do(func() { cl.wg.Go(func() { cl.listen(tr) }) })
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != c.o.Label {
			_ = dc.Close()
			return
		}
		cl.b.attach(dc)
	})
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			connOnce.Do(func() { close(cl.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			cl.b.end("the WebRTC connection " + s.String())
		}
	})
	answer, err := h.answer(ctx, pc, offer, func() error {
		sender, err := pc.AddTrack(track)
		if err != nil {
			return err
		}
		cl.wg.Go(func() { drainRTCP(sender) })
		return nil
	})
	if err != nil {
		cl.b.end("")
		_ = pc.Close()
		cl.wg.Wait()
		enc.Close()
		return nil, "", err
	}
	return cl, answer, nil
}

// run plays the outgoing track and serves the call until either ends,
// then closes the peer. A peer that has not connected within the offer
// timeout is ended.
func (cl *call) run(ctx context.Context, serve func(context.Context)) {
	cl.wg.Go(func() { cl.b.play(cl.enc) })
	sctx, stop := context.WithCancel(ctx)
	cl.wg.Go(func() {
		t := time.NewTimer(connectTimeout)
		defer t.Stop()
		select {
		case <-cl.connected:
		case <-t.C:
			cl.b.end("the peer did not connect in time")
		case <-sctx.Done():
		}
		select {
		case <-cl.b.closed:
		case <-sctx.Done():
		}
		stop() // the bridge ended: the service's reads fail, ctx ends its waits
	})
	serve(sctx)
	cl.b.end("")
	stop()
	_ = cl.pc.Close()
	cl.wg.Wait()
	cl.enc.Close()
}

// connectTimeout bounds the wait for ICE and DTLS after the answer.
const connectTimeout = 15 * time.Second

// listen hands the caller's audio to the bridge as PCM16 messages.
func (cl *call) listen(tr *webrtc.TrackRemote) {
	var stats trackStats
	_ = decodeTrack(context.Background(), tr, cl.b.rate, &stats, func(pcm []float32) error {
		cl.b.deliver(inMsg{typ: websocket.MessageBinary, b: audio.EncodePCM16(pcm)})
		return nil
	})
}

// drainRTCP reads the sender's RTCP (receiver reports) so its
// interceptors run; it ends with the PeerConnection.
func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// readOffer reads the offer: the body (Content-Type application/sdp), or
// OpenAI's multipart form: an "sdp" part and an optional "session" part
// (JSON), each ≤ 64 KiB. code is "" when it was read.
func readOffer(w http.ResponseWriter, r *http.Request) (offer string, session []byte, code apierr.Code, msg string) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err == nil && mt == "application/sdp":
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSignal))
		if err != nil {
			return tooLarge(err)
		}
		offer, err := parseOffer(body)
		if err != nil {
			return "", nil, apierr.CodeBadRequest, err.Error()
		}
		return offer, nil, "", ""
	case err == nil && mt == "multipart/form-data" && params["boundary"] != "":
		return readForm(multipart.NewReader(http.MaxBytesReader(w, r.Body, 2*maxSignal+4096), params["boundary"]))
	}
	return "", nil, apierr.CodeUnsupportedMediaType, "the body must be the SDP offer (Content-Type: application/sdp) or a multipart form with an sdp part"
}

// readForm reads the multipart form's sdp and session parts.
func readForm(mr *multipart.Reader) (offer string, session []byte, code apierr.Code, msg string) {
	var sdpPart []byte
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return tooLarge(err)
		}
		name := part.FormName()
		if name != "sdp" && name != "session" {
			return "", nil, apierr.CodeBadRequest, "the form has sdp and session parts only"
		}
		b, err := io.ReadAll(io.LimitReader(part, maxSignal+1))
		if err != nil {
			return tooLarge(err)
		}
		if len(b) > maxSignal {
			return "", nil, apierr.CodePayloadTooLarge, "an SDP offer or a session is at most 64 KiB"
		}
		if name == "sdp" {
			sdpPart = b
		} else {
			session = b
		}
	}
	offer, err := parseOffer(sdpPart)
	if err != nil {
		return "", nil, apierr.CodeBadRequest, err.Error()
	}
	return offer, session, "", ""
}

// tooLarge maps a body read's error to a refusal.
func tooLarge(err error) (string, []byte, apierr.Code, string) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "", nil, apierr.CodePayloadTooLarge, "an SDP offer is at most 64 KiB"
	}
	return "", nil, apierr.CodeBadRequest, "the offer could not be read"
}

// parseOffer checks an SDP offer before pion sees it: UTF-8 text that
// parses as SDP with an audio section.
func parseOffer(b []byte) (string, error) {
	var d sdp.SessionDescription
	if len(b) == 0 || d.UnmarshalString(string(b)) != nil {
		return "", errors.New("the body is not an SDP offer")
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			return string(b), nil
		}
	}
	return "", errors.New("the offer has no audio section")
}
