package chat

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/leaktest"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "izwi/internal/chat", "net/http.(*conn).serve", "net/http.(*persistConn)")
}

// The caller's Izwi key and the upstream's own key: the first must never
// reach the upstream, the second must.
const (
	callerKey   = "izwi_callerkey_0123456789abcdef"
	upstreamKey = "sk-upstream-key-for-tests-0001"
)

var caller = auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeChatRead}}

// chatConfig parses a [chat] section the way izwi.toml would be.
func chatConfig(t testing.TB, toml string) config.Chat {
	t.Helper()
	c, err := config.Parse([]byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c.Chat
}

// oneUpstream is a [chat] section with up as "local", its key from a file.
func oneUpstream(t testing.TB, up *chattest.Server, extra string) string {
	t.Helper()
	return "[chat]\n" + extra + "\n[[chat.upstreams]]\nname = \"local\"\nbase_url = \"" + up.BaseURL() + "\"\n" +
		"api_key_file = \"" + keyFile(t) + "\"\nmodels = [\"test-model\"]\n"
}

func keyFile(t testing.TB) string {
	t.Helper()
	path := t.TempDir() + "/upstream.key"
	if err := os.WriteFile(path, []byte(upstreamKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// izwi stands in for the gateway: it authenticates callerKey as caller,
// sets a request ID, and hands the request to the proxy.
func izwi(t testing.TB, px *Proxy) *httptest.Server {
	t.Helper()
	h := px.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := apierr.WithRequestID(r.Context(), "req-test")
		if r.Header.Get("Authorization") != "Bearer "+callerKey {
			apierr.Write(w, r.WithContext(ctx), apierr.CodeUnauthenticated, "")
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(ctx, caller)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newProxy(t testing.TB, opts Options) *Proxy {
	t.Helper()
	opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	px, err := NewProxy(opts)
	if err != nil || px == nil {
		t.Fatalf("NewProxy: %v", err)
	}
	t.Cleanup(opts.Client.CloseIdleConnections)
	return px
}

// client is the official OpenAI Go client, unmodified, pointed at Izwi.
func client(t testing.TB, srv *httptest.Server) openai.Client {
	t.Helper()
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	return openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(callerKey),
		option.WithMaxRetries(0), option.WithHTTPClient(hc), option.WithRequestTimeout(30*time.Second))
}

// assertNoCallerKey fails if anything the upstream received carries the
// caller's credential.
func assertNoCallerKey(t *testing.T, up *chattest.Server) {
	t.Helper()
	reqs := up.Requests()
	if len(reqs) == 0 {
		t.Fatal("the upstream received nothing")
	}
	for _, r := range reqs {
		for k, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, callerKey) {
					t.Errorf("the caller's key reached the upstream in header %s", k)
				}
			}
		}
		if strings.Contains(string(r.Body), callerKey) {
			t.Error("the caller's key reached the upstream in the body")
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+upstreamKey {
			t.Errorf("upstream Authorization = %q, want the configured upstream key", got)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
