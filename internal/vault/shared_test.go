package vault

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Two keyrings on one database (two processes) make data keys for the same
// owners while one of them rotates the master key: each owner ends with one
// key, no live key is wrapped under a retired master key, and both keyrings
// seal and open under every key.
func TestKeysAndRotationFromTwoProcesses(t *testing.T) {
	r := newRig(t)
	a := r.k
	r.open(t)
	b := r.k
	ctx := context.Background()
	const owners = 12
	ids := make([][2]KeyID, owners)
	errs := make(chan error, 2*owners+1)
	var wg sync.WaitGroup
	for i := range owners {
		for j, k := range []*Keyring{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := k.Key(ctx, ClassConsent, fmt.Sprintf("consent:%d", i))
				ids[i][j] = id
				errs <- err
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := a.Rotate(ctx)
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, pair := range ids {
		if pair[0] != pair[1] {
			t.Fatalf("owner %d got two keys: %v", i, pair)
		}
	}
	var stale int
	if err := r.st.QueryRowContext(ctx, `SELECT COUNT(*) FROM vault_keys k JOIN vault_keks m ON k.kek_id = m.id
		WHERE k.destroyed_at IS NULL AND m.retired_at IS NOT NULL`).Scan(&stale); err != nil || stale != 0 {
		t.Fatalf("%d live data keys under a retired master key (%v)", stale, err)
	}
	for i := range owners {
		obj := fmt.Sprintf("consent:%d", i)
		blob, err := a.Seal(ctx, ClassConsent, obj, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.Open(ctx, ClassConsent, obj, blob); err != nil || string(got) != "x" {
			t.Fatalf("open %s in the other process: %q, %v", obj, got, err)
		}
	}
}
