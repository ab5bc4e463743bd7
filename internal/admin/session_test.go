package admin

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSessionCookieAttributes(t *testing.T) {
	e := newEnv(t)
	e.setup()
	c := e.client()
	req, _ := http.NewRequest("POST", e.url+"/login", strings.NewReader(`{"name":"root","password":"`+testPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var ck *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == CookieName {
			ck = x
		}
	}
	if ck == nil {
		t.Fatalf("no %s cookie: %v", CookieName, resp.Header["Set-Cookie"])
	}
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("cookie attributes: %+v", ck)
	}
	if !strings.HasPrefix(CookieName, "__Host-") {
		t.Fatal("cookie lacks the __Host- prefix")
	}
	// ≥ 128 bits: 64 hex characters are 256 bits from crypto/rand.
	if len(ck.Value) < 32 {
		t.Fatalf("session token %d chars", len(ck.Value))
	}
	// Stored hashed: the token appears nowhere in the sessions table.
	rows, err := e.store.QueryContext(context.Background(), "SELECT token_hash, id FROM admin_sessions")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var h, id string
		rows.Scan(&h, &id)
		if h == ck.Value || id == ck.Value {
			t.Fatal("session token stored in the clear")
		}
	}
}

// Logging in always issues a new token and drops the one the browser sent,
// so a planted or earlier session id never becomes (or stays) the login.
func TestNewTokenAtLoginFixation(t *testing.T) {
	e := newEnv(t)
	admin := e.setup()
	first := admin.cookie()
	admin.login(testAdmin, testPassword, "full")
	second := admin.cookie()
	if first == "" || first == second {
		t.Fatal("login did not rotate the session token")
	}
	if _, err := e.svc.Session(context.Background(), first); err == nil {
		t.Fatal("the pre-login session survived login")
	}
	if _, err := e.svc.Session(context.Background(), second); err != nil {
		t.Fatal(err)
	}
}

func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	e.clock.Advance(29 * time.Minute)
	if r := c.do("GET", "/api/me", nil); r.status != 200 {
		t.Fatalf("within idle timeout: %d", r.status)
	}
	e.clock.Advance(31 * time.Minute)
	if r := c.do("GET", "/api/me", nil); r.status != 401 {
		t.Fatalf("after idle timeout: %d", r.status)
	}
	// Active all along, the session still ends at the absolute timeout.
	c.login(testAdmin, testPassword, "full")
	for elapsed := time.Duration(0); elapsed < 12*time.Hour-20*time.Minute; elapsed += 20 * time.Minute {
		e.clock.Advance(20 * time.Minute)
		if r := c.do("GET", "/api/me", nil); r.status != 200 {
			t.Fatalf("active session ended after %v: %d", elapsed, r.status)
		}
	}
	e.clock.Advance(21 * time.Minute)
	if r := c.do("GET", "/api/me", nil); r.status != 401 {
		t.Fatalf("after absolute timeout: %d", r.status)
	}
}

func TestLogoutKillsSessionServerSide(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	token := c.cookie()
	if r := c.do("POST", "/logout", nil); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	// Replaying the old cookie value (as a thief would) fails.
	thief := e.client()
	u, _ := url.Parse(e.url)
	thief.c.Jar.SetCookies(u, []*http.Cookie{{Name: CookieName, Value: token, Path: "/", Secure: true}})
	if r := thief.do("GET", "/api/me", nil); r.status != 401 {
		t.Fatalf("old token after logout: %d", r.status)
	}
	if len(e.audit.Find("user.logout", "ok")) != 1 {
		t.Fatal("logout not audited")
	}
	// GET cannot log out (no state change via GET).
	c.login(testAdmin, testPassword, "full")
	if r := c.do("GET", "/logout", nil); r.status == 200 {
		t.Fatal("GET /logout answered 200")
	}
	if r := c.do("GET", "/api/me", nil); r.status != 200 {
		t.Fatal("GET /logout ended the session")
	}
}

func TestDisableKillsSessions(t *testing.T) {
	e := newEnv(t)
	admin := e.setup()
	const opPass = "operator passphrase one"
	if r := admin.do("POST", "/api/users", map[string]string{"name": "op", "role": "operator", "password": opPass}); r.status != 200 {
		t.Fatalf("create operator: %d %s", r.status, r.raw)
	}
	op1, op2 := e.client(), e.client()
	op1.login("op", opPass, "full")
	op2.login("op", opPass, "full")
	if r := admin.do("POST", "/api/users/op/disable", nil); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.raw)
	}
	for _, c := range []*client{op1, op2} {
		if r := c.do("GET", "/api/me", nil); r.status != 401 {
			t.Fatalf("disabled user's session still works: %d", r.status)
		}
	}
	// An admin can also end a user's sessions without disabling them.
	if r := admin.do("POST", "/api/users/op/disable", map[string]string{"disabled": "false"}); r.status != 200 {
		t.Fatalf("enable: %d %s", r.status, r.raw)
	}
	op1.login("op", opPass, "full")
	if r := admin.do("POST", "/api/users/op/logout", nil); r.status != 200 {
		t.Fatalf("revoke sessions: %d %s", r.status, r.raw)
	}
	if r := op1.do("GET", "/api/me", nil); r.status != 401 {
		t.Fatalf("session survived revocation: %d", r.status)
	}
	if r := admin.do("POST", "/api/users/op/disable", nil); r.status != 200 {
		t.Fatal(r.raw)
	}
	// A disabled user gets the same answer as a wrong password.
	r := op1.do("POST", "/login", map[string]string{"name": "op", "password": opPass})
	if r.status != 401 || r.code() != "invalid_login" {
		t.Fatalf("disabled login: %d %s", r.status, r.raw)
	}
	if ev := e.audit.Find("auth.failure", "denied"); len(ev) == 0 || ev[len(ev)-1].Details["reason"] != "disabled" {
		t.Fatalf("disabled login not audited with its reason: %+v", ev)
	}
	// The last admin cannot disable themself.
	if r := admin.do("POST", "/api/users/root/disable", nil); r.status != 409 {
		t.Fatalf("disabling the last admin: %d", r.status)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	good := c.csrf
	body := map[string]string{"name": "op", "role": "operator", "password": "operator passphrase one"}
	for _, tok := range []string{"", "x", strings.Repeat("A", len(good))} {
		c.csrf = tok
		if r := c.do("POST", "/api/users", body); r.status != 403 || r.code() != "csrf" {
			t.Fatalf("CSRF token %q: %d %s", tok, r.status, r.raw)
		}
	}
	users, _ := e.svc.Users(context.Background())
	if len(users) != 1 {
		t.Fatal("a request without a valid CSRF token changed state")
	}
	// The form field works like the header.
	c.csrf = ""
	vals := url.Values{"csrf": {good}, "name": {"op"}, "role": {"operator"}, "password": {"operator passphrase one"}}
	if r := c.form("/api/users", vals); r.status != http.StatusSeeOther {
		t.Fatalf("form post with csrf field: %d %s", r.status, r.raw)
	}
	// A token from another session is refused.
	other := e.client()
	other.login(testAdmin, testPassword, "full")
	c.csrf = other.csrf
	if r := c.do("POST", "/logout", nil); r.status != 403 {
		t.Fatalf("another session's CSRF token: %d", r.status)
	}
	// Cross-origin browser posts are refused even on public routes (login CSRF).
	req, _ := http.NewRequest("POST", e.url+"/login", strings.NewReader(`{"name":"root","password":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	if r := c.send(req); r.status != 403 {
		t.Fatalf("cross-origin login post: %d", r.status)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	paths := []string{"/", "/login", "/setup", "/mfa", "/password", "/api/me", "/api/users", "/nope", "/static/admin.css"}
	for _, p := range paths {
		for _, cl := range []*client{c, e.client()} {
			r := cl.do("GET", p, nil)
			h := r.header
			if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") ||
				h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" ||
				h.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s (%d): headers %v", p, r.status, h)
			}
		}
	}
	// Pages carry no scripts at all (the CSP forbids them).
	for _, p := range []string{"/", "/mfa", "/password"} {
		req, _ := http.NewRequest("GET", e.url+p, nil)
		req.Header.Set("Accept", "text/html")
		if r := c.send(req); r.status != 200 || strings.Contains(strings.ToLower(r.raw), "<script") {
			t.Errorf("GET %s: %d, script tag present: %v", p, r.status, strings.Contains(r.raw, "<script"))
		}
	}
}

// A role change ends the user's sessions; the last admin cannot be demoted;
// passwords never expire by age (no forced periodic change).
func TestRoleChangeAndNoPasswordExpiry(t *testing.T) {
	e := newEnv(t)
	admin := e.setup()
	const opPass = "operator passphrase one"
	if r := admin.do("POST", "/api/users", map[string]string{"name": "op", "role": "operator", "password": opPass}); r.status != 200 {
		t.Fatal(r.raw)
	}
	op := e.client()
	op.login("op", opPass, "full")
	if r := admin.do("POST", "/api/users/op/role", map[string]string{"role": "admin"}); r.status != 200 {
		t.Fatalf("set role: %d %s", r.status, r.raw)
	}
	if r := op.do("GET", "/api/me", nil); r.status != 401 {
		t.Fatalf("session survived a role change: %d", r.status)
	}
	if ev := e.audit.Find("user.role", "ok"); len(ev) != 1 || ev[0].Details["to"] != "admin" {
		t.Fatalf("role change audit: %+v", ev)
	}
	if r := admin.do("POST", "/api/users/op/role", map[string]string{"role": "root"}); r.status != 400 {
		t.Fatalf("unknown role: %d", r.status)
	}
	if r := admin.do("POST", "/api/users/op/role", map[string]string{"role": "operator"}); r.status != 200 {
		t.Fatalf("demote op: %d", r.status)
	}
	if r := admin.do("POST", "/api/users/root/role", map[string]string{"role": "operator"}); r.status != 409 || r.code() != "last_admin" {
		t.Fatalf("demoting the last admin: %d %s", r.status, r.raw)
	}
	e.clock.Advance(3 * 365 * 24 * time.Hour)
	e.client().login("op", opPass, "full")
}

// The console starts no goroutine of its own that outlives its listener.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		e := newEnv(t)
		c := e.setup()
		c.do("GET", "/api/me", nil)
		c.do("POST", "/logout", nil)
		e.ts.Close()
		e.store.Close()
	}()
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}
