package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store/pgtest"
)

// postgresEnv is keysEnv on a PostgreSQL database: every izwi process
// given it shares the database (and the data directory's pepper and audit
// signing key).
func postgresEnv(t *testing.T) []string {
	return append(keysEnv(t.TempDir()), "IZWI_DATABASE="+pgtest.DSN(t))
}

// Two izwi serve processes on one PostgreSQL database enforce one daily
// request quota: of 100 parallel requests spread over both, exactly 10
// pass and the rest are refused with quota_exceeded.
func TestPostgresQuotaAcrossProcesses(t *testing.T) {
	env := postgresEnv(t)
	key := newKey(t, env, "--name", "quota", "--scopes", "asr.read", "--limits", `{"requests_per_day":10,"rps":-1}`)
	a, b := startServe(t, env), startServe(t, env)
	codes := spread(t, 100, a, b, "/v1/usage", key)
	if codes["ok"] != 10 || codes["quota_exceeded"] != 90 {
		t.Fatalf("answers %v; want exactly 10 ok and 90 quota_exceeded", codes)
	}
	for _, s := range []*server{a, b} {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("serve exit %d\n%s", code, s.logs)
		}
	}
}

// Two izwi serve processes on one PostgreSQL database enforce one request
// rate per key: a key of 0.1 requests a second with a burst of 10 gets 10
// of 100 parallel requests spread over both (plus what refilled while they
// ran: one per 10 s), not 10 from each.
func TestPostgresRateAcrossProcesses(t *testing.T) {
	env := postgresEnv(t)
	key := newKey(t, env, "--name", "rate", "--scopes", "asr.read", "--limits", `{"rps":0.1,"burst":10}`)
	a, b := startServe(t, env), startServe(t, env)
	start := time.Now()
	codes := spread(t, 100, a, b, "/v1/usage", key)
	refilled := int(time.Since(start).Seconds() * 0.1)
	if codes["ok"] < 10 || codes["ok"] > 10+refilled || codes["ok"]+codes["rate_limited"] != 100 {
		t.Fatalf("answers %v; want 10 (+%d refilled) ok and the rest rate_limited", codes, refilled)
	}
	for _, s := range []*server{a, b} {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("serve exit %d\n%s", code, s.logs)
		}
	}
}

// Three izwi serve processes append to one audit chain on PostgreSQL at
// once (each refused request is audited); the chain verifies afterwards.
func TestPostgresAuditChainFromThreeProcesses(t *testing.T) {
	env := postgresEnv(t)
	key := newKey(t, env, "--name", "captions", "--scopes", "asr.read", "--limits", `{"rps":-1}`)
	servers := []*server{startServe(t, env), startServe(t, env), startServe(t, env)}
	var wg sync.WaitGroup
	for _, s := range servers {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if status, code := call(t, s.url+"/v1/keys", key); status != http.StatusForbidden {
						t.Errorf("GET /v1/keys with an asr.read key: %d %q", status, code)
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, s := range servers {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("serve exit %d\n%s", code, s.logs)
		}
	}
	r := run(t, env, "audit", "verify")
	if r.code != exitOK {
		t.Fatalf("audit verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	exp := run(t, env, "audit", "export")
	if n := countLines(exp.stdout, "\tauth.forbidden\t"); n != 90 {
		t.Fatalf("audit export holds %d auth.forbidden entries, want 90", n)
	}
}

// spread makes n parallel GETs of path with key, alternately through a and
// b, and counts the answers by error code ("ok" for 200).
func spread(t *testing.T, n int, a, b *server, path, key string) map[string]int {
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			status, code := call(t, s.url+path, key)
			mu.Lock()
			defer mu.Unlock()
			if status == http.StatusOK {
				code = "ok"
			}
			codes[code]++
		}()
	}
	wg.Wait()
	return codes
}

// countLines counts the lines of s that contain sub.
func countLines(s, sub string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}
