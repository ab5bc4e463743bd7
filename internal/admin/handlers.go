package admin

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// handlers serve the console's pages and their JSON twins: a browser form
// post gets a page or a redirect, a JSON request gets JSON.
type handlers struct {
	svc   *Service
	pages *template.Template
	tls   TLSStatus
	live  *LivePages
	ops   *OpsPages
}

func (h *handlers) routes() []Route {
	r := func(method, pattern string, a Access, fn http.HandlerFunc) Route {
		return Route{Method: method, Pattern: pattern, Access: a, Handler: fn, form: true}
	}
	// e is a route a user without MFA may use when MFA is required.
	e := func(rt Route) Route { rt.enrol = true; return rt }
	return append([]Route{
		r("GET", "/static/admin.css", Public, serveCSS),
		r("GET", "/login", Public, h.loginPage),
		r("POST", "/login", Public, h.login),
		r("GET", "/login/totp", PendingMFA, h.totpPage),
		r("POST", "/login/totp", PendingMFA, h.loginTOTP),
		r("GET", "/setup", Public, h.setupPage),
		r("POST", "/setup", Public, h.setup),
		e(r("POST", "/logout", Operator, h.logout)),
		r("GET", "/{$}", Operator, h.dashboard),
		r("GET", "/account", Operator, h.accountPage),
		r("GET", "/users", AdminOnly, h.usersPage),
		r("GET", "/static/console.js", Public, serveJS),
		e(r("GET", "/api/me", Operator, h.me)),
		r("GET", "/password", Operator, h.passwordPage),
		r("POST", "/password", Operator, h.changePassword),
		e(r("GET", "/mfa", Operator, h.mfaPage)),
		e(r("POST", "/mfa/enroll", Operator, h.mfaEnroll)),
		e(r("POST", "/mfa/confirm", Operator, h.mfaConfirm)),
		r("POST", "/mfa/revoke", Operator, h.mfaRevoke),
		r("GET", "/api/users", AdminOnly, h.listUsers),
		r("POST", "/api/users", AdminOnly, h.createUser),
		r("POST", "/api/users/{name}/disable", AdminOnly, h.disableUser),
		r("POST", "/api/users/{name}/role", AdminOnly, h.setRole),
		r("POST", "/api/users/{name}/logout", AdminOnly, h.revokeSessions),
	}, append(h.liveRoutes(), h.opsRoutes()...)...)
}

// page is what every template gets.
type page struct {
	Title      string
	Error      string
	CSRF       string
	User       *User
	Users      []User
	NeedsSetup bool
	Enrolment  *Enrolment
	// QR is Enrolment.QRCode marked safe for img src: html/template
	// rewrites data: URLs otherwise. It is always our own PNG data URL.
	QR       template.URL
	Recovery []string
	Done     string
	// TLS is set for administrators' dashboards.
	TLS *TLSStatus
	// Chrome is the shared header and navigation (render fills it in).
	Chrome template.HTML
	// Scripts are same-origin module scripts the page loads; a page with
	// scripts gets a CSP allowing script-src 'self' (others allow none).
	Scripts []string
	// Data is the page's own content (sessions, keys, ...), so a new page
	// needs no new field here.
	Data any
	// Nav is the navigation the user may see (render fills it in).
	Nav []NavItem
}

func (h *handlers) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if s, ok := SessionFrom(r.Context()); ok && p.CSRF == "" {
		p.CSRF = s.CSRFToken()
		if p.User == nil {
			u := s.User
			p.User = &u
		}
	}
	p.Nav = navFrom(r)
	p.Chrome = chromeHTML(p)
	if len(p.Scripts) > 0 {
		w.Header().Set("Content-Security-Policy", cspWithScripts)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := h.pages.ExecuteTemplate(w, name, p); err != nil {
		h.svc.log.Error("admin: render page", "page", name, "request_id", requestID(r.Context()), "err", err)
	}
}

// fail answers an error from the service as JSON or, for a form post, by
// re-rendering the form's page with the message.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error, pageName string) {
	status, code, msg := classify(err)
	if status == http.StatusInternalServerError {
		h.svc.log.Error("admin: request failed", "request_id", requestID(r.Context()), "route", r.Pattern, "err", err)
	}
	var te *ThrottleError
	if errors.As(err, &te) && !te.Locked {
		w.Header().Set("Retry-After", strconv.Itoa(int((te.Wait+time.Second-1)/time.Second)))
	}
	if pageName != "" && wantsHTML(r) {
		h.render(w, r, status, pageName, page{Title: pageTitle(pageName), Error: msg})
		return
	}
	writeError(w, r, status, code, msg)
}

func pageTitle(name string) string {
	switch name {
	case "login":
		return "Log in"
	case "totp":
		return "Second factor"
	case "setup":
		return "First-run setup"
	case "password":
		return "Change password"
	case "mfa":
		return "Two-factor authentication"
	}
	return "Dashboard"
}

// classify maps service errors to status, code and a message safe to show.
func classify(err error) (int, string, string) {
	var pe *PolicyError
	var te *ThrottleError
	switch {
	case errors.As(err, &pe):
		return http.StatusUnprocessableEntity, "weak_password", pe.Reason
	case errors.As(err, &te):
		code := "throttled"
		if te.Locked {
			code = "locked"
		}
		return http.StatusTooManyRequests, code, te.Error()[len("admin: "):]
	}
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{ErrInvalidLogin, http.StatusUnauthorized, "invalid_login"},
		{ErrNoSession, http.StatusUnauthorized, "unauthenticated"},
		{ErrReauth, http.StatusForbidden, "reauth_failed"},
		{ErrMFAState, http.StatusConflict, "mfa_state"},
		{ErrNotFound, http.StatusNotFound, "not_found"},
		{ErrExists, http.StatusConflict, "exists"},
		{ErrBadName, http.StatusBadRequest, "bad_name"},
		{ErrLastAdmin, http.StatusConflict, "last_admin"},
		{ErrSetupDone, http.StatusConflict, "setup_done"},
		{ErrSetupToken, http.StatusForbidden, "bad_setup_token"},
		{ErrBadRequest, http.StatusBadRequest, "bad_request"},
		{errForm, http.StatusBadRequest, "bad_request"},
	} {
		if errors.Is(err, c.err) {
			return c.status, c.code, c.err.Error()[len("admin: "):]
		}
	}
	return http.StatusInternalServerError, "internal", ""
}

// done answers a successful form post with a redirect, or JSON v.
func done(w http.ResponseWriter, r *http.Request, to string, v any) {
	if wantsHTML(r) {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func oldToken(r *http.Request) string {
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}

// loginReply is the JSON answer to a login step. The session token itself
// goes only into the HttpOnly cookie; the CSRF token is for scripts.
type loginReply struct {
	Stage     string `json:"stage"`
	User      User   `json:"user"`
	CSRFToken string `json:"csrf_token"`
}

func (h *handlers) startSession(w http.ResponseWriter, r *http.Request, res LoginResult) {
	ttl := h.svc.set.SessionAbsolute
	next := "/"
	if res.Stage == stageMFA {
		ttl, next = mfaStageTTL, "/login/totp"
	}
	setCookie(w, res.Token, ttl)
	done(w, r, next, loginReply{Stage: res.Stage, User: res.User, CSRFToken: csrfFor(res.Token)})
}

func (h *handlers) loginPage(w http.ResponseWriter, r *http.Request) {
	need, err := h.svc.NeedsSetup(r.Context())
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.render(w, r, http.StatusOK, "login", page{Title: "Log in", NeedsSetup: need})
}

func (h *handlers) login(w http.ResponseWriter, r *http.Request) {
	f := formFrom(r)
	res, err := h.svc.Login(r.Context(), f["name"], f["password"], remoteIP(r), oldToken(r))
	if err != nil {
		h.fail(w, r, err, "login")
		return
	}
	h.startSession(w, r, res)
}

func (h *handlers) totpPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "totp", page{Title: "Second factor"})
}

func (h *handlers) loginTOTP(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	f := formFrom(r)
	res, err := h.svc.LoginMFA(r.Context(), sess, f["code"], f["recovery_code"], remoteIP(r))
	if err != nil {
		h.fail(w, r, err, "totp")
		return
	}
	h.startSession(w, r, res)
}

func (h *handlers) setupPage(w http.ResponseWriter, r *http.Request) {
	need, err := h.svc.NeedsSetup(r.Context())
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.render(w, r, http.StatusOK, "setup", page{Title: "First-run setup", NeedsSetup: need})
}

func (h *handlers) setup(w http.ResponseWriter, r *http.Request) {
	f := formFrom(r)
	res, err := h.svc.Setup(r.Context(), f["token"], f["name"], f["password"], remoteIP(r))
	if err != nil {
		h.fail(w, r, err, "setup")
		return
	}
	h.startSession(w, r, res)
}

func (h *handlers) logout(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	if err := h.svc.Logout(r.Context(), sess, remoteIP(r)); err != nil {
		h.fail(w, r, err, "")
		return
	}
	clearCookie(w)
	done(w, r, "/login", map[string]bool{"ok": true})
}

func serveJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(consoleJS)
}

func serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(stylesheet)
}
