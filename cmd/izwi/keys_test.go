package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// keysEnv points the CLI and the server at one data directory, with every
// engine off so the server starts fast.
func keysEnv(dir string) []string {
	return []string{"IZWI_DATA_DIR=" + dir, "IZWI_ASR_ENGINE=off", "IZWI_TRANSCRIBE_ENGINE=off", "IZWI_TTS_ENGINE=off",
		"IZWI_VAD_ENGINE=off", "IZWI_SPEAKER_ENGINE=off"}
}

func newKey(t testing.TB, env []string, args ...string) string {
	t.Helper()
	r := run(t, env, append([]string{"keys", "create"}, args...)...)
	key := strings.TrimSpace(r.stdout)
	if r.code != exitOK || !strings.HasPrefix(key, "izk_") || !strings.Contains(r.stderr, "shown once") {
		t.Fatalf("keys create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	return key
}

func call(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct{ Error struct{ Code string } }
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body.Error.Code
}

// izwi keys against a running izwi serve: keys made by the CLI work at
// once, scopes are enforced, and a revocation by the CLI process applies
// to the server's very next request.
func TestKeysCLIWithServe(t *testing.T) {
	env := keysEnv(t.TempDir())
	admin := newKey(t, env, "--name", "ops", "--scopes", "admin")
	asr := newKey(t, env, "--name", "captions", "--scopes", "asr.read", "--expires", "720h", "--allow-cidr", "127.0.0.1/32")
	list := run(t, env, "keys", "list", "--json")
	if list.code != exitOK || strings.Contains(list.stdout, admin[17:]) || strings.Contains(list.stdout, asr[17:]) ||
		!strings.Contains(list.stdout, asr[4:16]) {
		t.Fatalf("keys list: exit %d\n%s", list.code, list.stdout)
	}

	// Two port-0 listeners are refused as "the same address" by config
	// validation, so the console gets a port picked here.
	pick, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := pick.Addr().String()
	pick.Close()
	s := startServe(t, env, "--admin-listen", adminAddr)
	for _, tc := range []struct {
		path, key string
		status    int
		code      string
	}{
		{"/v1/keys", "", 401, "unauthenticated"},
		{"/v1/keys", asr, 403, "forbidden"},
		{"/v1/keys", admin, 200, ""},
		{"/v1/usage", asr, 200, ""},
		{"/v1/usage?api_key=" + asr, "", 401, "credentials_in_url"},
		{"/healthz", "", 200, ""},
	} {
		if status, code := call(t, s.url+tc.path, tc.key); status != tc.status || code != tc.code {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path[:min(len(tc.path), 20)], status, code, tc.status, tc.code)
		}
	}
	if r := run(t, env, "keys", "revoke", asr[4:16]); r.code != exitOK {
		t.Fatalf("keys revoke: exit %d %s", r.code, r.stderr)
	}
	if status, code := call(t, s.url+"/v1/usage", asr); status != 401 || code != "unauthenticated" {
		t.Fatalf("revoked by the CLI, the server still answers %d %q", status, code)
	}
	rot := run(t, env, "keys", "rotate", admin[4:16])
	newAdmin := strings.TrimSpace(rot.stdout)
	if rot.code != exitOK || !strings.HasPrefix(newAdmin, "izk_") {
		t.Fatalf("keys rotate: exit %d %s", rot.code, rot.stderr)
	}
	if status, _ := call(t, s.url+"/v1/keys", admin); status != 401 {
		t.Fatalf("rotated-out key: %d", status)
	}
	if status, _ := call(t, s.url+"/v1/keys", newAdmin); status != 200 {
		t.Fatalf("rotated key: %d", status)
	}
	if code := s.stop(t); code != exitOK {
		t.Fatalf("serve exit %d", code)
	}
	for _, k := range []string{admin, asr, newAdmin} {
		if strings.Contains(s.logs.String(), k[17:]) {
			t.Fatal("a key secret reached the server log")
		}
	}
	// The CLI and the server appended to one chain; it verifies, and it
	// holds the key changes and the refusals, never a secret.
	if r := run(t, env, "audit", "verify"); r.code != exitOK {
		t.Fatalf("audit verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	exp := run(t, env, "audit", "export")
	for _, want := range []string{"key.create", "key.revoke", "key.rotate", "auth.failure", "auth.forbidden"} {
		if !strings.Contains(exp.stdout, "\t"+want+"\t") {
			t.Errorf("audit export lacks %s", want)
		}
	}
	for _, k := range []string{admin, asr, newAdmin} {
		if strings.Contains(exp.stdout, k[17:]) {
			t.Fatal("a key secret reached the audit log")
		}
	}
}

func TestKeysUsage(t *testing.T) {
	env := keysEnv(t.TempDir())
	for _, args := range [][]string{
		{"keys"},
		{"keys", "nosuch"},
		{"keys", "create", "--name", "x"},
		{"keys", "create", "--name", "x", "--scopes", "root"},
		{"keys", "create", "--name", "x", "--scopes", "asr.read", "--expires", "soon"},
		{"keys", "create", "--name", "x", "--scopes", "asr.read", "--allow-cidr", "nope"},
		// A misspelt limit is refused at creation, not on every later request.
		{"keys", "create", "--name", "x", "--scopes", "asr.read", "--limits", `{"rsp":1}`},
		{"keys", "revoke"},
		{"keys", "revoke", "aaaaaaaaaaaa"},
	} {
		if r := run(t, env, args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("izwi %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
