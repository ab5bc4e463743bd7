// Package lease owns time-limited, exclusive claims on names shared by the
// processes of a cluster (a live session's owner worker, say), kept in a
// NATS JetStream key-value bucket whose entries expire after a TTL. Only
// internal/live and cmd/izwi import it.
//
// A holder renews its lease well within the TTL; a holder that dies (or
// loses the bus) stops renewing, its entry ages out, and another process may
// claim the name. Renewal is revision-checked, so a holder whose entry
// expired and was claimed by another learns it lost the lease on its next
// renewal and must stop acting for the name.
package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	// ErrHeld: another process holds the lease.
	ErrHeld = errors.New("lease: held by another process")
	// ErrLost: the lease expired (and may be held by another process).
	ErrLost = errors.New("lease: lost")
)

// Config is a lease table.
type Config struct {
	// Bucket names the key-value bucket; default "izwi_leases".
	Bucket string
	// TTL is how long a lease lasts without renewal; default 2 s. Holders
	// renew every TTL/4.
	TTL time.Duration
	// Node names this process in the leases it holds (shown by Holder).
	Node string
	// Replicas of the bucket; default 3 on a bus of three or more nodes,
	// else 1.
	Replicas int
}

// Replicas is how many copies JetStream data shared by a cluster's
// processes should have on nc's bus: 3 when it has three or more nodes
// (so the loss of one loses nothing), else 1.
func Replicas(nc *nats.Conn) int {
	if len(nc.Servers()) >= 3 {
		return 3
	}
	return 1
}

// Table is the set of leases in one bucket, as one process sees them.
type Table struct {
	kv   jetstream.KeyValue
	ttl  time.Duration
	node string
}

// Open creates (or joins) the bucket on the connection's JetStream, in
// the nodes' memory (a lease is worth no more than the processes renewing
// it), replicated so that losing a node loses no lease.
func Open(ctx context.Context, nc *nats.Conn, c Config) (*Table, error) {
	if c.Bucket == "" {
		c.Bucket = "izwi_leases"
	}
	if c.TTL <= 0 {
		c.TTL = 2 * time.Second
	}
	if c.Node == "" {
		return nil, errors.New("lease: a node name is required")
	}
	if c.Replicas <= 0 {
		c.Replicas = Replicas(nc)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("lease: jetstream: %w", err)
	}
	var kv jetstream.KeyValue
	err = Setup(ctx, func(ctx context.Context) (err error) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: c.Bucket, TTL: c.TTL,
			Storage: jetstream.MemoryStorage, History: 1, Replicas: c.Replicas})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lease: bucket %s: %w", c.Bucket, err)
	}
	return &Table{kv: kv, ttl: c.TTL, node: c.Node}, nil
}

// SetupWait bounds Setup: long enough for a NATS cluster that just lost a
// node to elect a new JetStream meta leader and stream leaders.
const SetupWait = 30 * time.Second

// Setup runs one JetStream set-up step (creating or joining a stream or a
// bucket) until it succeeds, ctx ends or SetupWait has passed, each try
// bounded by JetStream's usual 5 s: a process starting while a node of
// the cluster is down or its leaders are being elected waits for them
// instead of failing.
func Setup(ctx context.Context, step func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, SetupWait)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		try, stop := context.WithTimeout(ctx, 5*time.Second)
		err := step(try)
		stop()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// TTL is how long a lease lasts without renewal.
func (t *Table) TTL() time.Duration { return t.ttl }

// Node is this process's name in the table.
func (t *Table) Node() string { return t.node }

// Claim takes the lease on name for this node: ErrHeld when another
// process holds it.
func (t *Table) Claim(ctx context.Context, name string) (*Lease, error) {
	rev, err := t.kv.Create(ctx, name, []byte(t.node))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, ErrHeld
	}
	if err != nil {
		return nil, fmt.Errorf("lease: claiming %s: %w", name, err)
	}
	return &Lease{t: t, name: name, rev: rev}, nil
}

// Holder names the node holding the lease on name, "" when none does.
func (t *Table) Holder(ctx context.Context, name string) (string, error) {
	e, err := t.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease: reading %s: %w", name, err)
	}
	if e.Operation() != jetstream.KeyValuePut {
		return "", nil
	}
	return string(e.Value()), nil
}

// Lease is one held lease. Its methods are called by its holder's one
// goroutine at a time.
type Lease struct {
	t    *Table
	name string
	rev  uint64
}

// Name is what the lease is on.
func (l *Lease) Name() string { return l.name }

// Renew extends the lease by the table's TTL: ErrLost when it had expired.
func (l *Lease) Renew(ctx context.Context) error {
	rev, err := l.t.kv.Update(ctx, l.name, []byte(l.t.node), l.rev)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
			return fmt.Errorf("%w: %s", ErrLost, l.name)
		}
		return fmt.Errorf("lease: renewing %s: %w", l.name, err)
	}
	l.rev = rev
	return nil
}

// Release gives the lease up at once (only if still held).
func (l *Lease) Release(ctx context.Context) error {
	err := l.t.kv.Delete(ctx, l.name, jetstream.LastRevision(l.rev))
	if err != nil && !isWrongSequence(err) && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("lease: releasing %s: %w", l.name, err)
	}
	return nil
}

// isWrongSequence is JetStream's answer to a revision-checked write whose
// revision is no longer the latest.
func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Run calls f whenever this process holds the lease on name, with a
// context that ends when the lease is lost (or ctx ends), until ctx ends:
// one process of a cluster at a time does f's job (a singleton), and
// another takes it up within about a TTL of the holder's death. f must
// return soon after its context ends. Run gives the lease up on return.
func (t *Table) Run(ctx context.Context, name string, f func(context.Context)) {
	tick := time.NewTicker(t.ttl / 4)
	defer tick.Stop()
	for {
		if l, err := t.Claim(ctx, name); err == nil {
			if !t.hold(ctx, l, tick.C, f) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// hold runs f while l is renewed; it reports whether Run should go on
// (false once ctx ended or f returned by itself).
func (t *Table) hold(ctx context.Context, l *Lease, tick <-chan time.Time, f func(context.Context)) bool {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); f(fctx) }()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			<-done
			_ = l.Release(context.WithoutCancel(ctx))
			return false
		case <-done:
			_ = l.Release(context.WithoutCancel(ctx))
			return false
		case <-tick:
			start := time.Now()
			err := l.Renew(ctx)
			if err == nil {
				renewed = start
				continue
			}
			if errors.Is(err, ErrLost) || time.Since(renewed) > t.ttl {
				cancel()
				<-done
				return true
			}
		}
	}
}
