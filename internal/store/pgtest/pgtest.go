// Package pgtest owns the PostgreSQL server that tests of the store's
// PostgreSQL dialect run against: Debian's PostgreSQL 15, started by initdb
// and postgres as an unprivileged user (initdb refuses root) in a private
// directory, listening only on a Unix socket there (and a private port
// number, so its socket name is its own). One server per test package
// (started on first use, stopped by Main), a fresh database per test. Only
// tests import it.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/izwi-speech/izwi/internal/testenv"
)

// BinDir is where Debian's postgresql-15 keeps initdb and postgres.
const BinDir = "/usr/lib/postgresql/15/bin"

// install says how to get PostgreSQL when it is missing.
const install = "apt-get install -y postgresql (scripts/setup.sh)"

// unprivileged is the user the server runs as when the tests run as root.
const unprivileged = 65534 // nobody

var (
	mu     sync.Mutex
	server *Server
	dbs    atomic.Int64
)

// Server is one running PostgreSQL.
type Server struct {
	dir  string // owns data/ and the socket
	port int
	cmd  *exec.Cmd
	done chan error
}

// Main runs the package's tests and stops the server if a test started it.
// Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	defer Stop()
	return m.Run()
}

// Stop stops the package's server if a test started it.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if server != nil {
		server.Stop()
		server = nil
	}
}

// DSN returns the DSN of a fresh, empty database on the package's server,
// starting the server on first use. A machine without PostgreSQL fails t
// under strict mode (make test, CI) and skips it otherwise.
func DSN(t testing.TB) string {
	t.Helper()
	s := shared(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return s.dsn(name)
}

func shared(t testing.TB) *Server {
	t.Helper()
	testenv.Exists(t, filepath.Join(BinDir, "initdb"), install)
	mu.Lock()
	defer mu.Unlock()
	if server == nil {
		s, err := Start()
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		server = s
	}
	return server
}

// Start initialises and starts a server in a new private directory.
func Start() (*Server, error) {
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, done: make(chan error, 1)}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	data := filepath.Join(s.dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	if os.Getuid() == 0 {
		// The server's user must reach its directory and own its data.
		if err := os.Chmod(s.dir, 0o755); err != nil {
			return err
		}
		if err := os.Chown(s.dir, unprivileged, unprivileged); err != nil {
			return err
		}
		if err := os.Chown(data, unprivileged, unprivileged); err != nil {
			return err
		}
	}
	initdb := s.command(filepath.Join(BinDir, "initdb"), "-D", data, "-U", "izwi", "--auth=trust",
		"--no-sync", "--encoding=UTF8", "--locale=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	logf, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	// No TCP at all: the Unix socket in dir is the only way in. Durability
	// is off: a test database dies with the test.
	s.cmd = s.command(filepath.Join(BinDir, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", s.dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.exec(ctx, "SELECT 1")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("postgres exited: %v: %s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("postgres did not accept connections within 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// command runs name as the unprivileged user when we are root, and is
// killed with us (Pdeathsig) so a crashed test leaves no server behind.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"LANG=C", "PATH=/usr/bin:/bin"}
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if os.Getuid() == 0 {
		attr.Credential = &syscall.Credential{Uid: unprivileged, Gid: unprivileged}
	}
	cmd.SysProcAttr = attr
	return cmd
}

// DSN is the URL of database name on s.
func (s *Server) dsn(name string) string {
	q := url.Values{"host": {s.dir}, "port": {strconv.Itoa(s.port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User("izwi"), Path: "/" + name, RawQuery: q.Encode()}).String()
}

// DSN returns the URL of database name on s (name must exist).
func (s *Server) DSN(name string) string { return s.dsn(name) }

func (s *Server) exec(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast mode) and removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	os.RemoveAll(s.dir)
}

// freePort is a TCP port number nobody listens on now; the server only
// names its socket after it, so a later taker of the port does not clash.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
