package listen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/store"
)

// gateway mounts both endpoints behind the real gateway chain: API keys
// from a real key store, scope checks, and a limiter holding session slots
// and charging audio.
func gateway(t *testing.T, e engines, lim limit.Limits) (base string, key func(...auth.Scope) string, revoke func(string)) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "izwi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := auth.NewKeyStore(ctx, st, auth.KeyStoreConfig{Pepper: bytes.Repeat([]byte{7}, 32), Audit: &audittest.Recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	limiter, err := limit.New(ctx, limit.Options{Defaults: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { limiter.Close(context.Background()) })
	opts := e.options()
	opts.Sessions, opts.Charger = limiter, limiter
	// Recheck as cmd/izwi wires it: a revoked key's streams close.
	opts.Recheck = func(ctx context.Context, p auth.Principal) error { return recheckKey(ctx, keys, p) }
	opts.RecheckEvery, opts.IdleCheck = 20*time.Millisecond, 10*time.Millisecond
	revoke = func(secret string) {
		k, err := keys.Verify(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.Revoke(ctx, auth.Actor{ID: "test"}, k.ID); err != nil {
			t.Fatal(err)
		}
	}
	h, err := api.New(api.Options{Authenticator: auth.Chain{&auth.KeyAuthenticator{Keys: keys}}, Limiter: limiter, Audit: &audittest.Recorder{},
		Live: &api.LiveHandlers{Listen: NewHandler(opts), ListenFile: NewFileHandler(opts)}})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, h), func(scopes ...auth.Scope) string {
		_, secret, err := keys.Create(ctx, auth.Actor{ID: "test"}, auth.KeySpec{Name: "k", Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}, revoke
}

// recheckKey refuses a principal whose API key is revoked or gone.
func recheckKey(ctx context.Context, keys *auth.KeyStore, p auth.Principal) error {
	if p.Kind != auth.KindAPIKey {
		return nil
	}
	k, err := keys.Get(ctx, p.ID)
	if err != nil {
		return err
	}
	if !k.Revoked.IsZero() {
		return auth.ErrRevoked
	}
	return nil
}

// Revoking a key closes its open stream within the recheck period, with
// 1008 and a reason.
func TestGatewayRevocation(t *testing.T) {
	e := loadEngines(t)
	base, key, revoke := gateway(t, e, limit.Limits{})
	asr := key(auth.ScopeASRRead)
	s := dial(t, wsURL(base, "encoding=linear16&sample_rate=16000"), http.Header{"Authorization": {"Token " + asr}})
	s.sendAudio(silence(200*time.Millisecond), 3200)
	revoke(asr)
	if code, reason := s.closeStatus(); code != websocket.StatusPolicyViolation || reason != reasonRevoked {
		t.Errorf("close %d %q, want 1008 %q", code, reason, reasonRevoked)
	}
}

// Credentials are the gateway's: none → 401, a key without asr.read →
// 403 on both endpoints; Deepgram's "Authorization: Token KEY" and the
// browser's "Sec-WebSocket-Protocol: token, KEY" both work, and the
// "token" subprotocol is echoed.
func TestGatewayCredentials(t *testing.T) {
	e := loadEngines(t)
	base, key, _ := gateway(t, e, limit.Limits{})
	tts, asr := key(auth.ScopeTTSRead), key(auth.ScopeASRRead)
	q := "encoding=linear16&sample_rate=16000"
	for _, tc := range []struct {
		method, auth string
		status       int
		code         string
	}{
		{"GET", "", 401, "unauthenticated"},
		{"GET", "Token " + tts, 403, "forbidden"},
		{"POST", "Token " + tts, 403, "forbidden"},
		{"POST", "Token " + asr + "x", 401, "unauthenticated"},
	} {
		req, _ := http.NewRequest(tc.method, base+"/v1/listen?"+q, strings.NewReader("x"))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body struct{ Error struct{ Code string } }
		_ = json.Unmarshal(b, &body)
		if resp.StatusCode != tc.status || body.Error.Code != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.auth[:min(len(tc.auth), 5)], resp.StatusCode, b, tc.status, tc.code)
		}
	}

	s := dial(t, wsURL(base, q), http.Header{"Authorization": {"Token " + asr}})
	s.sendText(`{"type":"CloseStream"}`)
	if code, reason := s.closeStatus(); code != websocket.StatusNormalClosure {
		t.Errorf("Token header: close %d %q", code, reason)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(base, q), &websocket.DialOptions{Subprotocols: []string{"token", asr}})
	if err != nil {
		t.Fatalf("subprotocol credential: %v", err)
	}
	defer conn.CloseNow()
	if conn.Subprotocol() != "token" {
		t.Errorf("subprotocol %q, want token echoed", conn.Subprotocol())
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

// A stream holds one of the key's session slots: with max_sessions=1 a
// second concurrent stream is refused with 429 before the upgrade. Audio
// is charged as it arrives: past audio_minutes_per_day the stream closes
// with 1008 and a reason naming the quota; a file past it gets 429.
func TestGatewayLimits(t *testing.T) {
	e := loadEngines(t)
	base, key, _ := gateway(t, e, limit.Limits{MaxSessions: 1, AudioMinutesPerDay: 0.05}) // 3 s of audio a day
	asr := key(auth.ScopeASRRead)
	hdr := http.Header{"Authorization": {"Token " + asr}}
	q := "encoding=linear16&sample_rate=16000"
	s := dial(t, wsURL(base, q), hdr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, wsURL(base, q), &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second stream: %v %v, want 429 with Retry-After", err, resp)
	}

	_, samples, wav := utterance(t, shortID) // 3.2 s: more than the day's 3 s
	s.sendAudio(audio.EncodePCM16(samples), 3200)
	code, reason := s.closeStatus()
	if code != websocket.StatusPolicyViolation || !strings.Contains(reason, "audio_minutes_per_day") {
		t.Errorf("over quota: close %d %q, want 1008 naming the quota", code, reason)
	}
	req, _ := http.NewRequest("POST", base+"/v1/listen", bytes.NewReader(wav))
	req.Header = hdr.Clone()
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("file over quota: %d, want 429", r.StatusCode)
	}
}
