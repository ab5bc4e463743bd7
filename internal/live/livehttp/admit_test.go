package livehttp

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
)

// rawFeed opens a viewer feed from source address src (Linux routes all of
// 127/8 to lo) and reads only the answer's headers: a client that then
// never reads. It returns the status (0 if none came).
func rawFeed(t *testing.T, hs *harness, src, path string, ws bool) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(hs.srv.URL, "http://"))
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: izwi\r\n"
	if ws {
		req += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	return resp.StatusCode
}

// TestViewerFlood: anonymous clients on eight addresses open feeds (SSE
// and WebSocket) and never read. Each address gets at most its per-IP
// cap, all of them together at most the cap derived from the descriptor
// limit, the rest are refused before any upgrade, and meanwhile /healthz,
// an authenticated call and the owner's own feed keep answering. The
// review saw tens of thousands of such feeds take /healthz and the owner
// down for 30 s: there were no per-IP or descriptor-derived caps.
func TestViewerFlood(t *testing.T) {
	hs := newHarness(t, harnessOpts{mutate: func(o *Options) {
		o.MaxViewersPerIP, o.FDLimit, o.ReservedFDs = 3, 110, 100 // anonymous feeds: at most 10
	}})
	s := hs.create("alice", map[string]any{"start": true})
	admitted := map[string]int{}
	total := 0
	for i := 2; i <= 9; i++ {
		src := fmt.Sprintf("127.0.0.%d", i)
		for j := range 6 {
			path, ws := "/v1/sessions/"+s.ID+"/events", false
			if j%2 == 1 {
				path, ws = "/v1/sessions/"+s.ID+"/captions", true
			}
			switch st := rawFeed(t, hs, src, path, ws); st {
			case http.StatusOK, http.StatusSwitchingProtocols:
				admitted[src]++
				total++
			case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			default:
				t.Fatalf("feed from %s: status %d", src, st)
			}
		}
	}
	for src, n := range admitted {
		if n > 3 {
			t.Errorf("%s holds %d feeds, per-IP cap 3", src, n)
		}
	}
	if total != 10 {
		t.Errorf("%d anonymous feeds admitted, want the derived cap of 10 (%v)", total, admitted)
	}
	// The flood holds every anonymous place; the rest still answers.
	if st := hs.do("GET", "/healthz", "", nil, nil); st != 200 {
		t.Errorf("/healthz during the flood: %d", st)
	}
	if st := hs.do("GET", "/v1/sessions/"+s.ID, "alice", nil, nil); st != 200 {
		t.Errorf("authenticated call during the flood: %d", st)
	}
	resp, _ := hs.sse("/v1/sessions/"+s.ID+"/events", bearer("alice"))
	if resp.StatusCode != 200 {
		t.Errorf("the owner's own feed during the flood: %d", resp.StatusCode)
	}
}

// TestAdmissionCaps: the per-session cap holds across addresses, IPv6
// clients are counted per /64, authenticated viewers are not held to the
// anonymous caps, and a released place is reusable.
func TestAdmissionCaps(t *testing.T) {
	a := newAdmission(Options{MaxViewers: 100, MaxViewersPerIP: 2, MaxViewersPerSession: 3, FDLimit: 10_000, ReservedFDs: 10,
		ClientIP: func(r *http.Request) string { return r.RemoteAddr }})
	req := func(addr string, p *auth.Principal) *http.Request {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		if p != nil {
			r = r.WithContext(auth.WithPrincipal(r.Context(), *p))
		}
		return r
	}
	var releases []func()
	for i, addr := range []string{"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"} {
		rel, err := a.admit(req(addr, nil), "ses_a")
		if err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
		releases = append(releases, rel)
	}
	if _, err := a.admit(req("10.0.0.4:1", nil), "ses_a"); err == nil {
		t.Error("a fourth viewer of a session capped at 3 was admitted")
	}
	if _, err := a.admit(req("10.0.0.4:1", &auth.Principal{Kind: auth.KindAPIKey, Subject: "key:k"}), "ses_a"); err != nil {
		t.Errorf("an authenticated viewer was held to the anonymous caps: %v", err)
	}
	for _, addr := range []string{"[2001:db8::1]:1", "[2001:db8::2]:1"} {
		if _, err := a.admit(req(addr, nil), "ses_b"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.admit(req("[2001:db8::ffff]:1", nil), "ses_b"); err == nil {
		t.Error("a third viewer from one IPv6 /64 (cap 2) was admitted")
	}
	releases[0]()
	releases[0]() // twice is once
	if _, err := a.admit(req("10.0.0.9:1", nil), "ses_a"); err != nil {
		t.Errorf("after a release: %v", err)
	}
}
