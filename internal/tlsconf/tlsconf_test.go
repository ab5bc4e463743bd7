package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
)

// serve runs an HTTPS server with c on 127.0.0.1:0 and returns its address.
func serve(t *testing.T, c *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: c, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // refused handshakes are the point
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

func pool(t *testing.T, certFile string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatal("no certificate in", certFile)
	}
	return p
}

func handshake(addr string, c *tls.Config) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, c)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

func TestProtocolPolicyOnRealListener(t *testing.T) {
	dir := t.TempDir()
	c, info, err := Build(config.TLS{Mode: config.TLSSelfSigned, Hosts: []string{"izwi.lan"}}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, c, HSTS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })))
	roots := pool(t, info.CertFile)

	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}
	rsaKex := []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_CBC_SHA}
	tests := []struct {
		name    string
		client  *tls.Config
		wantVer uint16 // 0: the handshake must fail
	}{
		{"tls1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10, RootCAs: roots, ServerName: "localhost"}, 0},
		{"tls1.1", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11, RootCAs: roots, ServerName: "localhost"}, 0},
		{"tls1.2 cbc only", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: cbc, RootCAs: roots, ServerName: "localhost"}, 0},
		{"tls1.2 rsa key exchange only", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: rsaKex, RootCAs: roots, ServerName: "localhost"}, 0},
		{"tls1.2 p384 only", &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.CurveP384}, RootCAs: roots, ServerName: "localhost"}, 0},
		{"tls1.2 aead", &tls.Config{MaxVersion: tls.VersionTLS12, RootCAs: roots, ServerName: "localhost"}, tls.VersionTLS12},
		{"tls1.3", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots, ServerName: "localhost"}, tls.VersionTLS13},
		{"default client gets 1.3", &tls.Config{RootCAs: roots, ServerName: "izwi.lan"}, tls.VersionTLS13},
		{"ip SAN", &tls.Config{RootCAs: roots}, tls.VersionTLS13},
		{"unknown name fails verification", &tls.Config{RootCAs: roots, ServerName: "evil.example"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := handshake(addr, tc.client)
			if tc.wantVer == 0 {
				if err == nil {
					t.Fatalf("handshake succeeded with version %#x suite %s", st.Version, tls.CipherSuiteName(st.CipherSuite))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake failed: %v", err)
			}
			if st.Version != tc.wantVer {
				t.Fatalf("version %#x, want %#x", st.Version, tc.wantVer)
			}
			if st.Version == tls.VersionTLS12 && !slices.Contains(Suites12(), st.CipherSuite) {
				t.Fatalf("suite %s is not in the allowed list", tls.CipherSuiteName(st.CipherSuite))
			}
		})
	}

	// HSTS over TLS, through a real HTTPS request.
	client := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != HSTSValue {
		t.Fatalf("HSTS header %q, want %q", got, HSTSValue)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2 over TLS", resp.Proto)
	}
}

func TestPolicyNeverAllowsWeakSuites(t *testing.T) {
	insecure := map[uint16]bool{}
	for _, s := range tls.InsecureCipherSuites() {
		insecure[s.ID] = true
	}
	for _, id := range Suites12() {
		name := tls.CipherSuiteName(id)
		if insecure[id] || strings.Contains(name, "CBC") || !strings.HasPrefix(name, "TLS_ECDHE_") ||
			strings.Contains(name, "3DES") || strings.Contains(name, "RC4") {
			t.Errorf("weak suite allowed: %s", name)
		}
	}
}

func TestHSTSNotOnPlainHTTP(t *testing.T) {
	rec := &headerRecorder{h: http.Header{}}
	r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	HSTS(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, r)
	if rec.h.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS sent over plain HTTP")
	}
	r.TLS = &tls.ConnectionState{}
	HSTS(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, r)
	if rec.h.Get("Strict-Transport-Security") != HSTSValue {
		t.Fatal("HSTS missing over TLS")
	}
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}

func TestOffMode(t *testing.T) {
	c, info, err := Build(config.TLS{}, t.TempDir(), nil)
	if err != nil || c != nil || info.Mode != config.TLSOff {
		t.Fatalf("off: %v %v %+v", c, err, info)
	}
	if _, _, err := Build(config.TLS{Mode: "ssl3"}, t.TempDir(), nil); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

// writePair makes a certificate valid from nb to na for localhost and writes
// it and its key (mode keyMode) to dir.
func writePair(t testing.TB, dir, name string, nb, na time.Time, keyMode os.FileMode) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotBefore: nb, NotAfter: na,
		DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, keyMode); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestFilesMode(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	goodCert, goodKey := writePair(t, dir, "good", now.Add(-time.Hour), now.Add(90*24*time.Hour), 0o600)
	_, roKey := writePair(t, dir, "ro", now.Add(-time.Hour), now.Add(time.Hour), 0o400)
	looseCert, looseKey := writePair(t, dir, "loose", now.Add(-time.Hour), now.Add(time.Hour), 0o644)
	groupCert, groupKey := writePair(t, dir, "group", now.Add(-time.Hour), now.Add(time.Hour), 0o640)
	oldCert, oldKey := writePair(t, dir, "old", now.Add(-48*time.Hour), now.Add(-24*time.Hour), 0o600)
	futureCert, futureKey := writePair(t, dir, "future", now.Add(24*time.Hour), now.Add(48*time.Hour), 0o600)
	garbage := filepath.Join(dir, "garbage.crt")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"), 0o644)

	tests := []struct {
		name, cert, key, wantErr string
		loose                    bool
	}{
		{"good", goodCert, goodKey, "", false},
		{"0400 key", filepath.Join(dir, "ro.crt"), roKey, "", false},
		{"world readable key", looseCert, looseKey, "chmod 600", true},
		{"group readable key", groupCert, groupKey, "0640", true},
		{"expired", oldCert, oldKey, "expired", false},
		{"not yet valid", futureCert, futureKey, "not valid until", false},
		{"mismatched", goodCert, oldKey, "do not belong together", false},
		{"garbage cert", garbage, goodKey, "not a PEM certificate", false},
		{"missing key", goodCert, filepath.Join(dir, "none.key"), "no such file", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, info, err := Build(config.TLS{Mode: config.TLSFiles, CertFile: tc.cert, KeyFile: tc.key}, dir, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if IsLooseKey(err) != tc.loose {
					t.Fatalf("IsLooseKey = %v", !tc.loose)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
			if err != nil || c.MinVersion != tls.VersionTLS12 || info.Fingerprint != Fingerprint(got.Certificate[0]) {
				t.Fatalf("config %+v info %+v", c, info)
			}
		})
	}
}

func TestSelfSignedPersists(t *testing.T) {
	dir := t.TempDir()
	cfg := config.TLS{Mode: config.TLSSelfSigned, Hosts: []string{"izwi.lan", "10.0.0.7"}}
	_, first, err := Build(cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Generated || len(first.Fingerprint) != 32*3-1 || !strings.Contains(first.Notice(), first.Fingerprint) {
		t.Fatalf("first start: %+v", first)
	}
	for _, want := range []string{"izwi.lan", "10.0.0.7", "localhost", "127.0.0.1", "::1"} {
		if !slices.Contains(first.Hosts, want) {
			t.Errorf("SANs %v lack %s", first.Hosts, want)
		}
	}
	for path, want := range map[string]os.FileMode{first.KeyFile: 0o600, filepath.Dir(first.KeyFile): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %#o, want %#o", path, fi.Mode().Perm(), want)
		}
	}
	b, _ := os.ReadFile(first.CertFile)
	blk, _ := pem.Decode(b)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || leaf.PublicKeyAlgorithm != x509.ECDSA || leaf.NotAfter.Sub(leaf.NotBefore) > SelfSignedValidity+2*time.Hour {
		t.Fatalf("certificate: %v %v..%v", leaf.PublicKeyAlgorithm, leaf.NotBefore, leaf.NotAfter)
	}

	_, again, err := Build(cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Generated || again.Fingerprint != first.Fingerprint {
		t.Fatalf("restart made a new certificate: %s -> %s", first.Fingerprint, again.Fingerprint)
	}

	// New hosts → a new certificate.
	cfg.Hosts = []string{"other.lan"}
	_, moved, err := Build(cfg, dir, nil)
	if err != nil || !moved.Generated || moved.Fingerprint == first.Fingerprint {
		t.Fatalf("hosts change: %+v %v", moved, err)
	}

	// Close to expiry (fake clock) → renewed.
	_, renewed, err := build(cfg, dir, nil, options{now: func() time.Time { return moved.NotAfter.Add(-24 * time.Hour) }})
	if err != nil || !renewed.Generated || renewed.Fingerprint == moved.Fingerprint {
		t.Fatalf("renewal: %+v %v", renewed, err)
	}

	// A key others can read is refused, not silently fixed.
	if err := os.Chmod(first.KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Build(cfg, dir, nil); !IsLooseKey(err) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("loose self-signed key: %v", err)
	}
}

func TestSelfSignedRecoversFromCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := config.TLS{Mode: config.TLSSelfSigned}
	_, first, err := Build(cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.CertFile, []byte("torn write"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, again, err := Build(cfg, dir, nil)
	if err != nil || !again.Generated || again.Fingerprint == first.Fingerprint {
		t.Fatalf("corrupt certificate: %+v %v", again, err)
	}
}

func TestACMEConfig(t *testing.T) {
	dir := t.TempDir()
	c, info, err := Build(config.TLS{Mode: config.TLSACME, Hosts: []string{"izwi.example.org"}, ACMEEmail: "ops@example.org"}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GetCertificate == nil || !slices.Contains(c.NextProtos, "acme-tls/1") || c.MinVersion != tls.VersionTLS12 ||
		!slices.Equal(c.CipherSuites, Suites12()) || info.Fingerprint != "" || info.Mode != config.TLSACME {
		t.Fatalf("acme config: %+v %+v", c, info)
	}
	fi, err := os.Stat(filepath.Join(dir, "tls", "acme"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("acme cache dir: %v %v", fi, err)
	}
	// A name outside tls.hosts is refused before any network traffic.
	_, err = c.GetCertificate(&tls.ClientHelloInfo{ServerName: "evil.example", CipherSuites: Suites12(),
		SupportedVersions: []uint16{tls.VersionTLS13}})
	if err == nil || !strings.Contains(err.Error(), "not configured") && !strings.Contains(err.Error(), "whitelist") {
		t.Fatalf("foreign host: %v", err)
	}
	if _, _, err := Build(config.TLS{Mode: config.TLSACME}, dir, nil); err == nil {
		t.Fatal("acme without hosts accepted")
	}
}

func TestFingerprintFormat(t *testing.T) {
	fp := Fingerprint([]byte("x"))
	if len(fp) != 95 || strings.ToUpper(fp) != fp || strings.Count(fp, ":") != 31 {
		t.Fatalf("fingerprint %q", fp)
	}
}
