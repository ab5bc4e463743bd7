package netpolicy

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	res := Resolver{Trusted: MustParseList("10.0.0.0/8", "2001:db8:ffff::/48")}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"no header: peer", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"forged header from untrusted peer ignored", "203.0.113.5:4000", []string{"1.1.1.1"}, "203.0.113.5"},
		{"forged header listing a trusted hop from untrusted peer", "203.0.113.5:4000", []string{"1.1.1.1, 10.0.0.1"}, "203.0.113.5"},
		{"trusted peer, one hop", "10.0.0.1:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"trusted chain: right-most untrusted wins over a forged left part", "10.0.0.1:4000",
			[]string{"6.6.6.6, 198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"several headers are one list", "10.0.0.1:4000", []string{"6.6.6.6", "198.51.100.7", "10.0.0.9"}, "198.51.100.7"},
		{"all hops trusted: left-most", "10.0.0.1:4000", []string{"10.1.1.1, 10.0.0.2"}, "10.1.1.1"},
		{"malformed right-most entry: stop at peer", "10.0.0.1:4000", []string{"198.51.100.7, garbage"}, "10.0.0.1"},
		{"malformed behind trusted hop: stop at that hop", "10.0.0.1:4000", []string{"unknown, 10.0.0.3"}, "10.0.0.3"},
		{"malformed left of the client: irrelevant", "10.0.0.1:4000", []string{"garbage, 198.51.100.7"}, "198.51.100.7"},
		{"empty entry", "10.0.0.1:4000", []string{"198.51.100.7,,"}, "10.0.0.1"},
		{"entries with ports", "10.0.0.1:4000", []string{"[2001:db8::7]:443, 198.51.100.9:8080"}, "198.51.100.9"},
		{"ipv6 peer trusted, ipv6 client", "[2001:db8:ffff::1]:443", []string{"2001:db8:1::42"}, "2001:db8:1::42"},
		{"bracketed ipv6 entry", "10.0.0.1:1", []string{"[2001:db8:1::42]"}, "2001:db8:1::42"},
		{"mapped peer is unmapped and trusted", "[::ffff:10.0.0.1]:4000", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"mapped untrusted peer", "[::ffff:203.0.113.5]:4000", []string{"1.1.1.1"}, "203.0.113.5"},
		{"zone in entry is malformed", "10.0.0.1:1", []string{"fe80::1%eth0"}, "10.0.0.1"},
		{"unknown peer", "@", []string{"1.1.1.1"}, "invalid IP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := res.ClientAddr(r).String(); got != tc.want {
				t.Fatalf("client = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestXFFBounds(t *testing.T) {
	// A huge header is cut to its right end, never parsed whole.
	long := strings.Repeat("1.2.3.4, ", 10000) + "198.51.100.7"
	hops, err := ParseXFF([]string{long})
	if err != nil || len(hops) != maxXFFHops || hops[len(hops)-1] != netip.MustParseAddr("198.51.100.7") {
		t.Fatalf("long header: %d hops, %v", len(hops), err)
	}
	if _, err := ParseXFF([]string{strings.Repeat("x", 5000)}); !errors.Is(err, ErrMalformedXFF) {
		t.Fatalf("one giant entry: %v", err)
	}
}

func FuzzParseXFF(f *testing.F) {
	for _, s := range []string{"", "1.2.3.4", "1.2.3.4, 5.6.7.8", "[::1]:80", "::ffff:1.2.3.4", "unknown", ",,,",
		"1.2.3.4:99999", "[fe80::1%eth0]:1", strings.Repeat("9.9.9.9,", 50), "2001:db8::1, garbage, 10.0.0.1"} {
		f.Add(s, "10.0.0.1:1")
	}
	f.Fuzz(func(t *testing.T, header, remote string) {
		hops, err := ParseXFF([]string{header})
		if len(hops) > maxXFFHops {
			t.Fatalf("%d hops", len(hops))
		}
		for _, h := range hops {
			if !h.IsValid() || h.Is4In6() || h.Zone() != "" {
				t.Fatalf("bad hop %v from %q (err %v)", h, header, err)
			}
		}
		// With no trusted proxy, the header never matters.
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", header)
		if got, want := (Resolver{}).ClientAddr(r), PeerAddr(remote); got != want {
			t.Fatalf("untrusted: client %v, peer %v", got, want)
		}
		// With everyone trusted, the client is a hop or the peer.
		all := Resolver{Trusted: MustParseList("0.0.0.0/0", "::/0")}
		got := all.ClientAddr(r)
		if got != PeerAddr(remote) && (len(hops) == 0 || !containsAddr(hops, got)) {
			t.Fatalf("client %v is neither the peer nor a hop of %q", got, header)
		}
	})
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// Against a real listener: a loopback peer that is not trusted cannot spoof
// its address; once loopback is a trusted proxy, XFF decides, and the
// global rules apply to the resolved address.
func TestMiddlewareRealListener(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		xff     string
		status  int
		wantIP  string
		wantErr bool
	}{
		{"untrusted peer, spoof ignored, allowed", Config{Deny: []string{"198.51.100.0/24"}}, "198.51.100.7", 200, "127.0.0.1", false},
		{"untrusted peer, allow list excludes loopback", Config{Allow: []string{"198.51.100.0/24"}}, "198.51.100.7", 403, "", true},
		{"trusted proxy, client denied", Config{Deny: []string{"198.51.100.0/24"}, TrustedProxies: []string{"127.0.0.1"}}, "198.51.100.7", 403, "", true},
		{"trusted proxy, client allowed", Config{Allow: []string{"198.51.100.0/24"}, TrustedProxies: []string{"127.0.0.0/8"}}, "198.51.100.7", 200, "198.51.100.7", false},
		{"trusted proxy, ipv6 client", Config{Allow: []string{"2001:db8::/32"}, TrustedProxies: []string{"127.0.0.0/8"}}, "2001:db8::9", 200, "2001:db8::9", false},
		{"trusted proxy, mapped client hits ipv4 deny", Config{Deny: []string{"198.51.100.0/24"}, TrustedProxies: []string{"::ffff:127.0.0.0/104"}}, "::ffff:198.51.100.7", 403, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var seen string
			srv := httptest.NewServer(p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a, _ := ClientIP(r.Context())
				seen = a.String()
			})))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("X-Forwarded-For", tc.xff)
			req.Header.Set("X-Request-Id", "rid-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if tc.wantErr {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != CodeIPDenied {
					t.Fatalf("body %s: code %q, %v", body, e.Error.Code, err)
				}
				if seen != "" {
					t.Fatal("handler ran for a denied address")
				}
				return
			}
			if seen != tc.wantIP {
				t.Fatalf("ClientIP %s, want %s", seen, tc.wantIP)
			}
		})
	}
}

// Per-key rules after authentication: a key's deny list beats the global
// allow list, and the check uses the resolved client address.
func TestCheckRequestPerKey(t *testing.T) {
	p, err := New(Config{Allow: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	keyRules, err := ParseRules(nil, []string{"10.66.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := CheckRequest(r, keyRules); err != nil {
			p.Deny(w, r)
			return
		}
		w.WriteHeader(204)
	}))
	for _, remote := range []string{"10.1.1.1:1", "10.66.1.1:1", "11.0.0.1:1"} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		h.ServeHTTP(rec, r)
		got = append(got, rec.Code)
	}
	if want := []int{204, 403, 403}; !equalInts(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	// Without the middleware, the TCP peer is checked.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.66.0.1:5"
	if err := CheckRequest(r, keyRules); !errors.Is(err, ErrDenied) {
		t.Fatalf("CheckRequest without middleware: %v", err)
	}
	if err := CheckRequest(r, Rules{}); err != nil {
		t.Fatalf("empty rules: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewReportsBadCIDRs(t *testing.T) {
	_, err := New(Config{Allow: []string{"10.0.0.0/8", "bad-allow"}, Deny: []string{"bad-deny"}, TrustedProxies: []string{"bad-proxy"}})
	for _, s := range []string{"bad-allow", "bad-deny", "bad-proxy"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not name %s", err, s)
		}
	}
}

func BenchmarkMiddleware(b *testing.B) {
	p, err := New(Config{Allow: []string{"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"}, Deny: []string{"10.66.0.0/16"},
		TrustedProxies: []string{"127.0.0.1"}})
	if err != nil {
		b.Fatal(err)
	}
	h := p.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "203.0.113.1, 10.1.2.3")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
