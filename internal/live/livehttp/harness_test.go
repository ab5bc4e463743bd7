package livehttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api"
	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/limit"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "livehttp.", "coder/websocket", "net/http.(*conn).serve")
}

// keyAuth is a static bearer-key authenticator standing in for the key
// store: the gateway in front of the handlers is the real one.
type keyAuth map[string]auth.Principal

func (k keyAuth) Authenticate(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	p, ok := k[strings.TrimPrefix(h, "Bearer ")]
	if !ok {
		return auth.Principal{}, auth.ErrInvalidCredentials
	}
	return p, nil
}

func key(id string, scopes ...auth.Scope) auth.Principal {
	return auth.Principal{Kind: auth.KindAPIKey, ID: id, Subject: "key:" + id, Scopes: scopes}
}

// Test keys.
var keys = keyAuth{
	"alice":  key("alice", auth.ScopeLiveWrite, auth.ScopeLiveRead),
	"bob":    key("bob", auth.ScopeLiveWrite, auth.ScopeLiveRead),
	"admin":  key("admin", auth.ScopeAdmin),
	"asr":    key("asr", auth.ScopeASRRead),
	"writer": key("writer", auth.ScopeLiveWrite), // no live.read
}

// serverTimeout is the test server's read and write timeout.
const serverTimeout = 300 * time.Millisecond

// harness is the handlers behind the real gateway on a real listener.
type harness struct {
	t       testing.TB
	fake    *fakeSessions
	h       *Handlers
	srv     *httptest.Server
	tickets *ticket.Issuer
	audit   *audittest.Recorder
	fails   atomic.Int32
	limiter *limit.Limiter
}

type harnessOpts struct {
	tls     bool // serve HTTPS (sockets the poller cannot watch)
	limits  limit.Limits
	mutate  func(*Options)
	origins []string
}

func newHarness(t testing.TB, ho harnessOpts) *harness {
	t.Helper()
	hs := &harness{t: t, fake: newFake(), audit: &audittest.Recorder{}}
	var err error
	hs.tickets, err = ticket.NewIssuer(config.Tickets{AllowedOrigins: ho.origins}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs.limiter, err = limit.New(context.Background(), limit.Options{Defaults: ho.limits})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Sessions: hs.fake, Tickets: hs.tickets, Slots: FromLimiter(hs.limiter), Audit: hs.audit,
		Fail: func(*http.Request) { hs.fails.Add(1) }}
	if ho.mutate != nil {
		ho.mutate(&opts)
	}
	hs.h, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	lh := &api.LiveHandlers{Create: hs.h.Create, List: hs.h.List, Get: hs.h.Get, Update: hs.h.Update, Delete: hs.h.Delete, Context: hs.h.Context,
		Start: hs.h.Start, Stop: hs.h.Stop, Resume: hs.h.Resume, Ingest: hs.h.Ingest, CaptionsWS: hs.h.CaptionsWS,
		CaptionsSSE: hs.h.CaptionsSSE, View: hs.h.View, ViewerTicket: hs.h.ViewerTicket, MicTicket: hs.h.MicTicket}
	handler, err := api.New(api.Options{Authenticator: auth.Chain{ticket.NewAuthenticator(hs.tickets), keys},
		CheckOrigin: hs.tickets.CheckOrigin, Limiter: hs.limiter, Audit: hs.audit, Live: lh,
		Tickets: &ticket.Handler{Issuer: hs.tickets, Authorize: hs.h.AuthorizeTicket}})
	if err != nil {
		t.Fatal(err)
	}
	// Short server timeouts, as api.NewServer sets long ones: sockets and
	// streams must outlive them.
	hs.srv = httptest.NewUnstartedServer(handler)
	hs.srv.Config.ReadTimeout, hs.srv.Config.WriteTimeout = serverTimeout, serverTimeout
	if ho.tls {
		hs.srv.StartTLS()
	} else {
		hs.srv.Start()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.h.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		hs.srv.Close()
		_ = hs.limiter.Close(ctx)
	})
	return hs
}

// do sends a JSON request with key (if any) and decodes the answer into out.
func (hs *harness) do(method, path, key string, body any, out any) int {
	hs.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
	}
	req, _ := http.NewRequestWithContext(hs.t.Context(), method, hs.srv.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hs.srv.Client().Do(req)
	if err != nil {
		hs.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			hs.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// errCode is an error body's code.
type errBody struct {
	Error struct{ Code, Message string } `json:"error"`
}

func (hs *harness) create(key string, body any) createdBody {
	hs.t.Helper()
	var c createdBody
	if code := hs.do("POST", "/v1/sessions", key, body, &c); code != http.StatusCreated {
		hs.t.Fatalf("create: %d", code)
	}
	return c
}

type createdBody struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	ViewerMode string `json:"viewer_mode"`
	LinkToken  string `json:"link_token"`
	Label      string `json:"label"`
}

// dial opens a WebSocket on path with header h.
func (hs *harness) dial(path string, h http.Header, protos ...string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(hs.t.Context(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(hs.srv.URL, "http") + path
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, Subprotocols: protos, HTTPClient: hs.srv.Client()})
}

func bearer(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }

// closeOf reads until the server closes c and returns the close status and reason.
func closeOf(t testing.TB, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		t.Fatalf("no close frame: %v", err)
	}
}
