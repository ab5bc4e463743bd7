package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

const busUsage = `usage: izwi bus serve --name N --listen HOST:PORT --cluster HOST:PORT --routes A,B,C --store-dir DIR [flags]

Runs one node of a NATS cluster with JetStream (the nats-server Go module
izwi embeds), so a deployment of several izwi processes needs no other
binary. Run three nodes (on three machines, or on one for a demo), each with
the same --cluster-name and --routes listing every node's cluster address;
point every izwi process's bus.url at the nodes' client addresses,
comma-separated. The node logs "bus node ready" once it has routes to the
cluster and JetStream has a meta leader; it stops on SIGINT or SIGTERM.
Clients are not authenticated: bind --listen and --cluster to loopback or a
private network (docs/deploy.md).

flags:
`

// runBus is `izwi bus serve`.
func runBus(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("bus", c.stderr)
	var cfg bus.NodeConfig
	fs.StringVar(&cfg.Name, "name", "", "this node's name, unique in the cluster")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:4222", "client address host:port")
	fs.StringVar(&cfg.Cluster, "cluster", "127.0.0.1:6222", "cluster (route) address host:port")
	fs.StringVar(&cfg.ClusterName, "cluster-name", "izwi", "the cluster's name, the same on every node")
	routes := fs.String("routes", "", "every node's cluster address host:port, comma-separated")
	fs.StringVar(&cfg.StoreDir, "store-dir", "", "this node's JetStream directory")
	ready := fs.Duration("ready-timeout", time.Minute, "give up when the cluster has not formed within this")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() { fmt.Fprint(c.stderr, busUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || pos[0] != "serve" {
		fs.Usage()
		return exitUsage
	}
	for _, r := range strings.Split(*routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Routes = append(cfg.Routes, r)
		}
	}
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
	if err := bus.RunNode(ctx, cfg, log); err != nil {
		log.Error("bus node failed", "err", err)
		return exitFailure
	}
	return exitOK
}
