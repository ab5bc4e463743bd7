package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const value = "s3cr3t-VALUE-0123456789abcdef"

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is masked by umask
		t.Fatal(err)
	}
	return p
}

func TestLookupSources(t *testing.T) {
	dir := t.TempDir()
	tight := writeFile(t, dir, "tok", value+"\n", 0o600)
	readOnly := writeFile(t, dir, "tok-ro", value+"\r\n", 0o400)
	credDir := filepath.Join(dir, "creds")
	if err := os.Mkdir(credDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, credDir, "metrics_scrape_token", value, 0o400)
	loose := writeFile(t, dir, "loose", value, 0o644)
	group := writeFile(t, dir, "group", value, 0o640)

	tests := []struct {
		name       string
		env        map[string]string
		wantOrigin Origin
		wantErr    error
		errText    string
	}{
		{"env value", map[string]string{"IZWI_METRICS_SCRAPE_TOKEN": value + "\n"}, "env:IZWI_METRICS_SCRAPE_TOKEN", nil, ""},
		{"env file 0600", map[string]string{"IZWI_METRICS_SCRAPE_TOKEN_FILE": tight}, Origin("file:" + tight), nil, ""},
		{"env file 0400 crlf", map[string]string{"IZWI_METRICS_SCRAPE_TOKEN_FILE": readOnly}, Origin("file:" + readOnly), nil, ""},
		{"systemd credential", map[string]string{"CREDENTIALS_DIRECTORY": credDir}, "credential:metrics_scrape_token", nil, ""},
		{"env beats credential", map[string]string{"CREDENTIALS_DIRECTORY": credDir, "IZWI_METRICS_SCRAPE_TOKEN": value}, "env:IZWI_METRICS_SCRAPE_TOKEN", nil, ""},
		{"world readable", map[string]string{"IZWI_METRICS_SCRAPE_TOKEN_FILE": loose}, "", ErrLoosePermissions, "chmod 600"},
		{"group readable", map[string]string{"IZWI_METRICS_SCRAPE_TOKEN_FILE": group}, "", ErrLoosePermissions, "0640"},
		{"ambiguous", map[string]string{"IZWI_METRICS_SCRAPE_TOKEN": value, "IZWI_METRICS_SCRAPE_TOKEN_FILE": tight}, "", nil, "both"},
		{"missing file", map[string]string{"IZWI_METRICS_SCRAPE_TOKEN_FILE": filepath.Join(dir, "nope")}, "", os.ErrNotExist, ""},
		{"not set", map[string]string{"CREDENTIALS_DIRECTORY": dir}, "", ErrNotSet, "IZWI_METRICS_SCRAPE_TOKEN_FILE"},
		{"blank env", map[string]string{"IZWI_METRICS_SCRAPE_TOKEN": "\n"}, "", nil, "blank"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sec, origin, err := Source{LookupEnv: env(tc.env)}.Lookup("metrics_scrape_token")
			if tc.wantErr != nil || tc.errText != "" {
				if err == nil {
					t.Fatalf("Lookup succeeded from %s, want error", origin)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %q lacks %q", err, tc.errText)
				}
				if strings.Contains(err.Error(), value) {
					t.Fatalf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sec.Reveal() != value || origin != tc.wantOrigin {
				t.Fatalf("got %q from %s, want the value from %s", sec.Reveal(), origin, tc.wantOrigin)
			}
		})
	}
}

func TestLookupRejectsBadNames(t *testing.T) {
	for _, n := range []string{"", "../etc/passwd", "UPPER", "a/b", strings.Repeat("a", 65)} {
		if _, _, err := (Source{}).Lookup(n); err == nil || errors.Is(err, ErrNotSet) {
			t.Errorf("Lookup(%q) = %v, want an invalid-name error", n, err)
		}
	}
}

func TestReadFileRefusals(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	empty := writeFile(t, dir, "empty", "\n\n", 0o600)
	if _, err := ReadFile(empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty: %v", err)
	}
	big := writeFile(t, dir, "big", strings.Repeat("x", MaxFileBytes+1), 0o600)
	if _, err := ReadFile(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("big: %v", err)
	}
	spaced := writeFile(t, dir, "spaced", " pass phrase \n", 0o600)
	if s, err := ReadFile(spaced); err != nil || s.Reveal() != " pass phrase " {
		t.Errorf("inner whitespace must survive: %q %v", s.Reveal(), err)
	}
	if err := CheckFile(writeFile(t, dir, "w", "x", 0o602)); !errors.Is(err, ErrLoosePermissions) {
		t.Errorf("world-writable: %v", err)
	}
	if err := CheckFile(spaced); err != nil {
		t.Errorf("0600: %v", err)
	}
}

func TestResolvePrefersConfiguredFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "tok", "from-file", 0o600)
	src := Source{LookupEnv: env(map[string]string{"IZWI_X": "from-env"})}
	if s, o, err := src.Resolve("x", p); err != nil || s.Reveal() != "from-file" || o != Origin("file:"+p) {
		t.Fatalf("Resolve with path: %q %s %v", s.Reveal(), o, err)
	}
	if s, _, err := src.Resolve("x", ""); err != nil || s.Reveal() != "from-env" {
		t.Fatalf("Resolve without path: %q %v", s.Reveal(), err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := New(value)
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, struct{ Tok Secret }{s}), fmt.Sprintf(verb, &s))
	}
	out = append(out, fmt.Sprint(s), fmt.Sprintln(s), s.String(), s.GoString())
	js, err := json.Marshal(map[string]any{"tok": s, "ptr": &s, "nested": struct{ T Secret }{s}})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(js))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "tok", s, slog.Group("g", "t", s), "any", any(s))
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "tok", s)
	out = append(out, buf.String())
	for _, o := range out {
		if strings.Contains(o, value) || strings.Contains(o, fmt.Sprintf("%x", value)) {
			t.Fatalf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(buf.String(), Redacted) || !strings.Contains(string(js), Redacted) {
		t.Fatalf("redaction marker missing: %s %s", buf.String(), js)
	}
}

func TestEqual(t *testing.T) {
	s := New(value)
	if !s.Equal(value) || s.Equal(value+"x") || s.Equal("") || s.Equal(value[:len(value)-1]) {
		t.Fatal("Equal is wrong")
	}
	if (Secret{}).Equal("") {
		t.Fatal("an unset secret must not equal the empty string")
	}
	if !(Secret{}).IsZero() || s.IsZero() || s.Len() != len(value) {
		t.Fatal("IsZero/Len")
	}
	if reflect.TypeOf(s).Comparable() {
		t.Fatal("Secret must not be comparable with ==, which is not constant-time")
	}
}

// FuzzSecretFormatting: whatever the value, every formatting path prints
// exactly what it prints for any other value, so nothing of it can show.
func FuzzSecretFormatting(f *testing.F) {
	f.Add("tok-123456789")
	f.Add("[redacted]x")
	f.Add("ed] ")
	render := func(s Secret) string {
		js, _ := json.Marshal(s)
		txt, _ := s.MarshalText()
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})).Info("m", "s", s)
		return fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s, s, s, s) + string(js) + string(txt) + buf.String()
	}
	want := render(New("reference"))
	f.Fuzz(func(t *testing.T, v string) {
		if got := render(New(v)); got != want {
			t.Fatalf("output depends on the value %q: %q", v, got)
		}
	})
}
