package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/nats-io/nats-server/v2/server"
)

// NodeConfig is one node of a NATS cluster with JetStream, run by `izwi bus
// serve` so that a small deployment needs no other binary. Every node of a
// cluster gets the same ClusterName and Routes (the cluster addresses of all
// nodes, itself included: NATS ignores a route to itself).
type NodeConfig struct {
	// Name is this node's server name, unique in the cluster.
	Name string `json:"name"`
	// Listen is the client address host:port (izwi processes' bus.url).
	Listen string `json:"listen"`
	// Cluster is the route address host:port other nodes connect to.
	Cluster string `json:"cluster"`
	// ClusterName is the same on every node.
	ClusterName string `json:"cluster_name"`
	// Routes are the other nodes' cluster addresses, "host:port" or
	// "nats-route://host:port".
	Routes []string `json:"routes"`
	// StoreDir holds this node's JetStream data (replicated streams and KV).
	StoreDir string `json:"store_dir"`
	// ReadyTimeout bounds how long Run waits for routes and a JetStream meta
	// leader; 0 means 60 s.
	ReadyTimeout time.Duration `json:"ready_timeout,omitempty"`
	// TLS secures both ports (secure.go): TLS 1.3 only, and clients and
	// the other nodes must present certificates from TLS.CA. Without it
	// the node only binds loopback addresses.
	TLS TLSFiles `json:"tls,omitempty"`
	// Users is the users file (perms.go): with it, a client must prove one
	// of the listed NKeys and gets its role's permissions. Needs TLS.
	Users string `json:"users,omitempty"`
}

// Validate reports a node that cannot join a cluster.
func (c NodeConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("bus node: name is required"))
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("bus node: cluster name is required"))
	}
	if c.StoreDir == "" {
		errs = append(errs, errors.New("bus node: store dir is required (JetStream)"))
	}
	if len(c.Routes) == 0 {
		errs = append(errs, errors.New("bus node: routes to the other nodes are required"))
	}
	for _, a := range []struct{ name, v string }{{"listen", c.Listen}, {"cluster", c.Cluster}} {
		if _, _, err := splitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("bus node: %s: %w", a.name, err))
		}
	}
	if _, err := routeURLs(c.Routes); err != nil {
		errs = append(errs, err)
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !c.TLS.On() {
		if c.Users != "" {
			errs = append(errs, errors.New("bus node: users need tls (ca, cert and key): credentials on a plain link protect nothing that crosses it"))
		}
		for _, a := range []struct{ name, v string }{{"listen", c.Listen}, {"cluster", c.Cluster}} {
			if a.v != "" && !netpolicy.LoopbackAddr(a.v) {
				errs = append(errs, fmt.Errorf("bus node: %s %s is not loopback: a node that other machines reach needs tls (`izwi bus certs DIR`)", a.name, a.v))
			}
		}
	}
	return errors.Join(errs...)
}

func routeURLs(routes []string) ([]*url.URL, error) {
	var out []*url.URL
	for _, r := range routes {
		if !strings.Contains(r, "://") {
			r = "nats-route://" + r
		}
		u, err := url.Parse(r)
		if err != nil || u.Host == "" || u.Scheme != "nats-route" {
			return nil, fmt.Errorf("bus node: route %q: want host:port or nats-route://host:port", r)
		}
		out = append(out, u)
	}
	return out, nil
}

// nodeOptions are a node's server options but its addresses and store:
// JetStream, the cluster, and, when configured, TLS on both ports and the
// users.
func nodeOptions(cfg NodeConfig, routes []*url.URL) (*server.Options, error) {
	opts := &server.Options{ServerName: cfg.Name, NoSigs: true, NoLog: true, JetStream: true,
		Cluster: server.ClusterOpts{Name: cfg.ClusterName}, Routes: routes}
	if cfg.TLS.On() {
		clientTLS, err := serverTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		routeTLS, err := serverTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		// 5 s for a handshake (NATS: 2 s), for a loaded small box.
		opts.TLSConfig, opts.TLSVerify, opts.TLSTimeout = clientTLS, true, 5
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = routeTLS, 5
	}
	if cfg.Users != "" {
		users, err := LoadUsers(cfg.Users)
		if err != nil {
			return nil, err
		}
		opts.Nkeys = users.nkeyUsers()
	}
	return opts, nil
}

// Node is a running cluster node.
type Node struct {
	srv *server.Server
}

// StartNode starts a cluster node and returns once it accepts clients; Ready
// then says when it has joined the cluster.
func StartNode(cfg NodeConfig, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	routes, _ := routeURLs(cfg.Routes)
	host, port, _ := splitHostPort(cfg.Listen)
	chost, cport, _ := splitHostPort(cfg.Cluster)
	dir := filepath.Join(cfg.StoreDir, "jetstream")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bus node: jetstream store: %w", err)
	}
	opts, err := nodeOptions(cfg, routes)
	if err != nil {
		return nil, err
	}
	opts.Host, opts.Port, opts.Cluster.Host, opts.Cluster.Port = host, port, chost, cport
	opts.StoreDir = dir
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus node: %w", err)
	}
	if log != nil {
		// Notices, warnings and errors (a refused TLS handshake, an
		// authorization violation), never traces: those would carry
		// payloads.
		srv.SetLoggerV2(natsLog{log}, false, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("bus node: not accepting clients within 10s (is %s or %s in use?)", cfg.Listen, cfg.Cluster)
	}
	return &Node{srv: srv}, nil
}

// Ready reports whether the node has routes to the cluster and JetStream
// has a current meta leader, so replicated streams and KV can be written.
func (n *Node) Ready() bool {
	return n.srv.NumRoutes() > 0 && n.srv.Healthz(&server.HealthzOptions{JSMetaOnly: true}).Status == "ok"
}

// ClientURL is the address clients connect to.
func (n *Node) ClientURL() string { return n.srv.ClientURL() }

// Close stops the node, waiting for it.
func (n *Node) Close() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// RunNode runs a cluster node until ctx is done. It logs "bus node ready"
// once the node has joined the cluster (routes up, JetStream meta leader
// known), and fails if that does not happen within cfg.ReadyTimeout.
func RunNode(ctx context.Context, cfg NodeConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := StartNode(cfg, log)
	if err != nil {
		return err
	}
	defer n.Close()
	timeout := cfg.ReadyTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			return fmt.Errorf("bus node: no cluster (routes and a JetStream meta leader) within %v", timeout)
		case <-tick.C:
		}
	}
	log.Info("bus node ready", "name", cfg.Name, "url", n.ClientURL(), "cluster", cfg.ClusterName,
		"tls", cfg.TLS.On(), "users", cfg.Users != "")
	<-ctx.Done()
	log.Info("bus node stopping", "name", cfg.Name)
	return nil
}

// natsLog hands nats-server's log lines to slog.
type natsLog struct{ l *slog.Logger }

func (n natsLog) Noticef(f string, v ...any) { n.l.Info("nats", "text", fmt.Sprintf(f, v...)) }
func (n natsLog) Warnf(f string, v ...any)   { n.l.Warn("nats", "text", fmt.Sprintf(f, v...)) }
func (n natsLog) Fatalf(f string, v ...any)  { n.l.Error("nats", "text", fmt.Sprintf(f, v...)) }
func (n natsLog) Errorf(f string, v ...any)  { n.l.Error("nats", "text", fmt.Sprintf(f, v...)) }
func (n natsLog) Debugf(f string, v ...any)  { n.l.Debug("nats", "text", fmt.Sprintf(f, v...)) }
func (n natsLog) Tracef(string, ...any)      {}
