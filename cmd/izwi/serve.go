package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/api"
	"github.com/izwi-speech/izwi/internal/buildinfo"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/captionfilter"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/schedule"
	"github.com/izwi-speech/izwi/internal/sdnotify"
	"github.com/izwi-speech/izwi/internal/telemetry"
	"github.com/izwi-speech/izwi/internal/tlsconf"
	"github.com/izwi-speech/izwi/internal/web"
)

// runServe starts the server and blocks until ctx is cancelled (SIGINT or
// SIGTERM in main), then drains in-flight requests within
// server.shutdown_timeout.
func runServe(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("serve", c.stderr)
	cf := addConfigFlags(fs)
	listen := fs.String("listen", "", "API address host:port (overrides [server] listen)")
	adminListen := fs.String("admin-listen", "", "admin console address host:port (overrides [server] admin_listen)")
	insecure := fs.Bool("allow-insecure-http", false, "allow plain HTTP on a non-loopback address")
	role := fs.String("role", "", "all (default), gateway, worker or identifier (overrides [server] role; see docs/deploy.md)")
	var sources sourceFlags
	fs.Var(&sources, "source", "run a live-caption audio source, alsa:DEVICE or file:PATH[?loop=1] (repeatable)")
	fs.Var(labelFlag{&sources}, "source-label", "label of the session the preceding --source feeds (created, or reused by label)")
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
		if cf.set("admin-listen") {
			cfg.Server.AdminListen = *adminListen
		}
		if cf.set("allow-insecure-http") {
			cfg.Server.AllowInsecureHTTP = *insecure
		}
		if cf.set("role") {
			cfg.Server.Role = *role
		}
		return nil
	})
	if err == nil && !cfg.Auth.Required() && !netpolicy.LoopbackAddr(cfg.Server.Listen) {
		err = errors.New("config: auth.require_auth = false is only allowed when server.listen is a loopback address")
	}
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
	log.Info("starting", "version", buildinfo.Version, "commit", buildinfo.Commit, "role", cfg.Server.Role)

	modelStore, err := openModelStore(cfg, logger)
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitFailure
	}
	set, err := engines.LoadChained(ctx, newRegistry(), engineDeps(modelStore, logger),
		newChainer(cfg.Engines.Failover, telemetry.Component(logger, "chain")), roleEngines(cfg))
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
	if cfg.Server.Role == config.RoleIdentifier {
		return runIdentifier(ctx, cfg, set, logger)
	}

	db, err := openStore(ctx, cfg.Data)
	if err != nil {
		log.Error("cannot open the database", "err", err)
		return exitFailure
	}
	defer db.Close()
	broker, code := startBus(ctx, cfg, logger, log)
	if broker == nil {
		return code
	}
	defer broker.Close()

	gw, err := buildGateway(ctx, cfg, db, broker, logger)
	if err != nil {
		log.Error("cannot start the gateway", "err", err)
		return exitFailure
	}
	defer gw.close(context.WithoutCancel(ctx), log)
	if gw.registry != nil {
		if err := gw.registry.Register(set.Collector()); err != nil {
			log.Error("cannot register the engine metrics", "err", err)
			return exitFailure
		}
	}
	keyring, err := openVault(ctx, cfg, db, gw.audit, logger)
	if err != nil {
		log.Error("cannot open the privacy vault", "err", err)
		return exitFailure
	}
	priv, err := buildPrivacy(ctx, cfg, db, keyring, gw.audit, set, speakerFinder(cfg, set, broker), logger)
	if err != nil {
		log.Error("cannot start the privacy subsystem", "err", err)
		return exitFailure
	}
	defer priv.close(context.WithoutCancel(ctx))
	site := newSiteSettings(cfg.Live.PublicURL)
	captions, err := captionfilter.New(ctx, db, captionfilter.Options{
		Changed: func(id string) { broker.Notify(bus.NoticeCaptionSettings, []byte(id)) }})
	if err != nil {
		log.Error("cannot open the caption settings", "err", err)
		return exitFailure
	}
	px, err := buildChat(cfg.Chat, gw.limiter, gw.registry, logger)
	if err != nil {
		log.Error("cannot start the chat proxy", "err", err)
		return exitFailure
	}
	lt, err := buildTranslate(ctx, cfg.Translate, px, db, gw.registry, logger)
	if err != nil {
		log.Error("cannot start live translation", "err", err)
		return exitFailure
	}
	leases, err := openLeases(ctx, cfg, broker)
	if err != nil {
		log.Error("cannot join the cluster", "err", err)
		return exitFailure
	}
	lv, err := buildLive(ctx, cfg, set, db, broker, leases, gw, priv.liveHooks(captions), captions, site, lt, logger)
	if err != nil {
		log.Error("cannot start live captions", "err", err)
		return exitFailure
	}
	defer func() {
		// The pipelines' drain is bounded by server.shutdown_timeout: past
		// it, engine calls are cancelled and queued audio is dropped.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout.Std())
		defer cancel()
		lv.close(cctx)
	}()

	schedules, err := schedule.Open(ctx, db)
	if err != nil {
		log.Error("cannot open the schedules", "err", err)
		return exitFailure
	}
	runner := &schedule.Runner{Rules: schedules, Runs: schedules, Sessions: scheduleSessions{lv}, Audit: gw.audit,
		Log: telemetry.Component(logger, "schedule")}

	lv.routes.Transcript = priv.transcriptHandler(lv.manager, lt)
	opts := gw.api
	opts.Live = lv.routes
	opts.Logger, opts.Engines = telemetry.Component(logger, "api"), set
	oa, err := buildOpenAI(openaiDeps{Chat: px, Engines: set, Limiter: gw.limiter, Recheck: gw.credentialCheck(),
		Registerer: gw.registry, Logger: logger, Speakers: priv.openaiSpeakers(), RTC: lv.rtc,
		ClientSecrets: gw.secrets})
	if err != nil {
		log.Error("cannot start the OpenAI-compatible routes", "err", err)
		return exitFailure
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout.Std())
		defer cancel()
		_ = oa.close(cctx)
	}()
	opts.OpenAI = oa.routes
	opts.Components = []api.Component{{Name: "database", Check: db.Check}, {Name: "bus", Check: broker.Check}}
	handler, err := api.New(opts)
	if err != nil {
		log.Error("building routes", "err", err)
		return exitFailure
	}
	tlsConf, tlsInfo, err := tlsconf.Build(cfg.TLS, cfg.Data.Dir, telemetry.Component(logger, "tls"))
	if err != nil {
		log.Error("tls", "err", err)
		return exitFailure
	}
	if n := tlsInfo.Notice(); n != "" {
		fmt.Fprintln(c.stderr, n)
	}
	if tlsConf != nil && cfg.TLS.HSTSEnabled() {
		handler = tlsconf.HSTS(handler)
	}
	ln, err := listenOn(cfg.Server.Listen, tlsConf)
	if err != nil {
		log.Error("cannot listen", "addr", cfg.Server.Listen, "err", err)
		return exitFailure
	}
	adminLn, err := listenOn(cfg.Server.AdminListen, tlsConf)
	if err != nil {
		ln.Close()
		log.Error("cannot listen", "addr", cfg.Server.AdminListen, "err", err)
		return exitFailure
	}
	consoleURL := scheme(tlsConf) + "://" + adminLn.Addr().String()
	apiURL := scheme(tlsConf) + "://" + ln.Addr().String()
	publicURL := func() string {
		if p := site.configured(); p != "" {
			return p
		}
		return apiURL
	}
	cl := consoleLive{m: lv.manager, set: set, pairs: lv.pairs}
	console, err := admin.New(ctx, admin.Options{Store: db, Audit: gw.audit, Logger: telemetry.Component(logger, "admin"),
		Live: &admin.LivePages{Live: cl, Pairer: cl, PublicURL: publicURL, QR: web.QRSVG, Pausable: true,
			Exports: []string{"txt", "srt", "vtt", "json", "docx", "pdf"}, Outputs: consoleOutputs{m: lv.outputs, live: lv.manager}},
		Ops: &admin.OpsPages{Keys: consoleKeys{gw.keys}, AuditLog: consoleAudit{db: db, log: gw.audit, cfg: cfg.Audit},
			Health: healthChecks(set, db, broker, cfg.Data.Dir), Site: site, Schedules: consoleSchedules{rules: schedules, now: time.Now}},
		Settings: admin.SettingsFrom(cfg.Admin), Console: c.stderr, Routes: slices.Concat(adminKeyRoutes(gw.keys), priv.adminRoutes(), []admin.Route{priv.consoleTranscript(lv.manager)},
			priv.archiveRoutes(lv.manager), captionRoutes(lv.captions, publicURL)), Vault: keyring,
		TLS: admin.TLSStatus{Mode: tlsInfo.Mode, Fingerprint: tlsInfo.Fingerprint, NotAfter: tlsInfo.NotAfter}}, consoleURL)
	if err != nil {
		ln.Close()
		adminLn.Close()
		log.Error("cannot start the admin console", "err", err)
		return exitFailure
	}
	var adminHandler http.Handler = console
	if tlsConf != nil && cfg.TLS.HSTSEnabled() {
		adminHandler = tlsconf.HSTS(adminHandler)
	}

	log.Info("listening", "url", scheme(tlsConf)+"://"+ln.Addr().String(), "admin_url", consoleURL, "ready", set.Ready(),
		"tls", tlsInfo.Mode, "require_auth", cfg.Auth.Required())
	// Start-up garbage (model hashing, the dictionary cut, the setup
	// token's argon2 block: ~60 MB allocated) goes back to the system now,
	// not at the scavenger's pace against a heap goal sized by it.
	debug.FreeOSMemory()
	grace := cfg.Server.ShutdownTimeout.Std()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := lv.startSources(sctx, sources.list); err != nil {
		ln.Close()
		adminLn.Close()
		log.Error("cannot start a live source", "err", err)
		return exitFailure
	}
	for i, s := range []struct {
		h  http.Handler
		ln net.Listener
		n  string
	}{{handler, ln, "http"}, {adminHandler, adminLn, "admin-http"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = api.Serve(sctx, api.NewServer(s.h, telemetry.Component(logger, s.n)), s.ln, grace)
			stop() // one listener failing stops the other
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-sctx.Done()
		if _, err := sdnotify.Stopping(); err != nil {
			log.Warn("systemd notify", "err", err)
		}
		lv.closeSockets(grace) // hijacked and streaming responses, which Shutdown does not end
	}()
	// Under systemd (Type=notify): ready now, and watchdog pings while the
	// database and the bus answer.
	if _, err := sdnotify.Ready(); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		healthy := func(ctx context.Context) error { return errors.Join(db.Check(ctx), broker.Check(ctx)) }
		if err := sdnotify.Watchdog(sctx, healthy, telemetry.Component(logger, "systemd")); err != nil {
			log.Warn("systemd watchdog", "err", err)
		}
	}()
	// Scheduled services start and stop on time (internal/schedule).
	wg.Add(1)
	go func() {
		defer wg.Done()
		// In a cluster, by one process at a time.
		singleton(sctx, leases, "izwi-schedules", func(ctx context.Context) { _ = runner.Run(ctx) })
	}()
	// Keys revoked and caption settings changed by other processes: at
	// once by their notices on the bus, else by re-reading on a timer.
	if err := listenNotices(sctx, broker, gw.keys, captions, telemetry.Component(logger, "notices")); err != nil {
		log.Warn("not listening to other processes' notices; relying on re-reads", "err", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := gw.keys.WatchRevocations(sctx, revocationPoll); err != nil {
			log.Warn("watching key revocations stopped", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		refreshEvery(sctx, captionRefresh, captions.Refresh, log)
	}()
	wg.Wait()
	err = errors.Join(errs...)
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		log.Warn("shutdown deadline passed; remaining connections were closed", "timeout", grace.String())
		return exitFailure
	case err != nil:
		log.Error("server stopped", "err", err)
		return exitFailure
	}
	log.Info("stopped")
	return exitOK
}

// keyEpochFile is the file every izwi process that changes keys bumps, so
// that the server's verified-key cache sees `izwi keys revoke` at once. It
// sits beside a SQLite database, or in the data directory when the database
// is PostgreSQL (processes on other machines then see a revocation within
// the cache's maximum age).
func keyEpochFile(cfg config.Config) string {
	if f := sqliteFile(cfg.Data); f != "" {
		return f + "-keys-epoch"
	}
	return filepath.Join(cfg.Data.Dir, "izwi-keys-epoch")
}

// listenOn opens addr, with TLS when c is not nil.
func listenOn(addr string, c *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || c == nil {
		return ln, err
	}
	return tls.NewListener(ln, c), nil
}

func scheme(c *tls.Config) string {
	if c != nil {
		return "https"
	}
	return "http"
}
