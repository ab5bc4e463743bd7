package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func errCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	if b.Error.Message == "" {
		t.Fatalf("error without a message: %s", w.Body)
	}
	return b.Error.Code
}

// Every page and asset, and every refusal, carries the security headers.
func TestSecurityHeaders(t *testing.T) {
	h := Handler(Options{})
	for _, target := range []string{"/live/abc", "/display/abc", "/overlay/abc", "/mic/abc",
		"/assets/style.css", "/assets/captions.js", "/assets/nope.js", "/live/bad%20id", "/other/x"} {
		w := serve(t, h, "GET", target, "")
		hd := w.Header()
		csp := hd.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", target, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows unsafe sources: %q", target, csp)
		}
		framable := strings.HasPrefix(target, "/overlay/")
		if got := strings.Contains(csp, "frame-ancestors 'none'"); got == framable {
			t.Errorf("%s: frame-ancestors 'none' = %v, want %v", target, got, !framable)
		}
		if hd.Get("Referrer-Policy") != "no-referrer" || hd.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: referrer %q nosniff %q", target, hd.Get("Referrer-Policy"), hd.Get("X-Content-Type-Options"))
		}
	}
	if pp := serve(t, h, "GET", "/mic/abc", "").Header().Get("Permissions-Policy"); !strings.Contains(pp, "microphone=(self)") {
		t.Errorf("mic page Permissions-Policy %q", pp)
	}
	if pp := serve(t, h, "GET", "/live/abc", "").Header().Get("Permissions-Policy"); !strings.Contains(pp, "microphone=()") {
		t.Errorf("live page Permissions-Policy %q", pp)
	}
}

// Pages hold no inline script or style (the CSP would block them) and
// load only their own /assets files.
func TestPagesHaveNoInlineCode(t *testing.T) {
	h := Handler(Options{})
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	src := regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	for _, kind := range []string{"live", "display", "overlay", "mic"} {
		w := serve(t, h, "GET", "/"+kind+"/room-1", "")
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", kind, w.Code, w.Header().Get("Content-Type"))
		}
		page := w.Body.String()
		if m := inline.FindString(page); m != "" {
			t.Errorf("%s: inline code %q", kind, m)
		}
		for _, m := range src.FindAllStringSubmatch(page, -1) {
			if m[1] == "data:," { // the empty favicon, so browsers ask for none
				continue
			}
			if !strings.HasPrefix(m[1], "/assets/") {
				t.Errorf("%s: loads %q", kind, m[1])
			}
			if a := serve(t, h, "GET", m[1], ""); a.Code != 200 {
				t.Errorf("%s: %s answers %d", kind, m[1], a.Code)
			}
		}
		if !strings.Contains(page, `data-session="room-1"`) {
			t.Errorf("%s: session id not on <body>", kind)
		}
	}
}

func TestAssets(t *testing.T) {
	h := Handler(Options{})
	w := serve(t, h, "GET", "/assets/live.js", "")
	etag := w.Header().Get("ETag")
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || etag == "" ||
		w.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("live.js: %d %v", w.Code, w.Header())
	}
	if w := serve(t, h, "GET", "/assets/live.js", "", "If-None-Match", etag); w.Code != http.StatusNotModified {
		t.Fatalf("matching ETag: %d, want 304", w.Code)
	}
	if w := serve(t, h, "GET", "/assets/live.js", "", "If-None-Match", `"other"`); w.Code != 200 {
		t.Fatalf("other ETag: %d, want 200", w.Code)
	}
	if other := serve(t, h, "GET", "/assets/display.js", "").Header().Get("ETag"); other == etag {
		t.Fatal("two assets share an ETag")
	}
	for _, name := range []string{"nope.js", "..%2Fweb.go", "", "templates%2Flive.html", "a/b"} {
		w := serve(t, h, "GET", "/assets/"+name, "")
		if w.Code != 404 || errCode(t, w) != "not_found" {
			t.Errorf("asset %q: %d %s", name, w.Code, w.Body)
		}
	}
	if w := serve(t, h, "POST", "/assets/live.js", ""); w.Code != 405 {
		t.Errorf("POST asset: %d", w.Code)
	}
}

func TestBadSessionIDs(t *testing.T) {
	h := Handler(Options{})
	for _, id := range []string{"%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "a.b", strings.Repeat("a", 65), "%22", ""} {
		w := serve(t, h, "GET", "/live/"+id, "")
		if w.Code != 400 || errCode(t, w) != "bad_request" || strings.Contains(w.Body.String(), "<img") {
			t.Errorf("id %q: %d %s", id, w.Code, w.Body)
		}
	}
	if w := serve(t, h, "GET", "/live/abc/extra", ""); w.Code != 404 {
		t.Errorf("extra path: %d", w.Code)
	}
	if w := serve(t, h, "POST", "/live/abc", ""); w.Code != 405 {
		t.Errorf("POST page: %d", w.Code)
	}
	if w := serve(t, h, "HEAD", "/live/abc", ""); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD page: %d, %d bytes", w.Code, w.Body.Len())
	}
}

func TestDisplayQR(t *testing.T) {
	h := Handler(Options{})
	w := serve(t, h, "GET", "/display/room-1", "")
	page := w.Body.String()
	want, err := qrSVG("http://example.com/live/room-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page, want) || !strings.Contains(page, "http://example.com/live/room-1") {
		t.Fatalf("display page lacks the QR of http://example.com/live/room-1:\n%s", page)
	}
	// A configured public URL wins over the Host header.
	h2 := Handler(Options{PublicURL: "https://captions.example.org/"})
	want2, _ := qrSVG("https://captions.example.org/live/room-1")
	if !strings.Contains(serve(t, h2, "GET", "/display/room-1", "").Body.String(), want2) {
		t.Fatal("PublicURL not used for the QR code")
	}
	// A Host that is no origin gives a page without a QR code, not an error.
	r := httptest.NewRequest("GET", "/display/room-1", nil)
	r.Host = "bad host\"><script>"
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, r)
	if rw.Code != 200 || strings.Contains(rw.Body.String(), "<svg") || strings.Contains(rw.Body.String(), "<script>") {
		t.Fatalf("bad Host: %d\n%s", rw.Code, rw.Body)
	}

	// A kiosk browsing its own loopback address: the page warns that
	// phones cannot follow the code; a real host name gets no warning.
	for host, warn := range map[string]bool{"127.0.0.1:8080": true, "localhost": true, "[::1]:80": true,
		"captions.local:8443": false, "192.168.1.20": false} {
		r := httptest.NewRequest("GET", "/display/room-1", nil)
		r.Host = host
		rw := httptest.NewRecorder()
		h.ServeHTTP(rw, r)
		if got := strings.Contains(rw.Body.String(), "qr-warning"); got != warn {
			t.Errorf("Host %s: loopback warning %v, want %v", host, got, warn)
		}
	}
	if (Options{PublicURL: "https://x.example"}).Validate() != nil || (Options{PublicURL: "x.example/path"}).Validate() == nil {
		t.Error("Options.Validate")
	}
	// An invalid public URL is ignored: the request's origin is used.
	bad := Handler(Options{PublicURL: "not a url"})
	if !strings.Contains(serve(t, bad, "GET", "/display/room-1", "").Body.String(), "http://example.com/live/room-1") {
		t.Error("an invalid PublicURL was used")
	}

	// Link sessions: the token comes in a POST body.
	w = serve(t, h, "POST", "/display/room-1/qr", `{"token":"tok_ABC-123"}`)
	wantLink, _ := qrSVG("http://example.com/live/room-1#t=tok_ABC-123")
	if w.Code != 200 || w.Body.String() != wantLink || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("link QR: %d %v", w.Code, w.Header())
	}
	for _, body := range []string{``, `{`, `{"token":""}`, `{"token":"a b"}`, `{"token":"<x>"}`,
		`{"token":"` + strings.Repeat("a", 129) + `"}`, strings.Repeat(" ", 2000)} {
		w := serve(t, h, "POST", "/display/room-1/qr", body)
		if w.Code != 400 || errCode(t, w) != "bad_request" {
			t.Errorf("body %q: %d %s", body[:min(len(body), 20)], w.Code, w.Body)
		}
	}
	if w := serve(t, h, "GET", "/display/room-1/qr", ""); w.Code != 405 {
		t.Errorf("GET qr: %d", w.Code)
	}
	if w := serve(t, h, "POST", "/live/room-1/qr", `{"token":"x"}`); w.Code != 404 {
		t.Errorf("qr of live page: %d", w.Code)
	}
}

func TestParseSettings(t *testing.T) {
	for _, tc := range []struct {
		kind, q string
		want    Settings
	}{
		{"overlay", "", Settings{Lines: 2}},
		{"overlay", "lines=3&theme=transparent&size=64", Settings{Lines: 3, Theme: "transparent", Size: 64}},
		{"overlay", "lines=0&theme=%3Cx%3E&size=9999", Settings{Lines: 2}},
		{"overlay", "lines=99", Settings{Lines: 2}},
		{"display", "", Settings{Lines: 4}},
		{"display", "kiosk=1&theme=contrast&lines=6", Settings{Lines: 6, Theme: "contrast", Kiosk: true}},
		{"display", "theme=transparent", Settings{Lines: 4}},
		{"live", "lines=3&kiosk=1&size=40&theme=light", Settings{Theme: "light"}},
		{"overlay", "%zz&lines=5", Settings{Lines: 5}},
		{"overlay", "bg=%23FFAA00&opacity=40&font=serif&position=top&hold=8", Settings{Lines: 2, Box: "ffaa00", Opacity: 40, Font: "serif", Position: "top", Hold: 8}},
		{"overlay", "bg=abc", Settings{Lines: 2, Box: "abc", Opacity: 60}},
		{"overlay", "bg=red&opacity=40&font=comic&position=left&hold=0", Settings{Lines: 2}},
		{"overlay", "bg=abcd&hold=601", Settings{Lines: 2}},
		{"display", "bg=000000&font=serif&position=top&hold=5", Settings{Lines: 4}},
	} {
		if got := ParseSettings(tc.kind, tc.q); got != tc.want {
			t.Errorf("ParseSettings(%s, %q) = %+v, want %+v", tc.kind, tc.q, got, tc.want)
		}
	}
	w := serve(t, Handler(Options{}), "GET", "/overlay/x?lines=3&theme=light&size=50", "")
	if !strings.Contains(w.Body.String(), `data-lines="3" data-theme="light" data-size="50"`) {
		t.Fatalf("overlay settings not on <body>:\n%s", w.Body)
	}
}

func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{"", "lines=3", "theme=dark&size=30&kiosk=1", "lines=-1&size=1e9", "%", "theme=transparent;x"} {
		f.Add("overlay", s)
		f.Add("display", s)
	}
	f.Fuzz(func(t *testing.T, kind, q string) {
		s := ParseSettings(kind, q)
		if s.Lines < 0 || s.Lines > 12 || s.Size != 0 && (s.Size < 12 || s.Size > 240) {
			t.Fatalf("out of range: %+v", s)
		}
		switch s.Theme {
		case "", "dark", "light", "contrast", "transparent":
		default:
			t.Fatalf("theme %q", s.Theme)
		}
		if !(s.Box == "" || (len(s.Box) == 3 || len(s.Box) == 6) && isHex(s.Box)) || s.Opacity < 0 || s.Opacity > 100 ||
			s.Hold < 0 || s.Hold > 600 || !slices.Contains([]string{"", "sans", "serif", "mono"}, s.Font) ||
			!slices.Contains([]string{"", "top", "middle"}, s.Position) {
			t.Fatalf("overlay style out of range: %+v", s)
		}
	})
}

// The index lists the sessions it is given (cmd/izwi gives public ones
// only), escapes their labels, and skips ids that could not be a session.
func TestIndexListsPublicSessionsOnly(t *testing.T) {
	h := Handler(Options{PublicSessions: func(context.Context) ([]PublicSession, error) {
		return []PublicSession{{ID: "ses_a", Label: "<b>Morning</b>", State: "live"}, {ID: "../x", Label: "bad"}, {ID: "ses_b", State: "paused"}}, nil
	}})
	w := serve(t, h, "GET", "/", "")
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `<a href="/live/ses_a">&lt;b&gt;Morning&lt;/b&gt;</a>`) || !strings.Contains(body, `href="/live/ses_b"`) ||
		strings.Contains(body, "../x") || !strings.Contains(body, "paused") || w.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("index: %d\n%s", w.Code, body)
	}
	if w := serve(t, Handler(Options{}), "GET", "/", ""); w.Code != 200 || !strings.Contains(w.Body.String(), "No public session") {
		t.Fatalf("empty index: %d\n%s", w.Code, w.Body)
	}
	if w := serve(t, h, "POST", "/", ""); w.Code != 405 {
		t.Errorf("POST /: %d", w.Code)
	}
}

// FuzzPage: any path under the page prefixes gives a page, a catalogued
// error, never a panic, and never echoes markup from the URL.
func FuzzPage(f *testing.F) {
	for _, s := range []string{"/live/abc", "/display/a/qr", "/overlay/x?lines=2", "/assets/style.css", "/mic/%3Cb%3E", "/live/"} {
		f.Add("GET", s, "")
	}
	f.Add("POST", "/display/a/qr", `{"token":"abc"}`)
	h := Handler(Options{})
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if method != "GET" && method != "POST" && method != "HEAD" {
			method = "GET"
		}
		r, err := http.NewRequest(method, "http://example.com"+target, strings.NewReader(body))
		if err != nil || !strings.HasPrefix(r.URL.Path, "/") {
			return
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d", method, target, w.Code)
		}
		if w.Code >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %q: %d is not a JSON error", method, target, w.Code)
		}
		if w.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("%s %q: no CSP", method, target)
		}
	})
}

func FuzzQRToken(f *testing.F) {
	for _, s := range []string{`{"token":"abc"}`, `{"token":1}`, `[]`, `{"token":"` + strings.Repeat("z", 128) + `"}`} {
		f.Add(s)
	}
	h := Handler(Options{})
	f.Fuzz(func(t *testing.T, body string) {
		w := serve(t, h, "POST", "/display/room/qr", body)
		switch w.Code {
		case 200:
			if !strings.HasPrefix(w.Body.String(), "<svg") {
				t.Fatalf("200 without an SVG")
			}
		case 400:
		default:
			t.Fatalf("body %q: %d", body, w.Code)
		}
	})
}
