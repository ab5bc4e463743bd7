package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Translate configures live translation (issue 18): which engines serve
// viewers' languages and how.
type Translate struct {
	// Engines in priority order, from "apertium" (Debian's offline
	// engine; its installed pairs) and "chat" (chat_model through the
	// [chat] upstreams, any language) (IZWI_TRANSLATE_ENGINES, comma
	// separated). Default ["apertium"], plus "chat" when chat_model is
	// set. An empty list after defaults turns translation off.
	Engines []string `json:"engines,omitempty" toml:"engines"`
	// ChatModel is the chat model that translates (IZWI_TRANSLATE_CHAT_MODEL).
	// Empty: no chat engine.
	ChatModel string `json:"chat_model,omitempty" toml:"chat_model"`
	// ApertiumModes is where Apertium's modes are installed
	// (IZWI_TRANSLATE_APERTIUM_MODES). Default /usr/share/apertium/modes.
	ApertiumModes string `json:"apertium_modes,omitempty" toml:"apertium_modes"`
	// Partials translates partial captions too, one engine call each
	// (IZWI_TRANSLATE_PARTIALS). Default false: translated feeds carry
	// finals only.
	Partials bool `json:"partials,omitempty" toml:"partials"`
	// Timeout bounds one translation; past it the source text is shown
	// (IZWI_TRANSLATE_TIMEOUT). Default 10s.
	Timeout Duration `json:"timeout,omitempty" toml:"timeout"`
	// CacheSize is how many translations are kept in memory, shared by
	// every viewer (IZWI_TRANSLATE_CACHE_SIZE). Default 4096.
	CacheSize int `json:"cache_size,omitempty" toml:"cache_size"`
	// DefaultSource is the language of sessions that name none
	// (IZWI_TRANSLATE_DEFAULT_SOURCE). Default "en".
	DefaultSource string `json:"default_source,omitempty" toml:"default_source"`
}

func (x Translate) defaults(Config) Translate {
	if x.Engines == nil {
		x.Engines = []string{"apertium"}
		if x.ChatModel != "" {
			x.Engines = append(x.Engines, "chat")
		}
	}
	if x.ApertiumModes == "" {
		x.ApertiumModes = "/usr/share/apertium/modes"
	}
	if x.Timeout == 0 {
		x.Timeout = Duration(10 * time.Second)
	}
	if x.CacheSize == 0 {
		x.CacheSize = 4096
	}
	if x.DefaultSource == "" {
		x.DefaultSource = "en"
	}
	return x
}

func (x Translate) validate() []error {
	var errs []error
	for _, e := range x.Engines {
		if e != "apertium" && e != "chat" {
			errs = append(errs, fmt.Errorf("config: translate.engines: %q is not apertium or chat", e))
		}
	}
	if slices.Contains(x.Engines, "chat") && x.ChatModel == "" {
		errs = append(errs, fmt.Errorf("config: translate.engines names chat but translate.chat_model is empty"))
	}
	if x.Timeout.Std() < 100*time.Millisecond || x.Timeout.Std() > 2*time.Minute {
		errs = append(errs, fmt.Errorf("config: translate.timeout %v: want 100ms to 2m", x.Timeout.Std()))
	}
	if x.CacheSize < 1 || x.CacheSize > 1_000_000 {
		errs = append(errs, fmt.Errorf("config: translate.cache_size %d: want 1 to 1000000", x.CacheSize))
	}
	return errs
}

func (x *Translate) applyEnv(e envReader) {
	if v, ok := e.get("IZWI_TRANSLATE_ENGINES"); ok {
		x.Engines = []string{}
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				x.Engines = append(x.Engines, n)
			}
		}
	}
	e.String("IZWI_TRANSLATE_CHAT_MODEL", &x.ChatModel)
	e.String("IZWI_TRANSLATE_APERTIUM_MODES", &x.ApertiumModes)
	e.Bool("IZWI_TRANSLATE_PARTIALS", &x.Partials)
	e.Duration("IZWI_TRANSLATE_TIMEOUT", &x.Timeout)
	e.Int("IZWI_TRANSLATE_CACHE_SIZE", &x.CacheSize)
	e.String("IZWI_TRANSLATE_DEFAULT_SOURCE", &x.DefaultSource)
}

func (x Translate) envVars() []string {
	return []string{"IZWI_TRANSLATE_ENGINES", "IZWI_TRANSLATE_CHAT_MODEL", "IZWI_TRANSLATE_APERTIUM_MODES",
		"IZWI_TRANSLATE_PARTIALS", "IZWI_TRANSLATE_TIMEOUT", "IZWI_TRANSLATE_CACHE_SIZE", "IZWI_TRANSLATE_DEFAULT_SOURCE"}
}
