package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/speech"
)

// DeepgramEngine is the engine name of Deepgram's cloud API in a role's
// engine list ("deepgram,pocketsphinx").
const DeepgramEngine = "deepgram"

// Deepgram configures the Deepgram cloud engine ([engines.deepgram]) for
// every role that names it. The API key is never in the configuration:
// APIKeyFile names a file (mode 0600/0400) read again on every connection,
// and when it is empty the deepgram_api_key secret is used
// (IZWI_DEEPGRAM_API_KEY_FILE, IZWI_DEEPGRAM_API_KEY, or the systemd
// credential deepgram_api_key).
type Deepgram struct {
	// URL is the service's base URL; Izwi appends /v1/listen
	// (IZWI_DEEPGRAM_URL). Default wss://api.deepgram.com.
	URL string `json:"url,omitempty" toml:"url"`
	// APIKeyFile holds the key (IZWI_DEEPGRAM_API_KEY_FILE).
	APIKeyFile string `json:"api_key_file,omitempty" toml:"api_key_file"`
	// Model, Language and Tier are Deepgram's names (IZWI_DEEPGRAM_MODEL,
	// IZWI_DEEPGRAM_LANGUAGE, IZWI_DEEPGRAM_TIER). Defaults nova-3, en, none.
	Model    string `json:"model,omitempty" toml:"model"`
	Language string `json:"language,omitempty" toml:"language"`
	Tier     string `json:"tier,omitempty" toml:"tier"`
}

// Failover tunes engine chains ([engines.failover]); zero values take the
// chain's defaults.
type Failover struct {
	// Stall: no answer for this long while audio flows fails over
	// (IZWI_FAILOVER_STALL). Default 1.5s.
	Stall Duration `json:"stall,omitempty" toml:"stall"`
	// ReplayWindow is the recent audio each stream holds in memory to
	// replay into the next engine (IZWI_FAILOVER_REPLAY_WINDOW). Default 10s.
	ReplayWindow Duration `json:"replay_window,omitempty" toml:"replay_window"`
	// ProbeMin and ProbeMax bound the backoff between probes of a failed
	// primary (IZWI_FAILOVER_PROBE_MIN, IZWI_FAILOVER_PROBE_MAX). Defaults
	// 1s and 30s.
	ProbeMin Duration `json:"probe_min,omitempty" toml:"probe_min"`
	ProbeMax Duration `json:"probe_max,omitempty" toml:"probe_max"`
	// CatchUpMax bounds the outage audio held, sealed in memory, for the
	// primary to re-transcribe when a session keeps its transcript
	// (IZWI_FAILOVER_CATCH_UP_MAX). Default 1h.
	CatchUpMax Duration `json:"catch_up_max,omitempty" toml:"catch_up_max"`
}

// Defaults of [engines.deepgram] and [engines.failover].
const (
	DefaultDeepgramURL      = "wss://api.deepgram.com"
	DefaultDeepgramModel    = "nova-3"
	DefaultDeepgramLanguage = "en"
	DefaultFailoverStall    = 1500 * time.Millisecond
	DefaultReplayWindow     = 10 * time.Second
	DefaultProbeMin         = time.Second
	DefaultProbeMax         = 30 * time.Second
	DefaultCatchUpMax       = time.Hour
)

func (d Deepgram) defaults() Deepgram {
	def := func(v *string, x string) {
		if *v == "" {
			*v = x
		}
	}
	def(&d.URL, DefaultDeepgramURL)
	def(&d.Model, DefaultDeepgramModel)
	def(&d.Language, DefaultDeepgramLanguage)
	return d
}

func (f Failover) defaults() Failover {
	def := func(v *Duration, x time.Duration) {
		if *v == 0 {
			*v = Duration(x)
		}
	}
	def(&f.Stall, DefaultFailoverStall)
	def(&f.ReplayWindow, DefaultReplayWindow)
	def(&f.ProbeMin, DefaultProbeMin)
	def(&f.ProbeMax, max(DefaultProbeMax, time.Duration(f.ProbeMin)))
	def(&f.CatchUpMax, DefaultCatchUpMax)
	return f
}

// Names splits the role's engine setting into its chain, in priority
// order: "deepgram,pocketsphinx" → [deepgram pocketsphinx].
func (r Role) Names() []string {
	var out []string
	for _, n := range strings.Split(r.Engine, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Links returns the spec of each engine of r's chain: Deepgram's from
// [engines.deepgram], every other engine the role's own model, threads and
// options.
func (e Engines) Links(r Role) []speech.Spec {
	names := r.Names()
	out := make([]speech.Spec, 0, len(names))
	for _, n := range names {
		if n == DeepgramEngine {
			out = append(out, e.Deepgram.Spec())
			continue
		}
		out = append(out, speech.Spec{Engine: n, Model: r.Model, Threads: r.Threads, Options: r.Options})
	}
	return out
}

// Spec is the registry spec of the Deepgram engine.
func (d Deepgram) Spec() speech.Spec {
	o := map[string]string{}
	for k, v := range map[string]string{"url": d.URL, "api_key_file": d.APIKeyFile, "language": d.Language, "tier": d.Tier} {
		if v != "" {
			o[k] = v
		}
	}
	return speech.Spec{Engine: DeepgramEngine, Model: d.Model, Options: o}
}

// chainRoles are the roles that may name a chain of engines.
var chainRoles = map[string]bool{"asr": true, "transcribe": true}

// validateChains reports unusable chains and Deepgram settings.
func (e Engines) validateChains() []error {
	var errs []error
	usesDeepgram := false
	for _, r := range e.List() {
		names := r.Names()
		if len(names) > 1 && !chainRoles[r.Name] {
			errs = append(errs, fmt.Errorf("config: engines.%s.engine %q: only asr and transcribe take a chain of engines", r.Name, r.Engine))
		}
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] || n == Off && len(names) > 1 {
				errs = append(errs, fmt.Errorf("config: engines.%s.engine %q: each engine once, and off alone", r.Name, r.Engine))
				break
			}
			seen[n] = true
		}
		if seen[DeepgramEngine] {
			if !chainRoles[r.Name] {
				errs = append(errs, fmt.Errorf("config: engines.%s: deepgram serves only asr and transcribe", r.Name))
			}
			usesDeepgram = true
		}
	}
	if usesDeepgram {
		errs = append(errs, e.Deepgram.validate()...)
	}
	return append(errs, e.Failover.validate()...)
}

func (d Deepgram) validate() []error {
	var errs []error
	if d.URL != "" {
		u, err := url.Parse(d.URL)
		switch {
		case err != nil:
			errs = append(errs, errors.New("config: engines.deepgram.url does not parse"))
		case u.Scheme != "wss" && u.Scheme != "ws" && u.Scheme != "https" && u.Scheme != "http", u.Host == "":
			errs = append(errs, fmt.Errorf("config: engines.deepgram.url: want wss://host (or ws, https, http), not %q", u.Redacted()))
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, errors.New("config: engines.deepgram.url must not carry credentials, a query or a fragment: the key goes in api_key_file"))
		case (u.Scheme == "ws" || u.Scheme == "http") && !netpolicy.LoopbackHost(u.Hostname()):
			errs = append(errs, errors.New("config: engines.deepgram.url: plain ws/http only to a loopback address; the key and the audio would cross the network unencrypted"))
		}
	}
	for k, v := range map[string]string{"model": d.Model, "language": d.Language, "tier": d.Tier} {
		if strings.ContainsAny(v, "&=?#/ \t\r\n") {
			errs = append(errs, fmt.Errorf("config: engines.deepgram.%s %q: a plain name", k, v))
		}
	}
	return errs
}

func (f Failover) validate() []error {
	var errs []error
	for k, v := range map[string]Duration{"stall": f.Stall, "replay_window": f.ReplayWindow, "probe_min": f.ProbeMin,
		"probe_max": f.ProbeMax, "catch_up_max": f.CatchUpMax} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("config: engines.failover.%s %v is negative", k, time.Duration(v)))
		}
	}
	if w := time.Duration(f.ReplayWindow); w != 0 && (w < time.Second || w > 5*time.Minute) {
		errs = append(errs, fmt.Errorf("config: engines.failover.replay_window %v: want 1s to 5m", w))
	}
	if f.ProbeMin != 0 && f.ProbeMax != 0 && f.ProbeMax < f.ProbeMin {
		errs = append(errs, errors.New("config: engines.failover.probe_max is below probe_min"))
	}
	if time.Duration(f.CatchUpMax) > 24*time.Hour {
		errs = append(errs, errors.New("config: engines.failover.catch_up_max: at most 24h"))
	}
	return errs
}

// applyEnv reads the Deepgram and failover IZWI_* variables.
func (e *Engines) applyChainEnv(r envReader) {
	r.String("IZWI_DEEPGRAM_URL", &e.Deepgram.URL)
	r.String("IZWI_DEEPGRAM_API_KEY_FILE", &e.Deepgram.APIKeyFile)
	r.String("IZWI_DEEPGRAM_MODEL", &e.Deepgram.Model)
	r.String("IZWI_DEEPGRAM_LANGUAGE", &e.Deepgram.Language)
	r.String("IZWI_DEEPGRAM_TIER", &e.Deepgram.Tier)
	r.Duration("IZWI_FAILOVER_STALL", &e.Failover.Stall)
	r.Duration("IZWI_FAILOVER_REPLAY_WINDOW", &e.Failover.ReplayWindow)
	r.Duration("IZWI_FAILOVER_PROBE_MIN", &e.Failover.ProbeMin)
	r.Duration("IZWI_FAILOVER_PROBE_MAX", &e.Failover.ProbeMax)
	r.Duration("IZWI_FAILOVER_CATCH_UP_MAX", &e.Failover.CatchUpMax)
}

func chainEnvVars() []string {
	return []string{"IZWI_DEEPGRAM_URL", "IZWI_DEEPGRAM_API_KEY_FILE", "IZWI_DEEPGRAM_MODEL", "IZWI_DEEPGRAM_LANGUAGE",
		"IZWI_DEEPGRAM_TIER", "IZWI_FAILOVER_STALL", "IZWI_FAILOVER_REPLAY_WINDOW", "IZWI_FAILOVER_PROBE_MIN",
		"IZWI_FAILOVER_PROBE_MAX", "IZWI_FAILOVER_CATCH_UP_MAX"}
}
