package config

import (
	"fmt"
	"math"
	"net/url"

	"github.com/izwi-speech/izwi/internal/finite"
)

// Telemetry configures metrics and traces. Neither ever carries audio,
// words, credentials or raw paths: metrics are labelled by route pattern,
// traces carry IDs only.
type Telemetry struct {
	// MetricsEnabled serves Prometheus metrics at /metrics, readable by an
	// admin or with the scrape token (IZWI_METRICS_ENABLED). Default false.
	MetricsEnabled bool `json:"metrics_enabled,omitempty" toml:"metrics_enabled"`
	// ScrapeTokenFile holds the bearer token Prometheus sends (0600). Empty
	// falls back to IZWI_METRICS_SCRAPE_TOKEN, IZWI_METRICS_SCRAPE_TOKEN_FILE
	// or the systemd credential metrics_scrape_token; with none, only admins
	// can read /metrics.
	ScrapeTokenFile string `json:"scrape_token_file,omitempty" toml:"scrape_token_file"`
	// Traces configures OpenTelemetry tracing.
	Traces Traces `json:"traces" toml:"traces"`
}

// Traces configures OpenTelemetry spans exported over OTLP/HTTP.
type Traces struct {
	// OTLPEndpoint is the collector's base URL, e.g. http://127.0.0.1:4318
	// (IZWI_OTLP_ENDPOINT). Empty (the default) turns tracing off.
	OTLPEndpoint string `json:"otlp_endpoint,omitempty" toml:"otlp_endpoint"`
	// SampleRatio is the fraction of new traces kept, 0 < r <= 1
	// (IZWI_TRACE_SAMPLE_RATIO). Default 1.
	SampleRatio float64 `json:"sample_ratio,omitempty" toml:"sample_ratio"`
}

// Enabled reports whether spans are exported.
func (x Traces) Enabled() bool { return x.OTLPEndpoint != "" }

// defaults fills empty fields with their defaults.
func (x Telemetry) defaults(c Config) Telemetry {
	if x.Traces.SampleRatio == 0 {
		x.Traces.SampleRatio = 1
	}
	return x
}

// validate reports every problem in x (after defaults).
func (x Telemetry) validate() []error {
	var errs []error
	if r := x.Traces.SampleRatio; math.IsNaN(r) || r <= 0 || r > 1 {
		errs = append(errs, fmt.Errorf("config: telemetry.traces.sample_ratio %v: want 0 < ratio <= 1 (clear otlp_endpoint to stop tracing)", r))
	}
	if ep := x.Traces.OTLPEndpoint; ep != "" {
		u, err := url.Parse(ep)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("config: telemetry.traces.otlp_endpoint: %w", err))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			errs = append(errs, fmt.Errorf("config: telemetry.traces.otlp_endpoint %q: want http(s)://host:port", ep))
		case u.User != nil || u.RawQuery != "":
			errs = append(errs, fmt.Errorf("config: telemetry.traces.otlp_endpoint: no credentials or query in the URL"))
		}
	}
	return errs
}

// applyEnv reads this section's IZWI_* variables.
func (x *Telemetry) applyEnv(e envReader) {
	e.Bool("IZWI_METRICS_ENABLED", &x.MetricsEnabled)
	e.String("IZWI_METRICS_SCRAPE_TOKEN_FILE", &x.ScrapeTokenFile)
	e.String("IZWI_OTLP_ENDPOINT", &x.Traces.OTLPEndpoint)
	if v, ok := e.get("IZWI_TRACE_SAMPLE_RATIO"); ok {
		r, err := finite.Parse(v)
		if err != nil {
			*e.errs = append(*e.errs, fmt.Errorf("config: IZWI_TRACE_SAMPLE_RATIO=%q: want a number in (0, 1]", v))
			return
		}
		x.Traces.SampleRatio = r
	}
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Telemetry) envVars() []string {
	return []string{"IZWI_METRICS_ENABLED", "IZWI_METRICS_SCRAPE_TOKEN_FILE", "IZWI_OTLP_ENDPOINT", "IZWI_TRACE_SAMPLE_RATIO"}
}
