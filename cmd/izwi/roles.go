package main

// Roles of izwi serve (issue 13): all, or a gateway or a worker of a
// cluster sharing a NATS bus (with JetStream) and a database. The live
// session manager of a gateway or worker shares sessions through leases
// (internal/live Cluster, internal/lease).

import (
	"context"
	"fmt"
	"os"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/lease"
	"github.com/izwi-speech/izwi/internal/live"
)

// roleEngines are the engines a process of cfg's role loads: none for a
// gateway, which recognises nothing itself.
func roleEngines(cfg config.Config) []config.NamedRole {
	if cfg.Server.Role == config.RoleGateway {
		return nil
	}
	return cfg.Engines.List()
}

// liveCluster is the live manager's Cluster for cfg's role: nil for all.
func liveCluster(ctx context.Context, cfg config.Config, broker *bus.Bus) (*live.Cluster, error) {
	if cfg.Server.Role == config.RoleAll {
		return nil, nil
	}
	host, _ := os.Hostname()
	t, err := lease.Open(ctx, broker.Conn(), lease.Config{Bucket: "izwi_live_leases",
		Node: fmt.Sprintf("%s/%s/%d", cfg.Server.Role, host, os.Getpid())})
	if err != nil {
		return nil, err
	}
	return &live.Cluster{Leases: leaseTable{t}, Take: cfg.Server.Role == config.RoleWorker}, nil
}

// leaseTable is a lease table as the live manager takes it.
type leaseTable struct{ *lease.Table }

func (l leaseTable) Claim(ctx context.Context, name string) (live.Held, error) {
	return l.Table.Claim(ctx, name)
}

var _ live.Leases = leaseTable{}
