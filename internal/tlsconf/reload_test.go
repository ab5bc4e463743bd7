package tlsconf

import (
	"crypto/tls"
	"os"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
)

// Renewed certificate files are served after the next check; a bad renewal
// is rejected and the previous certificate kept.
func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	clock := now
	certFile, keyFile := writePair(t, dir, "live", now.Add(-time.Hour), now.Add(24*time.Hour), 0o600)
	c, info, err := build(config.TLS{Mode: config.TLSFiles, CertFile: certFile, KeyFile: keyFile}, dir, nil,
		options{now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	serving := func() string {
		t.Helper()
		cert, err := c.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		return Fingerprint(cert.Certificate[0])
	}
	// Renew in place (same names), as certbot would.
	renewDir := t.TempDir()
	newCert, newKey := writePair(t, renewDir, "live", now.Add(-time.Hour), now.Add(48*time.Hour), 0o600)
	replace := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// Make the change visible even on coarse-mtime filesystems.
		clock = clock.Add(time.Second)
		os.Chtimes(dst, clock, clock)
	}
	replace(newCert, certFile)
	replace(newKey, keyFile)
	if serving() != info.Fingerprint {
		t.Fatal("reloaded before the check interval")
	}
	clock = clock.Add(reloadEvery)
	renewed := serving()
	if renewed == info.Fingerprint {
		t.Fatal("renewed files not picked up")
	}
	// A certificate whose key does not match is refused; the old one stays.
	other, _ := writePair(t, renewDir, "other", now.Add(-time.Hour), now.Add(time.Hour), 0o600)
	replace(other, certFile)
	clock = clock.Add(reloadEvery)
	if serving() != renewed {
		t.Fatal("a mismatched renewal replaced the working certificate")
	}
}
