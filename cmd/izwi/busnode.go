package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

const busUsage = `usage: izwi bus serve --name N --listen HOST:PORT --cluster HOST:PORT --routes A,B,C --store-dir DIR [flags]
       izwi bus certs [--hosts H1,H2] DIR

serve runs one node of a NATS cluster with JetStream (the nats-server Go
module izwi embeds), so a deployment of several izwi processes needs no
other binary. Run three nodes (on three machines, or on one for a demo),
each with the same --cluster-name and --routes listing every node's cluster
address; point every izwi process's bus.url at the nodes' client addresses,
comma-separated. The node logs "bus node ready" once it has routes to the
cluster and JetStream has a meta leader; it stops on SIGINT or SIGTERM.

With --tls-ca, --tls-cert and --tls-key (all three) every link is TLS 1.3
and both ends show a certificate of that CA: clients (bus.tls) and the
other nodes. With --users, a client must also prove one of the file's NKeys
(bus.nkey_file) and gets its role's permissions. Without TLS a node binds
only loopback addresses (docs/deploy.md "Securing the bus").

certs writes into DIR (0700) what a secured cluster needs: an ECDSA P-256
CA (ca.crt, ca.key; 1 year), a node certificate for --hosts (node.crt,
node.key; 90 days), per role a client certificate and an NKey seed
(gateway, worker, identifier: .crt, .key, .nk; 90 days) and the nodes'
users.json. Keys and seeds are 0600. Run again to renew the certificates:
the CA and the seeds are kept.

flags:
`

// runBus is `izwi bus serve|certs`.
func runBus(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("bus", c.stderr)
	var cfg bus.NodeConfig
	fs.StringVar(&cfg.Name, "name", "", "serve: this node's name, unique in the cluster")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:4222", "serve: client address host:port")
	fs.StringVar(&cfg.Cluster, "cluster", "127.0.0.1:6222", "serve: cluster (route) address host:port")
	fs.StringVar(&cfg.ClusterName, "cluster-name", "izwi", "serve: the cluster's name, the same on every node")
	routes := fs.String("routes", "", "serve: every node's cluster address host:port, comma-separated")
	fs.StringVar(&cfg.StoreDir, "store-dir", "", "serve: this node's JetStream directory")
	fs.StringVar(&cfg.TLS.CA, "tls-ca", "", "serve: the CA certificate clients' and nodes' certificates must chain to")
	fs.StringVar(&cfg.TLS.Cert, "tls-cert", "", "serve: this node's certificate")
	fs.StringVar(&cfg.TLS.Key, "tls-key", "", "serve: this node's key (0600)")
	fs.StringVar(&cfg.Users, "users", "", "serve: the users file (public NKeys per role; izwi bus certs writes it)")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "certs: the nodes' addresses and names clients and routes dial, comma-separated")
	ready := fs.Duration("ready-timeout", time.Minute, "serve: give up when the cluster has not formed within this")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() { fmt.Fprint(c.stderr, busUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	switch {
	case len(pos) == 2 && pos[0] == "certs":
		m, err := bus.MakeMaterial(pos[1], splitList(*hosts), time.Now())
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi bus: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(c.stdout, "wrote %s: nodes use ca.crt, node.crt, node.key and users.json; each process its role's .crt, .key and .nk (copy ca.key nowhere)\n", m.Dir)
		return exitOK
	case len(pos) != 1 || pos[0] != "serve":
		fs.Usage()
		return exitUsage
	}
	cfg.Routes = splitList(*routes)
	cfg.ReadyTimeout = *ready
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(c.stderr, "izwi bus: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(c.stderr, *logLevel)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi bus: %v\n", err)
		return exitUsage
	}
	log := telemetry.Component(logger, "bus")
	if !cfg.TLS.On() {
		log.Warn("bus node not secured: plain TCP and no credentials, loopback only (izwi bus certs DIR; docs/deploy.md)")
	}
	if err := bus.RunNode(ctx, cfg, log); err != nil {
		log.Error("bus node failed", "err", err)
		return exitFailure
	}
	return exitOK
}

func splitList(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// busConfig is the bus client configuration of an izwi process: the
// embedded broker, or the external cluster with this process's TLS files
// and NKey seed (bus.nkey_file, else IZWI_BUS_NKEY or the systemd
// credential bus_nkey; none is no credential).
func busConfig(cfg config.Config) (bus.Config, error) {
	bc := bus.Config{URL: cfg.Bus.URL, Listen: cfg.Bus.Listen, JetStream: cfg.Bus.JetStream,
		StoreDir: filepath.Join(cfg.Data.Dir, "bus"), TLS: bus.TLSFiles{CA: cfg.Bus.TLS.CA, Cert: cfg.Bus.TLS.Cert, Key: cfg.Bus.TLS.Key}}
	if cfg.Bus.URL == "" {
		return bc, nil
	}
	seed, _, err := secrets.Source{LookupEnv: os.LookupEnv}.Resolve("bus_nkey", cfg.Bus.NKeyFile)
	if err != nil && !errors.Is(err, secrets.ErrNotSet) {
		return bus.Config{}, fmt.Errorf("bus: nkey: %w", err)
	}
	bc.NKey = seed
	return bc, bc.Validate()
}

// startBus connects this process to the message bus cfg names (or starts
// the embedded one). On failure it logs why to log and returns nil and the
// exit code: a bad bus configuration is a usage error.
func startBus(ctx context.Context, cfg config.Config, logger, log *slog.Logger) (*bus.Bus, int) {
	bc, err := busConfig(cfg)
	if err != nil {
		log.Error("cannot start the message bus", "err", err)
		return nil, exitUsage
	}
	broker, err := bus.Start(ctx, bc, telemetry.Component(logger, "bus"))
	if err != nil {
		log.Error("cannot start the message bus", "err", err)
		return nil, exitFailure
	}
	return broker, exitOK
}
