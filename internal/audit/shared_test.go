package audit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/logtest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// Three logs on one database, each with its own store (three processes),
// append at once with Record and RecordTx: one chain, no entry lost, and
// it verifies.
func TestThreeProcessesAppendToOneChain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var logs []*Log
	var stores []*store.Store
	for range 3 {
		st, err := store.Open(ctx, e.database)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		l, err := New(ctx, st, func() Options { o := e.opts(); o.AcceptUnanchored = true; return o }())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		logs, stores = append(logs, l), append(stores, st)
	}
	const each = 20
	var wg sync.WaitGroup
	errs := make(chan error, 3*each)
	for i, l := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				ev := Event{Actor: fmt.Sprintf("user:p%d", i), Action: "key.create", Target: fmt.Sprintf("key:%d", n), Outcome: OutcomeOK}
				if n%2 == 0 {
					errs <- l.Record(ctx, ev)
					continue
				}
				errs <- stores[i].Tx(ctx, func(tx *store.Tx) error { return l.RecordTx(ctx, tx, ev) })
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := logs[0].Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := e.verify(t, logs[0])
	if err != nil || rep.Verified != 3+3*each { // three audit.start entries, then the appends
		t.Fatalf("%+v, %v; want %d entries verified", rep, err, 3+3*each)
	}
}

// A process starting while another has appended entries not yet
// checkpointed: on PostgreSQL (several writers) it waits for the other's
// checkpoint and starts; with none coming it refuses the tail after
// AnchorWait, as SQLite (one writer) does at once.
func TestStartWaitsForAnotherProcessCheckpoint(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.open(t) // no timers, no count-based checkpoints
	e.record(t, a, 3)
	var logs logtest.Buffer
	second := func(wait time.Duration) error {
		st, err := store.Open(ctx, e.database)
		if err != nil {
			return err
		}
		defer st.Close()
		l, err := New(ctx, st, func() Options {
			o := e.opts()
			o.AnchorWait, o.Logger = wait, slog.New(slog.NewJSONHandler(&logs, nil))
			return o
		}())
		if err == nil {
			l.Close()
		}
		return err
	}
	if err := second(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "not covered by a signed checkpoint") {
		t.Fatalf("no checkpoint coming: %v", err)
	}
	if storetest.Dialect() != store.Postgres {
		return // SQLite refused without waiting, above
	}
	before := strings.Count(logs.String(), "waiting for the process that wrote them")
	done := make(chan error, 1)
	go func() { done <- second(time.Minute) }()
	// Once the second process waits, the first checkpoints (it would on
	// its own a moment after its appends, with checkpoint_every = 1).
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), "waiting for the process that wrote them") == before {
		if time.Now().After(deadline) {
			t.Fatalf("the second process never waited:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("start beside a process that checkpointed: %v", err)
	}
}
