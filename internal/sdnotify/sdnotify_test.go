package sdnotify

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen opens a real unixgram socket as systemd's NOTIFY_SOCKET.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 256)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(b[:n])
}

func TestReadyAndStopping(t *testing.T) {
	c := listen(t)
	if ok, err := Ready(); !ok || err != nil {
		t.Fatalf("Ready = %v, %v", ok, err)
	}
	if got := read(t, c); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
	if ok, err := Stopping(); !ok || err != nil {
		t.Fatalf("Stopping = %v, %v", ok, err)
	}
	if got := read(t, c); got != "STOPPING=1" {
		t.Errorf("got %q, want STOPPING=1", got)
	}
}

func TestOutsideSystemdIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	if ok, err := Ready(); ok || err != nil {
		t.Fatalf("Ready without systemd = %v, %v", ok, err)
	}
	if err := Watchdog(t.Context(), func(context.Context) error { return nil }, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}

// The watchdog pings while healthy, skips while not, and stops with ctx.
func TestWatchdogPings(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "100000") // 100 ms: a ping every 50 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	var checks atomic.Int32
	var sick atomic.Bool
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Watchdog(ctx, func(context.Context) error {
			checks.Add(1)
			if sick.Load() {
				return errors.New("database wedged")
			}
			return nil
		}, slog.New(slog.DiscardHandler))
	}()
	for range 3 {
		if got := read(t, c); got != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", got)
		}
	}
	// Unhealthy: checks go on, pings stop.
	sick.Store(true)
	before := checks.Load()
	deadline := time.Now().Add(10 * time.Second)
	for checks.Load() < before+3 {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog stopped checking")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Drain pings sent before the check failed; none may follow a failed
	// check: after the last, the socket stays quiet until healthy again.
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	b := make([]byte, 64)
	var late []string
	for {
		n, err := c.Read(b)
		if err != nil {
			break
		}
		late = append(late, string(b[:n]))
	}
	if len(late) > 1 {
		t.Errorf("pings while unhealthy: %v", late)
	}
	sick.Store(false)
	if got := read(t, c); !strings.HasPrefix(got, "WATCHDOG=1") {
		t.Fatalf("after recovery got %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
