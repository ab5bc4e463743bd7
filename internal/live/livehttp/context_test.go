package livehttp

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/prepare"
)

func putContext(t *testing.T, hs *harness, path, key, ctype string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, hs.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// A document uploaded to a session becomes its prepared text (the words,
// not the markup); what is not a readable document, too large, of an
// unknown type or another owner's session is refused with a catalogued
// error.
func TestContextUpload(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	c := hs.create("alice", map[string]any{"label": "evensong"})
	path := "/v1/sessions/" + c.ID + "/context"
	md := "# Order of service\n\n* Welcome: *Nokuthula Dlamini*\n* Psalm 23\n"
	if code, body := putContext(t, hs, path, "alice", "text/markdown; charset=utf-8", []byte(md)); code != 200 || !strings.Contains(body, `"context":{"bytes":`) {
		t.Fatalf("markdown upload: %d %s", code, body)
	}
	hs.fake.mu.Lock()
	got := hs.fake.all[c.ID].context
	hs.fake.mu.Unlock()
	if !strings.Contains(got, "Nokuthula Dlamini") || strings.Contains(got, "*") || strings.Contains(got, "#") {
		t.Fatalf("the session's prepared text is %q, want the document's words", got)
	}
	for name, tc := range map[string]struct {
		key, ctype string
		body       []byte
		code       int
		says       string
	}{
		"unknown type":      {"alice", "image/png", []byte("x"), 415, "unsupported_media_type"},
		"no type":           {"alice", "", []byte("x"), 415, "unsupported_media_type"},
		"not utf-8":         {"alice", "text/plain", []byte{0xff, 0xfe}, 422, "unprocessable"},
		"broken pdf":        {"alice", "application/pdf", []byte("%PDF-1.4 no"), 422, "unprocessable"},
		"too large":         {"alice", "text/plain", bytes.Repeat([]byte("a"), prepare.MaxUploadBytes+1), 413, "payload_too_large"},
		"another's session": {"bob", "text/plain", []byte("hello"), 404, "not_found"},
	} {
		if code, body := putContext(t, hs, path, tc.key, tc.ctype, tc.body); code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s, want %d %s", name, code, body, tc.code, tc.says)
		}
	}
}
