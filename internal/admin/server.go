package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
)

// Access says who may call a console route. Every Route must declare one.
type Access string

const (
	// Public routes need no session: login, setup, the stylesheet.
	Public Access = "public"
	// PendingMFA routes need a session that has passed the password step.
	PendingMFA Access = "mfa_pending"
	// Operator routes need a full session of any role (operator or admin).
	Operator Access = "operator"
	// AdminOnly routes need a full session of role admin.
	AdminOnly Access = "admin"
)

// Route is one entry of the console's route table.
type Route struct {
	Method  string
	Pattern string // net/http ServeMux path pattern
	Access  Access
	Handler http.Handler
	// MaxBody raises the console's 64 KiB body limit for this route (an
	// enrolment recording); 0 keeps it.
	MaxBody int64
	// enrol marks the routes a user without MFA may still use when
	// Settings.RequireMFA is set (enrolment, logout, whoami).
	enrol bool
	// form marks the console's own routes, whose bodies guard parses (to
	// find the CSRF field) and hands over with FormFrom. Extra routes keep
	// their body and must send the CSRF token in the X-CSRF-Token header.
	form bool
	// upload marks console routes whose body is a multipart form with at
	// most one file (upload.go): guard reads it into memory, bounded by
	// MaxBody, checks its CSRF field and hands over the file with
	// uploadFrom.
	upload bool
}

// CookieName is the session cookie. The __Host- prefix makes browsers
// insist on Secure, Path=/ and no Domain. Browsers treat http://localhost
// and 127.0.0.1 as secure contexts, so it works on the loopback listener
// without TLS; elsewhere the console needs TLS.
const CookieName = "__Host-izwi_admin"

// CSRFHeader carries the CSRF token for scripts; forms send field "csrf".
const CSRFHeader = "X-CSRF-Token"

// maxBody bounds every console request body.
const maxBody = 64 << 10

// Server is the admin console's HTTP handler, for its own listener.
type Server struct {
	svc     *Service
	log     *slog.Logger
	handler http.Handler
	routes  []Route
}

var _ http.Handler = (*Server)(nil)

// New builds the console: migrates its tables, prints a one-time setup
// token when no user exists (consoleURL, e.g. "http://127.0.0.1:8081", is
// named in that message), and assembles the route table.
func New(ctx context.Context, opts Options, consoleURL string) (*Server, error) {
	svc, err := NewService(ctx, opts)
	if err != nil {
		return nil, err
	}
	if _, err := svc.IssueSetupToken(ctx, consoleURL); err != nil {
		return nil, err
	}
	srv := &Server{svc: svc, log: svc.log}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &handlers{svc: svc, pages: pages, tls: opts.TLS, live: opts.Live, ops: opts.Ops}
	srv.routes = append(h.routes(), opts.Routes...)
	if srv.handler, err = srv.build(); err != nil {
		return nil, err
	}
	return srv, nil
}

// Service returns the core (for izwi users and the integrator).
func (s *Server) Service() *Service { return s.svc }

// Routes returns the route table (tests walk it).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) build() (http.Handler, error) {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		switch rt.Access {
		case Public, PendingMFA, Operator, AdminOnly:
		default:
			return nil, fmt.Errorf("admin: route %s %s: unknown access %q", rt.Method, rt.Pattern, rt.Access)
		}
		if rt.Handler == nil || rt.Method == "" || !strings.HasPrefix(rt.Pattern, "/") {
			return nil, fmt.Errorf("admin: route %s %s is incomplete", rt.Method, rt.Pattern)
		}
		mux.Handle(rt.Method+" "+rt.Pattern, s.guard(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "not_found", "no such page")
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusForbidden, "cross_origin", "cross-origin requests are refused")
	}))
	return withRequestID(withHeaders(withRecover(s.log, cop.Handler(mux)))), nil
}

// guard enforces rt.Access: it resolves the session cookie, checks stage
// and role, and on every state-changing method checks the CSRF token.
func (s *Server) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBody)
		if rt.MaxBody > 0 {
			limit = rt.MaxBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var form map[string]string
		// parse reads the body of a console form post (after the caller is
		// known, except on public routes), so guard can find the CSRF field.
		parse := func() bool {
			if rt.upload && !safeMethod(r.Method) {
				f, up, err := readUpload(r)
				if err != nil {
					writeError(w, r, http.StatusBadRequest, "bad_request", "the form is malformed or too large")
					return false
				}
				form = f
				r = r.WithContext(withUpload(context.WithValue(r.Context(), formKey{}, form), up))
				return true
			}
			if !rt.form || safeMethod(r.Method) {
				return true
			}
			var err error
			if form, err = readForm(r); err != nil {
				writeError(w, r, http.StatusBadRequest, "bad_request", "the form is malformed")
				return false
			}
			r = r.WithContext(context.WithValue(r.Context(), formKey{}, form))
			return true
		}
		if rt.Access == Public {
			if parse() {
				rt.Handler.ServeHTTP(w, r)
			}
			return
		}
		sess, err := s.session(r)
		if err != nil {
			if !errors.Is(err, ErrNoSession) {
				s.log.Error("admin: session lookup failed", "request_id", requestID(r.Context()), "err", err)
				writeError(w, r, http.StatusInternalServerError, "internal", "")
				return
			}
			deny(w, r, http.StatusUnauthorized, "unauthenticated", "log in first")
			return
		}
		switch {
		case rt.Access == PendingMFA && sess.Stage != stageMFA,
			rt.Access != PendingMFA && sess.Stage != stageFull:
			deny(w, r, http.StatusUnauthorized, "unauthenticated", "log in first")
			return
		case rt.Access == AdminOnly && sess.User.Role != RoleAdmin:
			writeError(w, r, http.StatusForbidden, "forbidden", "this needs the admin role")
			return
		case s.svc.set.RequireMFA && sess.Stage == stageFull && !sess.User.MFA && !rt.enrol:
			if r.Method == http.MethodGet && wantsHTML(r) {
				http.Redirect(w, r, "/mfa", http.StatusSeeOther)
				return
			}
			writeError(w, r, http.StatusForbidden, "mfa_required", "turn on two-factor authentication first (POST /mfa/enroll)")
			return
		}
		if !parse() {
			return
		}
		if !safeMethod(r.Method) {
			got := r.Header.Get(CSRFHeader)
			if got == "" {
				got = form["csrf"]
			}
			if !sess.checkCSRF(got) {
				writeError(w, r, http.StatusForbidden, "csrf", "missing or wrong CSRF token; reload the page")
				return
			}
		}
		ctx := withSession(r.Context(), sess)
		if sess.Stage == stageFull {
			ctx = auth.WithPrincipal(ctx, principal(sess))
			ctx = withNav(ctx, navFor(s.routes, sess.User.Role))
		}
		rt.Handler.ServeHTTP(w, r.WithContext(ctx))
	})
}

// principal is what extra routes (the keys handlers) see of the user.
func principal(sess Session) auth.Principal {
	p := auth.Principal{Kind: auth.KindAdmin, ID: sess.User.ID, Subject: "user:" + sess.User.ID}
	if sess.User.Role == RoleAdmin {
		p.Scopes = []auth.Scope{auth.ScopeAdmin}
	}
	return p
}

func (s *Server) session(r *http.Request) (Session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Session{}, ErrNoSession
	}
	return s.svc.Session(r.Context(), c.Value)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// deny sends browsers to the login page and scripts a JSON 401.
func deny(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if r.Method == http.MethodGet && wantsHTML(r) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	writeError(w, r, status, code, msg)
}

type sessionKey struct{}

type formKey struct{}

// formFrom returns the parsed body of a console route's request.
func formFrom(r *http.Request) map[string]string {
	f, _ := r.Context().Value(formKey{}).(map[string]string)
	return f
}

func withSession(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFrom returns the console session of a request that passed guard.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}

// setCookie sets the session cookie with every protection browsers offer.
func setCookie(w http.ResponseWriter, token string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge / time.Second)})
}

func clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// remoteIP is the peer address (the console is not behind proxies).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// csp is the console's policy: no scripts at all, never framed. Pages that
// load the console's own script (a live meter) use cspWithScripts.
const (
	csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
		"frame-ancestors 'none'; base-uri 'none'"
	cspWithScripts = csp + "; script-src 'self'; connect-src 'self'"
)

// withHeaders sets the security headers on every console response: a
// strict CSP, no referrer, no caching.
func withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

type ridKey struct{}

func requestID(ctx context.Context) string { s, _ := ctx.Value(ridKey{}).(string); return s }

// withRequestID gives every request a random ID, echoed in X-Request-Id
// and in error bodies (the console ignores client-chosen IDs).
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := rand.Text()
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ridKey{}, id)))
	})
}

// withRecover turns a handler panic into a logged 500.
func withRecover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p)
				}
				log.Error("admin: handler panicked", "request_id", requestID(r.Context()), "route", r.Pattern)
				writeError(w, r, http.StatusInternalServerError, "internal", "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
