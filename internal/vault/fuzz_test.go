package vault

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to the blob parser and to Open on a real
// keyring: nothing panics, a parsed blob's parts add up to its length, and
// only the one genuine blob opens, to its plaintext.
func FuzzOpen(f *testing.F) {
	r := newRig(f)
	ctx := context.Background()
	pt := []byte("fuzz plaintext")
	good, err := r.k.Seal(ctx, ClassTranscript, "obj", pt)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte("IZV"))
	f.Add(append([]byte("IZV\x02\x01"), make([]byte, 60)...))
	f.Add(append([]byte("IZV\x01\x02"), make([]byte, 60)...))
	f.Add(good[:overhead])
	f.Add(good[:overhead-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseBlob(b)
		if err == nil {
			if len(h.raw)+len(h.nonce)+len(h.body) != len(b) || len(h.body) < tagSize {
				t.Fatalf("parsed parts do not add up: %d+%d+%d != %d", len(h.raw), len(h.nonce), len(h.body), len(b))
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("parse error %v is not ErrMalformed", err)
		}
		got, err := r.k.Open(ctx, ClassTranscript, "obj", b)
		if err == nil && (!bytes.Equal(b, good) || !bytes.Equal(got, pt)) {
			t.Fatalf("a forged blob opened: %x -> %q", b, got)
		}
		if err != nil && got != nil {
			t.Fatal("partial plaintext returned with an error")
		}
	})
}

// FuzzParseSealed: the TPM sealed-key file parser and the key-id parser
// (shred list lines) never panic and accept only well-formed input.
func FuzzParseSealed(f *testing.F) {
	f.Add([]byte(`{"version":1,"bank":"sha256","pcrs":[0,7],"public":"AAE=","private":"AAE=","kek_id":"00"}`))
	f.Add([]byte(`{"version":1,"bank":"sha256","pcrs":[99],"public":"AAE=","private":"AAE=","kek_id":"00"}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte("0123456789abcdef0123456789abcdef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if sf, err := parseSealed(b); err == nil {
			for _, p := range sf.PCRs {
				if p > 23 {
					t.Fatalf("accepted PCR %d", p)
				}
			}
			// Unmarshalling the TPM structures must fail cleanly, not panic.
			_, _ = unsealParts(sf)
		}
		if id, err := ParseKeyID(string(b)); err == nil && id.String() != strings.ToLower(string(b)) {
			t.Fatalf("key id %q parsed as %s", b, id)
		}
	})
}
