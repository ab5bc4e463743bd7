package vault

import (
	"bytes"
	"context"
	"errors"
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
