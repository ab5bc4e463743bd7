package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/speech"
)

// fakeReady is a fixed readiness report.
type fakeReady struct {
	ready bool
	st    []engines.Status
}

func (f fakeReady) Status() []engines.Status { return f.st }
func (f fakeReady) Ready() bool              { return f.ready }

// serve runs h on a real loopback listener for the test's lifetime.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, NewServer(h, nil), ln, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func mustNew(t *testing.T, opts Options) http.Handler {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func decodeError(t *testing.T, b []byte) apierr.Detail {
	t.Helper()
	var body apierr.Body
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("error body %q is not the one shape: %v", b, err)
	}
	if body.Error.Code == "" || body.Error.Message == "" || body.Error.RequestID == "" {
		t.Fatalf("incomplete error body: %s", b)
	}
	return body.Error
}

func TestHealthz(t *testing.T) {
	base := serve(t, mustNew(t, Options{}))
	resp, b := get(t, "GET", base+"/healthz", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"status":"ok"}` {
		t.Fatalf("healthz = %d %s", resp.StatusCode, b)
	}
	if resp.Header.Get(RequestIDHeader) == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("headers = %v", resp.Header)
	}
}

func TestRequestID(t *testing.T) {
	base := serve(t, mustNew(t, Options{}))
	resp, _ := get(t, "GET", base+"/healthz", map[string]string{RequestIDHeader: "proxy-id_1.2"})
	if got := resp.Header.Get(RequestIDHeader); got != "proxy-id_1.2" {
		t.Fatalf("well-formed incoming ID not kept: %q", got)
	}
	for _, bad := range []string{"has space", strings.Repeat("a", 65), "<script>"} {
		resp, _ := get(t, "GET", base+"/healthz", map[string]string{RequestIDHeader: bad})
		if got := resp.Header.Get(RequestIDHeader); got == bad || !validRequestID(got) {
			t.Fatalf("bad incoming ID %q answered with %q", bad, got)
		}
	}
	a, _ := get(t, "GET", base+"/healthz", nil)
	b, _ := get(t, "GET", base+"/healthz", nil)
	if a.Header.Get(RequestIDHeader) == b.Header.Get(RequestIDHeader) {
		t.Fatal("two requests got the same generated ID")
	}
}

func TestReadyz(t *testing.T) {
	roles := []engines.Status{
		{Role: "vad", Engine: "sherpa", Model: "silero-vad-v5", State: engines.Ready, Info: &speech.EngineInfo{
			Engine: "sherpa", Model: "silero-vad-v5", Library: "sherpa-onnx 1.13.8",
			Files: []speech.ModelFile{{Path: "/secret/layout/silero_vad.onnx", SHA256: "2623a295", Size: 10}}}},
		{Role: "asr", Engine: "sherpa", Model: "x", Required: true, State: engines.Failed,
			Error: "speech: model unavailable: model x is not installed in /secret/layout/models/x (missing a.onnx)"},
	}
	for _, tc := range []struct {
		ready bool
		code  int
	}{{true, 200}, {false, 503}} {
		base := serve(t, mustNew(t, Options{Engines: fakeReady{tc.ready, roles}}))
		resp, b := get(t, "GET", base+"/readyz", nil)
		var body ReadyBody
		if err := json.Unmarshal(b, &body); err != nil || resp.StatusCode != tc.code {
			t.Fatalf("readyz = %d %s (%v)", resp.StatusCode, b, err)
		}
		if len(body.Roles) != 2 || body.Roles[0].Files[0].SHA256 != "2623a295" || body.Roles[0].Files[0].Name != "silero_vad.onnx" ||
			body.Roles[1].State != engines.Failed || !strings.Contains(body.Roles[1].Error, "installed in x (missing a.onnx)") {
			t.Fatalf("readyz body = %s", b)
		}
		if strings.Contains(string(b), "/secret/layout") {
			t.Fatalf("readyz leaks host paths: %s", b)
		}
	}
}

func TestHidePaths(t *testing.T) {
	for in, want := range map[string]string{
		"not installed in /var/lib/izwi/models/x (missing a.onnx)": "not installed in x (missing a.onnx)",
		"not installed in ./data/models/x":                         "not installed in x",
		"model x: a.onnx: sha256 mismatch":                         "model x: a.onnx: sha256 mismatch",
	} {
		if got := hidePaths(in); got != want {
			t.Errorf("hidePaths(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNotFoundAndMethod(t *testing.T) {
	base := serve(t, mustNew(t, Options{}))
	resp, b := get(t, "GET", base+"/nope?token=abc", nil)
	if e := decodeError(t, b); resp.StatusCode != 404 || e.Code != apierr.CodeNotFound || e.RequestID != resp.Header.Get(RequestIDHeader) {
		t.Fatalf("404 = %d %s", resp.StatusCode, b)
	}
	resp, b = get(t, "POST", base+"/healthz", nil)
	if e := decodeError(t, b); resp.StatusCode != 405 || e.Code != apierr.CodeMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Fatalf("405 = %d %s %v", resp.StatusCode, b, resp.Header)
	}
}

func TestPanicRecovered(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h, err := newHandler(Options{Logger: log}, []Route{
		{Method: "GET", Pattern: "/boom", Access: Public, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") })},
		{Method: "GET", Pattern: "/healthz", Access: Public, Handler: http.HandlerFunc(healthz)},
	})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, h)
	resp, b := get(t, "GET", base+"/boom", nil)
	if e := decodeError(t, b); resp.StatusCode != 500 || e.Code != apierr.CodeInternal {
		t.Fatalf("panic answered %d %s", resp.StatusCode, b)
	}
	if resp, _ := get(t, "GET", base+"/healthz", nil); resp.StatusCode != 200 {
		t.Fatal("server unhealthy after a panic")
	}
	if !strings.Contains(logs.String(), "handler panicked") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

// Every route declares its access; the public ones are exactly the probes.
// Adding a public route must be a deliberate edit of this list.
func TestRouteTableAccess(t *testing.T) {
	wantPublic := map[string]bool{"GET /healthz": true, "GET /readyz": true}
	for _, rt := range Routes(Options{}) {
		key := rt.Method + " " + rt.Pattern
		if !knownAccess(rt.Access) {
			t.Errorf("%s: access %q is not enforced", key, rt.Access)
		}
		if rt.Access == Public && !wantPublic[key] {
			t.Errorf("%s is public but not in the reviewed public list", key)
		}
		delete(wantPublic, key)
	}
	for k := range wantPublic {
		t.Errorf("%s missing from the route table", k)
	}
	if _, err := newHandler(Options{}, []Route{{Method: "GET", Pattern: "/x", Access: "admin", Handler: http.NotFoundHandler()}}); err == nil {
		t.Fatal("a route with an unenforced access level was accepted")
	}
	if _, err := newHandler(Options{}, []Route{{Method: "GET", Pattern: "/x", Handler: http.NotFoundHandler()}}); err == nil {
		t.Fatal("a route without an access level was accepted")
	}
}

func TestCatalogue(t *testing.T) {
	seen := map[apierr.Code]bool{}
	for _, c := range apierr.Codes() {
		e := apierr.Lookup(c)
		if e.Message == "" || e.Status < 400 || seen[c] || (e.Status == 500) != (c == apierr.CodeInternal) {
			t.Errorf("%s: %+v", c, e)
		}
		seen[c] = true
	}
}

// In-flight requests finish during a graceful shutdown; a request that
// outlives the grace period makes Serve report it.
func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h, err := newHandler(Options{}, []Route{{Method: "GET", Pattern: "/slow", Access: Public, Handler: http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
			_, _ = io.WriteString(w, "done")
		})}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, NewServer(h, nil), ln, time.Minute) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}
	close(release)
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request got %q", body)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after graceful shutdown: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	h, _ := newHandler(Options{}, []Route{{Method: "GET", Pattern: "/stuck", Access: Public, Handler: http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { close(started); <-release })}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, NewServer(h, nil), ln, time.Millisecond) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	if err := <-served; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v, want the shutdown deadline reported", err)
	}
}

// Serve owns its goroutines: after shutdown none are left behind.
func TestNoGoroutineLeak(t *testing.T) {
	client := &http.Client{Transport: &http.Transport{}}
	base := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, NewServer(mustNew(t, Options{}), nil), ln, 5*time.Second) }()
	for range 5 {
		resp, err := client.Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	client.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline, not waiting for luck
	}
}

// A failing or wedged infrastructure probe turns /readyz into a 503 that
// names it; the probe's deadline keeps the endpoint from hanging.
func TestReadyzComponents(t *testing.T) {
	ok := Component{Name: "database", Check: func(context.Context) error { return nil }}
	down := Component{Name: "bus", Check: func(context.Context) error { return errors.New("bus: not connected to /var/lib/x") }}
	wedged := Component{Name: "slow", Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	for _, tc := range []struct {
		comps []Component
		code  int
	}{{[]Component{ok}, 200}, {[]Component{ok, down}, 503}, {[]Component{wedged}, 503}} {
		base := serve(t, mustNew(t, Options{Engines: fakeReady{ready: true}, Components: tc.comps}))
		resp, b := get(t, "GET", base+"/readyz", nil)
		var body ReadyBody
		if err := json.Unmarshal(b, &body); err != nil || resp.StatusCode != tc.code || len(body.Components) != len(tc.comps) {
			t.Fatalf("readyz = %d %s (%v)", resp.StatusCode, b, err)
		}
		for i, c := range body.Components {
			if c.Name != tc.comps[i].Name || (c.State == "ready") != (c.Name == "database") {
				t.Errorf("component %d = %+v", i, c)
			}
		}
		if strings.Contains(string(b), "/var/lib") {
			t.Errorf("component error leaks host paths: %s", b)
		}
	}
}
