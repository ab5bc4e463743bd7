package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/signing"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// inProcess runs one izwi command line in this process.
func inProcess(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	code := c.dispatch(t.Context(), args)
	return result{code, out.String(), errb.String()}
}

func TestVersionFlagAndHelpCommand(t *testing.T) {
	if r := inProcess(t, "--version"); r.code != exitOK || !strings.HasPrefix(r.stdout, "izwi ") {
		t.Fatalf("--version: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r := inProcess(t, "help", "transcribe")
	if r.code != exitOK || !strings.Contains(r.stdout, "-model") || !strings.Contains(r.stdout, "transcribe audio files") {
		t.Fatalf("help transcribe: exit %d stdout %q", r.code, r.stdout)
	}
	if r := inProcess(t, "help"); r.code != exitOK || !strings.Contains(r.stderr, "verify") {
		t.Fatalf("help: exit %d stderr %q", r.code, r.stderr)
	}
	for _, args := range [][]string{{"help", "nosuch"}, {"help", "a", "b"}, {"completion", "tcsh"}, {"man"}, {"verify"}} {
		if r := inProcess(t, args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("izwi %q: exit %d stderr %q, want %d and a message", args, r.code, r.stderr, exitUsage)
		}
	}
}

func TestTranscribeModelFlagNeverIgnored(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"transcribe", "--model", "no-such-model", "a.wav"}, "not in the model catalogue"},
		{[]string{"transcribe", "--engine", "pocketsphinx", "--model", "whisper-tiny.en", "a.wav"}, "is a sherpa model"},
	} {
		r := run(t, nil, c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("izwi %q: exit %d stderr %q; want %d and %q", c.args, r.code, r.stderr, exitUsage, c.want)
		}
	}
}

func TestVerifyRefusesTamperedArtifact(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := signing.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubPath, keyPath := filepath.Join(dir, "k.pub"), filepath.Join(dir, "k.key")
	os.WriteFile(pubPath, pub, 0o644)
	os.WriteFile(keyPath, priv, 0o600)
	key, err := signing.ReadPrivateKey(keyPath, "")
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(dir, "izwi_1.0_amd64.deb")
	data := bytes.Repeat([]byte("debian package bytes\n"), 1000)
	os.WriteFile(art, data, 0o644)
	sig, err := signing.Sign(context.Background(), key, bytes.NewReader(data), filepath.Base(art), time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(art+".minisig", sig, 0o644)

	if r := inProcess(t, "verify", "--pubkey", pubPath, art); r.code != exitOK || !strings.Contains(r.stdout, "good signature") {
		t.Fatalf("good artifact: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// Signed by a key that is not the project's: refused with the default key.
	if r := inProcess(t, "verify", art); r.code != exitVerify {
		t.Fatalf("foreign key: exit %d stderr %q, want %d", r.code, r.stderr, exitVerify)
	}
	data[100] ^= 0x20
	os.WriteFile(art, data, 0o644)
	if r := inProcess(t, "verify", "--pubkey", pubPath, art); r.code != exitVerify || !strings.Contains(r.stderr, "tampered") {
		t.Fatalf("tampered artifact: exit %d stderr %q, want %d", r.code, r.stderr, exitVerify)
	}
	if r := inProcess(t, "verify", "--sig", filepath.Join(dir, "none.minisig"), art); r.code != exitInput {
		t.Fatalf("missing signature: exit %d, want %d", r.code, exitInput)
	}
}

// The shipped catalogue verifies with the key built into izwi; one changed
// byte does not.
func TestVerifyRefusesTamperedCatalogue(t *testing.T) {
	dir := t.TempDir()
	cat, err := os.ReadFile("../../internal/models/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile("../../internal/models/catalog.json.minisig")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "catalog.json")
	os.WriteFile(p, cat, 0o644)
	os.WriteFile(p+".minisig", sig, 0o644)
	if r := inProcess(t, "verify", p); r.code != exitOK {
		t.Fatalf("shipped catalogue: exit %d stderr %q", r.code, r.stderr)
	}
	os.WriteFile(p, bytes.Replace(cat, []byte(`"size": 42845182`), []byte(`"size": 42845183`), 1), 0o644)
	if r := inProcess(t, "verify", p); r.code != exitVerify {
		t.Fatalf("tampered catalogue: exit %d stderr %q, want %d", r.code, r.stderr, exitVerify)
	}
}

func TestManPagesAndCompletions(t *testing.T) {
	dir := t.TempDir()
	if r := inProcess(t, "man", dir); r.code != exitOK {
		t.Fatalf("man: exit %d stderr %q", r.code, r.stderr)
	}
	for name := range commands() {
		b, err := os.ReadFile(filepath.Join(dir, "izwi-"+name+".1"))
		if err != nil {
			t.Fatalf("no page for %s: %v", name, err)
		}
		if !strings.Contains(string(b), ".SH EXIT STATUS") {
			t.Errorf("izwi-%s.1 has no EXIT STATUS", name)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, "izwi-transcribe.1"))
	if !strings.Contains(string(page), `\fB\-\-model\fR \fIstring\fR`) {
		t.Errorf("izwi-transcribe.1 does not document --model:\n%s", page)
	}
	// groff (Debian's groff-base, pulled in by man-db) must render every
	// page without a warning.
	groff := testenv.LookPath(t, "groff", "apt-get install -y groff-base (scripts/setup.sh does)")
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	for _, p := range pages {
		out, err := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", p).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := inProcess(t, "completion", sh)
		if r.code != exitOK || !strings.Contains(r.stdout, "transcribe") || !strings.Contains(r.stdout, "model") {
			t.Fatalf("completion %s: exit %d stdout %q", sh, r.code, r.stdout)
		}
		shell, err := exec.LookPath(sh)
		if err != nil {
			if sh == "bash" {
				t.Fatal("bash not found")
			}
			continue // zsh and fish are not Debian defaults; their scripts are checked when present
		}
		f := filepath.Join(dir, "completion."+sh)
		os.WriteFile(f, []byte(r.stdout), 0o644)
		if out, err := exec.Command(shell, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s -n rejects the completion script: %v\n%s", sh, err, out)
		}
	}
	// bash: completing `izwi transcribe --for` offers --format.
	script := inProcess(t, "completion", "bash").stdout +
		"\nCOMP_WORDS=(izwi transcribe --for); COMP_CWORD=2; _izwi; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "--format" {
		t.Fatalf("bash completion of `izwi transcribe --for`: %v %q", err, out)
	}
}
