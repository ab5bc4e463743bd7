package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store/pgtest"
)

// izwiBin is the binary built once by TestMain for the end-to-end tests.
var izwiBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "izwi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	izwiBin = filepath.Join(dir, "izwi")
	build := exec.Command("go", "build", "-o", izwiBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building izwi:", err)
		os.Exit(1)
	}
	code := m.Run()
	pgtest.Stop() // the PostgreSQL server of the tests that use one
	os.RemoveAll(dir)
	os.Exit(code)
}

// childEnv is the test process's environment without IZWI_* settings, so
// a developer's shell cannot change what the binary under test sees.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IZWI_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs izwi to completion in a fresh working directory.
func run(t testing.TB, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, izwiBin, args...)
	cmd.Dir, cmd.Env = t.TempDir(), childEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running izwi %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// server is a running `izwi serve`.
type server struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	done chan error
}

// startServe starts izwi serve on a free port and waits, up to a deadline,
// for its "listening" log line.
func startServe(t testing.TB, env []string, args ...string) *server {
	t.Helper()
	return startUntil(t, env, "listening", append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, args...)...)
}

// startUntil runs izwi with args and waits, up to a deadline, for the log
// line msg; the line's url, if any, becomes the server's.
func startUntil(t testing.TB, env []string, msg string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(izwiBin, args...)
	cmd.Dir, cmd.Env = t.TempDir(), childEnv(env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	urls := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.Write(append(line, '\n'))
			var rec struct{ Msg, URL string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == msg {
				urls <- rec.URL
			}
		}
	}()
	go func() { <-scanned; s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case s.url = <-urls:
	case err := <-s.done:
		t.Fatalf("izwi %s exited before %q: %v\n%s", args[0], msg, err, s.logs)
	case <-time.After(2 * time.Minute):
		t.Fatalf("izwi %s did not log %q in time\n%s", args[0], msg, s.logs)
	}
	return s
}

// stop sends SIGTERM and returns the exit code, failing if shutdown hangs.
func (s *server) stop(t testing.TB) int {
	t.Helper()
	return s.stopWith(t, syscall.SIGTERM)
}

func (s *server) stopWith(t testing.TB, sig os.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("izwi serve did not stop within 30 s of SIGTERM\n%s", s.logs)
	}
	return -1
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
