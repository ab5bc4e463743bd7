package main

// Roles of izwi serve (issue 13): all, or a gateway, a worker or an
// identifier of a cluster sharing a NATS bus (with JetStream) and a
// database. The live session manager of a gateway or worker shares
// sessions through leases (internal/live Cluster, internal/lease), and the
// schedules run in one process of the cluster at a time. An identifier
// loads only the speaker engine and answers the embedding requests of
// workers without one (internal/identify); it opens no database and
// serves no HTTP.

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/identify"
	"github.com/izwi-speech/izwi/internal/lease"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/sdnotify"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

// roleEngines are the engines a process of cfg's role loads: none for a
// gateway, which recognises nothing itself; the speaker engine alone,
// required, for an identifier.
func roleEngines(cfg config.Config) []config.NamedRole {
	switch cfg.Server.Role {
	case config.RoleGateway:
		return nil
	case config.RoleIdentifier:
		return []config.NamedRole{cfg.Engines.Named("speaker", withRequired(cfg.Engines.Speaker))}
	}
	return cfg.Engines.List()
}

// speakerFinder is how a worker without a speaker engine of its own finds
// an identifier: nil for every other process, which uses its own engine
// (or identifies no one).
func speakerFinder(cfg config.Config, set *engines.Set, broker *bus.Bus) *identify.Finder {
	if cfg.Server.Role != config.RoleWorker || set.Embedder != nil {
		return nil
	}
	return identify.NewFinder(broker.Conn())
}

// runIdentifier is izwi serve --role identifier: the loaded speaker engine
// answers embedding requests on the bus until ctx ends.
func runIdentifier(ctx context.Context, cfg config.Config, set *engines.Set, logger *slog.Logger) int {
	log := telemetry.Component(logger, "serve")
	if set.Embedder == nil {
		log.Error("the identifier role needs a speaker engine (engines.speaker, IZWI_SPEAKER_ENGINE)")
		return exitModel
	}
	broker, code := startBus(ctx, cfg, logger, log)
	if broker == nil {
		return code
	}
	defer broker.Close()
	srv, err := identify.Serve(ctx, broker.Conn(), set.Embedder, identify.Config{Model: cfg.Engines.Speaker.Model},
		telemetry.Component(logger, "identify"))
	if err != nil {
		log.Error("cannot serve speaker identification", "err", err)
		return exitFailure
	}
	// Under systemd (Type=notify): ready now, and watchdog pings while
	// the bus answers.
	if _, err := sdnotify.Ready(); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	if err := sdnotify.Watchdog(ctx, broker.Check, telemetry.Component(logger, "systemd")); err != nil {
		log.Warn("systemd watchdog", "err", err)
	}
	<-ctx.Done()
	if _, err := sdnotify.Stopping(); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	srv.Close()
	log.Info("stopped")
	return exitOK
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
