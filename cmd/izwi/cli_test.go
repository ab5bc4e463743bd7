package main

import (
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	cases := []struct {
		args      []string
		pos       []string
		format, o string
	}{
		{[]string{"a.wav", "--format", "srt"}, []string{"a.wav"}, "srt", ""},
		{[]string{"-o", "x", "a.wav", "b.wav", "-format=vtt"}, []string{"a.wav", "b.wav"}, "vtt", "x"},
		{[]string{"a.wav", "--", "--format"}, []string{"a.wav", "--format"}, "txt", ""},
		{nil, nil, "txt", ""},
	}
	for _, tc := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		format := fs.String("format", "txt", "")
		o := fs.String("o", "", "")
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil || !reflect.DeepEqual(pos, tc.pos) || *format != tc.format || *o != tc.o {
			t.Errorf("%q: pos %q format %q o %q err %v", tc.args, pos, *format, *o, err)
		}
	}
}

func TestBadUsageExits2(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nosuchcommand"},
		{"transcribe"},
		{"transcribe", "--bogus", "a.wav"},
		{"transcribe", "--format", "odt", "a.wav"},
		{"transcribe", "--format", "docx", "a.wav", "b.wav"},
		{"serve", "--nope"},
		{"serve", "extra-arg"},
		{"version", "--verbose"},
		{"bus"},
		{"bus", "serve", "--name", "n1", "--routes", "127.0.0.1:6222"}, // no --store-dir
		{"bus", "serve", "--name", "n1", "--store-dir", "x", "--routes", "http://127.0.0.1:6222"},
		{"bus", "serve", "--name", "n1", "--store-dir", "x", "--routes", "127.0.0.1:6222", "--listen", "nohost"},
		{"bus", "serve", "--name", "n1", "--store-dir", "x", "--routes", "127.0.0.1:6222", "--tls-cert", "node.crt"},    // half TLS
		{"bus", "serve", "--name", "n1", "--store-dir", "x", "--routes", "127.0.0.1:6222", "--listen", "10.0.0.1:4222"}, // plain off loopback
		{"bus", "certs"}, // no DIR
	} {
		if r := run(t, nil, args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("izwi %q: exit %d, stderr %q; want %d and a message", args, r.code, r.stderr, exitUsage)
		}
	}
}

// A half-configured bus link stops izwi serve with one sentence.
func TestServeRefusesHalfBusTLS(t *testing.T) {
	r := run(t, []string{"IZWI_ROLE=worker", "IZWI_BUS_URL=nats://127.0.0.1:1", "IZWI_BUS_TLS_CERT=worker.crt"}, "serve")
	if r.code != exitUsage || !strings.Contains(r.stderr, "bus.tls needs ca, cert and key together") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestServeRefusesPublicPlainHTTP(t *testing.T) {
	r := run(t, []string{"IZWI_LISTEN=0.0.0.0:0"}, "serve")
	if r.code != exitUsage || !strings.Contains(r.stderr, "allow_insecure_http") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	// A bad config file is a usage error too, naming the file.
	cfg := filepath.Join(t.TempDir(), "izwi.toml")
	if err := os.WriteFile(cfg, []byte("[server]\nlisten_typo = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "serve", "--config", cfg); r.code != exitUsage || !strings.Contains(r.stderr, "listen_typo") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestNonAudioExits3(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.wav")
	if err := os.WriteFile(text, []byte("this is not audio at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{text, filepath.Join(dir, "missing.wav")} {
		r := run(t, nil, "transcribe", path)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != exitInput || len(lines) != 1 || !strings.Contains(lines[0], path) || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d and one line naming the file", path, r.code, r.stdout, r.stderr, exitInput)
		}
	}
}

func TestVersion(t *testing.T) {
	r := run(t, nil, "version")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"pocketsphinx", "flite", "sherpa", "go1."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("izwi version does not mention %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, nil, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 {
		t.Fatalf("version --json: %v (exit %d) %s", err, r.code, r.stdout)
	}
	libs := map[string]string{}
	for _, e := range v.Engines {
		libs[e.Name] = e.Library
	}
	if !strings.HasPrefix(libs["pocketsphinx"], "pocketsphinx ") || !strings.HasPrefix(libs["flite"], "flite 2") ||
		!strings.Contains(libs["sherpa"], "v1.13.8") {
		t.Fatalf("libraries = %v", libs)
	}
	if !reflect.DeepEqual(v.Roles["transcribe"], newRegistry().Roles()["transcribe"]) {
		t.Fatalf("roles = %v", v.Roles)
	}
}

// Whatever the arguments, parsing ends: every input is either a flag, a
// flag value or positional, and a "--" keeps what follows verbatim.
func FuzzParseInterspersed(f *testing.F) {
	f.Add("a.wav\x00--format\x00srt")
	f.Add("--\x00-o\x00x")
	f.Add("-o\x00--\x00b\x00--format=vtt\x00-")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("format", "txt", "")
		fs.String("o", "", "")
		pos, err := parseInterspersed(fs, args)
		if err == nil && len(pos) > len(args) {
			t.Fatalf("%q gave %d positional args", args, len(pos))
		}
	})
}
