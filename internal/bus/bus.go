// Package bus owns Izwi's message broker connection: an embedded NATS server
// in the default single-process deployment, or a client of an external NATS
// cluster when one machine is not enough. Everything else talks to the broker
// through the *nats.Conn it hands out, so subjects and messages stay the same
// in both deployments.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/secrets"
)

// Config selects the broker. The zero value runs an embedded server that
// listens on no port (in-process connections only) without JetStream.
type Config struct {
	// URL of an external NATS cluster: one server or a comma-separated list
	// of its nodes (the client also learns the others from the cluster and
	// reconnects to any of them); empty runs the embedded server.
	URL string `json:"url,omitempty" toml:"url"`
	// Listen, for the embedded server, a host:port other processes (workers
	// of a split deployment) may connect to; empty means in-process only.
	Listen string `json:"listen,omitempty" toml:"listen"`
	// JetStream enables durable streams on the embedded server, stored
	// under StoreDir. Izwi never puts audio or words in durable streams.
	JetStream bool   `json:"jetstream,omitempty" toml:"jetstream"`
	StoreDir  string `json:"store_dir,omitempty" toml:"store_dir"`
	// ReadyTimeout bounds start-up; 0 means 10 s.
	ReadyTimeout time.Duration `json:"ready_timeout,omitempty" toml:"ready_timeout"`
	// TLS secures the link to an external cluster (secure.go): the
	// operator CA the nodes' certificates must chain to, and this
	// process's client certificate and key. Only with URL.
	TLS TLSFiles `json:"tls,omitempty" toml:"tls"`
	// NKey is this process's NKey seed, the credential of its role on a
	// secured cluster (perms.go). Only with URL.
	NKey secrets.Secret `json:"-" toml:"-"`
}

// Validate reports settings that cannot work together.
func (c Config) Validate() error {
	if c.URL != "" && (c.Listen != "" || c.JetStream) {
		return errors.New("bus: listen and jetstream configure the embedded server; they make no sense with an external url")
	}
	if c.JetStream && c.StoreDir == "" {
		return errors.New("bus: jetstream needs store_dir")
	}
	if c.URL == "" && (c.TLS.On() || !c.NKey.IsZero()) {
		return errors.New("bus: tls and nkey secure the link to an external bus (url); the embedded one needs neither")
	}
	return c.TLS.Validate()
}

// Bus is a connected broker.
type Bus struct {
	srv  *server.Server // nil when external
	conn *nats.Conn
	log  *slog.Logger
}

// Start connects to the configured broker, starting the embedded one if
// needed, and returns when a connection is established.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.ReadyTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if cfg.URL != "" {
		secure, err := clientOptions(cfg.TLS, cfg.NKey)
		if err != nil {
			return nil, err
		}
		nc, err := nats.Connect(cfg.URL, append(secure, nats.Name("izwi"), nats.Timeout(timeout),
			nats.RetryOnFailedConnect(false), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("bus disconnected", "err", err) }),
			nats.ReconnectHandler(func(c *nats.Conn) { log.Info("bus reconnected", "server", redactURL(c.ConnectedUrl())) }),
			// A permissions violation (a subject this role may not use) or
			// a slow consumer: the connection stays up; say so.
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("bus error", "err", err) }))...)
		if err != nil {
			return nil, fmt.Errorf("bus: connecting to %s: %w", redactURL(cfg.URL), err)
		}
		log.Info("bus connected", "mode", "external", "server", redactURL(nc.ConnectedUrl()),
			"tls", nc.TLSRequired(), "nkey", !cfg.NKey.IsZero())
		return &Bus{conn: nc, log: log}, nil
	}

	opts := &server.Options{
		ServerName: "izwi-embedded",
		DontListen: cfg.Listen == "",
		NoSigs:     true,
		NoLog:      true,
		JetStream:  cfg.JetStream,
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.JetStream {
		dir := filepath.Join(cfg.StoreDir, "jetstream")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("bus: jetstream store: %w", err)
		}
		opts.StoreDir = dir
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(timeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: embedded server not ready within %v", timeout)
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("izwi"))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: in-process connection: %w", err)
	}
	log.Info("bus started", "mode", "embedded", "jetstream", cfg.JetStream, "listen", cfg.Listen)
	return &Bus{srv: srv, conn: nc, log: log}, nil
}

// Conn is the connection every component publishes and subscribes on.
func (b *Bus) Conn() *nats.Conn { return b.conn }

// Embedded reports whether this process runs the broker itself.
func (b *Bus) Embedded() bool { return b.srv != nil }

// Check is a readiness probe: a request round-trip through the broker.
func (b *Bus) Check(ctx context.Context) error {
	if !b.conn.IsConnected() {
		return errors.New("bus: not connected")
	}
	if err := b.conn.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("bus: flush: %w", err)
	}
	return nil
}

// Close drains the connection and stops the embedded server, waiting for it.
func (b *Bus) Close() error {
	err := b.conn.Drain()
	// Drain is asynchronous; Close makes sure nothing is left open.
	b.conn.Close()
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	return err
}
