package bus

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/izwi-speech/izwi/internal/secrets"
)

// A secured bus (docs/deploy.md "Securing the bus"): every link, client to
// node and node to node, is TLS 1.3 with certificates from the operator's
// own CA checked on both ends (mutual TLS), and every client also proves a
// per-role NKey (an Ed25519 key; the node only ever sees its public half and
// a signed nonce) that limits what it may publish and subscribe to (perms.go).
// Certificates and keys come from files (`izwi bus certs` makes them); the
// NKey seed is a secret (secrets.Source: a 0600 file, an env variable or a
// systemd credential), never a flag, and never logged.

// TLSFiles are the PEM files of one end of a bus link: the operator CA that
// signed every node's and client's certificate, and this end's own
// certificate and key. All three or none.
type TLSFiles struct {
	// CA is the CA certificate peers' certificates must chain to.
	CA string `json:"ca,omitempty" toml:"ca"`
	// Cert and Key are this end's certificate and private key (0600).
	Cert string `json:"cert,omitempty" toml:"cert"`
	Key  string `json:"key,omitempty" toml:"key"`
}

// On reports whether TLS is configured.
func (f TLSFiles) On() bool { return f.CA != "" || f.Cert != "" || f.Key != "" }

// Validate refuses a half configuration with one sentence naming what is
// missing, and a key file others may read.
func (f TLSFiles) Validate() error {
	if !f.On() {
		return nil
	}
	var missing []string
	for _, x := range []struct{ name, v string }{{"ca", f.CA}, {"cert", f.Cert}, {"key", f.Key}} {
		if x.v == "" {
			missing = append(missing, x.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("bus: tls needs ca, cert and key together (missing %v); `izwi bus certs DIR` makes them", missing)
	}
	if err := secrets.CheckFile(f.Key); err != nil {
		return fmt.Errorf("bus: tls key: %w", err)
	}
	return nil
}

// serverTLS is a node's TLS configuration for its client port or its
// routes: TLS 1.3 only, and the peer must present a certificate from the
// CA (mutual TLS). Routes dial out too, so the CA is also the root set.
func serverTLS(f TLSFiles) (*tls.Config, error) {
	c, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: f.Cert, KeyFile: f.Key, CaFile: f.CA,
		Verify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		return nil, fmt.Errorf("bus: tls: %w", err)
	}
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.RootCAs = c.ClientCAs
	return c, nil
}

// clientOptions are the nats.go options of a secured client: TLS 1.3 with
// the CA as the only root and this end's certificate, then the NKey.
func clientOptions(f TLSFiles, seed secrets.Secret) ([]nats.Option, error) {
	var opts []nats.Option
	if f.On() {
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS13}),
			nats.RootCAs(f.CA), nats.ClientCert(f.Cert, f.Key))
	}
	if !seed.IsZero() {
		kp, pub, err := userKey([]byte(seed.Reveal()))
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	}
	return opts, nil
}

// userKey is the key pair of a NATS user seed (SU…) and its public key.
// The seed's text never reaches the error.
func userKey(seed []byte) (nkeys.KeyPair, string, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, "", errors.New("bus: nkey: the seed is not a NATS user seed (SU…); `izwi bus certs DIR` makes one")
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, "", errors.New("bus: nkey: the seed is not a NATS user seed (SU…)")
	}
	return kp, pub, nil
}
