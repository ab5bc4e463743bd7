package main

// Live translation for izwi serve (issue 18): the engines [translate]
// names, the service that shares their work, and the per-session languages
// the live routes offer.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/outputs"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
	"github.com/izwi-speech/izwi/internal/translate"
	"github.com/izwi-speech/izwi/internal/translate/apertium"
	"github.com/izwi-speech/izwi/internal/translate/chatmt"
	"github.com/izwi-speech/izwi/internal/translate/livetranslate"
)

var _ livehttp.Translations = (*livetranslate.Service)(nil)

// buildTranslate builds the engines cfg names. An engine that cannot run
// here (Apertium not installed, no chat upstream) is logged and left out;
// with none left, translation is off and the result is nil (the live
// routes then refuse "translate" and lang=).
func buildTranslate(ctx context.Context, cfg config.Translate, px *chat.Proxy, db *store.Store, reg prometheus.Registerer,
	logger *slog.Logger) (*livetranslate.Service, error) {
	log := telemetry.Component(logger, "translate")
	var engines []translate.Engine
	for _, name := range cfg.Engines {
		switch name {
		case "apertium":
			e, err := apertium.New(apertium.Options{ModesDir: cfg.ApertiumModes})
			if errors.Is(err, apertium.ErrNotInstalled) {
				log.Warn("apertium is not installed: its pairs are not offered", "hint", "apt-get install apertium apertium-eng-spa")
				continue
			} else if err != nil {
				return nil, err
			}
			context.AfterFunc(ctx, e.Close) // its long-lived pipelines end with the server
			log.Info("translation engine", "engine", "apertium", "pairs", len(e.Pairs()))
			engines = append(engines, e)
		case "chat":
			if px == nil {
				log.Warn("translate.engines names chat but [chat] has no upstream: left out")
				continue
			}
			e, err := chatmt.New(chatmt.Options{Chat: px, Model: cfg.ChatModel})
			if err != nil {
				return nil, err
			}
			engines = append(engines, e)
		}
	}
	if len(engines) == 0 {
		return nil, nil
	}
	svc, err := translate.NewService(translate.Options{Engines: engines, CacheSize: cfg.CacheSize, Timeout: cfg.Timeout.Std(),
		Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	lt, err := livetranslate.New(ctx, livetranslate.Options{Translator: svc, Store: db, Partials: cfg.Partials,
		DefaultSource: cfg.DefaultSource, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	return lt, nil
}

// outputSource opens the feeds caption outputs follow: the manager's, in
// the session's language or translated.
type outputSource struct {
	m  *live.Manager
	tr *livetranslate.Service // nil: no translation
}

var _ outputs.Source = outputSource{}

func (s outputSource) Open(ctx context.Context, id, lang string, after uint64) (live.Feed, error) {
	f, err := s.m.Watch(ctx, id, after)
	if err != nil || lang == "" {
		return f, err
	}
	info, err := s.m.Get(ctx, "", id)
	if err == nil && s.tr == nil {
		err = livetranslate.ErrNotOffered
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return s.tr.Feed(ctx, info, lang, f)
}

func (s outputSource) Offers(ctx context.Context, info live.Info, lang string) error {
	if s.tr == nil {
		return livetranslate.ErrNotOffered
	}
	return s.tr.Offers(ctx, info, lang)
}

// buildOutputs starts the caption outputs over the live manager, the
// stored ones included.
func buildOutputs(ctx context.Context, cfg config.Outputs, clustered bool, db *store.Store, m *live.Manager, tr *livetranslate.Service,
	reg prometheus.Registerer, logger *slog.Logger) (*outputs.Manager, *outputs.Handlers, error) {
	allow, err := outputs.ParseDestinations(cfg.AllowHosts)
	if err != nil {
		return nil, nil, err
	}
	// In a cluster each output runs in its session's lease holder only.
	var holds func(string) bool
	if clustered {
		holds = m.Holds
	}
	om, err := outputs.New(outputs.Options{Source: outputSource{m: m, tr: tr}, Store: db, CredentialsDir: cfg.CredentialsDir,
		FileDir: cfg.FileDir, MaxPerSession: cfg.MaxPerSession, Allow: allow, Registerer: reg, Logger: telemetry.Component(logger, "outputs"),
		Holds: holds})
	if err != nil {
		return nil, nil, err
	}
	if err := om.Restore(ctx); err != nil {
		_ = om.Close(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return om, outputs.NewHandlers(om, m), nil
}

// consoleOutputs is the caption outputs as the console's session page
// sees them: health lines, and adding and removing with the API's checks
// (a translation the session offers, allow_hosts, a valid spec).
type consoleOutputs struct {
	m    *outputs.Manager
	live *live.Manager
}

var _ admin.Outputs = consoleOutputs{}

func (c consoleOutputs) List(id string) []admin.OutputLine {
	var out []admin.OutputLine
	for _, o := range c.m.List(id) {
		target := o.URL
		if target == "" {
			target = o.Credentials + o.Name
		}
		h := o.Health
		out = append(out, admin.OutputLine{ID: o.ID, Kind: o.Kind, Lang: o.Lang, Target: target, State: h.State, LastError: h.LastError,
			LastSuccess: h.LastSuccess, Queued: h.Queued, Sent: h.Sent, Failed: h.Failed, Dropped: h.Dropped})
	}
	return out
}

func (c consoleOutputs) Add(ctx context.Context, id string, o admin.NewOutput) error {
	spec := outputs.Spec{Kind: o.Kind, URL: o.URL, Credentials: o.Credentials, Name: o.Name, Format: o.Format, Lang: o.Lang, Delay: o.Delay}
	if spec.Lang != "" {
		info, err := c.live.Get(ctx, "", id)
		if errors.Is(err, live.ErrNotFound) {
			return admin.ErrNotFound
		} else if err != nil {
			return err
		}
		if err := c.m.Offers(ctx, info, spec.Lang); err != nil {
			return fmt.Errorf("%w: the session offers no translation into %s", admin.ErrRefused, spec.Lang)
		}
	}
	_, err := c.m.Add(ctx, id, spec)
	if msg := outputs.Refusal(err); msg != "" {
		return fmt.Errorf("%w: %s", admin.ErrRefused, msg)
	}
	return err
}

func (c consoleOutputs) Remove(ctx context.Context, id, oid string) error {
	if err := c.m.Remove(ctx, id, oid); errors.Is(err, outputs.ErrNotFound) {
		return admin.ErrNotFound
	} else if err != nil {
		return err
	}
	return nil
}
