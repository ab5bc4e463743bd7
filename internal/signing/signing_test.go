package signing

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/izwi-speech/izwi/internal/testenv"
)

func TestProjectKey(t *testing.T) {
	k := ProjectKey()
	if k.ID() == 0 {
		t.Fatal("embedded project key has no id")
	}
}

func newKey(t *testing.T) (minisign.PublicKey, minisign.PrivateKey, string) {
	t.Helper()
	pub, priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "k.key")
	if err := os.WriteFile(keyPath, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	sk, err := ReadPrivateKey(keyPath, "")
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ReadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return pk, sk, dir
}

func TestSignVerifyAndTamper(t *testing.T) {
	pk, sk, _ := newKey(t)
	other, _, _ := newKey(t)
	data := bytes.Repeat([]byte("izwi release "), 300000) // > 1 MiB: several read chunks
	at := time.Unix(1700000000, 0)
	sig, err := Sign(context.Background(), sk, bytes.NewReader(data), "izwi.tar.gz", at)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Sign(context.Background(), sk, bytes.NewReader(data), "izwi.tar.gz", at)
	if !bytes.Equal(sig, again) {
		t.Error("two signatures of the same bytes at the same time differ; release signatures must be reproducible")
	}
	v, err := VerifyBytes([]minisign.PublicKey{other, pk}, data, sig)
	if err != nil {
		t.Fatalf("good signature refused: %v", err)
	}
	if !strings.Contains(v.TrustedComment, "file:izwi.tar.gz") {
		t.Errorf("trusted comment %q does not name the file", v.TrustedComment)
	}
	tampered := bytes.Clone(data)
	tampered[len(tampered)/2] ^= 1
	for name, c := range map[string]struct {
		keys []minisign.PublicKey
		data []byte
		sig  []byte
	}{
		"one flipped bit": {[]minisign.PublicKey{pk}, tampered, sig},
		"truncated":       {[]minisign.PublicKey{pk}, data[:len(data)-1], sig},
		"appended":        {[]minisign.PublicKey{pk}, append(bytes.Clone(data), 0), sig},
		"other key":       {[]minisign.PublicKey{other}, data, sig},
		"garbage sig":     {[]minisign.PublicKey{pk}, data, []byte("not a signature")},
		"edited trusted comment": {[]minisign.PublicKey{pk}, data,
			bytes.Replace(sig, []byte("file:izwi.tar.gz"), []byte("file:other.tar.gz"), 1)},
	} {
		if _, err := VerifyBytes(c.keys, c.data, c.sig); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: err = %v, want ErrSignature", name, err)
		}
	}
}

// The signatures are minisign's own format: the reference C tool checks
// them (Debian's minisign package, installed by scripts/setup.sh).
func TestMinisignToolAccepts(t *testing.T) {
	tool := testenv.LookPath(t, "minisign", "apt-get install -y minisign (scripts/setup.sh does)")
	_, sk, dir := newKey(t)
	file := filepath.Join(dir, "artifact")
	if err := os.WriteFile(file, []byte("release bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(context.Background(), sk, bytes.NewReader([]byte("release bytes\n")), "artifact", time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+".minisig", sig, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-V", "-p", filepath.Join(dir, "k.pub"), "-m", file).CombinedOutput()
	if err != nil {
		t.Fatalf("minisign -V refused our signature: %v\n%s", err, out)
	}
	if err := os.WriteFile(file, []byte("release bytez\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "-V", "-p", filepath.Join(dir, "k.pub"), "-m", file).CombinedOutput(); err == nil {
		t.Fatalf("minisign -V accepted a tampered file:\n%s", out)
	}
}

// Whatever bytes arrive as a signature or a public key, Verify and
// ParsePublicKey return (no panic), and only the real signature of the
// real data verifies.
func FuzzVerify(f *testing.F) {
	pk, sk := newKeyF(f)
	data := []byte("izwi release bytes")
	good, err := Sign(context.Background(), sk, bytes.NewReader(data), "a", time.Unix(1700000000, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, data)
	f.Add([]byte("untrusted comment: x\nRWQ=\ntrusted comment: y\nAAAA\n"), data)
	f.Add([]byte(""), []byte(""))
	f.Add(bytes.Replace(good, []byte("file:a"), []byte("file:b"), 1), data)
	f.Fuzz(func(t *testing.T, sig, msg []byte) {
		_, _ = ParsePublicKey(sig)
		_, err := VerifyBytes([]minisign.PublicKey{pk}, msg, sig)
		if err == nil && !bytes.Equal(msg, data) {
			t.Fatalf("verified a message that was never signed: %q", msg)
		}
		if err != nil && !errors.Is(err, ErrSignature) {
			t.Fatalf("error %v does not wrap ErrSignature", err)
		}
	})
}

func newKeyF(f *testing.F) (minisign.PublicKey, minisign.PrivateKey) {
	pub, priv, err := GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	var sk minisign.PrivateKey
	if err := sk.UnmarshalText(priv); err != nil {
		f.Fatal(err)
	}
	pk, err := ParsePublicKey(pub)
	if err != nil {
		f.Fatal(err)
	}
	return pk, sk
}
