package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultFile is read from the working directory when no path is given.
const DefaultFile = "izwi.toml"

// Duration is a time.Duration written as "10s" in TOML and JSON.
type Duration time.Duration

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("config: duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Source says where Load reads from.
type Source struct {
	// Path is the file named by --config; empty falls back to IZWI_CONFIG,
	// then ./izwi.toml if it exists.
	Path string
	// LookupEnv reads the environment (os.LookupEnv in main; a map in tests).
	LookupEnv func(string) (string, bool)
}

// Load reads the file, then the environment, over the zero Config. The
// caller applies flags next, then Defaults and Validate (defaults come last
// so that, say, a --data-dir flag still moves the default models dir).
// It returns the file it read ("" if none).
func Load(src Source) (Config, string, error) {
	lookup := src.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	path, explicit := src.Path, src.Path != ""
	if path == "" {
		if v, ok := lookup("IZWI_CONFIG"); ok && v != "" {
			path, explicit = v, true
		} else {
			path = DefaultFile
		}
	}
	var c Config
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		c, err = Parse(data)
		if err != nil {
			return Config{}, "", fmt.Errorf("config: %s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		path = ""
	default:
		return Config{}, "", fmt.Errorf("config: reading %w", err)
	}
	if err := applyEnv(&c, lookup); err != nil {
		return Config{}, "", err
	}
	return c, path, nil
}

// Parse decodes TOML, refusing keys that Config does not have (typos would
// otherwise be silently ignored).
func Parse(data []byte) (Config, error) {
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("config: unknown keys %s", strings.Join(keys, ", "))
	}
	return c, nil
}

// EnvVars lists every IZWI_* variable Load reads, for help text and tests.
func EnvVars() []string {
	vars := []string{"IZWI_CONFIG", "IZWI_LISTEN", "IZWI_ADMIN_LISTEN", "IZWI_ALLOW_INSECURE_HTTP",
		"IZWI_SHUTDOWN_TIMEOUT", "IZWI_ROLE", "IZWI_DATA_DIR", "IZWI_MODELS_DIR", "IZWI_LOCAL_CATALOG", "IZWI_DATABASE", "IZWI_LOG_LEVEL",
		"IZWI_BUS_URL", "IZWI_BUS_LISTEN", "IZWI_BUS_JETSTREAM"}
	for _, r := range RoleNames() {
		p := "IZWI_" + strings.ToUpper(r)
		vars = append(vars, p+"_ENGINE", p+"_MODEL", p+"_THREADS", p+"_REQUIRED")
	}
	var c Config
	vars = append(vars, chainEnvVars()...)
	for _, section := range [][]string{c.Bus.envVars(), c.Auth.envVars(), c.JWT.envVars(), c.Limits.envVars(), c.Admin.envVars(),
		c.TLS.envVars(), c.Telemetry.envVars(), c.Audit.envVars(),
		c.Live.envVars(), c.WebRTC.envVars(), c.Viewers.envVars(), c.Chat.envVars(), c.Translate.envVars(), c.Outputs.envVars(), c.Vault.envVars(), c.Privacy.envVars()} {
		vars = append(vars, section...)
	}
	return vars
}

func applyEnv(c *Config, lookup func(string) (string, bool)) error {
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	boolean := func(name string, dst *bool) {
		if v, ok := lookup(name); ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s=%q: want true or false", name, v))
				return
			}
			*dst = b
		}
	}
	str("IZWI_LISTEN", &c.Server.Listen)
	str("IZWI_ADMIN_LISTEN", &c.Server.AdminListen)
	boolean("IZWI_ALLOW_INSECURE_HTTP", &c.Server.AllowInsecureHTTP)
	if v, ok := lookup("IZWI_SHUTDOWN_TIMEOUT"); ok && v != "" {
		if err := c.Server.ShutdownTimeout.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("config: IZWI_SHUTDOWN_TIMEOUT: %w", err))
		}
	}
	str("IZWI_ROLE", &c.Server.Role)
	str("IZWI_DATA_DIR", &c.Data.Dir)
	str("IZWI_MODELS_DIR", &c.Data.ModelsDir)
	str("IZWI_LOCAL_CATALOG", &c.Data.LocalCatalog)
	str("IZWI_DATABASE", &c.Data.Database)
	str("IZWI_DATABASE_FILE", &c.Data.DatabaseFile)
	str("IZWI_LOG_LEVEL", &c.Log.Level)
	str("IZWI_BUS_URL", &c.Bus.URL)
	str("IZWI_BUS_LISTEN", &c.Bus.Listen)
	boolean("IZWI_BUS_JETSTREAM", &c.Bus.JetStream)
	e := envReader{lookup: lookup, errs: &errs}
	c.Bus.applyEnv(e)
	c.Auth.applyEnv(e)
	c.JWT.applyEnv(e)
	c.Limits.applyEnv(e)
	c.Admin.applyEnv(e)
	c.TLS.applyEnv(e)
	c.Telemetry.applyEnv(e)
	c.Audit.applyEnv(e)
	c.Live.applyEnv(e)
	c.WebRTC.applyEnv(e)
	c.Viewers.applyEnv(e)
	c.Chat.applyEnv(e)
	c.Translate.applyEnv(e)
	c.Outputs.applyEnv(e)
	c.Vault.applyEnv(e)
	c.Privacy.applyEnv(e)
	c.Engines.applyChainEnv(e)
	for _, name := range RoleNames() {
		p, r := "IZWI_"+strings.ToUpper(name), c.Engines.role(name)
		str(p+"_ENGINE", &r.Engine)
		str(p+"_MODEL", &r.Model)
		boolean(p+"_REQUIRED", &r.Required)
		if v, ok := lookup(p + "_THREADS"); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s_THREADS=%q: want an integer", p, v))
			}
			r.Threads = n
		}
	}
	return errors.Join(errs...)
}

// SetRole applies an override such as a --engine/--model flag to the named
// role; empty values leave the field alone.
func (c *Config) SetRole(name, engine, model string) error {
	r := c.Engines.role(name)
	if r == nil {
		return fmt.Errorf("config: unknown role %q", name)
	}
	if engine != "" {
		if engine != r.Engine {
			r.Model = "" // another engine's model name would not apply
		}
		r.Engine = engine
	}
	if model != "" {
		r.Model = model
	}
	return nil
}

// Role returns the named role's configuration.
func (c Config) Role(name string) (Role, bool) {
	r := c.Engines.role(name)
	if r == nil {
		return Role{}, false
	}
	return *r, true
}
