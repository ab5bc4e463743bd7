package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/izwi-speech/izwi/internal/api"
	"github.com/izwi-speech/izwi/internal/buildinfo"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

// runServe starts the server and blocks until ctx is cancelled (SIGINT or
// SIGTERM in main), then drains in-flight requests within
// server.shutdown_timeout.
func runServe(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("serve", c.stderr)
	cf := addConfigFlags(fs)
	listen := fs.String("listen", "", "API address host:port (overrides [server] listen)")
	insecure := fs.Bool("allow-insecure-http", false, "allow plain HTTP on a non-loopback address")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "izwi serve: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	cfg, _, err := loadConfig(cf, func(cfg *config.Config) error {
		if cf.set("listen") {
			cfg.Server.Listen = *listen
		}
		if cf.set("allow-insecure-http") {
			cfg.Server.AllowInsecureHTTP = *insecure
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi serve: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(c.stderr, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi serve: %v\n", err)
		return exitUsage
	}
	log := telemetry.Component(logger, "serve")
	log.Info("starting", "version", buildinfo.Version, "commit", buildinfo.Commit)

	modelStore, err := openModelStore(cfg, logger)
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitFailure
	}
	set, err := engines.Load(ctx, newRegistry(), speech.Deps{Models: modelStore, Logger: telemetry.Component(logger, "engines")},
		cfg.Engines.List())
	if err != nil {
		log.Error("a required engine failed to load", "err", err)
		if ctx.Err() != nil {
			return exitCanceled
		}
		return exitModel
	}
	defer func() {
		if err := set.Close(); err != nil {
			log.Warn("closing engines", "err", err)
		}
	}()

	db, err := store.Open(ctx, cfg.Data.Database)
	if err != nil {
		log.Error("cannot open the database", "err", err)
		return exitFailure
	}
	defer db.Close()
	broker, err := bus.Start(ctx, bus.Config{URL: cfg.Bus.URL, Listen: cfg.Bus.Listen, JetStream: cfg.Bus.JetStream,
		StoreDir: filepath.Join(cfg.Data.Dir, "bus")}, telemetry.Component(logger, "bus"))
	if err != nil {
		log.Error("cannot start the message bus", "err", err)
		return exitFailure
	}
	defer broker.Close()

	handler, err := api.New(api.Options{Logger: telemetry.Component(logger, "api"), Engines: set,
		Components: []api.Component{{Name: "database", Check: db.Check}, {Name: "bus", Check: broker.Check}}})
	if err != nil {
		log.Error("building routes", "err", err)
		return exitFailure
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		log.Error("cannot listen", "addr", cfg.Server.Listen, "err", err)
		return exitFailure
	}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "ready", set.Ready())
	err = api.Serve(ctx, api.NewServer(handler, telemetry.Component(logger, "http")), ln, cfg.Server.ShutdownTimeout.Std())
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		log.Warn("shutdown deadline passed; remaining connections were closed", "timeout", cfg.Server.ShutdownTimeout.Std().String())
		return exitFailure
	case err != nil:
		log.Error("server stopped", "err", err)
		return exitFailure
	}
	log.Info("stopped")
	return exitOK
}
