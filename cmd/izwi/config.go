package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/models"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/deepgram"
	"github.com/izwi-speech/izwi/internal/speech/flite"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

// errUsage marks errors that are the caller's flags' or config's fault.
var errUsage = errors.New("usage")

// configFlags are the flags every config-reading subcommand shares. They
// override izwi.toml and IZWI_* only when given on the command line.
type configFlags struct {
	fs        *flag.FlagSet
	path      string
	dataDir   string
	modelsDir string
	logLevel  string
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// writes its help to w.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("izwi "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

func addConfigFlags(fs *flag.FlagSet) *configFlags {
	f := &configFlags{fs: fs}
	fs.StringVar(&f.path, "config", "", "config file (default $IZWI_CONFIG, else ./izwi.toml if present)")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (overrides [data] dir)")
	fs.StringVar(&f.modelsDir, "models-dir", "", "models directory (overrides [data] models_dir)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	return f
}

// set reports whether the named flag was given on the command line.
func (f *configFlags) set(name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// loadConfig reads izwi.toml < IZWI_* env < flags (the shared ones, then
// apply for a subcommand's own), fills defaults and validates. Errors wrap
// errUsage. It also returns the log level the user asked for explicitly ("" if none).
func loadConfig(f *configFlags, apply func(*config.Config) error) (config.Config, string, error) {
	cfg, _, err := config.Load(config.Source{Path: f.path, LookupEnv: os.LookupEnv})
	if err != nil {
		return config.Config{}, "", fmt.Errorf("%w: %w", errUsage, err)
	}
	if f.set("data-dir") {
		cfg.Data.Dir = f.dataDir
	}
	if f.set("models-dir") {
		cfg.Data.ModelsDir = f.modelsDir
	}
	if f.set("log-level") {
		cfg.Log.Level = f.logLevel
	}
	if apply != nil {
		if err := apply(&cfg); err != nil {
			return config.Config{}, "", fmt.Errorf("%w: %w", errUsage, err)
		}
	}
	asked := cfg.Log.Level
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return config.Config{}, "", fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, asked, nil
}

// newLogger builds the process logger (JSON on stderr, redacting).
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	lvl, err := telemetry.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return telemetry.NewLogger(w, lvl), nil
}

// newRegistry registers every engine compiled into this binary.
func newRegistry() *speech.Registry {
	r := speech.NewRegistry()
	pocketsphinx.Register(r)
	flite.Register(r)
	sherpa.Register(r)
	// The key is read from its file (or secret) on every connection.
	deepgram.Register(r, secrets.Source{LookupEnv: os.LookupEnv})
	return r
}

// engineDeps is what every engine is built with: the verified model store,
// a logger, and Flite's letter-to-sound rules for words of prepared texts
// that a recognizer's dictionary lacks.
func engineDeps(models speech.ModelResolver, logger *slog.Logger) speech.Deps {
	return speech.Deps{Models: models, Logger: telemetry.Component(logger, "engines"), Pronouncer: flite.Pronouncer{}}
}

// openModelStore returns the model store for cfg with the embedded catalogue
// and the operator's local one, if configured.
func openModelStore(cfg config.Config, logger *slog.Logger) (*models.Store, error) {
	cat, err := loadCatalog(cfg)
	if err != nil {
		return nil, err
	}
	return &models.Store{Dir: cfg.Data.ModelsDir, Catalog: cat, Logger: telemetry.Component(logger, "models")}, nil
}

// loadCatalog is the embedded catalogue plus the operator's local one.
func loadCatalog(cfg config.Config) (*models.Catalog, error) {
	cat, err := models.Default()
	if err != nil {
		return nil, fmt.Errorf("izwi: model catalogue: %w", err)
	}
	if cfg.Data.LocalCatalog != "" {
		if cat, err = models.WithLocal(cat, cfg.Data.LocalCatalog); err != nil {
			return nil, fmt.Errorf("izwi: %w", err)
		}
	}
	return cat, nil
}

// parseInterspersed parses flags anywhere among the positional arguments
// (`izwi transcribe a.wav --format srt`), which the flag package alone does
// not; everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse consumed a "--" terminator if it stopped there.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// openAuditTool opens the audit log for a CLI tool that changes audited
// state (izwi keys, izwi users): unlike a server start, a tool run adds no
// "audit.start" entry of its own.
func openAuditTool(ctx context.Context, db *store.Store, cfg config.Config, logger *slog.Logger) (*audit.Log, error) {
	opts := audit.OptionsFrom(cfg.Audit, telemetry.Component(logger, "audit"))
	opts.NoStartEntry = true
	if err := audit.Migrate(ctx, db); err != nil {
		return nil, err
	}
	return audit.New(ctx, db, opts)
}
