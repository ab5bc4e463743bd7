package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// testParams are cheap argon2id parameters, for tests only.
func testParams() Params { return Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1} }

type env struct {
	t       *testing.T
	store   *store.Store
	clock   *clocktest.Clock
	audit   *audittest.Recorder
	console *bytes.Buffer
	srv     *Server
	svc     *Service
	ts      *httptest.Server
	url     string
	tls     TLSStatus // shown on administrators' dashboards
	vault   Vault     // seals TOTP secrets; nil stores them in the clear
	live    *LivePages
}

const (
	testAdmin    = "root"
	testPassword = "correct horse battery staple"
)

func testSettings() Settings {
	return Settings{SessionIdle: 30 * time.Minute, SessionAbsolute: 12 * time.Hour, ThrottleFree: 5,
		ThrottleBase: time.Second, ThrottleMax: 15 * time.Minute, LockoutFailures: 100,
		SetupTokenTTL: time.Hour, Params: testParams()}
}

// newEnv starts a console over TLS on 127.0.0.1:0 (the cookie is Secure,
// so Go's cookie jar only returns it over https) on a fresh database.
func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, store: st, clock: clocktest.New(time.Unix(1_800_000_000, 0)), audit: &audittest.Recorder{}, console: &bytes.Buffer{}}
	e.vault = newTestVault(t, st, e.audit)
	e.start()
	return e
}

// start (re)builds the server on e.store, as a restart would.
func (e *env) start() {
	e.t.Helper()
	if e.ts != nil {
		e.ts.Close()
	}
	srv, err := New(context.Background(), Options{Store: e.store, Audit: e.audit, Settings: testSettings(), Console: e.console,
		Now: e.clock.Now, InsecureTestParams: true, TLS: e.tls, Vault: e.vault, Live: e.live}, "https://127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv, e.svc = srv, srv.Service()
	ts := httptest.NewUnstartedServer(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ts.Listener.Close()
	ts.Listener = ln
	ts.StartTLS()
	e.ts, e.url = ts, ts.URL
	e.t.Cleanup(ts.Close)
}

var tokenLine = regexp.MustCompile(`token \(valid until [^)]*\): ([0-9a-f]{64})\n`)

// setupToken returns the last setup token printed on the console.
func (e *env) setupToken() string {
	m := tokenLine.FindAllStringSubmatch(e.console.String(), -1)
	if len(m) == 0 {
		e.t.Fatalf("no setup token on the console: %q", e.console.String())
	}
	return m[len(m)-1][1]
}

// client is a browser: its own cookie jar.
type client struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	// ts.Client() is shared: make a client of our own on its transport.
	hc := &http.Client{Transport: e.ts.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &client{e: e, c: hc}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) code() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// do sends a JSON request (body may be nil) with the client's CSRF token.
func (c *client) do(method, path string, body map[string]string) reply {
	c.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.e.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set(CSRFHeader, c.csrf)
	}
	return c.send(req)
}

// form posts a urlencoded form as a browser would.
func (c *client) form(path string, vals url.Values) reply {
	c.e.t.Helper()
	req, _ := http.NewRequest("POST", c.e.url+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.send(req)
}

func (c *client) send(req *http.Request) reply {
	c.e.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	if tok, ok := r.body["csrf_token"].(string); ok {
		c.csrf = tok
	}
	return r
}

// cookie returns the session cookie value the jar holds.
func (c *client) cookie() string {
	u, _ := url.Parse(c.e.url)
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == CookieName {
			return ck.Value
		}
	}
	return ""
}

// login logs c in as name and fails the test unless the stage is want.
func (c *client) login(name, password, want string) reply {
	c.e.t.Helper()
	r := c.do("POST", "/login", map[string]string{"name": name, "password": password})
	if r.status != 200 || r.body["stage"] != want {
		c.e.t.Fatalf("login %s: %d %s, want stage %s", name, r.status, r.raw, want)
	}
	return r
}

// setup runs first-run setup and returns a logged-in admin client.
func (e *env) setup() *client {
	e.t.Helper()
	c := e.client()
	r := c.do("POST", "/setup", map[string]string{"token": e.setupToken(), "name": testAdmin, "password": testPassword})
	if r.status != 200 {
		e.t.Fatalf("setup: %d %s", r.status, r.raw)
	}
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
