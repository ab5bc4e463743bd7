package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"github.com/izwi-speech/izwi/internal/config"
)

// TestACMEWithPebble obtains a real certificate over ACME (RFC 8555) from
// Pebble, Let's Encrypt's test CA, run in-process: Pebble's validation
// authority connects back to our listener and completes the TLS-ALPN-01
// challenge against autocert, exactly as Let's Encrypt would on port 443.
func TestACMEWithPebble(t *testing.T) {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1") // read by va.New: no random validation delays
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port

	plog := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(plog, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "test"}})
	validator := va.New(plog, 0, port, false, loopbackDNS(t), store)
	front := wfe.New(plog, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	acmeSrv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(acmeSrv.Close)

	dir := t.TempDir()
	caFile := filepath.Join(dir, "acme-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: acmeSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.TLS{Mode: config.TLSACME, Hosts: []string{"izwi.test"}, ACMEDirectoryURL: acmeSrv.URL + "/dir",
		ACMECAFile: caFile, ACMECacheDir: filepath.Join(dir, "acme")}
	conf, info, err := Build(cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode != config.TLSACME || len(info.Hosts) != 1 {
		t.Fatalf("info %+v", info)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "izwi") }),
		ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, conf))
	t.Cleanup(func() { srv.Close() })

	roots := x509.NewCertPool()
	roots.AddCert(authority.GetRootCert(0).Cert)
	client := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "izwi.test"},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(port))
		}}}
	resp, err := client.Get("https://izwi.test/")
	if err != nil {
		t.Fatalf("handshake with the ACME certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "izwi" {
		t.Fatalf("body %q", body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "izwi.test" {
		t.Fatalf("certificate names %v", leaf.DNSNames)
	}
	if resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("negotiated %x", resp.TLS.Version)
	}
	// The account key and certificate are cached (so a restart does not
	// order again), in a directory only the server can read.
	st, err := os.Stat(cfg.ACMECacheDir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir: %v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.ACMECacheDir, "izwi.test")); err != nil {
		t.Fatalf("certificate not cached: %v", err)
	}

	// A name outside tls.hosts is never ordered: the handshake fails.
	bad := &tls.Config{RootCAs: roots, ServerName: "evil.example"}
	if c, err := tls.Dial("tcp", ln.Addr().String(), bad); err == nil {
		c.Close()
		t.Fatal("handshake for a name outside tls.hosts succeeded")
	}
}

// loopbackDNS serves DNS over TCP on loopback, answering every A query
// with 127.0.0.1 (and AAAA with nothing), so Pebble's validation authority
// resolves the test's name to our listener. It returns the address.
func loopbackDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.IPv4(127, 0, 0, 1)})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func TestACMEConfigChecks(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "not-pem")
	if err := os.WriteFile(bad, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.TLS{Mode: config.TLSACME, Hosts: []string{"izwi.example"}, ACMEDirectoryURL: "https://ca.example/dir", ACMECAFile: bad}
	if _, _, err := Build(cfg, dir, nil); err == nil {
		t.Fatal("a CA file without certificates accepted")
	}
	cfg.ACMECAFile = filepath.Join(dir, "missing.pem")
	if _, _, err := Build(cfg, dir, nil); err == nil {
		t.Fatal("a missing CA file accepted")
	}
}
