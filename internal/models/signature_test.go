package models

import (
	"bytes"
	"errors"
	"testing"

	"github.com/izwi-speech/izwi/internal/signing"
)

func TestEmbeddedCatalogueSigned(t *testing.T) {
	v, err := EmbeddedSignature()
	if err != nil {
		t.Fatalf("the embedded catalogue does not verify (edited without `make catalog-sign`?): %v", err)
	}
	if v.KeyID == "" {
		t.Fatal("no key id")
	}
	if _, err := Default(); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedCatalogueRefused(t *testing.T) {
	// A one-character change to a pinned hash is exactly the attack the
	// signature is for: the SHA-256 checks would then trust the attacker's file.
	old := []byte(`"sha256": "3810755ce7c3ab26b42a8bcf39d191308fa27fb0f53358823ba46141d03b7eb3"`)
	if !bytes.Contains(embeddedCatalog, old) {
		t.Fatal("test fixture: pinned hash not found in the catalogue")
	}
	tampered := bytes.Replace(embeddedCatalog, old, bytes.Replace(old, []byte("3810"), []byte("3811"), 1), 1)
	if _, err := Parse(tampered); err != nil {
		t.Fatalf("the tampered catalogue must still parse (only the signature catches it): %v", err)
	}
	_, err := VerifyCatalog(tampered, embeddedSignature)
	if !errors.Is(err, signing.ErrSignature) || !errors.Is(err, ErrCatalog) {
		t.Fatalf("tampered catalogue: err = %v, want ErrCatalog wrapping signing.ErrSignature", err)
	}
	if _, err := VerifyCatalog(embeddedCatalog, []byte("untrusted comment: x\nRUTR\n")); !errors.Is(err, signing.ErrSignature) {
		t.Fatalf("garbage signature: err = %v", err)
	}
}

func TestEveryCatalogueFilePinned(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Models {
		for _, f := range e.Files {
			if !f.Verified {
				t.Errorf("%s/%s is not pinned; every catalogued file carries an upstream SHA-256", e.Name, f.Path)
			}
		}
	}
}
