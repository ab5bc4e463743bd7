package realtime

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/clientsecret"
)

// Minting: OpenAI's GA and beta shapes answer a secret and the session it
// opens; a session a session.update would refuse, a lifetime out of
// bounds or a client secret minting another are refused; the secret
// carries the session.
func TestClientSecrets(t *testing.T) {
	st := clientsecret.New(0, nil)
	h := NewHandler(Options{Recognizer: recognizer(t), TranscribeModels: []string{"whisper-1"}})
	who := auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeASRRead}}
	post := func(handler http.Handler, p auth.Principal, body string) (int, map[string]any) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return w.Code, m
	}
	code, m := post(h.ClientSecrets(st), who, `{"expires_after":{"anchor":"created_at","seconds":60},"session":{"type":"transcription","audio":{"input":{"transcription":{"model":"whisper-1"}}}}}`)
	if code != 200 || !clientsecret.WellFormed(m["value"].(string)) || m["expires_at"] == nil || m["session"].(map[string]any)["type"] != "transcription" {
		t.Fatalf("GA mint: %d %v", code, m)
	}
	p, err := st.Redeem(m["value"].(string))
	if err != nil || !strings.Contains(string(st.Session(p)), `"whisper-1"`) {
		t.Errorf("the secret's session: %v", err)
	}
	code, m = post(h.BetaSessions(st), who, `{"model":"gpt-4o-realtime-preview"}`)
	if cs, _ := m["client_secret"].(map[string]any); code != 200 || cs == nil || !clientsecret.WellFormed(cs["value"].(string)) || m["object"] == nil {
		t.Errorf("beta mint: %d %v", code, m)
	}
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"session":{"type":"transcription","audio":{"input":{"transcription":{"model":"whisper-9"}}}}}`, 400},
		{`{"session":{"type":"realtime"}}`, 503}, // no chat upstream here
		{`{"expires_after":{"seconds":3600}}`, 400},
		{`{"expires_after":{"anchor":"now","seconds":60}}`, 400},
		{`[`, 400},
		{`{"session":{"instructions":"` + strings.Repeat("x", 70<<10) + `"}}`, 413},
	} {
		if code, m := post(h.ClientSecrets(st), who, tc.body); code != tc.status || m["error"] == nil {
			t.Errorf("%.60s: %d %v", tc.body, code, m)
		}
	}
	if code, _ := post(h.ClientSecrets(st), p, `{}`); code != http.StatusForbidden {
		t.Errorf("a client secret minting: %d", code)
	}
}
