package main

// Roles of izwi serve (issue 13): all, or a gateway or a worker of a
// cluster sharing a NATS bus (with JetStream) and a database. The live
// session manager of a gateway or worker shares sessions through leases
// (internal/live Cluster, internal/lease), and the schedules run in one
// process of the cluster at a time.

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

// openLeases opens the cluster's lease table for cfg's role: nil for all.
func openLeases(ctx context.Context, cfg config.Config, broker *bus.Bus) (*lease.Table, error) {
	if cfg.Server.Role == config.RoleAll {
		return nil, nil
	}
	host, _ := os.Hostname()
	t, err := lease.Open(ctx, broker.Conn(), lease.Config{Bucket: "izwi_leases",
		Node: fmt.Sprintf("%s/%s/%d", cfg.Server.Role, host, os.Getpid())})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return t, nil
}

// liveCluster is the live manager's Cluster for cfg's role: nil for all.
func liveCluster(cfg config.Config, leases *lease.Table) *live.Cluster {
	if leases == nil {
		return nil
	}
	return &live.Cluster{Leases: live.LeasesOf(leases), Take: cfg.Server.Role == config.RoleWorker}
}

// singleton runs job here, or (in a cluster) in the one process holding
// the lease on name at a time, until ctx ends.
func singleton(ctx context.Context, leases *lease.Table, name string, job func(context.Context)) {
	if leases == nil {
		job(ctx)
		return
	}
	leases.Run(ctx, name, job)
}
