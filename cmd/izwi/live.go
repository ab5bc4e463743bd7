package main

// Live captions for izwi serve (issue 4): the session manager over the
// engines, the bus and the store; its HTTP and WebSocket handlers behind the
// gateway; the Deepgram-compatible /v1/listen; the viewer pages; and the
// audio sources named with --source.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/api"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/captionfilter"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/lease"
	"github.com/izwi-speech/izwi/internal/listen"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/live/source"
	"github.com/izwi-speech/izwi/internal/outputs"
	"github.com/izwi-speech/izwi/internal/rtc"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
	"github.com/izwi-speech/izwi/internal/translate/livetranslate"
	"github.com/izwi-speech/izwi/internal/web"
)

// liveParts is the live-caption subsystem serve runs.
type liveParts struct {
	manager *live.Manager
	outputs *outputs.Manager
	http    *livehttp.Handlers
	listen  *listen.Handler
	routes  *api.LiveHandlers
	rtc     *rtc.Handler // nil when [webrtc] is off
	// pairs issues the console's microphone pairing codes, which
	// POST /v1/sessions/{id}/mic-ticket redeems.
	pairs    *ticket.Issuer
	captions *captionfilter.Handler // the caption settings routes (API and console)
	log      *slog.Logger
	sources  sync.WaitGroup
	stopSrcs context.CancelFunc
}

// gatewayTickets returns the ticket issuer the gateway's POST /v1/tickets
// handler uses (buildGateway builds it there and nowhere else).
func (g *gateway) ticketHandler() (*ticket.Handler, error) {
	th, ok := g.api.Tickets.(*ticket.Handler)
	if !ok || th.Issuer == nil {
		return nil, errors.New("live: the gateway has no ticket issuer")
	}
	return th, nil
}

// failureFunc is the gateway's failed-authentication throttle, as a func
// the viewer-ticket route calls on a wrong viewer secret.
func (g *gateway) failureFunc() func(*http.Request) {
	if f, ok := g.api.IPFilter.(filters); ok && f.failures != nil {
		return f.failures.Fail
	}
	return nil
}

// buildLive starts the session manager and builds the live routes. A
// missing streaming recognizer is not an error: sessions can be created
// and watched, starting one answers 503.
func buildLive(ctx context.Context, cfg config.Config, set *engines.Set, db *store.Store, broker *bus.Bus, leases *lease.Table, gw *gateway,
	privacy live.Privacy, captions *captionfilter.Filters, site *siteSettings, lt *livetranslate.Service, logger *slog.Logger) (*liveParts, error) {
	th, err := gw.ticketHandler()
	if err != nil {
		return nil, err
	}
	if sc, ok := set.Recognizer.(speech.StreamCounter); ok {
		if _, capacity := sc.Streams(); capacity > 0 && cfg.Live.MaxSessions > capacity {
			telemetry.Component(logger, "live").Warn("live.max_sessions is above the recognizer's decoder pool: busy sessions beyond it are refused (engine_busy) until others go idle",
				"max_sessions", cfg.Live.MaxSessions, "decoders", capacity)
		}
	}
	m, err := live.NewManager(ctx, live.ManagerOptions{Store: db, Conn: broker.Conn(), Recognizer: set.Recognizer, VAD: set.VAD,
		Cluster: liveCluster(cfg, leases),
		Config:  cfg.Live, Logger: telemetry.Component(logger, "live"), Audit: gw.audit, Privacy: privacy, Metrics: gw.registry,
		Captions: captions.Apply})
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	pairs := ticket.NewPairingIssuer(micPairingTTL, 0, nil, telemetry.Component(logger, "pairing"))
	h, err := livehttp.New(livehttp.Options{Sessions: m, Tickets: th.Issuer, Pairings: pairs, Slots: livehttp.FromLimiter(gw.limiter),
		Audit: gw.audit, Fail: gw.failureFunc(), ClientIP: gw.api.ClientIP, Logger: telemetry.Component(logger, "livehttp"),
		MaxViewers: cfg.Viewers.MaxFeeds, MaxViewersPerIP: cfg.Viewers.MaxPerIP, MaxViewersPerSession: cfg.Viewers.MaxPerSession,
		ReservedFDs: cfg.Viewers.ReservedFDs, ViewerGuessesPerMinute: cfg.Viewers.PasswordGuessesPerMinute,
		Translations: translationsOf(lt)})
	if err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	// POST /v1/tickets: a key may have a ticket only for its own sessions.
	th.Authorize = h.AuthorizeTicket
	// A revoked key's open ingest sockets and feeds close at once.
	gw.onRevoke = h.RevokeSubject
	lo := listen.Options{Logger: telemetry.Component(logger, "listen"), Recognizer: set.Recognizer, VAD: set.VAD,
		Transcriber: set.Transcriber, Sessions: gw.limiter, Charger: gw.limiter, Recheck: gw.credentialCheck()}
	pages := web.Options{Logger: telemetry.Component(logger, "web"), PublicURL: cfg.Live.PublicURL, PublicURLFunc: site.configured,
		PublicSessions: publicSessions(m), WebRTC: cfg.WebRTC.On()}
	if err := pages.Validate(); err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	om, oh, err := buildOutputs(ctx, cfg.Outputs, cfg.Server.Role != config.RoleAll, db, m, lt, gw.registry, logger)
	if err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	lh := listen.NewHandler(lo)
	rh, err := buildRTC(cfg.WebRTC, cfg.Server.Listen, m, gw, logger)
	if err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	ch := captionfilter.NewHandler(captions, m, gw.audit, telemetry.Component(logger, "captions"))
	routes := &api.LiveHandlers{Create: h.Create, List: h.List, Get: h.Get, Update: h.Update, Delete: h.Delete, Context: h.Context,
		Start: h.Start, Stop: h.Stop, Resume: h.Resume, Pause: h.Pause, Ingest: h.Ingest,
		CaptionsWS: h.CaptionsWS, CaptionsSSE: h.CaptionsSSE, View: h.View, ViewerTicket: h.ViewerTicket, MicTicket: h.MicTicket,
		Filters: ch.Get(), SetFilters: ch.Put(),
		Pages:  web.Handler(pages),
		Listen: lh, ListenFile: listen.NewFileHandler(lo),
		OutputsCreate: oh.Create, OutputsList: oh.List, OutputsDelete: oh.Delete}
	if rh != nil {
		routes.WebRTC = rh
		// A revoked key's WebRTC peers (ingest and calls) end at once too.
		gw.onRevoke = func(subject string) {
			h.RevokeSubject(subject)
			rh.RevokeSubject(subject)
		}
	}
	return &liveParts{manager: m, outputs: om, http: h, listen: lh, routes: routes, rtc: rh, pairs: pairs, captions: ch, log: telemetry.Component(logger, "live"), stopSrcs: func() {}}, nil
}

// closeSockets ends open ingest sockets and viewer feeds (1001), which
// http.Server.Shutdown neither tracks (hijacked) nor ends (SSE), so the
// drain can finish within grace.
func (l *liveParts) closeSockets(grace time.Duration) {
	l.stopSrcs()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	l.closeStreams(ctx)
}

// closeStreams ends the hijacked sockets of live viewers, ingest and
// /v1/listen streams (1001).
func (l *liveParts) closeStreams(ctx context.Context) {
	if err := l.http.Close(ctx); err != nil {
		l.log.Warn("closing live sockets", "err", err)
	}
	if err := l.listen.Close(ctx); err != nil {
		l.log.Warn("closing listen streams", "err", err)
	}
	if l.rtc != nil {
		if err := l.rtc.Close(ctx); err != nil {
			l.log.Warn("closing webrtc peers", "err", err)
		}
	}
}

// close stops the sources and the manager (pipelines flushed, live
// sessions recorded as interrupted for the next start), within ctx.
func (l *liveParts) close(ctx context.Context) {
	l.stopSrcs()
	l.sources.Wait()
	l.closeStreams(ctx)
	if err := l.outputs.Close(ctx); err != nil {
		l.log.Warn("closing caption outputs", "err", err)
	}
	if err := l.manager.Close(ctx); err != nil {
		l.log.Warn("closing live sessions", "err", err)
	}
}

// sourceFlag is one --source with its optional --source-label.
type sourceFlag struct{ spec, label string }

// sourceFlags collects repeated --source SPEC [--source-label L]; a label
// applies to the --source just before it.
type sourceFlags struct{ list []sourceFlag }

func (s *sourceFlags) String() string {
	specs := make([]string, len(s.list))
	for i, f := range s.list {
		specs[i] = f.spec
	}
	return strings.Join(specs, ",")
}

func (s *sourceFlags) Set(v string) error {
	if _, err := source.Parse(v); err != nil { // checked again at start; this fails fast with usage
		return err
	}
	s.list = append(s.list, sourceFlag{spec: v})
	return nil
}

// labelFlag sets the label of the latest --source.
type labelFlag struct{ s *sourceFlags }

func (l labelFlag) String() string { return "" }

func (l labelFlag) Set(v string) error {
	if len(l.s.list) == 0 {
		return errors.New("--source-label must follow a --source")
	}
	last := &l.s.list[len(l.s.list)-1]
	if last.label != "" {
		return errors.New("one --source-label per --source")
	}
	if len(v) > live.MaxLabel || strings.TrimSpace(v) == "" {
		return fmt.Errorf("a label is 1-%d bytes", live.MaxLabel)
	}
	last.label = v
	return nil
}

// sourceOwner owns the sessions --source creates: a subject no key or
// token has, so only admins manage them (viewers watch by viewer mode).
const sourceOwner = "system:source"

// startSources creates (or reuses, by label) a live session per --source
// and runs the source into it until ctx ends. Any bad spec or session
// error is returned before anything runs, so serve refuses to start.
func (l *liveParts) startSources(ctx context.Context, list []sourceFlag) error {
	if len(list) == 0 {
		return nil
	}
	type job struct {
		src source.Source
		id  string
		ing live.Ingest
	}
	var jobs []job
	fail := func(err error) error {
		for _, j := range jobs {
			_ = j.ing.Close()
		}
		return err
	}
	existing, err := l.manager.List(ctx, "")
	if err != nil {
		return err
	}
	for _, f := range list {
		src, err := source.Parse(f.spec)
		if err != nil {
			return fail(err)
		}
		label := f.label
		if label == "" {
			label = truncate(src.String(), live.MaxLabel)
		}
		info, err := l.sourceSession(ctx, existing, label)
		if err != nil {
			return fail(fmt.Errorf("live: --source %s: %w", src, err))
		}
		ing, err := l.manager.Attach(ctx, "", info.ID, src.String())
		if err != nil {
			return fail(fmt.Errorf("live: --source %s: %w", src, err))
		}
		jobs = append(jobs, job{src, info.ID, ing})
		l.log.Info("source attached", "session_id", info.ID, "source", src.String(), "viewer_url", "/live/"+info.ID,
			"display_url", "/display/"+info.ID)
	}
	sctx, cancel := context.WithCancel(ctx)
	l.stopSrcs = cancel
	for _, j := range jobs {
		l.runSource(sctx, j.src, j.id, j.ing)
	}
	return nil
}

// runSource feeds ing from src in a goroutine that l.sources waits for,
// until ctx ends or the source does.
func (l *liveParts) runSource(ctx context.Context, src source.Source, id string, ing live.Ingest) {
	l.sources.Add(1)
	go func() {
		defer l.sources.Done()
		defer ing.Close()
		if err := source.Run(ctx, src, ing); err != nil && ctx.Err() == nil {
			l.log.Warn("source stopped", "session_id", id, "source", src.String(), "err", err)
			return
		}
		l.log.Info("source ended", "session_id", id, "source", src.String())
	}()
}

// sourceSession finds the source-owned session labelled label that is not
// stopped, or creates one, and makes it live.
func (l *liveParts) sourceSession(ctx context.Context, existing []live.Info, label string) (live.Info, error) {
	for _, in := range existing {
		if in.Owner != sourceOwner || in.Label != label || in.State == live.Stopped {
			continue
		}
		switch in.State {
		case live.Idle:
			return l.manager.Start(ctx, "", in.ID)
		case live.Interrupted:
			return l.manager.Resume(ctx, "", in.ID)
		}
		return in, nil
	}
	c, err := l.manager.Create(ctx, sourceOwner, live.CreateRequest{Label: label, Start: true})
	return c.Info, err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// translationsOf is lt as the live routes take it: nil (an untyped nil)
// when translation is off.
func translationsOf(lt *livetranslate.Service) livehttp.Translations {
	if lt == nil {
		return nil
	}
	return lt
}

// publicSessions lists, for the index at /, the sessions anyone may watch:
// viewer mode public and not stopped. Link, password and private sessions
// are never listed.
func publicSessions(m *live.Manager) func(context.Context) ([]web.PublicSession, error) {
	return func(ctx context.Context) ([]web.PublicSession, error) {
		list, err := m.List(ctx, "")
		if err != nil {
			return nil, err
		}
		var out []web.PublicSession
		for _, s := range list {
			if s.ViewerMode == live.ViewPublic && s.State != live.Stopped {
				out = append(out, web.PublicSession{ID: s.ID, Label: s.Label, State: string(s.State)})
			}
		}
		return out, nil
	}
}

// captionRoutes are the console's caption page for a session: settings,
// word filters and the overlay style builder with its preview.
func captionRoutes(h *captionfilter.Handler, publicURL func() string) []admin.Route {
	c := captionfilter.Console{PublicURL: publicURL, Chrome: admin.Chrome, CSRF: func(r *http.Request) string {
		s, _ := admin.SessionFrom(r.Context())
		return s.CSRFToken()
	}}
	return []admin.Route{
		{Method: http.MethodGet, Pattern: "/sessions/{id}/captions", Access: admin.Operator, Handler: h.ConsolePage(c)},
		{Method: http.MethodPut, Pattern: "/sessions/{id}/captions", Access: admin.Operator, Handler: h.ConsolePut()},
		{Method: http.MethodGet, Pattern: "/captions-assets/{file}", Access: admin.Operator, Handler: h.Asset()},
	}
}
