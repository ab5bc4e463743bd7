package admin

import (
	"context"
	"encoding/base32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
)

// Walk the whole route table: unauthenticated, under-privileged, wrong
// stage and CSRF-less calls are refused with a code.
func TestRouteTableAccess(t *testing.T) {
	e := newEnv(t)
	admin := e.setup()
	const opPass = "operator passphrase one"
	if r := admin.do("POST", "/api/users", map[string]string{"name": "op", "role": "operator", "password": opPass}); r.status != 200 {
		t.Fatal(r.raw)
	}
	op := e.client()
	op.login("op", opPass, "full")
	anon := e.client()
	seen := map[Access]bool{}
	for _, rt := range e.srv.Routes() {
		seen[rt.Access] = true
		path := strings.ReplaceAll(strings.ReplaceAll(rt.Pattern, "{name}", "op"), "{$}", "")
		name := rt.Method + " " + rt.Pattern
		if rt.Access == Public {
			continue
		}
		if r := anon.do(rt.Method, path, nil); r.status != 401 || r.code() != "unauthenticated" {
			t.Errorf("%s unauthenticated: %d %q", name, r.status, r.code())
		}
		switch rt.Access {
		case AdminOnly:
			if r := op.do(rt.Method, path, nil); r.status != 403 || r.code() != "forbidden" {
				t.Errorf("%s as operator: %d %q", name, r.status, r.code())
			}
		case PendingMFA:
			if r := admin.do(rt.Method, path, nil); r.status != 401 {
				t.Errorf("%s with a full session: %d", name, r.status)
			}
		}
		if !safeMethod(rt.Method) && rt.Access != PendingMFA {
			saved := admin.csrf
			admin.csrf = ""
			if r := admin.do(rt.Method, path, nil); r.status != 403 || r.code() != "csrf" {
				t.Errorf("%s without CSRF token: %d %q", name, r.status, r.code())
			}
			admin.csrf = saved
		}
	}
	// The caller is checked before the body is read.
	req, _ := http.NewRequest("POST", e.url+"/api/users", strings.NewReader("{not json"))
	req.Header.Set("Content-Type", "application/json")
	if r := anon.send(req); r.status != 401 {
		t.Errorf("unauthenticated malformed post: %d", r.status)
	}
	for _, a := range []Access{Public, PendingMFA, Operator, AdminOnly} {
		if !seen[a] {
			t.Errorf("no route with access %s", a)
		}
	}
}

// Extra routes (the keys handlers) get the same guard and see the user as
// an auth.Principal; a route without a known access level is refused.
func TestExtraRoutes(t *testing.T) {
	e := newEnv(t)
	var got auth.Principal
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = auth.FromContext(r.Context())
		w.WriteHeader(204)
	})
	opts := Options{Store: e.store, Audit: e.audit, Settings: testSettings(), Now: e.clock.Now, InsecureTestParams: true, Console: e.console,
		Routes: []Route{{Method: "POST", Pattern: "/keys", Access: AdminOnly, Handler: h}}}
	srv, err := New(context.Background(), opts, "")
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts.Config.Handler = srv
	c := e.setup()
	if r := c.do("POST", "/keys", map[string]string{}); r.status != 204 || !got.Has(auth.ScopeAdmin) || got.Kind != auth.KindAdmin {
		t.Fatalf("extra route: %d, principal %+v", r.status, got)
	}
	c.csrf = ""
	if r := c.do("POST", "/keys", nil); r.status != 403 {
		t.Fatalf("extra route without CSRF: %d", r.status)
	}
	opts.Routes = []Route{{Method: "GET", Pattern: "/x", Handler: h}}
	if _, err := New(context.Background(), opts, ""); err == nil {
		t.Fatal("a route without access was accepted")
	}
}

// The HTML pages render for a browser and forms answer with redirects.
func TestPagesRender(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	for _, p := range []string{"/", "/mfa", "/password", "/login", "/setup"} {
		req, _ := http.NewRequest("GET", e.url+p, nil)
		req.Header.Set("Accept", "text/html")
		r := c.send(req)
		if r.status != 200 || !strings.Contains(r.raw, "<h1>") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %.200s", p, r.status, r.raw)
		}
		if p != "/login" && p != "/setup" && !strings.Contains(r.raw, c.csrf) {
			t.Errorf("GET %s: no CSRF field", p)
		}
	}
	// A bad form post re-renders the page with the reason.
	r := e.client().form("/login", map[string][]string{"name": {"root"}, "password": {"nope nope nope"}})
	if r.status != 401 || !strings.Contains(r.raw, `role="alert"`) {
		t.Fatalf("bad login form: %d %.300s", r.status, r.raw)
	}
	r = e.client().form("/login", map[string][]string{"name": {"root"}, "password": {testPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("login form: %d %v", r.status, r.header)
	}
}

// The browser path of MFA: enrol with forms, see the QR code and the
// recovery codes, then log in with the code form.
func TestMFAPagesFlow(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	r := c.form("/mfa/enroll", map[string][]string{"csrf": {c.csrf}, "current_password": {testPassword}})
	if r.status != 200 || !strings.Contains(r.raw, `src="data:image/png;base64,`) || strings.Contains(r.raw, "ZgotmplZ") {
		t.Fatalf("enrol page: %d %.600s", r.status, r.raw)
	}
	i := strings.Index(r.raw, "by hand: <code>")
	if i < 0 {
		t.Fatal("no secret on the enrol page")
	}
	secretB32 := r.raw[i+len("by hand: <code>"):]
	secretB32 = secretB32[:strings.Index(secretB32, "<")]
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secretB32)
	if err != nil {
		t.Fatal(err)
	}
	code := hotpCode(secret, uint64(totpStep(e.clock.Now())), 6)
	r = c.form("/mfa/confirm", map[string][]string{"csrf": {c.csrf}, "code": {code}})
	if r.status != 200 || strings.Count(r.raw, "<li><code>") != 10 {
		t.Fatalf("confirm page: %d %.600s", r.status, r.raw)
	}
	e.clock.Advance(time.Minute)
	b := e.client()
	r = b.form("/login", map[string][]string{"name": {testAdmin}, "password": {testPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login/totp" {
		t.Fatalf("login form with MFA: %d %v", r.status, r.header.Get("Location"))
	}
	req, _ := http.NewRequest("GET", e.url+"/login/totp", nil)
	req.Header.Set("Accept", "text/html")
	page := b.send(req)
	j := strings.Index(page.raw, `name="csrf" value="`)
	if page.status != 200 || j < 0 {
		t.Fatalf("totp page: %d", page.status)
	}
	csrf := page.raw[j+len(`name="csrf" value="`):]
	csrf = csrf[:strings.Index(csrf, `"`)]
	code = hotpCode(secret, uint64(totpStep(e.clock.Now())), 6)
	r = b.form("/login/totp", map[string][]string{"csrf": {csrf}, "code": {code}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("totp form: %d %.300s", r.status, r.raw)
	}
}
