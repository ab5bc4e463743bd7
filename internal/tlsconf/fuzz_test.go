package tlsconf

import (
	"os"
	"testing"
	"time"
)

// FuzzParsePair: arbitrary certificate and key bytes give an error or a
// usable, currently valid certificate; never a panic.
func FuzzParsePair(f *testing.F) {
	dir := f.TempDir()
	now := time.Now()
	cf, kf := writePair(f, dir, "seed", now.Add(-time.Hour), now.Add(time.Hour), 0o600)
	cert, _ := os.ReadFile(cf)
	key, _ := os.ReadFile(kf)
	f.Add(cert, key)
	f.Add(cert, cert)
	f.Add(key, key)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"), key)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		c, leaf, err := parsePair(certPEM, keyPEM, "fuzz.crt", now)
		if err != nil {
			return
		}
		if leaf == nil || c.PrivateKey == nil || now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
			t.Fatalf("accepted an unusable pair: %+v", leaf)
		}
	})
}
