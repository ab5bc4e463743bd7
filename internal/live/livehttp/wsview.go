package livehttp

// Caption WebSockets (GET /v1/sessions/{id}/captions), lean: the handler
// returns after the upgrade, and a viewer is its socket, a place in the
// poller, which reads what it sends (pings, pongs, the close handshake),
// and a place in the flusher, which writes the feed's frames as the
// publisher encoded them, one copy for every viewer. No buffers of its own: gobwas/ws frames the
// bytes (coder/websocket keeps the hijack's 4 KiB reader and writer per
// connection, which alone is 8 KiB of the 20 KiB a viewer may cost).

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

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

// wsViewer is one caption WebSocket.
type wsViewer struct {
	h    *Handlers
	ctx  context.Context
	conn net.Conn
	feed live.FrameFeed
	end  func() // releases the tracked handler's bookkeeping
	// raw and fd are the socket's when poll watches it.
	poll *poller
	raw  syscall.RawConn
	fd   int

	state int // the flusher's, under flusher.mu

	// Read side, touched by one reader at a time (the poller or the
	// socket's reader goroutine): a frame split across reads, and how much
	// of a refused message is still to skip.
	partial []byte
	skip    int64

	// req holds what the reader and the timers ask the flusher to write;
	// it is never held across I/O.
	req       sync.Mutex
	pong      []byte // payload of a ping to answer (nil: none)
	closeDue  bool
	closeCode websocket.StatusCode
	closeWhy  string
	pingDue   bool
	awaitPong bool

	// mu serialises the socket's writes (so frames never interleave) and
	// guards last and closeSent; holding it across a write is its purpose.
	mu        sync.Mutex
	last      uint64 // Seq of the last frame written
	closeSent bool

	finished atomic.Bool
	once     sync.Once
	timers   sync.Mutex
	beat     *time.Timer // the heartbeat
	linger   *time.Timer // closeWait after the close frame
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
	ff, ok := feed.(live.FrameFeed)
	if !ok {
		ff = newFrameAdapter(feed)
	}
	v := &wsViewer{h: h, ctx: ctx, conn: conn, feed: ff, fd: -1, last: after, end: holdConn(ctx)}
	// The poller or the reader goroutine may end the viewer from here on.
	if n := rw.Reader.Buffered(); n > 0 { // the client spoke first: read in order
		go v.readLoop(rw.Reader, make([]byte, 512))
	} else if !h.poll.watch(v) {
		go v.readLoop(conn, make([]byte, 512))
	}
	v.timers.Lock()
	if !v.finished.Load() {
		v.beat = time.AfterFunc(h.opts.Heartbeat, v.heartbeat)
	}
	v.timers.Unlock()
	context.AfterFunc(ctx, v.ctxEnded)
	ff.Frames(ctx, v.wake)
}

// wake asks the flusher for a turn.
func (v *wsViewer) wake() { v.h.flush.schedule(v) }

// received handles what the client sent: pings are answered, pongs
// noted, a close answered, and any message refused (viewers send none):
// 1008, or 1009 past viewerReadLimit, or 1002 for a malformed frame.
func (v *wsViewer) received(b []byte) {
	if len(v.partial) > 0 {
		b = append(v.partial, b...)
		v.partial = nil
	}
	for len(b) > 0 {
		if v.skip > 0 {
			n := min(v.skip, int64(len(b)))
			v.skip -= n
			b = b[n:]
			continue
		}
		r := bytes.NewReader(b)
		hd, err := ws.ReadHeader(r)
		if err != nil { // incomplete: wait for the rest
			v.keep(b)
			return
		}
		hlen := len(b) - r.Len()
		switch {
		case !hd.Masked || hd.Rsv != 0 || hd.OpCode.IsReserved() || (hd.OpCode.IsControl() && (hd.Length > 125 || !hd.Fin)):
			v.requestClose(websocket.StatusProtocolError, "malformed frame")
			v.skip = 1 << 62 // nothing after it makes sense
		case !hd.OpCode.IsControl():
			if hd.Length > viewerReadLimit {
				v.requestClose(websocket.StatusMessageTooBig, "viewers send no messages")
			} else {
				v.requestClose(websocket.StatusPolicyViolation, "viewers send no messages")
			}
			v.skip = hd.Length
		case int64(len(b)-hlen) < hd.Length: // a control frame's payload is still on its way
			v.keep(b)
			return
		default:
			p := b[hlen : hlen+int(hd.Length)]
			ws.Cipher(p, hd.Mask, 0)
			v.control(hd.OpCode, p)
		}
		if v.skip == 0 {
			b = b[hlen+int(hd.Length):]
		} else {
			b = b[hlen:]
		}
	}
}

// keep holds the start of a frame until the rest arrives (at most a
// header and a control frame's payload).
func (v *wsViewer) keep(b []byte) {
	if len(b) > ws.MaxHeaderSize+125 {
		v.finish()
		return
	}
	v.partial = append([]byte(nil), b...)
}

// control handles a ping, pong or close from the client.
func (v *wsViewer) control(op ws.OpCode, p []byte) {
	v.req.Lock()
	switch op {
	case ws.OpPing:
		v.pong = append(make([]byte, 0, len(p)), p...)
	case ws.OpPong:
		v.awaitPong = false
	case ws.OpClose:
		v.mu.Lock()
		sent := v.closeSent
		v.mu.Unlock()
		if sent { // the answer to ours: done
			v.req.Unlock()
			v.finish()
			return
		}
		code, reason := ws.ParseCloseFrameData(p)
		switch {
		case ws.CheckCloseFrameData(code, reason) != nil:
			code = ws.StatusProtocolError
		case code.Empty():
			code = ws.StatusNoStatusRcvd
		}
		v.closeDue, v.closeCode, v.closeWhy = true, websocket.StatusCode(code), ""
	}
	v.req.Unlock()
	v.wake()
}

// requestClose asks for the close frame (the first request wins).
func (v *wsViewer) requestClose(code websocket.StatusCode, reason string) {
	v.req.Lock()
	if !v.closeDue {
		v.closeDue, v.closeCode, v.closeWhy = true, code, reason
	}
	v.req.Unlock()
	v.wake()
}

// ctxEnded closes the socket when its context ends: 1001 at shutdown,
// 4001 when its credentials are revoked.
func (v *wsViewer) ctxEnded() {
	if code, reason, ok := endCode(v.ctx); ok {
		v.requestClose(code, reason)
		return
	}
	v.finish()
}

// heartbeat asks for a ping every Heartbeat; a viewer that has not
// answered the previous one is gone.
func (v *wsViewer) heartbeat() {
	v.req.Lock()
	gone := v.awaitPong
	v.pingDue = true
	v.req.Unlock()
	if gone {
		v.finish()
		return
	}
	v.timers.Lock()
	if !v.finished.Load() {
		v.beat.Reset(v.h.opts.Heartbeat)
	}
	v.timers.Unlock()
	v.wake()
}

// fail ends the viewer after a failed write (v.mu is held: the end runs
// on its own).
func (v *wsViewer) fail() {
	v.finished.Store(true)
	go v.finish()
}

// finish ends the viewer, once: the socket, the feed, the bookkeeping.
func (v *wsViewer) finish() {
	v.once.Do(func() {
		v.finished.Store(true)
		if v.poll != nil {
			v.poll.forget(v)
		}
		v.conn.Close()
		v.timers.Lock()
		if v.beat != nil {
			v.beat.Stop()
		}
		if v.linger != nil {
			v.linger.Stop()
		}
		v.timers.Unlock()
		v.feed.Close()
		v.end()
	})
}

// flush writes what waits: the close frame when one is due (and nothing
// after it), an answer to a ping, the feed's frames, a heartbeat ping,
// and the close when the feed has ended. It reports false when a write
// outlasted fastWrite and went on in a goroutine of its own.
func (v *wsViewer) flush(w *flushWorker) bool {
	w.frames = v.feed.Take(w.frames[:0])
	v.req.Lock()
	pong, closeDue, code, why, ping := v.pong, v.closeDue, v.closeCode, v.closeWhy, v.pingDue
	v.pong, v.pingDue = nil, false
	if ping {
		v.awaitPong = true
	}
	v.req.Unlock()
	v.mu.Lock()
	if v.closeSent || v.finished.Load() {
		v.mu.Unlock()
		return true
	}
	if closeDue {
		v.sendClose(code, why)
		v.mu.Unlock()
		return true
	}
	// Everything in one write: a viewer that is behind catches up in one
	// system call, not one per event.
	w.out, w.ends = w.out[:0], w.ends[:0]
	if pong != nil {
		w.out = appendFrame(w.out, ws.OpPong, pong)
		w.ends = append(w.ends, frameEnd{len(w.out), v.last})
	}
	for _, fr := range w.frames {
		w.out = appendFrame(w.out, ws.OpText, fr.JSON)
		w.ends = append(w.ends, frameEnd{len(w.out), fr.Seq})
	}
	if ping {
		w.out = appendFrame(w.out, ws.OpPing, nil)
	}
	if len(w.out) > 0 && !v.write(w) {
		return false // v.mu goes with the write
	}
	if len(w.frames) == 0 && !v.finished.Load() {
		if err := v.feed.Err(); err != nil {
			code, reason := feedEnd(err, v.last)
			if c2, r2, ok := endCode(v.ctx); ok {
				code, reason = c2, r2
			}
			v.sendClose(code, reason)
		}
	}
	v.mu.Unlock()
	return true
}

// sendClose writes the close frame (v.mu held) and gives the client
// closeWait to answer it.
func (v *wsViewer) sendClose(code websocket.StatusCode, reason string) {
	v.closeSent = true
	var body []byte
	if code != websocket.StatusNoStatusRcvd {
		body = ws.NewCloseFrameBody(ws.StatusCode(code), closeReason(reason))
	}
	_ = v.conn.SetWriteDeadline(time.Now().Add(v.h.opts.WriteTimeout))
	if _, err := v.conn.Write(appendFrame(nil, ws.OpClose, body)); err != nil {
		v.fail()
		return
	}
	v.timers.Lock()
	if !v.finished.Load() {
		v.linger = time.AfterFunc(closeWait, v.finish)
	}
	v.timers.Unlock()
}

// frameEnd is where a frame ends in a flush's bytes and the Seq it
// carries.
type frameEnd struct {
	end int
	seq uint64
}

// write writes w.out with v.mu held, giving the socket fastWrite. Past
// it, the rest goes on in a goroutine of the viewer's own, which has the
// rest of WriteTimeout, unlocks v.mu and tells the flusher; write then
// reports false. A failed write ends the viewer.
func (v *wsViewer) write(w *flushWorker) bool {
	start := time.Now()
	_ = v.conn.SetWriteDeadline(start.Add(min(fastWrite, v.h.opts.WriteTimeout)))
	n, err := v.conn.Write(w.out)
	for _, e := range w.ends {
		if e.end <= n {
			v.last = e.seq
		}
	}
	if err == nil {
		return true
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) || fastWrite >= v.h.opts.WriteTimeout {
		v.fail()
		return true
	}
	last := v.last
	if len(w.ends) > 0 {
		last = w.ends[len(w.ends)-1].seq
	}
	go v.slowWrite(append([]byte(nil), w.out[n:]...), last, start.Add(v.h.opts.WriteTimeout))
	return false
}

// slowWrite finishes a write that outlasted fastWrite, by the deadline.
// A viewer that cannot take it fell behind: it is cut (mid-frame no
// close frame can follow) and reconnects with after=; when the feed's own
// bound ends it first, the close says so (4008).
func (v *wsViewer) slowWrite(rest []byte, last uint64, deadline time.Time) {
	defer v.h.flush.done(v)
	defer v.mu.Unlock()
	_ = v.conn.SetWriteDeadline(deadline)
	if _, err := v.conn.Write(rest); err != nil {
		v.fail()
		return
	}
	v.last = last
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
