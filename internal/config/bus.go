package config

import (
	"errors"
	"fmt"
)

// BusTLS secures this process's link to an external NATS cluster
// (bus.url): TLS 1.3, the nodes' certificates checked against CA, and this
// process's own certificate for the nodes to check (mutual TLS). All three
// or none; `izwi bus certs DIR` makes them (docs/deploy.md "Securing the
// bus").
type BusTLS struct {
	// CA is the operator CA's certificate (PEM) (IZWI_BUS_TLS_CA).
	CA string `json:"ca,omitempty" toml:"ca"`
	// Cert and Key are this process's client certificate and key (PEM;
	// the key 0600) (IZWI_BUS_TLS_CERT, IZWI_BUS_TLS_KEY).
	Cert string `json:"cert,omitempty" toml:"cert"`
	Key  string `json:"key,omitempty" toml:"key"`
}

// On reports whether any of the files is set.
func (x BusTLS) On() bool { return x.CA != "" || x.Cert != "" || x.Key != "" }

// validateBus reports bus settings that cannot work together.
func validateBus(b Bus) []error {
	var errs []error
	if b.URL == "" && (b.TLS.On() || b.NKeyFile != "") {
		errs = append(errs, errors.New("config: bus.tls and bus.nkey_file secure the link to an external bus (bus.url); the embedded one needs neither"))
	}
	if b.TLS.On() && (b.TLS.CA == "" || b.TLS.Cert == "" || b.TLS.Key == "") {
		errs = append(errs, fmt.Errorf("config: bus.tls needs ca, cert and key together (have ca %q, cert %q, key %q); `izwi bus certs DIR` makes them",
			b.TLS.CA, b.TLS.Cert, b.TLS.Key))
	}
	return errs
}

func (b *Bus) applyEnv(e envReader) {
	e.String("IZWI_BUS_TLS_CA", &b.TLS.CA)
	e.String("IZWI_BUS_TLS_CERT", &b.TLS.Cert)
	e.String("IZWI_BUS_TLS_KEY", &b.TLS.Key)
	e.String("IZWI_BUS_NKEY_FILE", &b.NKeyFile)
}

func (Bus) envVars() []string {
	return []string{"IZWI_BUS_TLS_CA", "IZWI_BUS_TLS_CERT", "IZWI_BUS_TLS_KEY", "IZWI_BUS_NKEY_FILE"}
}
