package admin

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

func (h *handlers) dashboard(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	p := page{Title: "Dashboard"}
	if sess.User.Role == RoleAdmin {
		tls := h.tls
		p.TLS = &tls
	}
	h.render(w, r, http.StatusOK, "dashboard", p)
}

func (h *handlers) accountPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "account", page{Title: "Account"})
}

func (h *handlers) usersPage(w http.ResponseWriter, r *http.Request) {
	users, err := h.svc.Users(r.Context())
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.render(w, r, http.StatusOK, "users", page{Title: "Users", Users: users, Done: r.URL.Query().Get("done")})
}

// meReply describes the logged-in user and the CSRF token scripts send.
type meReply struct {
	User      User   `json:"user"`
	Session   string `json:"session"`
	CSRFToken string `json:"csrf_token"`
}

func (h *handlers) me(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	writeJSON(w, http.StatusOK, meReply{User: sess.User, Session: sess.ID, CSRFToken: sess.CSRFToken()})
}

func (h *handlers) passwordPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "password", page{Title: "Change password"})
}

// changePassword needs the current password (and a code when MFA is on);
// every session of the user ends, so the browser logs in again.
func (h *handlers) changePassword(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	f := formFrom(r)
	if err := h.svc.ChangePassword(r.Context(), sess.User.ID, f["current_password"], f["code"], f["new_password"], remoteIP(r)); err != nil {
		h.fail(w, r, err, "password")
		return
	}
	clearCookie(w)
	done(w, r, "/login", map[string]bool{"ok": true, "relogin": true})
}

func (h *handlers) mfaPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "mfa", page{Title: "Two-factor authentication"})
}

func (h *handlers) mfaEnroll(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	e, err := h.svc.BeginEnroll(r.Context(), sess.User.ID, formFrom(r)["current_password"], remoteIP(r))
	if err != nil {
		h.fail(w, r, err, "mfa")
		return
	}
	if wantsHTML(r) {
		p := page{Title: "Two-factor authentication", Enrolment: &e}
		if strings.HasPrefix(e.QRCode, "data:image/png;base64,") {
			p.QR = template.URL(e.QRCode)
		}
		h.render(w, r, http.StatusOK, "mfa", p)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (h *handlers) mfaConfirm(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	codes, err := h.svc.ConfirmEnroll(r.Context(), sess.User.ID, formFrom(r)["code"], remoteIP(r))
	if err != nil {
		h.fail(w, r, err, "mfa")
		return
	}
	if wantsHTML(r) {
		u := sess.User
		u.MFA = true
		h.render(w, r, http.StatusOK, "mfa", page{Title: "Two-factor authentication", User: &u, Recovery: codes})
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
}

// mfaRevoke needs the current password and a current code; it ends the
// user's sessions like any change of credentials.
func (h *handlers) mfaRevoke(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	f := formFrom(r)
	if err := h.svc.RevokeMFA(r.Context(), sess.User.ID, f["current_password"], f["code"], remoteIP(r)); err != nil {
		h.fail(w, r, err, "mfa")
		return
	}
	clearCookie(w)
	done(w, r, "/login", map[string]bool{"ok": true, "relogin": true})
}

func (h *handlers) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := h.svc.Users(r.Context())
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	if users == nil {
		users = []User{}
	}
	writeJSON(w, http.StatusOK, map[string][]User{"users": users})
}

func actor(r *http.Request) string {
	sess, _ := SessionFrom(r.Context())
	return "user:" + sess.User.ID
}

func (h *handlers) createUser(w http.ResponseWriter, r *http.Request) {
	f := formFrom(r)
	role, err := ParseRole(f["role"])
	if err != nil {
		h.fail(w, r, ErrBadRequest, "dashboard")
		return
	}
	u, err := h.svc.CreateUser(r.Context(), actor(r), remoteIP(r), f["name"], role, f["password"])
	if err != nil {
		h.fail(w, r, err, "dashboard")
		return
	}
	done(w, r, "/users?done=created", map[string]User{"user": u})
}

func (h *handlers) disableUser(w http.ResponseWriter, r *http.Request) {
	disabled := true
	if v, ok := formFrom(r)["disabled"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			h.fail(w, r, ErrBadRequest, "dashboard")
			return
		}
		disabled = b
	}
	if err := h.svc.SetDisabled(r.Context(), actor(r), remoteIP(r), r.PathValue("name"), disabled); err != nil {
		h.fail(w, r, err, "dashboard")
		return
	}
	done(w, r, "/users?done=updated", map[string]bool{"ok": true})
}

func (h *handlers) setRole(w http.ResponseWriter, r *http.Request) {
	role, err := ParseRole(formFrom(r)["role"])
	if err != nil {
		h.fail(w, r, ErrBadRequest, "dashboard")
		return
	}
	if err := h.svc.SetRole(r.Context(), actor(r), remoteIP(r), r.PathValue("name"), role); err != nil {
		h.fail(w, r, err, "dashboard")
		return
	}
	done(w, r, "/users?done=updated", map[string]bool{"ok": true})
}

func (h *handlers) revokeSessions(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.RevokeSessions(r.Context(), actor(r), remoteIP(r), r.PathValue("name")); err != nil {
		h.fail(w, r, err, "dashboard")
		return
	}
	done(w, r, "/users?done=updated", map[string]bool{"ok": true})
}
