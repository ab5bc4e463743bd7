package livehttp

// Caption WebSockets (GET /v1/sessions/{id}/captions), lean: the handler
// returns after the upgrade, and a viewer is its socket, one small reader
// goroutine (pings, pongs, the close handshake) and a place in the
// flusher, which writes the feed's frames as the publisher encoded them,
// one copy for every viewer. No buffers of its own: gobwas/ws frames the
// bytes (coder/websocket keeps the hijack's 4 KiB reader and writer per
// connection, which alone is 8 KiB of the 20 KiB a viewer may cost).

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
)

// viewerUpgrader echoes the izwi-ticket subprotocol when the browser
// offered it (browsers require the echo). Origin is not checked here: the
// gateway has checked it against the allow-list and this server's own
// origin before any credential was looked at (see AcceptWS).
var viewerUpgrader = ws.HTTPUpgrader{Protocol: func(p string) bool { return p == ticket.Subprotocol }}

// viewerReadLimit is the largest message a viewer may send (it is
// refused all the same: viewers send nothing but control frames).
const viewerReadLimit = 1024

// closeWait is how long a closing viewer has to answer the close frame.
const closeWait = 5 * time.Second

// adapterQueue is how many encoded events a feed without frames (a
// translated one) holds for its socket before it stops taking more (and
// the feed's own bound ends it for falling behind).
const adapterQueue = 16

// wsViewer is one caption WebSocket.
type wsViewer struct {
	h    *Handlers
	ctx  context.Context
	conn net.Conn
	src  io.Reader // conn, or the hijack's reader when the client spoke first
	feed live.FrameFeed
	end  func() // releases the tracked handler's bookkeeping

	state int // the flusher's, under flusher.mu

	// mu serialises the socket's writes (so frames never interleave) and
	// guards what follows; holding it across a write is its purpose.
	mu        sync.Mutex
	last      uint64 // Seq of the last frame written
	closeSent bool
	finished  bool
	pingDue   bool
	awaitPong bool
	beat      *time.Timer
}

// captionsWS serves GET /v1/sessions/{id}/captions: one JSON live.Event
// per text message, catch-up first (after=<seq>), pings every Heartbeat.
func (h *Handlers) captionsWS(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	feed, after, ok := h.openFeed(ctx, w, r, false)
	if !ok {
		return
	}
	conn, rw, _, err := viewerUpgrader.Upgrade(r, w)
	if err != nil {
		feed.Close()
		if conn != nil {
			conn.Close()
		}
		return // the upgrader has answered
	}
	v := &wsViewer{h: h, ctx: ctx, conn: conn, src: conn, last: after, end: holdConn(ctx)}
	if rw.Reader.Buffered() > 0 {
		v.src = rw.Reader
	}
	ff, ok := feed.(live.FrameFeed)
	if !ok {
		ff = newFrameAdapter(feed)
	}
	v.feed = ff
	v.mu.Lock()
	v.beat = time.AfterFunc(h.opts.Heartbeat, v.heartbeat)
	v.mu.Unlock()
	go v.read()
	context.AfterFunc(ctx, v.ctxEnded)
	ff.Frames(ctx, func() { h.flush.schedule(v) })
}

// read answers pings and the client's close until the socket ends, then
// ends the viewer. Viewers send no messages: a data frame is closed with
// 1008.
func (v *wsViewer) read() {
	defer v.finish()
	ctl := wsutil.ControlHandler{Src: v.src, Dst: controlWriter{v}, State: ws.StateServerSide}
	for {
		hd, err := ws.ReadHeader(v.src)
		if err != nil {
			return
		}
		if !hd.Masked || hd.Rsv != 0 || hd.OpCode.IsReserved() || (hd.OpCode.IsControl() && (hd.Length > 125 || !hd.Fin)) {
			v.close(websocket.StatusProtocolError, "malformed frame")
			return
		}
		switch {
		case hd.OpCode == ws.OpClose:
			if !v.closing() {
				p := make([]byte, hd.Length)
				if _, err := io.ReadFull(v.src, p); err != nil {
					return
				}
				ws.Cipher(p, hd.Mask, 0)
				code, reason := ws.ParseCloseFrameData(p)
				if ws.CheckCloseFrameData(code, reason) != nil {
					code = ws.StatusProtocolError
				}
				v.close(websocket.StatusCode(code), "")
			}
			return
		case hd.OpCode.IsControl():
			if hd.OpCode == ws.OpPong {
				v.mu.Lock()
				v.awaitPong = false
				v.mu.Unlock()
			}
			if ctl.Handle(hd) != nil {
				return
			}
		case hd.Length > viewerReadLimit:
			// Not read to its end: a little is drained so the close frame
			// is not lost to a reset.
			v.close(websocket.StatusMessageTooBig, "viewers send no messages")
			_, _ = io.CopyN(io.Discard, v.src, min(hd.Length, 64<<10))
			return
		default:
			v.close(websocket.StatusPolicyViolation, "viewers send no messages")
			if _, err := io.CopyN(io.Discard, v.src, hd.Length); err != nil {
				return
			}
		}
	}
}

// controlWriter writes the reader's pongs between the flusher's frames.
type controlWriter struct{ v *wsViewer }

func (c controlWriter) Write(p []byte) (int, error) {
	c.v.mu.Lock()
	defer c.v.mu.Unlock()
	if c.v.closeSent || c.v.finished {
		return len(p), nil
	}
	_ = c.v.conn.SetWriteDeadline(time.Now().Add(c.v.h.opts.WriteTimeout))
	return c.v.conn.Write(p)
}

func (v *wsViewer) closing() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.closeSent || v.finished
}

// close sends the close frame (once) and gives the client closeWait to
// answer it; the reader ends the viewer when it does.
func (v *wsViewer) close(code websocket.StatusCode, reason string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closeSent || v.finished {
		return
	}
	v.closeSent = true
	var body []byte
	if code != websocket.StatusNoStatusRcvd {
		body = ws.NewCloseFrameBody(ws.StatusCode(code), closeReason(reason))
	}
	_ = v.conn.SetWriteDeadline(time.Now().Add(v.h.opts.WriteTimeout))
	if _, err := v.conn.Write(appendFrame(nil, ws.OpClose, body)); err != nil {
		v.conn.Close()
		return
	}
	_ = v.conn.SetReadDeadline(time.Now().Add(closeWait))
}

// ctxEnded closes the socket when its context ends: 1001 at shutdown,
// 4001 when its credentials are revoked.
func (v *wsViewer) ctxEnded() {
	if code, reason, ok := endCode(v.ctx); ok {
		v.close(code, reason)
		return
	}
	v.conn.Close()
}

// heartbeat pings the viewer every Heartbeat through the flusher; one
// that has not answered the previous ping is gone.
func (v *wsViewer) heartbeat() {
	v.mu.Lock()
	if v.finished || v.closeSent {
		v.mu.Unlock()
		return
	}
	if v.awaitPong {
		v.mu.Unlock()
		v.conn.Close()
		return
	}
	v.pingDue = true
	v.beat.Reset(v.h.opts.Heartbeat)
	v.mu.Unlock()
	v.h.flush.schedule(v)
}

// finish ends the viewer once the reader has.
func (v *wsViewer) finish() {
	v.conn.Close() // unblocks a write in progress
	v.mu.Lock()
	v.finished = true
	v.beat.Stop()
	v.mu.Unlock()
	v.feed.Close()
	v.end()
}

// flush writes the waiting frames, a ping when one is due, and the close
// when the feed has ended. It reports false when a write outlasted
// fastWrite and went on in a goroutine of its own.
func (v *wsViewer) flush(w *flushWorker) bool {
	w.frames = v.feed.Take(w.frames[:0])
	v.mu.Lock()
	if v.closeSent || v.finished {
		v.mu.Unlock()
		return true
	}
	for i, fr := range w.frames {
		w.out = appendFrame(w.out[:0], ws.OpText, fr.JSON)
		if !v.write(w.out, fr.Seq, w.frames[i+1:]) {
			return false // v.mu goes with the write
		}
		if v.finished {
			v.mu.Unlock()
			return true
		}
	}
	if v.pingDue {
		v.pingDue, v.awaitPong = false, true
		w.out = appendFrame(w.out[:0], ws.OpPing, nil)
		if !v.write(w.out, v.last, nil) {
			return false
		}
	}
	ended := len(w.frames) == 0 && v.feed.Err() != nil
	v.mu.Unlock()
	if ended {
		code, reason := feedEnd(v.feed.Err(), v.last)
		if c2, r2, ok := endCode(v.ctx); ok {
			code, reason = c2, r2
		}
		v.close(code, reason)
	}
	return true
}

// write writes one frame (for Seq seq) with v.mu held, giving the socket
// fastWrite. Past it, the rest of the frame and then more go on in a
// goroutine of the viewer's own, which has WriteTimeout, unlocks v.mu and
// tells the flusher; write then reports false. A failed write ends the
// viewer (finished).
func (v *wsViewer) write(frame []byte, seq uint64, more []live.Frame) bool {
	start := time.Now()
	_ = v.conn.SetWriteDeadline(start.Add(min(fastWrite, v.h.opts.WriteTimeout)))
	n, err := v.conn.Write(frame)
	if err == nil {
		v.last = seq
		return true
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) || fastWrite >= v.h.opts.WriteTimeout {
		v.fellBehind()
		return true
	}
	rest := append([]byte(nil), frame[n:]...)
	more = append([]live.Frame(nil), more...)
	go v.slowWrite(rest, seq, more, start.Add(v.h.opts.WriteTimeout))
	return false
}

// slowWrite finishes a write that outlasted fastWrite, then the frames
// that were waiting behind it, each within WriteTimeout.
func (v *wsViewer) slowWrite(rest []byte, seq uint64, more []live.Frame, deadline time.Time) {
	defer v.h.flush.done(v)
	defer v.mu.Unlock()
	_ = v.conn.SetWriteDeadline(deadline)
	if _, err := v.conn.Write(rest); err != nil {
		v.fellBehind()
		return
	}
	v.last = seq
	var out []byte
	for _, fr := range more {
		out = appendFrame(out[:0], ws.OpText, fr.JSON)
		_ = v.conn.SetWriteDeadline(time.Now().Add(v.h.opts.WriteTimeout))
		if _, err := v.conn.Write(out); err != nil {
			v.fellBehind()
			return
		}
		v.last = fr.Seq
	}
}

// fellBehind ends a viewer whose write failed mid-frame, when no close
// frame can follow: it reconnects with after= (the 4008 close says so
// when the feed's own bound ends it first). v.mu is held.
func (v *wsViewer) fellBehind() {
	v.finished = true
	v.conn.Close()
}

// appendFrame appends one unmasked final frame (server to client).
func appendFrame(dst []byte, op ws.OpCode, p []byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, p...)
}

// frameAdapter gives a Feed without frames (a translated feed) the
// FrameFeed methods: a goroutine encodes its events.
type frameAdapter struct {
	src  live.Feed
	ch   chan live.Frame
	stop chan struct{}
	once sync.Once
	done atomic.Bool
	err  atomic.Pointer[error]
}

var _ live.FrameFeed = (*frameAdapter)(nil)

func newFrameAdapter(src live.Feed) *frameAdapter {
	return &frameAdapter{src: src, ch: make(chan live.Frame, adapterQueue), stop: make(chan struct{})}
}

func (a *frameAdapter) Events() <-chan live.Event { return a.src.Events() }

// Err is the source's, once every frame was taken.
func (a *frameAdapter) Err() error {
	if !a.done.Load() || len(a.ch) > 0 {
		return nil
	}
	if p := a.err.Load(); p != nil {
		return *p
	}
	return a.src.Err()
}

func (a *frameAdapter) Close() {
	a.once.Do(func() { close(a.stop) })
	a.src.Close()
}

func (a *frameAdapter) Frames(_ context.Context, notify func()) {
	go func() {
		defer func() { a.done.Store(true); notify() }()
		for ev := range a.src.Events() {
			b, err := json.Marshal(ev)
			if err != nil {
				err = errors.New("livehttp: encoding an event failed")
				a.err.Store(&err)
				a.src.Close()
				return
			}
			select {
			case a.ch <- live.Frame{Seq: ev.Seq, JSON: b}:
				notify()
			case <-a.stop:
				return
			}
		}
	}()
}

func (a *frameAdapter) Take(buf []live.Frame) []live.Frame {
	for {
		select {
		case fr := <-a.ch:
			buf = append(buf, fr)
		default:
			return buf
		}
	}
}
