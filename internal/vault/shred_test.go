package vault

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// After Shred, the object cannot be decrypted even by a fresh keyring that
// holds the master key, the wrapped key's bytes are in neither the database
// file nor the WAL, and the destruction was audited.
func TestShreddedUnreadableWithMasterKey(t *testing.T) {
	r := newRig(t)
	ctx := WithActor(context.Background(), "user:op1")
	pt := []byte("the subject's voiceprint, 192 floats")
	blob, err := r.k.Seal(ctx, ClassVoiceprint, "voiceprint:7", pt)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := r.k.Seal(ctx, ClassVoiceprint, "voiceprint:8", []byte("someone else"))
	id, _ := KeyOf(blob)
	var wrapped []byte
	if err := r.st.QueryRowContext(context.Background(), "SELECT wrapped FROM vault_keys WHERE id = ?", id.String()).Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	if fileHits(t, r.db, wrapped) == 0 {
		t.Fatal("the scan cannot see the wrapped key before the shred; it would prove nothing after")
	}
	if err := r.k.Shred(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r.k.Open(ctx, ClassVoiceprint, "voiceprint:7", blob); !errors.Is(err, ErrShredded) {
		t.Fatalf("Open after shred: %v, want ErrShredded", err)
	}
	if n := fileHits(t, r.db, wrapped); n != 0 {
		t.Fatalf("the shredded wrapped key is still in the database files (%d hits)", n)
	}
	if n := fileHits(t, r.db, wrapped[:16]); n != 0 {
		t.Fatalf("a 16-byte run of the shredded wrapped key is still in the database files (%d hits)", n)
	}

	// Master key in hand: a new process with the same key file still gets
	// ErrShredded, and the master key unwraps nothing for that id.
	r.st.Close()
	r.open(t)
	if _, err := r.k.Open(ctx, ClassVoiceprint, "voiceprint:7", blob); !errors.Is(err, ErrShredded) {
		t.Fatalf("Open after reopen: %v, want ErrShredded", err)
	}
	kek, _, err := r.prov.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unwrap(kek.key, wrapped, wrapAAD(id, ClassVoiceprint, "voiceprint:7", kek.ID)); err != nil {
		t.Fatal("control: the captured wrapped key should unwrap under the master key; the test would prove nothing")
	}
	var w2 []byte
	r.st.QueryRowContext(context.Background(), "SELECT wrapped FROM vault_keys WHERE id = ?", id.String()).Scan(&w2)
	if w2 != nil {
		t.Fatalf("the tombstone still holds %d wrapped bytes", len(w2))
	}
	if got, err := r.k.Open(ctx, ClassVoiceprint, "voiceprint:8", other); err != nil || string(got) != "someone else" {
		t.Fatalf("another subject's object was harmed: %v", err)
	}
	ev := r.rec.find("vault.shred")
	if len(ev) != 1 || ev[0].Actor != "user:op1" || ev[0].Target != "vault_key:"+id.String() || ev[0].Details["class"] != "voiceprint" {
		t.Fatalf("audit entries %+v", ev)
	}
	// Shredding again is a no-op; an unknown key is an error.
	if err := r.k.Shred(ctx, id); err != nil {
		t.Fatalf("second shred: %v", err)
	}
	if err := r.k.Shred(ctx, newKeyID()); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	// The owner gets a fresh key on the next seal; the old blob stays dead.
	blob2, err := r.k.Seal(ctx, ClassVoiceprint, "voiceprint:7", pt)
	if err != nil {
		t.Fatal(err)
	}
	if id2, _ := KeyOf(blob2); id2 == id {
		t.Fatal("a shredded key was reused")
	}
	if _, err := r.k.Open(ctx, ClassVoiceprint, "voiceprint:7", blob); !errors.Is(err, ErrShredded) {
		t.Fatalf("old blob after re-enrolment: %v", err)
	}
	st, _ := r.k.Status(ctx)
	if st.Shredded != 1 || st.Keys[ClassVoiceprint] != 2 {
		t.Fatalf("status %+v", st)
	}
}

// A subject key shreds every object of every class sealed under it.
func TestShredOwnerErasesSubject(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	id, _ := r.k.Key(ctx, ClassSubject, "subject:9")
	v, _ := r.k.SealUnder(ctx, id, ClassVoiceprint, "voiceprint:9", []byte("v"))
	c, _ := r.k.SealUnder(ctx, id, ClassConsent, "consent:9", []byte("c"))
	s, _ := r.k.SealUnder(ctx, id, ClassSnippet, "snippet:9:1", []byte("s"))
	ok, err := r.k.ShredOwner(ctx, ClassSubject, "subject:9")
	if err != nil || !ok {
		t.Fatalf("ShredOwner = %v, %v", ok, err)
	}
	for _, x := range []struct {
		c    Class
		o    string
		blob []byte
	}{{ClassVoiceprint, "voiceprint:9", v}, {ClassConsent, "consent:9", c}, {ClassSnippet, "snippet:9:1", s}} {
		if _, err := r.k.Open(ctx, x.c, x.o, x.blob); !errors.Is(err, ErrShredded) {
			t.Errorf("%s: %v", x.c, err)
		}
	}
	if ok, err := r.k.ShredOwner(ctx, ClassSubject, "subject:9"); ok || err != nil {
		t.Fatalf("second ShredOwner = %v, %v", ok, err)
	}
}

// If the audit entry cannot be written, nothing is shredded.
func TestShredFailsWithoutAudit(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	blob, _ := r.k.Seal(ctx, ClassSnippet, "snippet:1", []byte("review audio"))
	id, _ := KeyOf(blob)
	r.rec.fail = true
	if err := r.k.Shred(ctx, id); err == nil {
		t.Fatal("shred succeeded without an audit entry")
	}
	r.rec.fail = false
	if got, err := r.k.Open(ctx, ClassSnippet, "snippet:1", blob); err != nil || !bytes.Equal(got, []byte("review audio")) {
		t.Fatalf("a failed shred destroyed the key: %v", err)
	}
}

func TestWrongMasterKeyStopsStart(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.k.Seal(ctx, ClassCredential, "cred:1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	r.st.Close()
	if err := os.Remove(r.prov.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := createKeyFile(r.prov.Path); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(t, r.db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, Options{Store: st, Provider: r.prov, Audit: r.rec})
	if !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("New with another master key: %v, want ErrNoMasterKey", err)
	}
}

// A database restored from a backup taken before a shred holds the wrapped
// key again; the shred list outside the database destroys it at start. The
// control run without a list shows the backup would otherwise revive it.
func TestRestoredBackupStaysShredded(t *testing.T) {
	for _, withList := range []bool{true, false} {
		r := newRig(t)
		if !withList {
			r.list = ""
			r.st.Close()
			r.open(t)
		}
		ctx := context.Background()
		a, _ := r.k.Seal(ctx, ClassVoiceprint, "voiceprint:a", []byte("alice"))
		b, _ := r.k.Seal(ctx, ClassVoiceprint, "voiceprint:b", []byte("bob"))
		backup := filepath.Join(r.dir, "backup.db")
		if _, err := r.st.ExecContext(context.Background(), "VACUUM INTO ?", backup); err != nil {
			t.Fatal(err)
		}
		ida, _ := KeyOf(a)
		if err := r.k.Shred(ctx, ida); err != nil {
			t.Fatal(err)
		}
		r.st.Close()
		for _, p := range []string{r.db + "-wal", r.db + "-shm"} {
			os.Remove(p)
		}
		if err := os.Rename(backup, r.db); err != nil {
			t.Fatal(err)
		}
		r.open(t) // the restore
		_, err := r.k.Open(ctx, ClassVoiceprint, "voiceprint:a", a)
		switch {
		case withList && !errors.Is(err, ErrShredded):
			t.Fatalf("after restoring a pre-shred backup: %v, want ErrShredded", err)
		case !withList && err != nil:
			t.Fatalf("control: without a shred list the backup should revive the key, got %v", err)
		}
		if got, err := r.k.Open(ctx, ClassVoiceprint, "voiceprint:b", b); err != nil || string(got) != "bob" {
			t.Fatalf("an unshredded object after the restore: %v", err)
		}
		if withList {
			if ev := r.rec.find("vault.shred"); len(ev) != 2 || ev[1].Actor != "system:shred-list" {
				t.Fatalf("re-applied shred not audited: %+v", ev)
			}
			if fi, err := os.Stat(r.list); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("shred list: %v %v", fi, err)
			}
		}
	}
}

// A missing key file with data keys in the database is refused, not
// replaced by a fresh key.
func TestMissingKeyFileNotReplaced(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.k.Seal(ctx, ClassConsent, "c", []byte("x"))
	r.st.Close()
	if err := os.Remove(r.prov.Path); err != nil {
		t.Fatal(err)
	}
	st, _ := openStore(t, r.db)
	if _, err := New(ctx, Options{Store: st, Provider: r.prov, Audit: r.rec}); !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("New without the key file: %v", err)
	}
	if _, err := os.Stat(r.prov.Path); !os.IsNotExist(err) {
		t.Fatalf("a new key file was made: %v", err)
	}
}
