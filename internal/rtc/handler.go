package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
)

// Close codes, as the audio WebSocket uses them (internal/live/livehttp).
const (
	closeRevoked  websocket.StatusCode = 4001
	closeNotFound websocket.StatusCode = 4004
	closeTimeout  websocket.StatusCode = 4008
	closeConflict websocket.StatusCode = 4009
	closeQuota    websocket.StatusCode = 4029
)

// maxSignal bounds one signalling message: an SDP offer with its
// candidates is a few KB.
const maxSignal = 64 << 10

// signal is a signalling message.
type signal struct {
	Type string `json:"type"` // offer, answer
	SDP  string `json:"sdp,omitempty"`
}

// ServeHTTP serves GET /v1/sessions/{id}/webrtc. The caller is the
// session's owner (key or JWT with live.write), an admin, or holds a
// live.write ticket for this session.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.Subject == "" {
		apierr.Write(w, r, apierr.CodeUnauthenticated, "")
		return
	}
	id := r.PathValue("id")
	if !ticket.ValidSessionID(id) {
		apierr.Write(w, r, apierr.CodeNotFound, "no such session")
		return
	}
	owner := p.Subject
	if p.Has(auth.ScopeAdmin) {
		owner = ""
	}
	if p.Kind == auth.KindTicket {
		if p.SessionID != id || !p.Has(auth.ScopeLiveWrite) {
			apierr.Write(w, r, apierr.CodeNotFound, "no such session")
			return
		}
		owner = ""
	}
	if h.opts.Sessions == nil {
		apierr.Write(w, r, apierr.CodeNotReady, "WebRTC ingest is not served here")
		return
	}
	if !ticket.IsWebSocketUpgrade(r) {
		apierr.Write(w, r, apierr.CodeBadRequest, "GET /v1/sessions/{id}/webrtc is a WebSocket (signalling)")
		return
	}
	if _, err := h.opts.Sessions.Get(r.Context(), owner, id); err != nil {
		if errors.Is(err, live.ErrNotFound) {
			apierr.Write(w, r, apierr.CodeNotFound, "no such session")
		} else {
			apierr.Write(w, r, apierr.CodeInternal, "")
		}
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	done, ok := h.open.Add(func() { cancel(errShutdown) })
	if !ok {
		apierr.Write(w, r, apierr.CodeNotReady, "the server is shutting down")
		return
	}
	defer done()
	defer h.peers.add(p.Subject, cancel)()
	conn, err := livehttp.AcceptWS(w, r)
	if err != nil {
		return
	}
	conn.SetReadLimit(maxSignal)
	pr := &peer{h: h, conn: conn, who: p, owner: owner, id: id,
		log: h.opts.Logger.With("request_id", apierr.RequestID(r.Context()), "session_id", id)}
	start := time.Now()
	code, reason := pr.run(ctx)
	if code > 0 {
		_ = conn.Close(code, reason)
	} else {
		_ = conn.CloseNow()
	}
	pr.log.Info("rtc: peer closed", "close_code", int(code), "audio_seconds", time.Duration(pr.audio.Load()).Seconds(),
		"packets", pr.stats.packets.Load(), "lost", pr.stats.lost.Load(), "duration_ms", time.Since(start).Milliseconds())
}

// peer is one browser's connection: its signalling socket, its
// PeerConnection and the session's audio source.
type peer struct {
	h     *Handler
	conn  *websocket.Conn
	who   auth.Principal
	owner string
	id    string
	log   interface {
		Info(string, ...any)
		Warn(string, ...any)
	}

	sink live.Ingest
	slot livehttp.Slot

	audio     atomic.Int64 // audio as a time.Duration
	stats     trackStats
	trackOnce sync.Once
}

// run holds the peer until it ends and returns the close code and reason
// (code ≤ 0: drop the socket).
func (pr *peer) run(ctx context.Context) (websocket.StatusCode, string) {
	o := pr.h.opts
	if o.Slots != nil {
		slot, err := o.Slots.Acquire(ctx, pr.who)
		if err != nil {
			return closeQuota, "no session slot free for this key"
		}
		pr.slot = slot
		defer slot.Release()
	}
	sink, err := o.Sessions.Attach(ctx, pr.owner, pr.id, "webrtc")
	if err != nil {
		return liveClose(err)
	}
	pr.sink = sink
	defer sink.Close()

	offer, code, reason := pr.readOffer(ctx)
	if code != 0 {
		return code, reason
	}
	pc, err := pr.h.api.NewPeerConnection(pr.h.config())
	if err != nil {
		pr.log.Warn("rtc: new peer connection", "err", err)
		return websocket.StatusInternalError, "internal error"
	}
	pctx, stop := context.WithCancel(ctx)
	ended := make(chan string, 4)
	var wg sync.WaitGroup
	defer func() {
		stop()
		_ = pc.Close() // ends ReadRTP and the data channel
		wg.Wait()
	}()
	pr.stats.lastAudio.Store(time.Now().UnixNano())
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		pr.trackOnce.Do(func() {
			wg.Go(func() {
				if why := pr.pump(pctx, tr); why != "" {
					ended <- why
				}
			})
		})
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != "captions" {
			_ = dc.Close()
			return
		}
		dc.OnOpen(func() { wg.Go(func() { pr.captions(pctx, dc) }) })
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			select {
			case ended <- "the WebRTC connection " + s.String():
			default:
			}
		}
	})
	answer, err := pr.h.answer(ctx, pc, offer, nil)
	if err != nil {
		return websocket.StatusPolicyViolation, err.Error()
	}
	if err := pr.send(ctx, signal{Type: "answer", SDP: answer}); err != nil {
		return -1, ""
	}
	return pr.hold(ctx, ended)
}

// readOffer waits for the client's offer, at most OfferTimeout. A timer
// closes the socket properly: a cancelled read would drop it without a
// close frame.
func (pr *peer) readOffer(ctx context.Context) (string, websocket.StatusCode, string) {
	timedOut := make(chan struct{})
	timer := time.AfterFunc(pr.h.opts.OfferTimeout, func() {
		defer close(timedOut)
		_ = pr.conn.Close(closeTimeout, "no offer in time")
	})
	typ, b, err := pr.conn.Read(context.WithoutCancel(ctx))
	if !timer.Stop() {
		<-timedOut
		return "", -1, ""
	}
	if err != nil {
		return "", -1, ""
	}
	var s signal
	if typ != websocket.MessageText || json.Unmarshal(b, &s) != nil || s.Type != "offer" || s.SDP == "" {
		return "", websocket.StatusPolicyViolation, `the first message must be {"type":"offer","sdp":"…"}`
	}
	return s.SDP, 0, ""
}

// answer applies the offer, lets before add the server's tracks, and
// returns the answer with every local ICE candidate in it (no trickle).
// Its errors are the offer's fault, fit for the caller.
func (h *Handler) answer(ctx context.Context, pc *webrtc.PeerConnection, offer string, before func() error) (string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", errors.New("the SDP offer was refused")
	}
	if before != nil {
		if err := before(); err != nil {
			return "", errors.New("the offer cannot receive audio (it must offer a sendrecv Opus audio section)")
		}
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", errors.New("no answer to this offer (it must offer Opus audio)")
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return "", errors.New("the answer could not be applied")
	}
	t := time.NewTimer(h.opts.OfferTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-t.C:
		return "", errors.New("ICE gathering took too long")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

func (pr *peer) send(ctx context.Context, s signal) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return pr.conn.Write(wctx, websocket.MessageText, b)
}

// hold keeps the peer until the client closes the signalling socket, the
// connection fails, the audio stops or the server shuts down.
func (pr *peer) hold(ctx context.Context, ended <-chan string) (websocket.StatusCode, string) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		// After the answer the client may send {"type":"finalize"} (end
		// the utterance now: the user pressed Stop) and then closes;
		// reads run until the socket ends (CloseNow by the handler
		// unblocks them).
		for {
			_, b, err := pr.conn.Read(context.WithoutCancel(ctx))
			if err != nil {
				return
			}
			var s signal
			if json.Unmarshal(b, &s) == nil && s.Type == "finalize" {
				_ = pr.sink.Finalize()
			}
		}
	}()
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errRevoked) {
				return closeRevoked, "credential revoked"
			}
			return websocket.StatusGoingAway, "server closing"
		case <-closed:
			return -1, ""
		case why := <-ended:
			if why == whyStopped {
				return closeConflict, "the session has stopped"
			}
			if why == whyQuota {
				return closeQuota, "audio quota exhausted"
			}
			return websocket.StatusNormalClosure, why
		case <-idle.C:
			if time.Since(time.Unix(0, pr.stats.lastAudio.Load())) > pr.h.opts.Idle {
				return closeTimeout, "idle: no audio received"
			}
		}
	}
}

// liveClose maps an Attach error to a close code.
func liveClose(err error) (websocket.StatusCode, string) {
	switch {
	case errors.Is(err, live.ErrNotFound):
		return closeNotFound, "no such session"
	case errors.Is(err, live.ErrBusy):
		return closeConflict, "the session already has a source"
	case errors.Is(err, live.ErrTransition):
		return closeConflict, "the session has stopped"
	}
	return websocket.StatusInternalError, "internal error"
}
