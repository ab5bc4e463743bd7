package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// OpsPages are the console's operations pages' dependencies; a nil field
// leaves its page out.
type OpsPages struct {
	Keys     Keys
	AuditLog AuditView
	Health   func(ctx context.Context) []HealthCheck
	Site     SiteSettings
	// Schedules mounts the Schedules page.
	Schedules Schedules
}

// auditRows is how many entries the audit page shows.
const auditRows = 100

func (h *handlers) opsRoutes() []Route {
	if h.ops == nil {
		return nil
	}
	r := func(method, pattern string, a Access, fn http.HandlerFunc) Route {
		return Route{Method: method, Pattern: pattern, Access: a, Handler: fn, form: true}
	}
	out := h.scheduleRoutes()
	if h.ops.Keys != nil {
		out = append(out, r("GET", "/keys", AdminOnly, h.keysPage), r("POST", "/keys", AdminOnly, h.createKey),
			r("POST", "/keys/{id}/revoke", AdminOnly, h.revokeKey), r("POST", "/keys/{id}/rotate", AdminOnly, h.rotateKey))
	}
	if h.ops.AuditLog != nil {
		out = append(out, r("GET", "/audit", AdminOnly, h.auditPage))
	}
	if h.ops.Health != nil {
		out = append(out, r("GET", "/health", Operator, h.healthPage))
	}
	if h.ops.Site != nil {
		out = append(out, r("GET", "/settings", AdminOnly, h.settingsPage), r("POST", "/settings", AdminOnly, h.saveSettings))
	}
	return out
}

// keysData is the keys page: the list, the scopes offered and a secret
// shown once after create or rotate.
type keysData struct {
	Keys   []KeyRow
	Scopes []string
	Secret string
	For    string // the key the secret belongs to
}

func (h *handlers) actor(r *http.Request) Actor {
	sess, _ := SessionFrom(r.Context())
	return Actor{ID: "user:" + sess.User.ID, RemoteIP: remoteIP(r), RequestID: requestID(r.Context())}
}

func (h *handlers) renderKeys(w http.ResponseWriter, r *http.Request, status int, d keysData, msg string) {
	list, err := h.ops.Keys.List(r.Context())
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	d.Keys, d.Scopes = list, KeyScopes
	h.render(w, r, status, "keys", page{Title: "API keys", Data: d, Error: msg})
}

func (h *handlers) keysPage(w http.ResponseWriter, r *http.Request) {
	h.renderKeys(w, r, http.StatusOK, keysData{}, "")
}

// opsFail answers a refused or failed operation on page (re-rendered by
// again with the message) or as JSON.
func (h *handlers) opsFail(w http.ResponseWriter, r *http.Request, err error, again func(status int, msg string)) {
	status, code, msg := http.StatusInternalServerError, "internal", ""
	switch {
	case errors.Is(err, ErrRefused):
		status, code, msg = http.StatusBadRequest, "bad_request", strings.TrimPrefix(err.Error(), "admin: refused: ")
	case errors.Is(err, ErrNotFound):
		status, code, msg = classify(err)
	default:
		h.svc.log.Error("admin: operation failed", "request_id", requestID(r.Context()), "route", r.Pattern, "err", err)
		msg = "internal error; quote the request ID " + requestID(r.Context())
	}
	if wantsHTML(r) {
		again(status, msg)
		return
	}
	writeError(w, r, status, code, msg)
}

func (h *handlers) createKey(w http.ResponseWriter, r *http.Request) {
	f := formFrom(r)
	nk := NewKey{Name: strings.TrimSpace(f["name"]), ExpiresIn: strings.TrimSpace(f["expires_in"]), RPS: strings.TrimSpace(f["rps"]),
		MaxSessions: strings.TrimSpace(f["max_sessions"]), AudioMinPerDay: strings.TrimSpace(f["audio_minutes_per_day"])}
	for _, s := range KeyScopes {
		if v := f["scope_"+s]; v == "on" || v == "true" {
			nk.Scopes = append(nk.Scopes, s)
		}
	}
	k, secret, err := h.ops.Keys.Create(r.Context(), h.actor(r), nk)
	if err != nil {
		h.opsFail(w, r, err, func(status int, msg string) { h.renderKeys(w, r, status, keysData{}, msg) })
		return
	}
	h.keySecret(w, r, k, secret)
}

// keySecret shows a new key's secret, once.
func (h *handlers) keySecret(w http.ResponseWriter, r *http.Request, k KeyRow, secret string) {
	if !wantsHTML(r) {
		writeJSON(w, http.StatusOK, map[string]any{"id": k.ID, "secret": secret})
		return
	}
	h.renderKeys(w, r, http.StatusOK, keysData{Secret: secret, For: k.Name}, "")
}

func (h *handlers) revokeKey(w http.ResponseWriter, r *http.Request) {
	if err := h.ops.Keys.Revoke(r.Context(), h.actor(r), r.PathValue("id")); err != nil {
		h.opsFail(w, r, err, func(status int, msg string) { h.renderKeys(w, r, status, keysData{}, msg) })
		return
	}
	done(w, r, "/keys", map[string]bool{"ok": true})
}

func (h *handlers) rotateKey(w http.ResponseWriter, r *http.Request) {
	k, secret, err := h.ops.Keys.Rotate(r.Context(), h.actor(r), r.PathValue("id"))
	if err != nil {
		h.opsFail(w, r, err, func(status int, msg string) { h.renderKeys(w, r, status, keysData{}, msg) })
		return
	}
	h.keySecret(w, r, k, secret)
}

// auditData is the audit page.
type auditData struct {
	Status    AuditStatus
	VerifyErr string
	Rows      []AuditRow
}

func (h *handlers) auditPage(w http.ResponseWriter, r *http.Request) {
	var d auditData
	st, err := h.ops.AuditLog.Verify(r.Context())
	if err != nil {
		h.svc.log.Error("admin: audit verification failed", "request_id", requestID(r.Context()), "err", err)
		d.VerifyErr = "the verification could not run; see the server log (request " + requestID(r.Context()) + ")"
	}
	d.Status = st
	if d.Rows, err = h.ops.AuditLog.Recent(r.Context(), auditRows); err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Data: d})
}

func (h *handlers) healthPage(w http.ResponseWriter, r *http.Request) {
	checks := h.ops.Health(r.Context())
	if !wantsHTML(r) {
		writeJSON(w, http.StatusOK, map[string]any{"checks": checks})
		return
	}
	h.render(w, r, http.StatusOK, "health", page{Title: "Health", Data: checks})
}

// settingsData is the settings page.
type settingsData struct {
	PublicURL, Check string
	Saved            bool
}

func (h *handlers) settingsPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "settings", page{Title: "Settings", Data: settingsData{PublicURL: h.ops.Site.PublicURL()}})
}

func (h *handlers) saveSettings(w http.ResponseWriter, r *http.Request) {
	u := strings.TrimSpace(formFrom(r)["public_url"])
	if err := h.audit(r, "console.settings.public_url", "", nil); err != nil {
		h.fail(w, r, err, "")
		return
	}
	check, err := h.ops.Site.SetPublicURL(r.Context(), u)
	if err != nil {
		h.opsFail(w, r, err, func(status int, msg string) {
			h.render(w, r, status, "settings", page{Title: "Settings", Error: msg, Data: settingsData{PublicURL: u, Check: check}})
		})
		return
	}
	if !wantsHTML(r) {
		writeJSON(w, http.StatusOK, map[string]string{"public_url": h.ops.Site.PublicURL(), "check": check})
		return
	}
	h.render(w, r, http.StatusOK, "settings", page{Title: "Settings", Data: settingsData{PublicURL: h.ops.Site.PublicURL(), Check: check, Saved: true}})
}
