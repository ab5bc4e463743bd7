package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
)

// Settings are a page's query options, validated on the server and handed
// to the scripts as data- attributes (so the scripts never parse the URL
// for them).
type Settings struct {
	// Lines is how many caption lines the display or overlay keeps.
	Lines int
	// Theme is "", "dark", "light", "contrast" (and, for the overlay,
	// "transparent": outlined text on nothing).
	Theme string
	// Size is the caption font size in CSS pixels (0: the page's default).
	Size int
	// Kiosk asks the display to go full screen at the first chance.
	Kiosk bool

	// The overlay's style (docs/captions.md#overlay):
	// Box is the caption box's background colour, "rrggbb" ("": none).
	Box string
	// Opacity is the box's opacity in percent (default 60 with a box).
	Opacity int
	// Font is "sans", "serif", "mono" or "" (the page's sans-serif).
	Font string
	// Position is "top", "middle" or "" (bottom).
	Position string
	// Hold is how many seconds captions stay after the last one (0: until
	// replaced).
	Hold int
}

// ParseSettings reads kind's options from a raw query string. Unknown keys
// are ignored; a bad value falls back to the default rather than failing
// the page (a projector has no one to read an error).
func ParseSettings(kind, rawQuery string) Settings {
	q, _ := url.ParseQuery(rawQuery) // a partial parse keeps what was valid
	s := Settings{}
	switch kind {
	case "display":
		s.Lines = intIn(q.Get("lines"), 1, 12, 4)
	case "overlay":
		s.Lines = intIn(q.Get("lines"), 1, 10, 2)
	}
	switch t := q.Get("theme"); t {
	case "dark", "light", "contrast":
		s.Theme = t
	case "transparent":
		if kind == "overlay" {
			s.Theme = t
		}
	}
	if kind == "display" || kind == "overlay" {
		s.Size = intIn(q.Get("size"), 12, 240, 0)
	}
	s.Kiosk = kind == "display" && (q.Get("kiosk") == "1" || q.Get("kiosk") == "true")
	if kind == "overlay" {
		if b := strings.TrimPrefix(strings.ToLower(q.Get("bg")), "#"); isHex(b) && (len(b) == 6 || len(b) == 3) {
			s.Box = b
			s.Opacity = intIn(q.Get("opacity"), 0, 100, 60)
		}
		switch f := q.Get("font"); f {
		case "sans", "serif", "mono":
			s.Font = f
		}
		switch p := q.Get("position"); p {
		case "top", "middle":
			s.Position = p
		}
		s.Hold = intIn(q.Get("hold"), 1, 600, 0)
	}
	return s
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

func intIn(v string, lo, hi, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return def
	}
	return n
}

// pageData is what the templates see. Every field is either validated
// (ID, Settings) or produced here (QR); html/template escapes them all.
type pageData struct {
	Kind     string
	ID       string
	Settings Settings
	// LiveURL is the phone page the display's QR code points at.
	LiveURL string
	QR      template.HTML // our own SVG, from qrSVG
	// Loopback is set when LiveURL names this machine only (the kiosk
	// browsing localhost with no public URL configured): phones cannot
	// follow it, and the page says so.
	Loopback bool
	// WebRTC: the mic page may try WebRTC ingest.
	WebRTC bool
	// Sessions are the index's public sessions.
	Sessions []PublicSession
}

type pages struct{ t *template.Template }

func newPages() *pages {
	return &pages{t: template.Must(template.ParseFS(assetFS, "templates/*.html"))}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request, kind, id string) {
	d := pageData{Kind: kind, ID: id, Settings: ParseSettings(kind, r.URL.RawQuery), WebRTC: h.webrtc && kind == "mic"}
	if kind == "display" {
		if origin := h.origin(r); origin != "" {
			d.LiveURL = origin + "/live/" + id
			d.Loopback = isLoopback(origin)
			svg, err := qrSVG(d.LiveURL)
			if err != nil {
				h.log.Error("web: rendering the display's QR code", "request_id", apierr.RequestID(r.Context()), "err", err)
			}
			d.QR = template.HTML(svg) // built from numbers by qrSVG, nothing of the caller's
		}
	}
	h.render(w, r, d)
}

// render writes page d (never cached: it differs by Host and query).
func (h *handler) render(w http.ResponseWriter, r *http.Request, d pageData) {
	var buf bytes.Buffer
	if err := h.pages.t.ExecuteTemplate(&buf, d.Kind+".html", d); err != nil {
		h.log.Error("web: rendering a page", "request_id", apierr.RequestID(r.Context()), "page", d.Kind, "err", err)
		apierr.Write(w, r, apierr.CodeInternal, "")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page differs by Host (the QR) and query; it is small, so it is
	// never cached rather than keyed on both.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// origin is where phones should go: the configured public URL, or the
// origin this request came in on (empty when its Host is not a valid one).
func (h *handler) origin(r *http.Request) string {
	if h.publicFn != nil {
		if p := h.publicFn(); p != "" {
			return p
		}
	}
	if h.public != "" {
		return h.public
	}
	return ticket.OwnOrigin(r)
}

// serveQR answers POST /display/{id}/qr {"token": "..."} with the SVG QR
// code of <origin>/live/{id}#t=<token>. The display page of a link session
// is opened with the token in its #fragment, which browsers never send; the
// page posts it here in a body (never logged, never cached) so that the
// token reaches neither a URL, a log line nor a proxy's access log.
func (h *handler) serveQR(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		Token string `json:"token"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxQRBody+1))
	if err := dec.Decode(&body); err != nil {
		apierr.Write(w, r, apierr.CodeBadRequest, "The body must be JSON: {\"token\": \"...\"}.")
		return
	}
	if !validToken(body.Token) {
		apierr.Write(w, r, apierr.CodeBadRequest, "The link token is malformed.")
		return
	}
	origin := h.origin(r)
	if origin == "" {
		apierr.Write(w, r, apierr.CodeBadRequest, "The request's Host is not a valid origin.")
		return
	}
	svg, err := qrSVG(origin + "/live/" + id + "#t=" + body.Token)
	if err != nil {
		apierr.Write(w, r, apierr.CodeInternal, "")
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, svg)
}

// validToken accepts what a link token can be: 1 to 128 base64url
// characters (the token is checked by the live API, not here).
func validToken(t string) bool {
	if t == "" || len(t) > 128 {
		return false
	}
	for _, c := range []byte(t) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

// maxIndex bounds the index: a venue runs a handful of sessions.
const maxIndex = 100

// serveIndex answers GET / with the public sessions, and nothing else.
func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		apierr.Write(w, r, apierr.CodeMethodNotAllowed, "")
		return
	}
	d := pageData{Kind: "index"}
	if h.list != nil {
		list, err := h.list(r.Context())
		if err != nil {
			h.log.Error("web: listing public sessions", "request_id", apierr.RequestID(r.Context()), "err", err)
			apierr.Write(w, r, apierr.CodeInternal, "")
			return
		}
		for _, s := range list {
			if ValidID(s.ID) && len(d.Sessions) < maxIndex {
				d.Sessions = append(d.Sessions, s)
			}
		}
	}
	h.render(w, r, d)
}

// Title is the page's <title>.
func (d pageData) Title() string {
	switch d.Kind {
	case "display":
		return "Captions display"
	case "overlay":
		return "Captions overlay"
	case "mic":
		return "Microphone to captions"
	default:
		return "Live captions"
	}
}

// Script is the page's module under /assets ("" for the index, which
// needs none).
func (d pageData) Script() string {
	if d.Kind == "index" {
		return ""
	}
	return d.Kind + ".js"
}

// isLoopback reports whether origin's host is this machine only.
func isLoopback(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
