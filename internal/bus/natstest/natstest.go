// Package natstest owns the three-node NATS cluster that multi-process tests
// run on: each node a separate process (bus.RunNode, the code behind `izwi
// bus serve`) on private loopback ports with its JetStream store under the
// test's temp dir. Start waits until every node has routes and JetStream a
// meta leader; Kill and Restart stop and bring back one node, to test what
// survives a lost node. StartSecured runs the nodes the way a deployment
// should: TLS with certificates of a CA made for the test (`izwi bus
// certs`) and per-role NKey users; Client and Env hand a role's
// credentials to a client. Only tests import it.
package natstest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// nodeEnv carries a node's configuration (JSON) to a re-executed test binary.
const nodeEnv = "IZWI_NATSTEST_NODE"

// Launcher makes the command that runs one node with cfg. Its stderr must
// carry the node's JSON log (the "bus node ready" line).
type Launcher func(cfg bus.NodeConfig) *exec.Cmd

// Self re-executes the running test binary as a node; the package's
// TestMain must call Main.
func Self(cfg bus.NodeConfig) *exec.Cmd {
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(b))
	return cmd
}

// Izwi runs nodes as `bin bus serve`, the way operators do.
func Izwi(bin string) Launcher {
	return func(cfg bus.NodeConfig) *exec.Cmd {
		args := []string{"bus", "serve", "--name", cfg.Name, "--listen", cfg.Listen,
			"--cluster", cfg.Cluster, "--cluster-name", cfg.ClusterName, "--routes", strings.Join(cfg.Routes, ","),
			"--store-dir", cfg.StoreDir}
		if cfg.TLS.On() {
			args = append(args, "--tls-ca", cfg.TLS.CA, "--tls-cert", cfg.TLS.Cert, "--tls-key", cfg.TLS.Key)
		}
		if cfg.Users != "" {
			args = append(args, "--users", cfg.Users)
		}
		return exec.Command(bin, args...)
	}
}

// Main runs the tests, or, in a process Self started, one cluster node
// until SIGTERM. Call it from TestMain: os.Exit(natstest.Main(m)).
func Main(m *testing.M) int {
	raw := os.Getenv(nodeEnv)
	if raw == "" {
		return m.Run()
	}
	var cfg bus.NodeConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "natstest:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := bus.RunNode(ctx, cfg, slog.New(slog.NewJSONHandler(os.Stderr, nil))); err != nil {
		fmt.Fprintln(os.Stderr, "natstest:", err)
		return 1
	}
	return 0
}

// Cluster is three running nodes.
type Cluster struct {
	t      testing.TB
	launch Launcher
	nodes  [3]*node
	mat    *bus.Material // nil: plain nodes
}

type node struct {
	cfg  bus.NodeConfig
	mu   sync.Mutex
	cmd  *exec.Cmd
	logs strings.Builder
	done chan struct{}
}

// Start runs a three-node cluster, each node a process made by launch, and
// returns once all three have joined (routes up, JetStream meta leader
// elected). The nodes stop when the test ends.
func Start(t testing.TB, launch Launcher) *Cluster {
	t.Helper()
	return start(t, launch, nil)
}

// StartSecured is Start with TLS on every link and NKey users: a client
// needs the credentials Client or Env give it.
func StartSecured(t testing.TB, launch Launcher) *Cluster {
	t.Helper()
	m, err := bus.MakeMaterial(filepath.Join(t.TempDir(), "bus-certs"), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return start(t, launch, &m)
}

func start(t testing.TB, launch Launcher, mat *bus.Material) *Cluster {
	ports := freePorts(t, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, "127.0.0.1:"+strconv.Itoa(ports[3+i]))
	}
	c := &Cluster{t: t, launch: launch, mat: mat}
	if p := launch(bus.NodeConfig{}).Path; !filepath.IsAbs(p) || !exists(p) {
		testenv.Missing(t, "natstest: node binary %q is missing (go build ./cmd/izwi)", p)
	}
	dir := t.TempDir()
	for i := range 3 {
		c.nodes[i] = &node{cfg: bus.NodeConfig{Name: "n" + strconv.Itoa(i+1), ClusterName: "izwi-test",
			Listen: "127.0.0.1:" + strconv.Itoa(ports[i]), Cluster: routes[i], Routes: routes,
			StoreDir: filepath.Join(dir, "n"+strconv.Itoa(i+1)), ReadyTimeout: time.Minute}}
		if mat != nil {
			c.nodes[i].cfg.TLS, c.nodes[i].cfg.Users = mat.Node, mat.Users
		}
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i, syscall.SIGTERM)
		}
	})
	ready := make(chan error, 3)
	for i := range 3 {
		go func() { ready <- c.run(i) }()
	}
	for range 3 {
		if err := <-ready; err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// URL is every node's client address, comma-separated (a bus.url).
func (c *Cluster) URL() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, "nats://"+n.cfg.Listen)
	}
	return strings.Join(urls, ",")
}

// Client is a bus configuration of role (bus.RoleGateway, …) for url (URL
// or NodeURL), with its credentials on a secured cluster.
func (c *Cluster) Client(role, url string) bus.Config {
	c.t.Helper()
	cfg := bus.Config{URL: url}
	if c.mat == nil {
		return cfg
	}
	files, seedFile := c.mat.Client(role)
	seed, err := secrets.ReadFile(seedFile)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.TLS, cfg.NKey = files, seed
	return cfg
}

// Env is the environment of an izwi process of role on this cluster:
// IZWI_BUS_URL, and on a secured cluster its TLS files and NKey seed file.
func (c *Cluster) Env(role string) []string {
	env := []string{"IZWI_BUS_URL=" + c.URL()}
	if c.mat == nil {
		return env
	}
	files, seedFile := c.mat.Client(role)
	return append(env, "IZWI_BUS_TLS_CA="+files.CA, "IZWI_BUS_TLS_CERT="+files.Cert, "IZWI_BUS_TLS_KEY="+files.Key,
		"IZWI_BUS_NKEY_FILE="+seedFile)
}

// NodeURL is node i's client address.
func (c *Cluster) NodeURL(i int) string { return "nats://" + c.nodes[i].cfg.Listen }

// Kill stops node i at once (SIGKILL), as a crash would.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.stop(i, syscall.SIGKILL)
}

// Restart starts node i again with its old ports and store and waits until
// it has rejoined.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if err := c.run(i); err != nil {
		c.t.Fatal(err)
	}
}

// Logs returns node i's log so far, for a failure message.
func (c *Cluster) Logs(i int) string {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// run starts node i and waits for its "bus node ready" line.
func (c *Cluster) run(i int) error {
	n := c.nodes[i]
	cmd := c.launch(n.cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("natstest: starting node %s: %w", n.cfg.Name, err)
	}
	done := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.logs.Reset()
	n.mu.Unlock()
	readyc := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		once := sync.OnceFunc(func() { close(readyc) })
		for sc.Scan() {
			n.mu.Lock()
			n.logs.Write(append(sc.Bytes(), '\n'))
			n.mu.Unlock()
			var rec struct{ Msg string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "bus node ready" {
				once()
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	select {
	case <-readyc:
		return nil
	case <-done:
		return fmt.Errorf("natstest: node %s exited before joining the cluster:\n%s", n.cfg.Name, c.Logs(i))
	case <-time.After(90 * time.Second):
		return fmt.Errorf("natstest: node %s did not join the cluster within 90s:\n%s", n.cfg.Name, c.Logs(i))
	}
}

func (c *Cluster) stop(i int, sig syscall.Signal) {
	n := c.nodes[i]
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freePorts returns n distinct loopback ports that were free a moment ago
// (cluster routes need their ports known before the nodes start).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
