package admin

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// No default account: before setup nobody can log in, and a one-time token
// is printed on the console (not in the JSON log) and stored only hashed.
func TestNoDefaultAccountSetupToken(t *testing.T) {
	e := newEnv(t)
	users, err := e.svc.Users(context.Background())
	if err != nil || len(users) != 0 {
		t.Fatalf("users before setup: %v %v", users, err)
	}
	c := e.client()
	for _, name := range []string{"admin", "root", "izwi"} {
		if r := c.do("POST", "/login", map[string]string{"name": name, "password": "admin"}); r.status != 401 {
			t.Fatalf("login as %s before setup: %d", name, r.status)
		}
	}
	tok := e.setupToken()
	var stored string
	if err := e.store.QueryRowContext(context.Background(), "SELECT token_hash FROM admin_setup").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == tok || strings.Contains(stored, tok) {
		t.Fatal("setup token stored in the clear")
	}
	if len(e.audit.Find("setup.token_issued", "ok")) != 1 {
		t.Fatal("setup token issue not audited")
	}
}

func TestSetupRequiresTokenAndIsSingleUse(t *testing.T) {
	e := newEnv(t)
	tok := e.setupToken()
	c := e.client()
	bad := tok[:63] + map[bool]string{true: "1", false: "0"}[tok[63] == '0']
	for _, try := range []string{"", "x", bad, strings.ToUpper(tok)} {
		r := c.do("POST", "/setup", map[string]string{"token": try, "name": "eve", "password": testPassword})
		if r.status != 403 || r.code() != "bad_setup_token" {
			t.Fatalf("setup with token %q: %d %s", try, r.status, r.raw)
		}
	}
	if len(e.audit.Find("setup", "denied")) != 4 {
		t.Fatal("refused setups not audited")
	}
	// A weak password is refused before the token is consumed.
	if r := c.do("POST", "/setup", map[string]string{"token": tok, "name": "root", "password": "password1234"}); r.status != 422 {
		t.Fatalf("setup with a blocklisted password: %d %s", r.status, r.raw)
	}
	c = e.setup()
	if r := c.do("GET", "/api/me", nil); r.status != 200 || r.body["user"].(map[string]any)["role"] != "admin" {
		t.Fatalf("after setup: %d %s", r.status, r.raw)
	}
	if len(e.audit.Find("setup", "ok")) != 1 {
		t.Fatal("setup not audited")
	}
	// The same token again, or any token, once a user exists.
	r := e.client().do("POST", "/setup", map[string]string{"token": tok, "name": "eve", "password": testPassword})
	if r.status != 409 || r.code() != "setup_done" {
		t.Fatalf("second setup: %d %s", r.status, r.raw)
	}
	// A restart with users prints no new token.
	before := e.console.String()
	e.start()
	if e.console.String() != before {
		t.Fatal("restart with users printed a setup token")
	}
}

func TestSetupTokenExpires(t *testing.T) {
	e := newEnv(t)
	tok := e.setupToken()
	e.clock.Advance(time.Hour + time.Second)
	r := e.client().do("POST", "/setup", map[string]string{"token": tok, "name": "root", "password": testPassword})
	if r.status != 403 {
		t.Fatalf("expired token: %d %s", r.status, r.raw)
	}
	// A restart issues a fresh token and the old one stays dead.
	e.start()
	if e.setupToken() == tok {
		t.Fatal("restart reused the setup token")
	}
	r = e.client().do("POST", "/setup", map[string]string{"token": tok, "name": "root", "password": testPassword})
	if r.status != 403 {
		t.Fatalf("old token after restart: %d", r.status)
	}
	e.setup()
}

// Racing setups with the right token: exactly one admin is created.
func TestSetupCannotBeRaced(t *testing.T) {
	e := newEnv(t)
	tok := e.setupToken()
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.Setup(context.Background(), tok, "admin"+string(rune('a'+i)), testPassword, "127.0.0.1")
			if err == nil {
				codes[i] = 1
			}
		}()
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		won += c
	}
	users, _ := e.svc.Users(context.Background())
	if won != 1 || len(users) != 1 {
		t.Fatalf("%d setups succeeded, %d users; want exactly 1", won, len(users))
	}
}
