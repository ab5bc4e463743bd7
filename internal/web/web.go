// Package web owns the caption pages the binary serves: the phone viewer
// (/live/{id}), the kiosk display (/display/{id}), the OBS overlay
// (/overlay/{id}), the microphone page (/mic/{id}) and the public index
// of public sessions at /, their scripts and
// styles (embedded, no CDN, no build step), the display's server-rendered QR
// code, and the security headers every one of them carries. The pages talk
// to the live API themselves from the browser; this package reads no
// session itself (the index asks Options.PublicSessions) and holds no
// state. Only cmd/izwi wires it (as api.LiveHandlers.Pages).
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/config"
)

//go:embed assets templates
var assetFS embed.FS

// Options configure the pages.
type Options struct {
	// Logger gets IDs and errors only, never a caption or a secret.
	Logger *slog.Logger
	// PublicURL, if set, is the origin the display's QR code sends phones
	// to (scheme://host[:port], e.g. behind a reverse proxy). Empty: the
	// origin the request came in on (its Host header and TLS).
	PublicURL string
	// WebRTC tells the mic page that the server signals WebRTC ingest
	// (GET /v1/sessions/{id}/webrtc): it tries WebRTC first, then falls
	// back to the audio WebSocket.
	WebRTC bool
	// PublicURLFunc, when set, is asked on every page first (the console's
	// Settings change the public URL live); "" falls back to PublicURL.
	// It must return an origin as config.NormalizeOrigin makes.
	PublicURLFunc func() string
	// PublicSessions lists the sessions anyone may watch (viewer mode
	// public, not stopped) for the index at /; nil shows none.
	PublicSessions func(ctx context.Context) ([]PublicSession, error)
}

// PublicSession is what the index shows of a public session: nothing a
// viewer of the session could not already see.
type PublicSession struct {
	ID, Label, State string
}

// StateText is the session's state in words.
func (p PublicSession) StateText() string {
	switch p.State {
	case "live":
		return "live now"
	case "paused":
		return "paused"
	case "idle":
		return "starting soon"
	case "interrupted":
		return "resuming"
	}
	return p.State
}

// maxQRBody bounds POST /display/{id}/qr: a link token and some JSON.
const maxQRBody = 1 << 10

// asset is one embedded file with its content type and strong ETag.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

type handler struct {
	list     func(ctx context.Context) ([]PublicSession, error)
	log      *slog.Logger
	public   string
	publicFn func() string
	assets   map[string]asset
	pages    *pages
	webrtc   bool
}

// Handler serves GET /live/{id}, /display/{id}, /overlay/{id}, /mic/{id}
// and /assets/{file}, and POST /display/{id}/qr (the QR code of a link
// session's share URL, whose token travels in the body, never in a URL).
// Anything else under those prefixes is a catalogued JSON error.
func Handler(opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{log: log.With("component", "web"), assets: loadAssets(), pages: newPages(), publicFn: opts.PublicURLFunc,
		list: opts.PublicSessions, webrtc: opts.WebRTC}
	if opts.PublicURL != "" {
		var err error
		if h.public, err = config.NormalizeOrigin(opts.PublicURL); err != nil {
			h.log.Warn("web: ignoring the public URL; QR codes use the request's origin", "err", err)
		}
	}
	return h
}

// Validate reports a PublicURL that is not an origin (scheme://host[:port]),
// for start-up checks; Handler ignores such a value.
func (o Options) Validate() error {
	if o.PublicURL == "" {
		return nil
	}
	if _, err := config.NormalizeOrigin(o.PublicURL); err != nil {
		return fmt.Errorf("web: public URL: %w", err)
	}
	return nil
}

// loadAssets reads the embedded files once; the binary cannot change them.
func loadAssets() map[string]asset {
	out := map[string]asset{}
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		panic("web: embedded assets missing: " + err.Error()) // a build defect, caught by every test
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(assetFS, "assets/"+e.Name())
		if err != nil {
			panic("web: reading embedded asset: " + err.Error())
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = asset{body: b, ctype: contentType(e.Name()), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return out
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	default:
		return "application/octet-stream"
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		setSecurityHeaders(w.Header(), false)
		h.serveIndex(w, r)
		return
	}
	kind, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if kind == "assets" {
		setSecurityHeaders(w.Header(), false)
		h.serveAsset(w, r, rest)
		return
	}
	id, sub, _ := strings.Cut(rest, "/")
	if !isPage(kind) {
		setSecurityHeaders(w.Header(), false)
		apierr.Write(w, r, apierr.CodeNotFound, "")
		return
	}
	setSecurityHeaders(w.Header(), kind == "overlay")
	if kind == "mic" {
		w.Header().Set("Permissions-Policy", "microphone=(self), camera=(), geolocation=(), screen-wake-lock=()")
	}
	if !ValidID(id) {
		apierr.Write(w, r, apierr.CodeBadRequest, "The session id is malformed.")
		return
	}
	switch {
	case sub == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.servePage(w, r, kind, id)
	case kind == "display" && sub == "qr" && r.Method == http.MethodPost:
		h.serveQR(w, r, id)
	case sub == "" || (kind == "display" && sub == "qr"):
		apierr.Write(w, r, apierr.CodeMethodNotAllowed, "")
	default:
		apierr.Write(w, r, apierr.CodeNotFound, "")
	}
}

func isPage(kind string) bool {
	return kind == "live" || kind == "display" || kind == "overlay" || kind == "mic"
}

// ValidID reports whether id can be a session id: 1 to 64 characters of
// [A-Za-z0-9_-]. The pages refuse anything else before using it, so no
// other character ever reaches a template, a script or an API path.
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := h.assets[name]
	if !ok {
		apierr.Write(w, r, apierr.CodeNotFound, "No such asset.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		apierr.Write(w, r, apierr.CodeMethodNotAllowed, "")
		return
	}
	// Revalidated on every use (cheap: a 304 on a matching ETag), so a new
	// binary's scripts are never mixed with an old cached module graph.
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("ETag", a.etag)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// setSecurityHeaders applies the one policy of every page and asset: no
// inline script or style, nothing from another origin, no referrer, and
// no framing except for the overlay (which OBS and web mixers embed).
func setSecurityHeaders(hd http.Header, framable bool) {
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; media-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
	if !framable {
		csp += "; frame-ancestors 'none'"
		hd.Set("X-Frame-Options", "DENY")
	}
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "microphone=(), camera=(), geolocation=(), screen-wake-lock=(self)")
}
