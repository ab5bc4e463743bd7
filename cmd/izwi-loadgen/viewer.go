package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// viewerDialer opens caption WebSockets lean enough that tens of
// thousands fit in one process on one core: gobwas/ws, no buffers kept,
// the publish time read straight from each message's bytes.
type viewerDialer struct {
	base string
	d    ws.Dialer
}

// newViewerDialer dials from `sources` loopback addresses in turn
// (127.0.0.1, 127.0.0.2, ...): one source address has only the ephemeral
// port range (~28,000 ports) towards one server port.
func newViewerDialer(url string, sources int) *viewerDialer {
	nd := &net.Dialer{Timeout: 10 * time.Second}
	var turn atomic.Uint32
	vd := &viewerDialer{base: "ws" + strings.TrimPrefix(strings.TrimRight(url, "/"), "http")}
	vd.d.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := *nd
		if sources > 1 {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+turn.Add(1)%uint32(sources)))}
		}
		return d.DialContext(ctx, network, addr)
	}
	return vd
}

// viewer is one open caption WebSocket.
type viewer struct {
	conn net.Conn
	r    io.Reader
}

func (vd *viewerDialer) dial(ctx context.Context, path string) (*viewer, error) {
	conn, br, _, err := vd.d.Dial(ctx, vd.base+path)
	if err != nil {
		return nil, err
	}
	v := &viewer{conn: conn, r: conn}
	if br != nil {
		v.r = br
	}
	return v, nil
}

// readAll calls got with each event's publish time until the socket ends,
// and returns the close code the server sent (0: none).
func (v *viewer) readAll(got func(published time.Time)) int {
	var buf []byte
	for {
		hd, err := ws.ReadHeader(v.r)
		if err != nil || hd.Length > 1<<20 {
			return 0
		}
		if int64(cap(buf)) < hd.Length {
			buf = make([]byte, hd.Length)
		}
		p := buf[:hd.Length]
		if _, err := io.ReadFull(v.r, p); err != nil {
			return 0
		}
		switch hd.OpCode {
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameData(p)
			return int(code)
		case ws.OpPing:
			f := ws.MaskFrame(ws.NewPongFrame(p))
			_ = ws.WriteFrame(v.conn, f)
		case ws.OpText:
			if t, ok := publishTime(p); ok {
				got(t)
			}
		}
	}
}

// publishTime reads the "time" field of an event's JSON.
func publishTime(p []byte) (time.Time, bool) {
	const key = `"time":"`
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return time.Time{}, false
	}
	rest := p[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	return t, err == nil
}
