package audit

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/izwi-speech/izwi/internal/store"
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
