package tlsconf

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// reloadEvery is how often the certificate files are checked for changes,
// so a renewal by certbot or another ACME client is picked up without a
// restart.
const reloadEvery = time.Minute

// reloader serves the certificate from files and re-reads them when their
// size or modification time changes. A bad renewal (wrong key, expired,
// loose key mode) is logged and the previous certificate kept.
type reloader struct {
	certFile, keyFile string
	now               func() time.Time
	logger            *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string
	lastCheck time.Time
}

func newReloader(certFile, keyFile string, cert tls.Certificate, now func() time.Time, logger *slog.Logger) *reloader {
	r := &reloader{certFile: certFile, keyFile: keyFile, now: now, logger: logger, cert: &cert, lastCheck: now()}
	r.stamp = r.fileStamp()
	return r
}

// fileStamp identifies the current contents of both files cheaply.
func (r *reloader) fileStamp() string {
	var s string
	for _, p := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return ""
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s
}

// GetCertificate is the tls.Config hook.
func (r *reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.lastCheck) < reloadEvery {
		return r.cert, nil
	}
	r.lastCheck = now
	stamp := r.fileStamp()
	if stamp == "" || stamp == r.stamp {
		return r.cert, nil
	}
	cert, leaf, err := loadPair(r.certFile, r.keyFile, now)
	if err != nil {
		// Keep serving the old certificate; try again after reloadEvery.
		r.logger.Error("tls: new certificate files rejected; still serving the previous certificate", "error", err.Error())
		return r.cert, nil
	}
	r.cert, r.stamp = &cert, stamp
	r.logger.Info("tls: certificate reloaded", "fingerprint_sha256", Fingerprint(leaf.Raw), "not_after", leaf.NotAfter)
	return r.cert, nil
}
