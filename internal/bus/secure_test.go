package bus

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/logtest"
	"github.com/izwi-speech/izwi/internal/secrets"
)

// secured is one node with TLS and the users of material m.
func secured(t *testing.T, m Material, log *slog.Logger) *Node {
	t.Helper()
	port := freePort(t)
	cport := freePort(t)
	n, err := StartNode(NodeConfig{Name: "s1", ClusterName: "sec", Listen: "127.0.0.1:" + port,
		Cluster: "127.0.0.1:" + cport, Routes: []string{"127.0.0.1:" + cport}, StoreDir: t.TempDir(),
		TLS: m.Node, Users: m.Users}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func material(t *testing.T) Material {
	t.Helper()
	m, err := MakeMaterial(t.TempDir(), []string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// clientOf is role's bus configuration from m.
func clientOf(t *testing.T, m Material, url, role string) Config {
	t.Helper()
	files, seedFile := m.Client(role)
	seed, err := secrets.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	return Config{URL: url, TLS: files, NKey: seed, ReadyTimeout: 3 * time.Second}
}

func TestMaterialFiles(t *testing.T) {
	m := material(t)
	for _, f := range []string{m.CAKey, m.Node.Key, filepath.Join(m.Dir, "worker.key"), filepath.Join(m.Dir, "worker.nk")} {
		if err := secrets.CheckFile(f); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	pem, _ := os.ReadFile(m.Node.Cert)
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(m.CA)
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.X509KeyPair(pem, mustRead(t, m.Node.Key))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("node certificate: %v", err)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > LeafLifetime+2*time.Hour {
		t.Fatalf("node certificate lives %v", life)
	}
	// A second run keeps the CA and the NKeys (the users file the nodes
	// read stays valid) and renews the certificates.
	users1, _ := LoadUsers(m.Users)
	m2, err := MakeMaterial(m.Dir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	users2, _ := LoadUsers(m2.Users)
	if ca2, _ := os.ReadFile(m2.CA); string(ca2) != string(ca) {
		t.Error("the CA changed on a second run")
	}
	if users1.Users[0] != users2.Users[0] || len(users2.Users) != len(Roles()) {
		t.Errorf("users changed: %v → %v", users1, users2)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A secured node lets in a client with the CA, a certificate of its CA and
// a listed NKey, and refuses every other.
func TestSecuredNodeRefusesStrangers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, other := material(t), material(t)
	var logs logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	n := secured(t, m, log)
	url := n.ClientURL()

	ok := clientOf(t, m, url, RoleWorker)
	b, err := Start(ctx, ok, log)
	if err != nil {
		t.Fatalf("a worker with its credentials: %v", err)
	}
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	b.Close()

	otherFiles, _ := other.Client(RoleWorker)
	otherSeed := clientOf(t, other, url, RoleWorker).NKey
	for name, c := range map[string]Config{
		"no nkey":                        {URL: url, TLS: ok.TLS},
		"an nkey the node does not list": {URL: url, TLS: ok.TLS, NKey: otherSeed},
		"no tls":                         {URL: url, NKey: ok.NKey},
		"another CA's certificate":       {URL: url, TLS: TLSFiles{CA: m.CA, Cert: otherFiles.Cert, Key: otherFiles.Key}, NKey: ok.NKey},
		"trusting another CA":            {URL: url, TLS: TLSFiles{CA: other.CA, Cert: ok.TLS.Cert, Key: ok.TLS.Key}, NKey: ok.NKey},
	} {
		c.ReadyTimeout = 3 * time.Second
		if b, err := Start(ctx, c, nil); err == nil {
			b.Close()
			t.Errorf("%s: connected", name)
		}
	}
	// No client certificate at all (mutual TLS), through nats.go itself.
	if nc, err := nats.Connect(url, nats.RootCAs(m.CA), nats.Timeout(3*time.Second)); err == nil {
		nc.Close()
		t.Error("a client without a certificate connected")
	}
	for _, secret := range []string{ok.NKey.Reveal(), otherSeed.Reveal(), string(mustRead(t, ok.TLS.Key))} {
		if strings.Contains(logs.String(), strings.TrimSpace(secret)) {
			t.Fatal("a key or seed reached the log")
		}
	}
}

// Plain TCP and TLS 1.2 are refused before any protocol.
func TestSecuredNodeRefusesPlainAndOldTLS(t *testing.T) {
	m := material(t)
	n := secured(t, m, nil)
	addr := n.ClientURL()[strings.Index(n.ClientURL(), "://")+3:]
	dialInfo := func() net.Conn {
		conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.Contains(line, `"tls_required":true`) {
			t.Fatalf("INFO %q %v", line, err)
		}
		return conn
	}
	conn := dialInfo()
	_, _ = conn.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n"))
	rest, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if strings.Contains(rest, "PONG") || (err == nil && !strings.Contains(rest, "-ERR")) {
		t.Fatalf("plain CONNECT answered %q", rest)
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(mustRead(t, m.CA))
	files, _ := m.Client(RoleGateway)
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		max  uint16
		want bool
	}{{tls.VersionTLS12, false}, {tls.VersionTLS13, true}} {
		conn := dialInfo()
		tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: v.max, Certificates: []tls.Certificate{cert}})
		err := tc.Handshake()
		if err == nil {
			// TLS 1.3 client certificates are checked after the
			// handshake: one read says whether the server kept us.
			_, _ = tc.Write([]byte("PING\r\n"))
			_, err = bufio.NewReader(tc).ReadString('\n')
		}
		tc.Close()
		if (err == nil) != v.want {
			t.Errorf("%s: handshake err %v", tls.VersionName(v.max), err)
		}
	}
}

// Each role uses only its subjects: an identifier hears identify requests
// and may answer them, and nothing else; a gateway cannot reach
// identifiers; a worker cannot pose as one.
func TestRolePermissions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := material(t)
	n := secured(t, m, nil)
	conn := func(role string) (*Bus, *logtest.Buffer) {
		var logs logtest.Buffer
		b, err := Start(ctx, clientOf(t, m, n.ClientURL(), role), slog.New(slog.NewJSONHandler(&logs, nil)))
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		t.Cleanup(func() { b.Close() })
		return b, &logs
	}
	ident, identLogs := conn(RoleIdentifier)
	worker, workerLogs := conn(RoleWorker)
	gw, gwLogs := conn(RoleGateway)

	if _, err := ident.Conn().QueueSubscribe("izwi.identify.embed", "q", func(m *nats.Msg) { _ = m.Respond([]byte("emb")) }); err != nil {
		t.Fatal(err)
	}
	_ = ident.Conn().Flush()
	reply, err := worker.Conn().RequestWithContext(ctx, "izwi.identify.embed", []byte("pcm"))
	if err != nil || string(reply.Data) != "emb" {
		t.Fatalf("worker → identifier: %v %v", reply, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if _, err := gw.Conn().RequestWithContext(short, "izwi.identify.embed", []byte("pcm")); err == nil {
		t.Error("a gateway reached an identifier")
	}
	waitLog(t, gwLogs, "Permissions Violation for Publish")

	// The identifier cannot listen to live audio, nor publish on it.
	heard := make(chan struct{}, 1)
	_, _ = ident.Conn().Subscribe("izwi.live.s1.audio", func(*nats.Msg) { heard <- struct{}{} })
	_ = ident.Conn().Publish("izwi.live.s1.events", []byte("forged"))
	waitLog(t, identLogs, "Permissions Violation for Subscription")
	waitLog(t, identLogs, "Permissions Violation for Publish")
	// The worker cannot serve identify requests.
	_, _ = worker.Conn().Subscribe("izwi.identify.embed", func(*nats.Msg) {})
	waitLog(t, workerLogs, "Permissions Violation for Subscription")

	// The gateway's audio reaches a worker, and never the identifier.
	got := make(chan struct{}, 1)
	sub, _ := worker.Conn().Subscribe("izwi.live.s1.audio", func(*nats.Msg) { got <- struct{}{} })
	defer sub.Unsubscribe()
	_ = worker.Conn().Flush()
	_ = gw.Conn().Publish("izwi.live.s1.audio", []byte("pcm"))
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("gateway audio did not reach the worker")
	}
	_ = ident.Conn().Flush()
	select {
	case <-heard:
		t.Fatal("the identifier heard live audio")
	default:
	}
}

// waitLog polls a log for text until a deadline.
func waitLog(t *testing.T, logs *logtest.Buffer, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", text, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A node with a certificate of another CA cannot join the cluster, while
// one of the same CA does.
func TestRouteFromAnotherCAIsRefused(t *testing.T) {
	m, other := material(t), material(t)
	ports := []string{freePort(t), freePort(t), freePort(t)}
	routes := []string{"127.0.0.1:" + ports[0], "127.0.0.1:" + ports[1], "127.0.0.1:" + ports[2]}
	var logs logtest.Buffer
	start := func(i int, mat Material, log *slog.Logger) *Node {
		n, err := StartNode(NodeConfig{Name: "r" + strconv.Itoa(i), ClusterName: "sec", Listen: "127.0.0.1:" + freePort(t),
			Cluster: routes[i], Routes: routes, StoreDir: t.TempDir(), TLS: mat.Node, Users: mat.Users}, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		return n
	}
	a := start(0, m, slog.New(slog.NewJSONHandler(&logs, nil)))
	stranger := start(2, other, nil)
	b := start(1, m, nil)
	deadline := time.Now().Add(20 * time.Second)
	for a.srv.NumRoutes() == 0 || b.srv.NumRoutes() == 0 || !strings.Contains(logs.String(), "TLS route handshake error") {
		if time.Now().After(deadline) {
			t.Fatalf("routes a=%d b=%d; a's log:\n%s", a.srv.NumRoutes(), b.srv.NumRoutes(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := stranger.srv.NumRoutes(); r != 0 {
		t.Fatalf("the node of another CA has %d routes", r)
	}
}

func TestNodeConfigRefusesHalfSecurity(t *testing.T) {
	m := material(t)
	base := NodeConfig{Name: "n", ClusterName: "c", Listen: "127.0.0.1:4222", Cluster: "127.0.0.1:6222",
		Routes: []string{"127.0.0.1:6222"}, StoreDir: "/tmp/x"}
	for name, c := range map[string]func(*NodeConfig){
		"cert without key":       func(c *NodeConfig) { c.TLS = TLSFiles{CA: m.CA, Cert: m.Node.Cert} },
		"users without tls":      func(c *NodeConfig) { c.Users = m.Users },
		"plain on a lan address": func(c *NodeConfig) { c.Listen = "10.1.2.3:4222" },
		"plain cluster on all":   func(c *NodeConfig) { c.Cluster = "0.0.0.0:6222" },
	} {
		cfg := base
		c(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("plain loopback refused: %v", err)
	}
	secure := base
	secure.Listen, secure.TLS, secure.Users = "10.1.2.3:4222", m.Node, m.Users
	if err := secure.Validate(); err != nil {
		t.Errorf("secured node refused: %v", err)
	}
	loose := m.Node
	_ = os.Chmod(loose.Key, 0o644)
	if err := loose.Validate(); !errors.Is(err, secrets.ErrLoosePermissions) {
		t.Errorf("a readable key: %v", err)
	}
	for _, c := range []Config{
		{TLS: TLSFiles{CA: m.CA}},
		{URL: "nats://127.0.0.1:1", TLS: TLSFiles{Cert: m.Node.Cert, Key: m.Node.Key}},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v: accepted", c.TLS)
		}
	}
}

func FuzzParseUsers(f *testing.F) {
	f.Add([]byte(`{"users":[{"role":"gateway","nkey":"UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"}]}`))
	f.Add([]byte(`{"users":[]}`))
	f.Add([]byte(`{"users":[{"role":"admin","nkey":"U"}]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := ParseUsers(data)
		if err != nil {
			return
		}
		if len(u.nkeyUsers()) != len(u.Users) || len(u.Users) == 0 {
			t.Fatal("accepted users without permissions")
		}
	})
}
