package captionfilter

import (
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"slices"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/webasset"
)

// The console's caption page for one session (/sessions/{id}/captions):
// the settings above as a form, and an overlay style builder whose
// address is previewed in a frame from the public listener.

//go:embed assets
var assets embed.FS

var pageT = template.Must(template.ParseFS(assets, "assets/captions.html"))

// Console are the console page's dependencies (from cmd/izwi: admin.Chrome,
// the console session's CSRF token, the public URL phones and OBS use).
type Console struct {
	CSRF      func(*http.Request) string
	Chrome    func(*http.Request) template.HTML
	PublicURL func() string
}

// asAdmin lets a console user act on any session, as the console does:
// console sessions belong to no API key.
func asAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr, _ := auth.FromContext(r.Context())
		if !pr.Has(auth.ScopeAdmin) {
			pr.Scopes = append(slices.Clone(pr.Scopes), auth.ScopeAdmin)
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), pr)))
	})
}

// ConsolePage serves GET /sessions/{id}/captions.
func (h *Handler) ConsolePage(c Console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		info, err := h.sessions.Get(r.Context(), "", id)
		if err != nil {
			apierr.Write(w, r, apierr.CodeNotFound, "no such session")
			return
		}
		s, ok := h.settings(w, r, id)
		if !ok {
			return
		}
		public := c.PublicURL()
		name := info.Label
		if name == "" {
			name = id
		}
		// The preview frames the public listener's overlay (which allows
		// framing); nothing else may be framed or fetched.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
			"img-src 'self' data:; frame-src "+public+"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		data := map[string]any{"ID": id, "Name": name, "S": s, "OverlayURL": public + "/overlay/" + url.PathEscape(id)}
		if c.CSRF != nil {
			data["CSRF"] = c.CSRF(r)
		}
		if c.Chrome != nil {
			data["Chrome"] = c.Chrome(r)
		}
		if err := pageT.Execute(w, data); err != nil {
			h.log.Error("rendering the caption page", "err", err)
		}
	})
}

// ConsolePut serves PUT /sessions/{id}/captions: as PUT
// /v1/sessions/{id}/filters, as the console user.
func (h *Handler) ConsolePut() http.Handler { return asAdmin(h.Put()) }

// Asset serves GET /captions-assets/{file}.
func (h *Handler) Asset() http.Handler { return webasset.Handler(assets, "assets", "") }
