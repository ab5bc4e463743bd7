package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/bus/natstest"
	"github.com/izwi-speech/izwi/internal/store/pgtest"
)

// clusterEnvs are the environments of two izwi processes as two machines
// would run them: one PostgreSQL database, one three-node NATS cluster (in
// three `izwi bus serve` processes), and each its own data directory
// holding copies of the same secrets (pepper, audit signing key, vault
// key), made by running init in the first and copying it. The audit
// checkpoint file is the one thing they share as a file (docs/deploy.md:
// shared storage), since each process checks the chain against it.
func clusterEnvs(t *testing.T, init func(env []string)) (a, b []string, c *natstest.Cluster) {
	t.Helper()
	c = natstest.StartSecured(t, natstest.Izwi(izwiBin))
	dsn := pgtest.DSN(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a = append(append(keysEnv(dirA), "IZWI_DATABASE="+dsn), c.Env(bus.RoleGateway)...)
	init(a)
	copyDir(t, dirA, dirB)
	b = append(append(keysEnv(dirB), "IZWI_DATABASE="+dsn), c.Env(bus.RoleGateway)...)
	b = append(b,
		"IZWI_AUDIT_CHECKPOINT_PATH="+filepath.Join(dirA, "audit", "checkpoints"))
	return a, b, c
}

// checkBusLogs fails when a process's log holds an NKey seed or a TLS key
// of the secured cluster c, or a permissions violation (its role's
// permissions, bus.Permissions, must allow all it does).
func checkBusLogs(t *testing.T, c *natstest.Cluster, servers ...*server) {
	t.Helper()
	for _, s := range servers {
		if strings.Contains(s.logs.String(), "Permissions Violation") {
			dumpServer(t, s, "a process was refused a subject its role needs")
		}
	}
	for _, role := range bus.Roles() {
		cfg := c.Client(role, c.URL())
		if !cfg.TLS.On() {
			return // a plain cluster: no credentials
		}
		key, err := os.ReadFile(cfg.TLS.Key)
		if err != nil {
			t.Fatal(err)
		}
		keyBody := strings.Split(string(key), "\n")[1]    // the first line of base64
		logs := []string{c.Logs(0), c.Logs(1), c.Logs(2)} // the nodes' too
		for _, s := range servers {
			logs = append(logs, s.logs.String())
		}
		for _, l := range logs {
			if strings.Contains(l, cfg.NKey.Reveal()) || strings.Contains(l, keyBody) {
				t.Fatalf("a %s credential of the bus reached a log", role)
			}
		}
	}
}

// Revoking a key through gateway A closes the caption feed it opened on
// gateway B (another data directory: no shared epoch file) by the notice
// on the bus, and B refuses the key from then on. With the whole bus down,
// B's re-reading of the database (the fallback) closes the next revoked
// key's feed.
func TestRevocationReachesEveryGateway(t *testing.T) {
	var admin, viewer, viewer2 string
	envA, envB, nats := clusterEnvs(t, func(env []string) {
		admin = newKey(t, env, "--name", "ops", "--scopes", "admin")
		viewer = newKey(t, env, "--name", "room", "--scopes", "live.write,live.read", "--limits", `{"rps":-1}`)
		viewer2 = newKey(t, env, "--name", "hall", "--scopes", "live.write,live.read", "--limits", `{"rps":-1}`)
	})
	a, b := startServe(t, envA), startServe(t, envB)

	var ses struct{ ID string }
	if code := apiJSON(t, "POST", b.url+"/v1/sessions", viewer, map[string]any{"label": "Room"}, &ses); code != http.StatusCreated {
		t.Fatalf("create session on B: %d", code)
	}
	ended := openFeed(t, b.url+"/v1/sessions/"+ses.ID+"/events", viewer)
	ended2 := openFeed(t, b.url+"/v1/sessions/"+ses.ID+"/events", viewer2)

	revoke(t, a.url, admin, viewer)
	waitClosed(t, ended, "after the key was revoked through A", b)
	if status, code := call(t, b.url+"/v1/sessions", viewer); status != http.StatusUnauthorized {
		t.Fatalf("B still answers the revoked key: %d %q", status, code)
	}

	for i := range 3 {
		nats.Kill(i)
	}
	revoke(t, a.url, admin, viewer2)
	waitClosed(t, ended2, "with the bus down", b)
	if status, code := call(t, b.url+"/v1/sessions", viewer2); status != http.StatusUnauthorized {
		t.Fatalf("B still answers the key revoked while the bus was down: %d %q", status, code)
	}

	for _, s := range []*server{a, b} {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("serve exit %d\n%s", code, s.logs)
		}
	}
	logs := b.logs.String()
	if !strings.Contains(logs, `"revocation notice applied","component":"notices","principal":"`+viewer[4:16]) {
		t.Fatalf("B closed the first feed without the bus notice\n%s", logs)
	}
	if strings.Contains(logs, `"revocation notice applied","component":"notices","principal":"`+viewer2[4:16]) {
		t.Fatalf("a notice reached B through a dead bus?\n%s", logs)
	}
	checkBusLogs(t, nats, a, b)
}

// openFeed opens a caption SSE feed with key; the channel closes when the
// server ends it.
func openFeed(t *testing.T, url, key string) <-chan struct{} {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("caption feed: %d", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	return ended
}

func revoke(t *testing.T, base, admin, key string) {
	t.Helper()
	req, _ := http.NewRequest("DELETE", base+"/v1/keys/"+key[4:16], nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode/100 != 2 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
}

func waitClosed(t *testing.T, ended <-chan struct{}, what string, s *server) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatalf("the feed stayed open %s\n%s", what, s.logs)
	}
}

// copyDir copies the regular files of src (one level of subdirectories
// too) into dst, keeping their modes.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
