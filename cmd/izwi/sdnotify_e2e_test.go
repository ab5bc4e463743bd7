package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// Under systemd (Type=notify): izwi serve says READY=1 once it listens,
// pings the watchdog, and says STOPPING=1 on SIGTERM. A real unixgram
// socket stands in for systemd's NOTIFY_SOCKET.
func TestServeNotifiesSystemd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan string, 64)
	go func() {
		b := make([]byte, 256)
		for {
			n, err := c.Read(b)
			if err != nil {
				close(got)
				return
			}
			got <- string(b[:n])
		}
	}()
	// WATCHDOG_PID is unset: the daemon library then trusts
	// WATCHDOG_USEC, as it does for the service's main process.
	env := append(keysEnv(t.TempDir()), "NOTIFY_SOCKET="+path, "WATCHDOG_USEC=400000")
	s := startServe(t, env)
	want := func(msg string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case m, ok := <-got:
				if !ok {
					t.Fatalf("socket closed waiting for %s", msg)
				}
				if m == msg {
					return
				}
			case <-timeout:
				t.Fatalf("no %s from izwi serve\n%s", msg, s.logs)
			}
		}
	}
	want("READY=1")
	want("WATCHDOG=1")
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	want("STOPPING=1")
}
