package admin

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// attempt logs in with a wrong password and returns status, code and Retry-After.
func attempt(c *client, name string) (int, string, int) {
	r := c.do("POST", "/login", map[string]string{"name": name, "password": "wrong password, long enough"})
	ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
	return r.status, r.code(), ra
}

// Failures are counted per account name in the database: shared by every
// client, kept across restarts; waits grow; the account locks at the limit;
// an unknown name gets exactly the same answers as a real one.
func TestThrottleAndLockout(t *testing.T) {
	e := newEnv(t)
	e.setup()
	type step struct {
		status int
		code   string
		retry  int
	}
	run := func(name string) []step {
		var out []step
		clients := []*client{e.client(), e.client(), e.client()}
		for i := range 5 {
			st, code, ra := attempt(clients[i%3], name) // different sessions share the counter
			out = append(out, step{st, code, ra})
		}
		// Sixth attempt right away: throttled for 1s.
		st, code, ra := attempt(clients[0], name)
		out = append(out, step{st, code, ra})
		// Waits grow: 1s, 2s, 4s, ...
		for range 4 {
			e.clock.Advance(time.Duration(out[len(out)-1].retry) * time.Second)
			st, code, _ := attempt(clients[1], name)
			_, _, ra := attempt(clients[2], name)
			out = append(out, step{st, code, ra})
		}
		return out
	}
	real, unknown := run(testAdmin), run("nobody-by-this-name")
	for i := range real {
		if real[i] != unknown[i] {
			t.Fatalf("step %d: real user %+v, unknown user %+v; must be identical", i, real[i], unknown[i])
		}
	}
	for i := range 5 {
		if real[i].status != 401 || real[i].code != "invalid_login" {
			t.Fatalf("attempt %d: %+v, want 401 invalid_login", i, real[i])
		}
	}
	if real[5].status != 429 || real[5].retry != 1 {
		t.Fatalf("sixth attempt: %+v, want 429 with Retry-After 1", real[5])
	}
	for i := 6; i < len(real); i++ {
		if real[i].status != 401 || real[i].retry != 2*real[i-1].retry {
			t.Fatalf("step %d: %+v after %+v; want a failure then a doubled wait", i, real[i], real[i-1])
		}
	}
	// Even the right password is refused while waiting.
	good := e.client()
	if r := good.do("POST", "/login", map[string]string{"name": testAdmin, "password": testPassword}); r.status != 429 {
		t.Fatalf("right password during a wait: %d", r.status)
	}
	// The counter survives a restart.
	e.start()
	if st, _, _ := attempt(e.client(), testAdmin); st != 429 {
		t.Fatalf("after restart: %d, want the wait to persist", st)
	}
}

func TestLockoutAtLimitAndUnlock(t *testing.T) {
	e := newEnv(t)
	e.setup()
	ctx := context.Background()
	// Walk to the limit with the clock past every wait.
	n := 0
	for ; n < 100; n++ {
		e.clock.Advance(16 * time.Minute)
		if st, _, _ := attempt(e.client(), testAdmin); st != 401 {
			t.Fatalf("attempt %d: %d", n+1, st)
		}
	}
	e.clock.Advance(24 * time.Hour)
	c := e.client()
	r := c.do("POST", "/login", map[string]string{"name": testAdmin, "password": testPassword})
	if r.status != 429 || r.code() != "locked" {
		t.Fatalf("after 100 failures, right password: %d %s", r.status, r.raw)
	}
	if len(e.audit.Find("user.lockout", "")) != 1 {
		t.Fatal("lockout not audited")
	}
	if err := e.svc.Unlock(ctx, "system:test", "", testAdmin); err != nil {
		t.Fatal(err)
	}
	c.login(testAdmin, testPassword, "full")
}

// Parallel guesses cannot slip past the free attempts between check and update.
func TestThrottleIsAtomic(t *testing.T) {
	e := newEnv(t)
	e.setup()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.Login(context.Background(), testAdmin, "wrong password, long enough", "127.0.0.1", "")
			var te *ThrottleError
			if asThrottle(err, &te) {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if refused != 15 {
		t.Fatalf("%d of 20 parallel attempts throttled; want exactly 15 (5 free)", refused)
	}
}

func asThrottle(err error, te **ThrottleError) bool {
	t, ok := err.(*ThrottleError)
	*te = t
	return ok
}

// Unknown users cost one argon2id hash at the configured parameters, like
// real ones (the response time is similar; benchmarks measure it).
func TestDummyHashMatchesParams(t *testing.T) {
	e := newEnv(t)
	h, err := parsePHC(e.svc.dummy)
	if err != nil || h.params != testParams() {
		t.Fatalf("dummy hash %v with %+v; want the configured parameters", err, h.params)
	}
}
