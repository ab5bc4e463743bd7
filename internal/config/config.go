// Package config owns Izwi's configuration: one documented struct with a
// sub-struct per subsystem, read from izwi.toml, then IZWI_* environment
// variables, then command-line flags (each overriding the one before), and
// checked by Validate. A zero Config means "all defaults"; Defaults fills the
// empty fields with them.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Default values, documented in izwi.example.toml.
const (
	DefaultListen      = "127.0.0.1:8080"
	DefaultAdminListen = "127.0.0.1:8081"
	DefaultDataDir     = "./data"
	DefaultLogLevel    = "info"
	// Off as an engine name disables a role.
	Off = "off"
)

// Config is the whole configuration. Field names in TOML and JSON are the
// snake_case tags.
type Config struct {
	Server  Server  `json:"server" toml:"server"`
	Data    Data    `json:"data" toml:"data"`
	Log     Log     `json:"log" toml:"log"`
	Bus     Bus     `json:"bus" toml:"bus"`
	Engines Engines `json:"engines" toml:"engines"`

	Auth      Auth      `json:"auth" toml:"auth"`
	JWT       JWT       `json:"jwt" toml:"jwt"`
	Limits    Limits    `json:"limits" toml:"limits"`
	Admin     Admin     `json:"admin" toml:"admin"`
	TLS       TLS       `json:"tls" toml:"tls"`
	Telemetry Telemetry `json:"telemetry" toml:"telemetry"`
	Audit     Audit     `json:"audit" toml:"audit"`
	Live      Live      `json:"live" toml:"live"`
	WebRTC    WebRTC    `json:"webrtc" toml:"webrtc"`
	Viewers   Viewers   `json:"viewers" toml:"viewers"`
	Chat      Chat      `json:"chat" toml:"chat"`
	Translate Translate `json:"translate" toml:"translate"`
	Outputs   Outputs   `json:"outputs" toml:"outputs"`
	Vault     Vault     `json:"vault" toml:"vault"`
	Privacy   Privacy   `json:"privacy" toml:"privacy"`
}

// Bus configures the message broker. The zero value runs an embedded NATS
// server that only this process can reach.
type Bus struct {
	// URL of an external NATS cluster, its nodes comma-separated
	// (IZWI_BUS_URL); empty embeds one.
	URL string `json:"url,omitempty" toml:"url"`
	// Listen lets other processes on this machine reach the embedded
	// broker at host:port (IZWI_BUS_LISTEN), a loopback address only: the
	// port is plain and unauthenticated. Empty means in-process only.
	Listen string `json:"listen,omitempty" toml:"listen"`
	// JetStream enables durable streams on the embedded broker, stored under
	// <data dir>/bus. Izwi never puts audio or words in durable streams.
	JetStream bool `json:"jetstream,omitempty" toml:"jetstream"`
	// TLS secures the link to the external cluster (bus.go).
	TLS BusTLS `json:"tls,omitempty" toml:"tls"`
	// NKeyFile holds this process's NKey seed, its role's credential on a
	// secured cluster (IZWI_BUS_NKEY_FILE; mode 0600). Empty: the
	// IZWI_BUS_NKEY variable or the systemd credential bus_nkey, if set.
	NKeyFile string `json:"nkey_file,omitempty" toml:"nkey_file"`
}

// Server configures the HTTP listeners.
type Server struct {
	// Listen is the public API address (host:port). Default 127.0.0.1:8080.
	Listen string `json:"listen,omitempty" toml:"listen"`
	// AdminListen is reserved for the admin listener. Default 127.0.0.1:8081.
	AdminListen string `json:"admin_listen,omitempty" toml:"admin_listen"`
	// AllowInsecureHTTP permits plain HTTP on a non-loopback address. Until
	// TLS lands, that exposes traffic (audio, transcripts) on the network,
	// so it must be asked for explicitly.
	AllowInsecureHTTP bool `json:"allow_insecure_http,omitempty" toml:"allow_insecure_http"`
	// ShutdownTimeout is how long (Go duration, e.g. "10s") in-flight
	// requests get on SIGINT/SIGTERM. Default 10s.
	ShutdownTimeout Duration `json:"shutdown_timeout,omitempty" toml:"shutdown_timeout"`
	// Role is what this process does in a cluster (IZWI_ROLE, --role):
	// "all" (default: everything, one process), "gateway" (HTTP and
	// WebSocket, auth, quotas, viewers, ingest; loads no engines) or
	// "worker" (engines; takes live sessions by lease) or "identifier"
	// (the speaker engine only; answers voice embedding requests of
	// workers whose speaker engine is off). Every role but
	// all needs bus.url (NATS with JetStream) and a database shared by
	// every process (docs/deploy.md "Roles and session leases").
	Role string `json:"role,omitempty" toml:"role"`
}

// Roles a process may have (Server.Role).
const (
	RoleAll     = "all"
	RoleGateway = "gateway"
	RoleWorker  = "worker"
	// RoleIdentifier loads only the speaker engine and answers voice
	// embedding requests over the bus (internal/identify).
	RoleIdentifier = "identifier"
)

// Data configures where Izwi keeps files.
type Data struct {
	// Dir holds everything Izwi writes. Default ./data.
	Dir string `json:"dir,omitempty" toml:"dir"`
	// ModelsDir holds installed models. Default <Dir>/models.
	ModelsDir string `json:"models_dir,omitempty" toml:"models_dir"`
	// LocalCatalog is the operator's own catalogue of models (same format
	// as the embedded one, every file pinned by SHA-256), merged with the
	// embedded catalogue. Default none.
	LocalCatalog string `json:"local_catalog,omitempty" toml:"local_catalog"`
	// Database holds configuration, keys, usage and audit records (never
	// audio or words): a SQLite file, or a PostgreSQL DSN (postgres://...)
	// for several processes sharing one database. A DSN here must carry no
	// password; give one that does in DatabaseFile. Default <Dir>/izwi.db.
	Database string `json:"database,omitempty" toml:"database"`
	// DatabaseFile names a file holding the database (a DSN with its
	// password), readable by its owner only: a systemd credential, say.
	// Exclusive with Database. Default none.
	DatabaseFile string `json:"database_file,omitempty" toml:"database_file"`
}

// DatabaseName returns the database to open: Database, or what
// DatabaseFile holds. Only the store sees it; never print it.
func (d Data) DatabaseName() (string, error) {
	if d.DatabaseFile == "" {
		return d.Database, nil
	}
	sec, err := secrets.ReadFile(d.DatabaseFile)
	if err != nil {
		return "", fmt.Errorf("config: data.database_file: %w", err)
	}
	return sec.Reveal(), nil
}

// Validate checks the database settings alone (izwi migrate's target).
func (d Data) Validate() error { return errors.Join(d.validate()...) }

func (d Data) validate() []error {
	var errs []error
	if d.DatabaseFile != "" && d.Database != "" {
		errs = append(errs, errors.New("config: data.database and data.database_file are both set; keep one"))
	}
	if u, err := url.Parse(d.Database); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if _, ok := u.User.Password(); ok || u.Query().Has("password") {
			errs = append(errs, errors.New("config: data.database holds a password; put the DSN in a file named by data.database_file (or a systemd credential) instead"))
		}
	}
	return errs
}

// Log configures the JSON logger.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `json:"level,omitempty" toml:"level"`
}

// Role configures the engine for one role. Engine "off" disables it; an
// empty Engine takes the role's default.
type Role struct {
	speech.Spec
	// Required makes a load failure fatal (the server refuses to start and
	// /readyz would never pass). Optional roles that fail are reported by
	// /readyz while the server keeps running.
	Required bool `json:"required,omitempty" toml:"required"`
}

// Off reports whether the role is disabled.
func (r Role) Off() bool { return r.Engine == Off }

// Engines picks the engine for each role.
type Engines struct {
	ASR        Role `json:"asr" toml:"asr"`
	Transcribe Role `json:"transcribe" toml:"transcribe"`
	TTS        Role `json:"tts" toml:"tts"`
	VAD        Role `json:"vad" toml:"vad"`
	Speaker    Role `json:"speaker" toml:"speaker"`
	// Deepgram configures the cloud engine for roles that name it.
	Deepgram Deepgram `json:"deepgram,omitzero" toml:"deepgram"`
	// Failover tunes chains of engines ("deepgram,pocketsphinx").
	Failover Failover `json:"failover,omitzero" toml:"failover"`
}

// NamedRole is a Role with its name, as Engines.List returns them.
type NamedRole struct {
	Name string
	Role
	// Links are the specs of the role's engines in priority order (one
	// for a plain engine, several for a chain); empty means Role.Spec.
	Links []speech.Spec
}

// RoleNames lists the roles in a fixed order.
func RoleNames() []string { return []string{"asr", "transcribe", "tts", "vad", "speaker"} }

// List returns every role with its name, in RoleNames order.
func (e Engines) List() []NamedRole {
	out := []NamedRole{{Name: "asr", Role: e.ASR}, {Name: "transcribe", Role: e.Transcribe}, {Name: "tts", Role: e.TTS},
		{Name: "vad", Role: e.VAD}, {Name: "speaker", Role: e.Speaker}}
	for i := range out {
		out[i].Links = e.Links(out[i].Role)
	}
	return out
}

// Named is role name with its links, as List gives it.
func (e Engines) Named(name string, r Role) NamedRole {
	return NamedRole{Name: name, Role: r, Links: e.Links(r)}
}

// role returns a pointer to the named role, or nil.
func (e *Engines) role(name string) *Role {
	switch name {
	case "asr":
		return &e.ASR
	case "transcribe":
		return &e.Transcribe
	case "tts":
		return &e.TTS
	case "vad":
		return &e.VAD
	case "speaker":
		return &e.Speaker
	}
	return nil
}

// defaultRoles are the engines a fresh install uses.
func defaultRoles() Engines {
	return Engines{
		ASR:        Role{Spec: speech.Spec{Engine: "pocketsphinx"}},
		Transcribe: Role{Spec: speech.Spec{Engine: "pocketsphinx"}},
		TTS:        Role{Spec: speech.Spec{Engine: "flite"}},
		VAD:        Role{Spec: speech.Spec{Engine: "sherpa", Model: "silero-vad-v5"}},
		Speaker:    Role{Spec: speech.Spec{Engine: Off}},
	}
}

// Defaults returns c with every empty field set to its default.
func (c Config) Defaults() Config {
	if c.Server.Listen == "" {
		c.Server.Listen = DefaultListen
	}
	if c.Server.AdminListen == "" {
		c.Server.AdminListen = DefaultAdminListen
	}
	if c.Server.Role == "" {
		c.Server.Role = RoleAll
	}
	if c.Server.ShutdownTimeout == 0 {
		c.Server.ShutdownTimeout = Duration(10e9)
	}
	if c.Data.Dir == "" {
		c.Data.Dir = DefaultDataDir
	}
	if c.Data.ModelsDir == "" {
		c.Data.ModelsDir = filepath.Join(c.Data.Dir, "models")
	}
	if c.Data.Database == "" && c.Data.DatabaseFile == "" {
		c.Data.Database = filepath.Join(c.Data.Dir, "izwi.db")
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	c.Auth = c.Auth.defaults(c)
	c.JWT = c.JWT.defaults(c)
	c.Limits = c.Limits.defaults(c)
	c.Admin = c.Admin.defaults(c)
	c.TLS = c.TLS.defaults(c)
	c.Telemetry = c.Telemetry.defaults(c)
	c.Audit = c.Audit.defaults(c)
	c.Live = c.Live.defaults(c)
	c.WebRTC = c.WebRTC.defaults(c)
	c.Viewers = c.Viewers.defaults(c)
	c.Chat = c.Chat.defaults(c)
	c.Translate = c.Translate.defaults(c)
	c.Outputs = c.Outputs.defaults(c)
	c.Vault = c.Vault.defaults(c)
	c.Privacy = c.Privacy.defaults(c)
	c.Engines.Deepgram = c.Engines.Deepgram.defaults()
	c.Engines.Failover = c.Engines.Failover.defaults()
	def := defaultRoles()
	for _, name := range RoleNames() {
		r, d := c.Engines.role(name), def.role(name)
		if r.Engine == "" {
			// A role left empty takes the whole default spec; one that names
			// an engine keeps its own model choice.
			r.Spec = d.Spec
		}
	}
	return c
}

// Validate reports every problem in c (after Defaults), joined.
func (c Config) Validate() error {
	c = c.Defaults()
	var errs []error
	if err := checkListen("server.listen", c.Server.Listen, c.Server.AllowInsecureHTTP || c.TLS.Enabled()); err != nil {
		errs = append(errs, err)
	}
	if err := checkListen("server.admin_listen", c.Server.AdminListen, c.TLS.Enabled()); err != nil {
		errs = append(errs, err)
	}
	// Port 0 asks the kernel for a free port, so two ":0" listeners differ.
	if c.Server.Listen == c.Server.AdminListen && !strings.HasSuffix(c.Server.Listen, ":0") {
		errs = append(errs, fmt.Errorf("config: server.listen and server.admin_listen are both %q", c.Server.Listen))
	}
	switch c.Server.Role {
	case RoleAll:
	case RoleGateway, RoleWorker, RoleIdentifier:
		if c.Bus.URL == "" {
			errs = append(errs, fmt.Errorf("config: server.role %s needs bus.url (a NATS cluster with JetStream shared by every process)", c.Server.Role))
		}
	default:
		errs = append(errs, fmt.Errorf("config: server.role %q: want all, gateway, worker or identifier", c.Server.Role))
	}
	if c.Server.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("config: server.shutdown_timeout %v is negative", c.Server.ShutdownTimeout))
	}
	if c.Bus.URL != "" && (c.Bus.Listen != "" || c.Bus.JetStream) {
		errs = append(errs, errors.New("config: bus.listen and bus.jetstream configure the embedded broker; drop them when bus.url names an external one"))
	}
	errs = append(errs, validateBus(c.Bus)...)
	if c.Bus.Listen != "" {
		if host, _, err := net.SplitHostPort(c.Bus.Listen); err != nil {
			errs = append(errs, fmt.Errorf("config: bus.listen %q: %w", c.Bus.Listen, err))
		} else if !netpolicy.LoopbackHost(host) {
			errs = append(errs, fmt.Errorf("config: bus.listen %q is not a loopback address: the embedded broker's port is plain and unauthenticated; for other machines run a secured cluster (izwi bus serve, docs/deploy.md)", c.Bus.Listen))
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		errs = append(errs, fmt.Errorf("config: log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	for _, r := range c.Engines.List() {
		if r.Off() && r.Required {
			errs = append(errs, fmt.Errorf("config: engines.%s is required but its engine is off", r.Name))
		}
		if r.Threads < 0 || r.Threads > 256 {
			errs = append(errs, fmt.Errorf("config: engines.%s.threads %d: want 0..256", r.Name, r.Threads))
		}
		if strings.ContainsAny(r.Model, `/\`) || r.Model == ".." {
			errs = append(errs, fmt.Errorf("config: engines.%s.model %q: a catalogue name, not a path", r.Name, r.Model))
		}
	}
	errs = append(errs, c.Engines.validateChains()...)
	for _, section := range [][]error{c.Data.validate(), c.Auth.validate(), c.JWT.validate(), c.Limits.validate(), c.Admin.validate(),
		c.TLS.validate(), c.Telemetry.validate(), c.Audit.validate(),
		c.Live.validate(), c.WebRTC.validate(), c.Viewers.validate(), c.Chat.validate(), c.Translate.validate(), c.Outputs.validate(), c.Vault.validate(), c.Privacy.validate()} {
		errs = append(errs, section...)
	}
	return errors.Join(errs...)
}

// checkListen refuses addresses that do not parse and plain-HTTP listeners
// reachable from the network unless insecure is set.
func checkListen(field, addr string, insecure bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("config: %s %q: %w", field, addr, err)
	}
	if port == "" {
		return fmt.Errorf("config: %s %q: missing port", field, addr)
	}
	if netpolicy.LoopbackHost(host) || insecure {
		return nil
	}
	return fmt.Errorf("config: %s %q is not a loopback address; plain HTTP there would expose audio and transcripts to the network"+
		": listen on 127.0.0.1, turn on [tls], or set server.allow_insecure_http = true behind a TLS-terminating proxy", field, addr)
}
