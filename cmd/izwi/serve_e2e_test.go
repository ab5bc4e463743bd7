package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/models"
	"github.com/izwi-speech/izwi/internal/testdata"
)

type readyBody struct {
	Status string `json:"status"`
	Roles  []struct {
		Role, Engine, Model, State, Error string
		Files                             []struct{ Name, SHA256 string }
		Prepared                          []struct {
			Engine                string
			Cached, Bytes, Builds int
		}
	} `json:"roles"`
	Components []struct{ Name, State, Error string } `json:"components"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// importVAD installs the shared Silero model with the real importer, then
// optionally flips one byte of the installed file.
func importVAD(t testing.TB, corrupt bool) string {
	t.Helper()
	dir := t.TempDir()
	cat, err := models.Default()
	if err != nil {
		t.Fatal(err)
	}
	store := &models.Store{Dir: dir, Catalog: cat}
	if _, err := store.Import(t.Context(), filepath.Dir(testdata.SileroVAD(t)), "silero-vad-v5"); err != nil {
		t.Fatal(err)
	}
	if corrupt {
		p := filepath.Join(dir, "silero-vad-v5", "silero_vad.onnx")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0x01
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readyz(t *testing.T, s *server) (int, readyBody, map[string]int) {
	t.Helper()
	code, b := httpGet(t, s.url+"/readyz")
	var body readyBody
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("readyz body %q: %v", b, err)
	}
	idx := map[string]int{}
	for i, r := range body.Roles {
		idx[r.Role] = i
	}
	return code, body, idx
}

func TestServeReadyWithEngines(t *testing.T) {
	s := startServe(t, []string{"IZWI_MODELS_DIR=" + importVAD(t, false)})
	if code, b := httpGet(t, s.url+"/healthz"); code != 200 || strings.TrimSpace(string(b)) != `{"status":"ok"}` {
		t.Fatalf("healthz %d %s", code, b)
	}
	code, body, idx := readyz(t, s)
	if code != 200 || body.Status != "ready" || len(body.Roles) != 5 {
		t.Fatalf("readyz %d %+v", code, body)
	}
	for _, role := range []string{"asr", "transcribe", "tts", "vad"} {
		r := body.Roles[idx[role]]
		if r.State != "ready" {
			t.Errorf("%s: %+v", role, r)
		}
	}
	// The embedded defaults: SQLite and the in-process NATS broker.
	if len(body.Components) != 2 || body.Components[0].Name != "database" || body.Components[1].Name != "bus" {
		t.Errorf("components %+v, want database and bus", body.Components)
	}
	for _, c := range body.Components {
		if c.State != "ready" {
			t.Errorf("component %+v not ready", c)
		}
	}
	if st, err := os.Stat(filepath.Join(s.cmd.Dir, "data", "izwi.db")); err != nil {
		t.Errorf("database file: %v", err)
	} else if st.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", st.Mode().Perm())
	}
	vad := body.Roles[idx["vad"]]
	if len(vad.Files) != 1 || vad.Files[0].SHA256 != testdata.SileroVADSHA256 {
		t.Errorf("vad files %+v, want the pinned Silero hash", vad.Files)
	}
	asr := body.Roles[idx["asr"]]
	if len(asr.Files) == 0 {
		t.Errorf("asr lists no model files")
	}
	for _, f := range asr.Files {
		if !sha256Hex.MatchString(f.SHA256) {
			t.Errorf("asr file %s has sha256 %q", f.Name, f.SHA256)
		}
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, s.logs)
	}
	if !strings.Contains(s.logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop logged:\n%s", s.logs)
	}
}

// A corrupt model for an optional role: the process keeps running,
// /healthz answers, /readyz names the role and why. The speech roles are
// off so the test does not wait for PocketSphinx.
func TestServeCorruptOptionalModel(t *testing.T) {
	s := startServe(t, []string{"IZWI_MODELS_DIR=" + importVAD(t, true),
		"IZWI_ASR_ENGINE=off", "IZWI_TRANSCRIBE_ENGINE=off", "IZWI_TTS_ENGINE=off"})
	code, body, idx := readyz(t, s)
	vad := body.Roles[idx["vad"]]
	if code != 200 || vad.State != "error" || !strings.Contains(vad.Error, "silero_vad.onnx") ||
		!strings.Contains(vad.Error, "sha256 mismatch") {
		t.Fatalf("readyz %d, vad %+v", code, vad)
	}
	if code, _ := httpGet(t, s.url+"/healthz?token=sk-live-0123456789"); code != 200 {
		t.Fatalf("healthz %d with a corrupt optional model", code)
	}
	if code, _ := httpGet(t, s.url+"/readyz"); code != 200 {
		t.Fatal("server stopped answering")
	}
	if s.cmd.ProcessState != nil {
		t.Fatal("process exited")
	}
	if code := s.stopWith(t, os.Interrupt); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// Access logs name the route, never the query string.
	if logs := s.logs.String(); strings.Contains(logs, "sk-live-0123456789") || !strings.Contains(logs, `"route":"GET /healthz"`) {
		t.Fatalf("access log leaks the query or lacks the route:\n%s", logs)
	}
}

// The same corruption on a role marked required stops start-up with the
// model exit code before anything listens.
func TestServeCorruptRequiredModelExits4(t *testing.T) {
	r := run(t, []string{"IZWI_MODELS_DIR=" + importVAD(t, true), "IZWI_VAD_REQUIRED=true",
		"IZWI_ASR_ENGINE=off", "IZWI_TRANSCRIBE_ENGINE=off", "IZWI_TTS_ENGINE=off"}, "serve", "--listen", "127.0.0.1:0")
	if r.code != exitModel || !strings.Contains(r.stderr, "sha256 mismatch") || strings.Contains(r.stderr, `"listening"`) {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
}
