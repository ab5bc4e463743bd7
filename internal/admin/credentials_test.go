package admin

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// txAudit lets the in-memory recorder stand in for the vault's in-transaction one.
type txAudit struct{ *audittest.Recorder }

func (a txAudit) RecordTx(ctx context.Context, _ *store.Tx, e audit.Event) error {
	return a.Record(ctx, e)
}

// newTestVault opens a file-provider keyring on st with its key in a temp dir.
func newTestVault(t *testing.T, st *store.Store, rec *audittest.Recorder) *vault.Keyring {
	t.Helper()
	k, err := vault.New(context.Background(), vault.Options{Store: st, Audit: txAudit{rec},
		Provider: &vault.FileProvider{Path: filepath.Join(t.TempDir(), "vault", "master.key")}})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dbHits counts needle in the database file, its WAL and shared memory.
func dbHits(t *testing.T, st *store.Store, needle []byte) int {
	t.Helper()
	var path string
	if err := st.QueryRowContext(context.Background(), "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(p)
		if err == nil {
			n += bytes.Count(b, needle)
		}
	}
	return n
}

// With the vault, a TOTP secret never reaches the SQLite files in any form
// (raw, base32), and logging in with it still works.
func TestTOTPSecretSealedAtRest(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	secret, recovery := enrol(t, e, c, testPassword)
	for _, form := range [][]byte{secret, []byte(b32(secret))} {
		if n := dbHits(t, e.store, form); n != 0 {
			t.Fatalf("the TOTP secret is in the database files (%d hits)", n)
		}
	}
	var stored []byte
	e.store.QueryRowContext(context.Background(), "SELECT totp_secret FROM admin_users").Scan(&stored)
	if !vault.IsSealed(stored) {
		t.Fatalf("totp_secret is not a sealed blob (%d bytes)", len(stored))
	}
	// Recovery codes are keyed hashes under a sealed per-user key: the
	// unkeyed hash of a code is nowhere, and the codes still work.
	var n int
	e.store.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM admin_recovery_codes WHERE code_hash LIKE 'k1:%'").Scan(&n)
	if n != len(recovery) {
		t.Fatalf("%d of %d recovery codes are keyed hashes", n, len(recovery))
	}
	for _, rc := range recovery {
		if dbHits(t, e.store, []byte(hashToken(normalizeRecovery(rc)))) != 0 || dbHits(t, e.store, []byte(normalizeRecovery(rc))) != 0 {
			t.Fatal("a recovery code, or its unkeyed hash, is in the database files")
		}
	}
	var rk []byte
	e.store.QueryRowContext(context.Background(), "SELECT recovery_key FROM admin_users").Scan(&rk)
	if !vault.IsSealed(rk) {
		t.Fatal("the recovery-code key is not sealed")
	}
	e.clock.Advance(time.Minute)
	b := e.client()
	b.login(testAdmin, testPassword, "mfa")
	if r := b.do("POST", "/login/totp", map[string]string{"code": hotpCode(secret, uint64(totpStep(e.clock.Now())), 6)}); r.status != 200 {
		t.Fatalf("login with the sealed secret: %d %s", r.status, r.raw)
	}
	b = e.client()
	b.login(testAdmin, testPassword, "mfa")
	if r := b.do("POST", "/login/totp", map[string]string{"recovery_code": recovery[0]}); r.status != 200 {
		t.Fatalf("login with a recovery code: %d %s", r.status, r.raw)
	}
}

// Plaintext secrets from a console without the vault are sealed on the next
// start with one, and leave the files; MFA keeps working.
func TestLegacyPlaintextSecretsSealed(t *testing.T) {
	e := newEnv(t)
	v := e.vault
	e.vault = nil
	e.start()
	c := e.setup()
	secret, recovery := enrol(t, e, c, testPassword)
	if dbHits(t, e.store, secret) == 0 {
		t.Fatal("control: without the vault the scan should find the plaintext secret; it would prove nothing after")
	}
	e.vault = v
	e.start() // a restart with the vault seals what is there
	if n := dbHits(t, e.store, secret); n != 0 {
		t.Fatalf("the legacy TOTP secret is still in the database files after sealing (%d hits)", n)
	}
	e.clock.Advance(time.Minute)
	b := e.client()
	b.login(testAdmin, testPassword, "mfa")
	if r := b.do("POST", "/login/totp", map[string]string{"code": hotpCode(secret, uint64(totpStep(e.clock.Now())), 6)}); r.status != 200 {
		t.Fatalf("login after sealing: %d %s", r.status, r.raw)
	}
	b = e.client() // recovery codes hashed before the vault keep working
	b.login(testAdmin, testPassword, "mfa")
	if r := b.do("POST", "/login/totp", map[string]string{"recovery_code": recovery[1]}); r.status != 200 {
		t.Fatalf("legacy recovery code: %d %s", r.status, r.raw)
	}
	// A console started without the vault on sealed data refuses the factor
	// instead of comparing codes against ciphertext.
	e.vault = nil
	e.start()
	u, _ := e.svc.userByName(context.Background(), e.svc.db, testAdmin)
	if _, err := e.svc.checkSecondFactor(context.Background(), u.ID, "123456", ""); !errors.Is(err, ErrNoVault) {
		t.Fatalf("sealed secret without a vault: %v", err)
	}
}

// Removing a factor shreds the user's credential key (audited), so a copy of
// the sealed secret from before is unreadable with the master key in hand.
func TestRevokeShredsTOTPKey(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	secret, _ := enrol(t, e, c, testPassword)
	var sealed []byte
	var id string
	e.store.QueryRowContext(context.Background(), "SELECT id, totp_secret FROM admin_users").Scan(&id, &sealed)
	e.clock.Advance(time.Minute)
	code := hotpCode(secret, uint64(totpStep(e.clock.Now())), 6)
	if r := c.do("POST", "/mfa/revoke", map[string]string{"current_password": testPassword, "code": code}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if _, err := e.vault.Open(context.Background(), vault.ClassCredential, totpObject(id), sealed); !errors.Is(err, vault.ErrShredded) {
		t.Fatalf("the revoked secret's copy still opens: %v", err)
	}
	if ev := e.audit.Find("vault.shred", "ok"); len(ev) != 1 || ev[0].Actor != "user:"+id {
		t.Fatalf("shred audit %+v", ev)
	}
	// Enrolling again (revoking ended the sessions) gets a fresh key.
	e.clock.Advance(time.Minute)
	c = e.client()
	c.login(testAdmin, testPassword, "full")
	secret2, _ := enrol(t, e, c, testPassword)
	if bytes.Equal(secret, secret2) {
		t.Fatal("re-enrolment reused the secret")
	}
}
