package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, size := range []int{0, 1, 31, 1024, 1 << 20} {
		for _, class := range Classes() {
			pt := make([]byte, size)
			rand.Read(pt)
			obj := fmt.Sprintf("obj-%d", size)
			blob, err := r.k.Seal(ctx, class, obj, pt)
			if err != nil {
				t.Fatal(err)
			}
			if len(blob) != size+overhead {
				t.Fatalf("blob of %d bytes for %d plaintext bytes; want overhead %d", len(blob), size, overhead)
			}
			if size >= 16 && bytes.Contains(blob, pt[:16]) {
				t.Fatal("the blob contains plaintext")
			}
			got, err := r.k.Open(ctx, class, obj, blob)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s/%d: Open = %d bytes, %v", class, size, len(got), err)
			}
		}
	}
	st, err := r.k.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Keys[ClassVoiceprint] != 5 || st.Shredded != 0 || st.Provider != "file" || st.KEKID == "" {
		t.Fatalf("status %+v", st)
	}
}

func TestRefusesBadReferences(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.k.Seal(ctx, "audio", "x", nil); err == nil {
		t.Error("an unknown class was accepted")
	}
	if _, err := r.k.Seal(ctx, ClassConsent, "", nil); err == nil {
		t.Error("an empty object id was accepted")
	}
	if _, err := r.k.Seal(ctx, ClassConsent, strings.Repeat("x", maxObjectID+1), nil); err == nil {
		t.Error("an over-long object id was accepted")
	}
	if _, err := r.k.Seal(ctx, ClassSnippet, "x", make([]byte, maxPlaintext+1)); err == nil {
		t.Error("an over-size object was accepted")
	}
}

// Flipping any single bit of the blob (header, key id, nonce, body, tag)
// or changing the associated data (class, object id) fails with no plaintext.
func TestTamperFails(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	pt := []byte("a voiceprint is biometric data")
	blob, err := r.k.Seal(ctx, ClassVoiceprint, "speaker-1", pt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range blob {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(blob)
			b[i] ^= bit
			got, err := r.k.Open(ctx, ClassVoiceprint, "speaker-1", b)
			if err == nil || got != nil {
				t.Fatalf("byte %d bit %#x flipped: Open = %q, %v", i, bit, got, err)
			}
			switch {
			case i < 5 && !errors.Is(err, ErrMalformed):
				t.Fatalf("byte %d (header): %v, want ErrMalformed", i, err)
			case i >= 5 && i < headerSize && !errors.Is(err, ErrUnknownKey):
				t.Fatalf("byte %d (key id): %v, want ErrUnknownKey", i, err)
			case i >= headerSize && !errors.Is(err, ErrAuth):
				t.Fatalf("byte %d (nonce/body/tag): %v, want ErrAuth", i, err)
			}
		}
	}
	for _, tc := range []struct {
		class Class
		obj   string
	}{{ClassTranscript, "speaker-1"}, {ClassVoiceprint, "speaker-2"}, {ClassVoiceprint, "speaker-1 "}, {ClassVoiceprint, "Speaker-1"}} {
		if got, err := r.k.Open(ctx, tc.class, tc.obj, blob); !errors.Is(err, ErrAuth) || got != nil {
			t.Errorf("opened as %s/%q: %q, %v; want ErrAuth", tc.class, tc.obj, got, err)
		}
	}
	if _, err := r.k.Open(ctx, ClassVoiceprint, "speaker-1", blob[:len(blob)-1]); !errors.Is(err, ErrAuth) {
		t.Errorf("truncated tag: %v", err)
	}
	if _, err := r.k.Open(ctx, ClassVoiceprint, "speaker-1", append(bytes.Clone(blob), 0)); !errors.Is(err, ErrAuth) {
		t.Errorf("appended byte: %v", err)
	}
	if got, err := r.k.Open(ctx, ClassVoiceprint, "speaker-1", blob); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("the untouched blob no longer opens: %v", err)
	}
}

// Two rows' ciphertexts swapped: each is refused as the other object, both
// when they have their own keys and when they share a subject key.
func TestSwappedBlobsRefused(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	a, _ := r.k.Seal(ctx, ClassConsent, "consent-a", []byte("alice consents"))
	b, _ := r.k.Seal(ctx, ClassConsent, "consent-b", []byte("bob consents"))
	if _, err := r.k.Open(ctx, ClassConsent, "consent-b", a); !errors.Is(err, ErrAuth) {
		t.Errorf("a as b: %v", err)
	}
	if _, err := r.k.Open(ctx, ClassConsent, "consent-a", b); !errors.Is(err, ErrAuth) {
		t.Errorf("b as a: %v", err)
	}
	subj, err := r.k.Key(ctx, ClassSubject, "subject:42")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := r.k.SealUnder(ctx, subj, ClassVoiceprint, "voiceprint:42", []byte("embedding"))
	c, _ := r.k.SealUnder(ctx, subj, ClassConsent, "consent:42", []byte("consent record"))
	if k1, _ := KeyOf(v); k1 != subj {
		t.Fatalf("KeyOf = %s, want %s", k1, subj)
	}
	if _, err := r.k.Open(ctx, ClassConsent, "consent:42", v); !errors.Is(err, ErrAuth) {
		t.Errorf("voiceprint as consent under one subject key: %v", err)
	}
	if _, err := r.k.Open(ctx, ClassVoiceprint, "voiceprint:42", c); !errors.Is(err, ErrAuth) {
		t.Errorf("consent as voiceprint under one subject key: %v", err)
	}
	// Swapping the wrapped keys of two rows is refused too (the wrap is
	// bound to the key id, class, owner and master key).
	var wa, wb []byte
	db := r.st
	ida, _ := KeyOf(a)
	idb, _ := KeyOf(b)
	db.QueryRowContext(context.Background(), "SELECT wrapped FROM vault_keys WHERE id = ?", ida.String()).Scan(&wa)
	db.QueryRowContext(context.Background(), "SELECT wrapped FROM vault_keys WHERE id = ?", idb.String()).Scan(&wb)
	db.ExecContext(context.Background(), "UPDATE vault_keys SET wrapped = ? WHERE id = ?", wb, ida.String())
	db.ExecContext(context.Background(), "UPDATE vault_keys SET wrapped = ? WHERE id = ?", wa, idb.String())
	if _, err := r.k.Open(ctx, ClassConsent, "consent-a", a); !errors.Is(err, ErrAuth) {
		t.Errorf("swapped wrapped keys: %v", err)
	}
	wa[len(wa)-1] ^= 1
	db.ExecContext(context.Background(), "UPDATE vault_keys SET wrapped = ? WHERE id = ?", wa, ida.String())
	if _, err := r.k.Open(ctx, ClassConsent, "consent-a", a); !errors.Is(err, ErrAuth) {
		t.Errorf("flipped wrapped key: %v", err)
	}
}

// Over many seals under one key, no nonce repeats (each is 192 random bits).
func TestNonceUniqueness(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	const n = 20000
	seen := make(map[[nonceSize]byte]struct{}, n)
	id, err := r.k.Key(ctx, ClassTranscript, "session-1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		blob, err := r.k.SealUnder(ctx, id, ClassTranscript, "session-1", []byte("same words every time"))
		if err != nil {
			t.Fatal(err)
		}
		var nonce [nonceSize]byte
		copy(nonce[:], blob[headerSize:])
		if _, dup := seen[nonce]; dup {
			t.Fatalf("nonce repeated at seal %d", i)
		}
		seen[nonce] = struct{}{}
	}
}

func TestKeyPerOwner(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	a1, _ := r.k.Key(ctx, ClassTranscript, "a")
	a2, _ := r.k.Key(ctx, ClassTranscript, "a")
	b, _ := r.k.Key(ctx, ClassTranscript, "b")
	va, _ := r.k.Key(ctx, ClassVoiceprint, "a")
	if a1 != a2 || a1 == b || a1 == va {
		t.Fatalf("keys a=%s a=%s b=%s voiceprint a=%s: want one key per (class, owner)", a1, a2, b, va)
	}
}

// Flipping any byte of a stored wrapped key makes every object under it
// unreadable (ErrAuth), never garbage plaintext.
func TestWrappedKeyTamperFails(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	blob, _ := r.k.Seal(ctx, ClassCredential, "c", []byte("totp seed"))
	id, _ := KeyOf(blob)
	db := r.st
	var w []byte
	db.QueryRowContext(context.Background(), "SELECT wrapped FROM vault_keys WHERE id = ?", id.String()).Scan(&w)
	for i := range w {
		b := bytes.Clone(w)
		b[i] ^= 0x40
		db.ExecContext(context.Background(), "UPDATE vault_keys SET wrapped = ? WHERE id = ?", b, id.String())
		if got, err := r.k.Open(ctx, ClassCredential, "c", blob); !errors.Is(err, ErrAuth) || got != nil {
			t.Fatalf("wrapped byte %d flipped: %q, %v", i, got, err)
		}
	}
	db.ExecContext(context.Background(), "UPDATE vault_keys SET wrapped = ? WHERE id = ?", w, id.String())
	for _, col := range []string{"class = 'consent'", "owner = 'd'"} {
		db.ExecContext(context.Background(), "UPDATE vault_keys SET "+col+" WHERE id = ?", id.String())
		if _, err := r.k.Open(ctx, ClassCredential, "c", blob); !errors.Is(err, ErrAuth) {
			t.Fatalf("row relabelled (%s): %v", col, err)
		}
		db.ExecContext(context.Background(), "UPDATE vault_keys SET class = 'credential', owner = 'c' WHERE id = ?", id.String())
	}
	if _, err := r.k.Open(ctx, ClassCredential, "c", blob); err != nil {
		t.Fatalf("restored row: %v", err)
	}
}

// Concurrent seals for one owner share one data key and all open.
func TestConcurrentSeal(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	blobs := make([][]byte, 16)
	errs := make([]error, 16)
	for i := range blobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blobs[i], errs[i] = r.k.Seal(ctx, ClassTranscript, "session-9", []byte(fmt.Sprint(i)))
		}()
	}
	wg.Wait()
	first, _ := KeyOf(blobs[0])
	for i, b := range blobs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if id, _ := KeyOf(b); id != first {
			t.Fatalf("seal %d used key %s, seal 0 key %s", i, id, first)
		}
		if got, err := r.k.Open(ctx, ClassTranscript, "session-9", b); err != nil || string(got) != fmt.Sprint(i) {
			t.Fatalf("seal %d: %q %v", i, got, err)
		}
	}
}
