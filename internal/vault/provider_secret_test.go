package vault

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

func envSource(m map[string]string) secrets.Source {
	return secrets.Source{LookupEnv: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// fastParams are the checklist's floor (m = 19 MiB, t = 2, p = 1), so tests
// derive quickly with costs production would still accept.
var fastParams = kdfParams{MemoryKiB: minMemoryKiB, Iterations: minIterations, Parallelism: 1}

func TestPassphraseProvider(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := storetest.Database(t)
	params := filepath.Join(dir, "vault", "passphrase.json")
	const pass = "correct horse battery staple"
	env := map[string]string{"IZWI_VAULT_PASSPHRASE": pass}
	newKR := func(t *testing.T) (*Keyring, error) {
		st, err := openStore(t, db)
		if err != nil {
			t.Fatal(err)
		}
		return New(ctx, Options{Store: st, Provider: &PassphraseProvider{ParamsPath: params, Source: envSource(env), params: fastParams}, Audit: &txRecorder{}})
	}
	k, err := newKR(t)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := k.Seal(ctx, ClassConsent, "c", []byte("consent"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(params)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("parameters file: %v %v", fi.Mode(), err)
	}
	var prm kdfParams
	b, _ := os.ReadFile(params)
	if err := json.Unmarshal(b, &prm); err != nil || prm.KDF != "argon2id" || len(prm.Salt) != saltSize || prm.MemoryKiB < minMemoryKiB {
		t.Fatalf("parameters %s: %v", b, err)
	}
	if strings.Contains(string(b), pass) {
		t.Fatal("the parameters file holds the passphrase")
	}

	// Same passphrase, new process: opens. Wrong passphrase: refused, and
	// the error names neither passphrase.
	if k2, err := newKR(t); err != nil {
		t.Fatal(err)
	} else if got, err := k2.Open(ctx, ClassConsent, "c", blob); err != nil || string(got) != "consent" {
		t.Fatalf("reopen: %v", err)
	}
	env["IZWI_VAULT_PASSPHRASE"] = "incorrect horse battery staple"
	if _, err := newKR(t); !errors.Is(err, ErrWrongPassphrase) || strings.Contains(err.Error(), "horse") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	env["IZWI_VAULT_PASSPHRASE"] = "short"
	if _, err := newKR(t); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Fatalf("short passphrase: %v", err)
	}
	env["IZWI_VAULT_PASSPHRASE"] = pass

	// Rotation to a new passphrase; afterwards only the new one opens.
	const pass2 = "a completely different long passphrase"
	env["IZWI_VAULT_NEW_PASSPHRASE"] = pass2
	rot, err := k.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Rewrapped != 1 || rot.From == rot.To {
		t.Fatalf("rotation %+v", rot)
	}
	delete(env, "IZWI_VAULT_NEW_PASSPHRASE")
	if _, err := newKR(t); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after rotation: %v", err)
	}
	env["IZWI_VAULT_PASSPHRASE"] = pass2
	k3, err := newKR(t)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k3.Open(ctx, ClassConsent, "c", blob); err != nil || string(got) != "consent" {
		t.Fatalf("after rotation: %v", err)
	}

	// Parameters below the floor or loosely permitted are refused.
	weak := prm
	weak.MemoryKiB = 1024
	wb, _ := json.Marshal(weak)
	os.WriteFile(params, wb, 0o600)
	if _, err := newKR(t); err == nil || !strings.Contains(err.Error(), "below the minimum") {
		t.Fatalf("weak parameters: %v", err)
	}
	os.Chmod(params, 0o644)
	if _, err := newKR(t); !errors.Is(err, ErrLoosePermissions) {
		t.Fatalf("loose parameters file: %v", err)
	}
}

func TestEnvProvider(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := storetest.Database(t)
	key1, key2 := make([]byte, 32), make([]byte, 32)
	rand.Read(key1)
	rand.Read(key2)
	keyFile := filepath.Join(dir, "vault.key")
	os.WriteFile(keyFile, []byte(hex.EncodeToString(key1)+"\n"), 0o600)
	env := map[string]string{"IZWI_VAULT_KEY_FILE": keyFile}
	newKR := func(t *testing.T) (*Keyring, error) {
		st, err := openStore(t, db)
		if err != nil {
			t.Fatal(err)
		}
		return New(ctx, Options{Store: st, Provider: &EnvProvider{Source: envSource(env)}, Audit: &txRecorder{}})
	}
	k, err := newKR(t)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := k.Seal(ctx, ClassCredential, "deepgram", []byte("provider api key"))
	if _, err := k.Rotate(ctx); err == nil || !strings.Contains(err.Error(), "IZWI_VAULT_NEW_KEY_FILE") {
		t.Fatalf("rotate without a new key: %v", err)
	}
	env["IZWI_VAULT_NEW_KEY"] = base64.StdEncoding.EncodeToString(key2)
	if _, err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	// Until the operator moves the key over, both are held and all opens.
	if k2, err := newKR(t); err != nil {
		t.Fatal(err)
	} else if _, err := k2.Open(ctx, ClassCredential, "deepgram", blob); err != nil {
		t.Fatal(err)
	}
	// Old key alone: refused. New key alone: opens.
	delete(env, "IZWI_VAULT_NEW_KEY")
	if _, err := newKR(t); !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("old key only: %v", err)
	}
	delete(env, "IZWI_VAULT_KEY_FILE")
	env["IZWI_VAULT_KEY"] = hex.EncodeToString(key2)
	k3, err := newKR(t)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k3.Open(ctx, ClassCredential, "deepgram", blob); err != nil || string(got) != "provider api key" {
		t.Fatalf("new key: %v", err)
	}
	// Loose key files and malformed keys are refused.
	delete(env, "IZWI_VAULT_KEY")
	env["IZWI_VAULT_KEY_FILE"] = keyFile
	os.Chmod(keyFile, 0o644)
	if _, _, err := (&EnvProvider{Source: envSource(env)}).Keys(ctx); !errors.Is(err, secrets.ErrLoosePermissions) {
		t.Fatalf("loose key file: %v", err)
	}
	for _, bad := range []string{"abcd", hex.EncodeToString(key1[:31]), strings.Repeat("z", 64)} {
		if _, _, err := (&EnvProvider{Source: envSource(map[string]string{"IZWI_VAULT_KEY": bad})}).Keys(ctx); !errors.Is(err, ErrMalformed) {
			t.Errorf("key %q: %v", bad, err)
		}
	}
	if _, _, err := (&EnvProvider{Source: envSource(nil)}).Keys(ctx); !errors.Is(err, secrets.ErrNotSet) {
		t.Errorf("no key: %v", err)
	}
}

func FuzzParseParams(f *testing.F) {
	f.Add([]byte(`{"version":1,"kdf":"argon2id","memory_kib":65536,"iterations":3,"parallelism":4,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","kek_id":"x"}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"kdf":"argon2id","memory_kib":4294967295,"iterations":4294967295,"parallelism":255,"salt":"","kek_id":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		prm, err := parseParams(b)
		if err == nil && (prm.Parallelism < 1 || prm.MemoryKiB > 4<<20 || prm.Iterations > 64 || len(prm.Salt) < saltSize) {
			t.Fatalf("accepted out-of-range parameters %+v", prm)
		}
		if _, err := decodeKey(string(b)); err == nil && len(b) < 32 {
			t.Fatalf("decoded a key from %d bytes", len(b))
		}
	})
}
