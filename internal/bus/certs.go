package bus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/izwi-speech/izwi/internal/secrets"
)

// Lifetimes of what MakeMaterial issues. Short on purpose: a stolen node or
// client key stops working within weeks; run `izwi bus certs DIR` again (it
// keeps the CA and the NKeys) and restart each process in turn.
const (
	CALifetime   = 365 * 24 * time.Hour
	LeafLifetime = 90 * 24 * time.Hour
	// caRenewBefore makes a new CA when the old one would expire before
	// the leaves it signs.
	caRenewBefore = LeafLifetime
)

// Material names the files MakeMaterial writes under its directory.
type Material struct {
	Dir string
	// CA is the operator CA (ca.crt); its key (ca.key) signs nothing at run
	// time: keep it off the machines, or delete it and re-run for a new CA.
	CA, CAKey string
	// Node is the certificate every bus node presents to clients and to
	// the other nodes (node.crt, node.key).
	Node TLSFiles
	// Users is the public keys of the roles' NKeys (users.json), for the
	// nodes' --users.
	Users string
}

// Client is role's TLS files (<role>.crt, <role>.key) and NKey seed file
// (<role>.nk).
func (m Material) Client(role string) (TLSFiles, string) {
	return TLSFiles{CA: m.CA, Cert: filepath.Join(m.Dir, role+".crt"), Key: filepath.Join(m.Dir, role+".key")},
		filepath.Join(m.Dir, role+".nk")
}

// MaterialIn names the files of a material directory without writing.
func MaterialIn(dir string) Material {
	return Material{Dir: dir, CA: filepath.Join(dir, "ca.crt"), CAKey: filepath.Join(dir, "ca.key"),
		Node:  TLSFiles{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "node.crt"), Key: filepath.Join(dir, "node.key")},
		Users: filepath.Join(dir, "users.json")}
}

// MakeMaterial writes, in dir (made 0700), everything a secured cluster
// needs: an ECDSA P-256 CA, a node certificate naming hosts (the nodes'
// addresses, as clients and routes dial them), one client certificate and
// NKey seed per role, and the users file. Keys and seeds are 0600. A CA and
// seeds already there are kept (so re-running renews the certificates
// without touching the users file), unless the CA expires within a leaf's
// lifetime; certificates are always made anew.
func MakeMaterial(dir string, hosts []string, now time.Time) (Material, error) {
	if len(hosts) == 0 {
		return Material{}, errors.New("bus certs: the nodes' host names or addresses are required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Material{}, fmt.Errorf("bus certs: %w", err)
	}
	m := MaterialIn(dir)
	ca, caKey, err := loadCA(m, now)
	if err != nil {
		if ca, caKey, err = newCA(m, now); err != nil {
			return Material{}, err
		}
	}
	if err := issue(ca, caKey, "izwi-bus-node", hosts, m.Node, now); err != nil {
		return Material{}, err
	}
	var users Users
	for _, role := range Roles() {
		files, seedFile := m.Client(role)
		if err := issue(ca, caKey, "izwi-"+role, nil, files, now); err != nil {
			return Material{}, err
		}
		pub, err := userSeed(seedFile)
		if err != nil {
			return Material{}, err
		}
		users.Users = append(users.Users, User{Role: role, NKey: pub})
	}
	b, _ := json.MarshalIndent(users, "", "  ")
	if err := secrets.WriteFile(m.Users, append(b, '\n'), 0o644); err != nil {
		return Material{}, fmt.Errorf("bus certs: %w", err)
	}
	return m, nil
}

// loadCA reads the CA of an earlier run, if it is still good long enough.
func loadCA(m Material, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(m.CA)
	if err != nil {
		return nil, nil, err
	}
	keySecret, err := secrets.ReadFile(m.CAKey)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode([]byte(keySecret.Reveal()))
	if cb == nil || kb == nil {
		return nil, nil, errors.New("bus certs: unreadable CA")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	if !cert.IsCA || now.Add(caRenewBefore).After(cert.NotAfter) {
		return nil, nil, errors.New("bus certs: CA expires soon")
	}
	return cert, key, nil
}

func newCA(m Material, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("bus certs: %w", err)
	}
	tmpl := template("izwi bus CA", now, CALifetime)
	tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.MaxPathLenZero = true, true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("bus certs: CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	if err := writePair(m.CA, m.CAKey, der, key); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// issue signs a leaf for name: a server and client certificate (nodes
// serve clients and dial routes) when hosts are given, a client one
// otherwise.
func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, hosts []string, f TLSFiles, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("bus certs: %w", err)
	}
	tmpl := template(name, now, LeafLifetime)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if len(hosts) > 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("bus certs: %s: %w", name, err)
	}
	return writePair(f.Cert, f.Key, der, key)
}

func template(name string, now time.Time, life time.Duration) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name, Organization: []string{"Izwi"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(life)}
}

// writePair writes a certificate (0644) and its key (0600).
func writePair(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("bus certs: %w", err)
	}
	if err := secrets.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("bus certs: %w", err)
	}
	if err := secrets.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("bus certs: %w", err)
	}
	return nil
}

// userSeed keeps the NKey seed in path, or makes one (0600), and returns
// its public key.
func userSeed(path string) (string, error) {
	if s, err := secrets.ReadFile(path); err == nil {
		if _, pub, err := userKey([]byte(s.Reveal())); err == nil {
			return pub, nil
		}
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("bus certs: nkey: %w", err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	if err := secrets.WriteFile(path, append(seed, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("bus certs: %w", err)
	}
	return pub, nil
}
