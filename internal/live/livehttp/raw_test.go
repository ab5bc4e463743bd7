package livehttp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawConn is a hand-made WebSocket client for frames no library sends.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

// rawDial upgrades path by hand and returns the raw connection.
func (hs *harness) rawDial(t *testing.T, path, key string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(hs.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	auth := ""
	if key != "" {
		auth = "Authorization: Bearer " + key + "\r\n"
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n", path, strings.TrimPrefix(hs.srv.URL, "http://"), auth)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", err, resp)
	}
	return &rawConn{c: c, br: br}
}

// frame writes one masked client frame header (and payload if given).
func (rc *rawConn) frame(t *testing.T, first byte, length uint64, payload []byte) {
	t.Helper()
	if _, err := rc.c.Write(clientFrame(first, length, payload)); err != nil {
		t.Fatal(err)
	}
}

// clientFrame is a masked client frame whose header promises length
// bytes, with payload.
func clientFrame(first byte, length uint64, payload []byte) []byte {
	var h []byte
	h = append(h, first)
	switch {
	case length < 126:
		h = append(h, 0x80|byte(length))
	case length <= 0xffff:
		h = append(h, 0x80|126, byte(length>>8), byte(length))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, length)
	}
	mask := []byte{1, 2, 3, 4}
	h = append(h, mask...)
	for i, b := range payload {
		h = append(h, b^mask[i%4])
	}
	return h
}

// closeCode reads server frames until a close frame and returns its code.
func (rc *rawConn) closeCode(t *testing.T) int {
	t.Helper()
	for {
		op, body := rc.next(t)
		if op == 0x8 {
			if len(body) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(body))
		}
	}
}

// next reads one server frame: its opcode and payload.
func (rc *rawConn) next(t *testing.T) (byte, []byte) {
	t.Helper()
	{
		var h [2]byte
		if _, err := io.ReadFull(rc.br, h[:]); err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			io.ReadFull(rc.br, b[:])
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			io.ReadFull(rc.br, b[:])
			n = binary.BigEndian.Uint64(b[:])
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(rc.br, body); err != nil {
			t.Fatalf("frame body: %v", err)
		}
		return h[0] & 0x0f, body
	}
}

// Frames a library would never send are refused with the protocol's close
// codes, without reading what the header promises.
func TestRawFrames(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	s := hs.create("alice", map[string]any{"start": true})
	path := "/v1/sessions/" + s.ID + "/audio?sample_rate=16000"
	for _, tc := range []struct {
		name   string
		first  byte
		length uint64
		body   []byte
		want   int
	}{
		// The header promises 2^63-1 bytes; the read limit (one second
		// of audio) stops reading at 32001, far short of it.
		{"2^63-1 byte binary frame", 0x82, 1<<63 - 1, make([]byte, 40000), 1009},
		{"reserved bit set", 0x82 | 0x40, 2, []byte{0, 0}, 1002},
		{"unknown opcode", 0x83, 2, []byte{0, 0}, 1002},
		{"fragmented control frame", 0x09, 0, nil, 1002},
		{"invalid UTF-8 text", 0x81, 4, []byte{'{', 0xff, 0xfe, '}'}, 1007},
		{"invalid close code", 0x88, 2, []byte{0x03, 0xe7}, 1002}, // 999
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := hs.rawDial(t, path, "alice")
			rc.frame(t, tc.first, tc.length, tc.body)
			if got := rc.closeCode(t); got != tc.want {
				t.Fatalf("close %d, want %d", got, tc.want)
			}
			waitFor(t, "detach", func() bool { _, _, _, a := hs.fake.stats(s.ID); return !a })
		})
	}
	// A viewer socket has an explicit read limit, and viewers send nothing.
	rc := hs.rawDial(t, "/v1/sessions/"+s.ID+"/captions", "")
	rc.frame(t, 0x81, 4096, make([]byte, 4096))
	if got := rc.closeCode(t); got != 1009 {
		t.Fatalf("viewer sending 4 KiB closed %d, want 1009", got)
	}
	rc = hs.rawDial(t, "/v1/sessions/"+s.ID+"/captions", "")
	rc.frame(t, 0x81, 2, []byte("hi"))
	if got := rc.closeCode(t); got != 1008 {
		t.Fatalf("viewer sending text closed %d, want 1008", got)
	}
}
