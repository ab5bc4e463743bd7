package listen

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawConn is a hand-made WebSocket client that can send frames no library
// would: the checklist's raw-frame cases, answered by the server's
// WebSocket library with the right close codes.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func rawDial(t *testing.T, base, query string) *rawConn {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	c, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	req := "GET /v1/listen?" + query + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return &rawConn{t: t, c: c, br: br}
}

// frame writes one masked frame with the given first byte (FIN, RSV,
// opcode) and a declared length that may differ from the payload's.
func (r *rawConn) frame(b0 byte, declared uint64, payload []byte) {
	r.t.Helper()
	hdr := []byte{b0}
	switch {
	case declared < 126:
		hdr = append(hdr, 0x80|byte(declared))
	case declared <= 0xFFFF:
		hdr = append(hdr, 0x80|126, byte(declared>>8), byte(declared))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, declared)
	}
	hdr = append(hdr, 0, 0, 0, 0) // a zero mask leaves the payload as is
	if _, err := r.c.Write(append(hdr, payload...)); err != nil {
		r.t.Fatal(err)
	}
}

// closeCode reads server frames until a close frame and returns its code,
// or 1006 (abnormal closure) when the connection ends without one.
func (r *rawConn) closeCode() int {
	r.t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(r.br, h[:]); err != nil {
			return 1006
		}
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var b [2]byte
			_, _ = io.ReadFull(r.br, b[:])
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			_, _ = io.ReadFull(r.br, b[:])
			n = binary.BigEndian.Uint64(b[:])
		}
		payload := make([]byte, min(n, 1<<20))
		if _, err := io.ReadFull(r.br, payload); err != nil {
			r.t.Fatalf("reading a frame: %v", err)
		}
		if h[0]&0x0F == 0x8 {
			if len(payload) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

func TestStreamRawFrames(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewHandler(e.options()))
	q := "encoding=linear16&sample_rate=16000"
	for _, tc := range []struct {
		name string
		send func(r *rawConn)
		want int
	}{
		// coder/websocket drops a connection whose frame length has the
		// top bit set (an invalid, "negative" length) without a close
		// frame, and enforces the read limit on the bytes that arrive,
		// not on the declared length: a client announcing 2^40 bytes is
		// cut off at maxMessageBytes with 1009 (or by the idle timeout if
		// it sends nothing).
		{"2^63 length", func(r *rawConn) { r.frame(0x82, 1<<63, nil) }, 1006},
		{"beyond the read limit", func(r *rawConn) { r.frame(0x82, 1<<40, make([]byte, maxMessageBytes+1)) }, 1009},
		{"invalid UTF-8 text", func(r *rawConn) { r.frame(0x81, 4, []byte{0xff, 0xfe, 0xfd, 0xfc}) }, 1007},
		{"reserved bits", func(r *rawConn) { r.frame(0x82|0x40, 2, []byte{0, 0}) }, 1002},
		{"unknown opcode", func(r *rawConn) { r.frame(0x83, 0, nil) }, 1002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rawDial(t, base, q)
			tc.send(r)
			if got := r.closeCode(); got != tc.want {
				t.Errorf("close %d, want %d", got, tc.want)
			}
		})
	}
}
