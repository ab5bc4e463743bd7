package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/izwi-speech/izwi/internal/store/storetest"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// startSWTPM runs Debian's swtpm on a Unix socket in a temp dir and returns
// its device string. A missing swtpm fails the test under `make test`
// (testenv.Strict); a bare `go test` skips.
func startSWTPM(t *testing.T) string {
	t.Helper()
	bin := testenv.LookPath(t, "swtpm", "apt-get install -y swtpm swtpm-tools")
	dir, err := os.MkdirTemp("", "swtpm") // short: a socket path must fit 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	sock := filepath.Join(dir, "tpm.sock")
	cmd := exec.Command(bin, "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--server", "type=unixio,path="+sock, "--ctrl", "type=unixio,path="+filepath.Join(dir, "ctrl.sock"),
		"--flags", "not-need-init,startup-clear")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not open %s: %s", sock, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "unix://" + sock
}

func extendPCR(t *testing.T, p *TPMProvider, pcr uint) {
	t.Helper()
	d := sha256.Sum256([]byte("a different boot"))
	err := p.withTPM(context.Background(), func(tp transport.TPM) error {
		_, err := tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
			Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: d[:]}}},
		}.Execute(tp)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A master key sealed to PCRs 0 and 7 unseals under the same PCRs (also
// after rotation, and after extending a PCR outside the policy), and is
// refused once PCR 7 is extended.
func TestTPMProviderSealsToPCRs(t *testing.T) {
	dev := startSWTPM(t)
	ctx := context.Background()
	dir := t.TempDir()
	sealed := filepath.Join(dir, "vault", "master.tpm")
	fresh := func() *TPMProvider { return &TPMProvider{Device: dev, SealedPath: sealed} }

	st, err := openStore(t, storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(ctx, Options{Store: st, Provider: fresh(), Audit: &txRecorder{}})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := k.Seal(ctx, ClassVoiceprint, "v1", []byte("embedding"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(sealed); fi.Mode().Perm() != 0o600 {
		t.Fatalf("sealed file mode %v", fi.Mode().Perm())
	}
	kek := k.current()
	if bytes.Contains(b, kek.key) || bytes.Contains(b, []byte(string(kek.key[:8]))) {
		t.Fatal("the sealed file holds the master key in the clear")
	}

	// Same PCRs, new process: unseals to the same key.
	cur, _, err := fresh().Keys(ctx)
	if err != nil || cur.ID != kek.ID {
		t.Fatalf("unseal under the same PCRs: %v (id %s, want %s)", err, cur.ID, kek.ID)
	}
	// Rotation seals a new key to the same PCRs; everything stays readable.
	rot, err := k.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Open(ctx, ClassVoiceprint, "v1", blob); err != nil || string(got) != "embedding" {
		t.Fatalf("after TPM rotation: %v", err)
	}
	if cur, _, err := fresh().Keys(ctx); err != nil || cur.ID != rot.To {
		t.Fatalf("after rotation a fresh provider unseals %s, %v; want %s", cur.ID, err, rot.To)
	}

	// Before a firmware update: move the keys off the TPM to a key file.
	file := &FileProvider{Path: filepath.Join(dir, "vault", "master.key")}
	if _, err := k.MoveTo(ctx, file); err != nil {
		t.Fatal(err)
	}

	// A PCR outside the policy changes nothing.
	extendPCR(t, fresh(), 8)
	if _, _, err := fresh().Keys(ctx); err != nil {
		t.Fatalf("PCR 8 is not in the policy, yet: %v", err)
	}
	// PCR 7 (Secure Boot state) extended: the TPM refuses.
	extendPCR(t, fresh(), 7)
	if _, _, err := fresh().Keys(ctx); !errors.Is(err, ErrPCRMismatch) {
		t.Fatalf("unseal after extending PCR 7: %v, want ErrPCRMismatch", err)
	}
	// What was moved off the TPM before the change is still readable.
	if got, err := k.Open(ctx, ClassVoiceprint, "v1", blob); err != nil || string(got) != "embedding" {
		t.Fatalf("after moving off the TPM and a PCR change: %v", err)
	}
	st2, _ := openStore(t, storetest.Database(t))
	if _, err := New(ctx, Options{Store: st2, Provider: fresh(), Audit: &txRecorder{}}); !errors.Is(err, ErrPCRMismatch) {
		t.Fatalf("start-up after extending PCR 7: %v", err)
	}
}
