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

	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
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
// with none left, translation is off and the result is nil (an untyped nil:
// the live routes then refuse "translate" and lang=).
func buildTranslate(ctx context.Context, cfg config.Translate, px *chat.Proxy, db *store.Store, reg prometheus.Registerer,
	logger *slog.Logger) (livehttp.Translations, error) {
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
