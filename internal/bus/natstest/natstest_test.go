package natstest_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/bus/natstest"
	"github.com/izwi-speech/izwi/internal/secrets"
)

func TestMain(m *testing.M) { os.Exit(natstest.Main(m)) }

// A three-node secured cluster in three processes: strangers are refused;
// an izwi client given every node's address (bus.url) keeps publishing and
// subscribing, and a three-replica JetStream KV bucket keeps taking
// writes, after the node the subscriber was connected to is killed; the
// node then rejoins and serves the bucket's current value.
func TestClusterSurvivesALostNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := natstest.StartSecured(t, natstest.Self)
	// The secured nodes refuse a client without credentials, and one with
	// its certificate but no NKey.
	noKey := c.Client(bus.RoleWorker, c.URL())
	noKey.NKey = secrets.Secret{}
	for name, cfg := range map[string]bus.Config{"no credentials": {URL: c.URL()}, "no nkey": noKey} {
		cfg.ReadyTimeout = 3 * time.Second
		if b, err := bus.Start(ctx, cfg, nil); err == nil {
			b.Close()
			t.Fatalf("%s: connected to the secured cluster", name)
		}
	}

	// The subscriber connects to node 1 first (bus.url order), the
	// publisher to node 3.
	sub := connect(ctx, t, c.Client(bus.RoleGateway, c.NodeURL(0)+","+c.NodeURL(1)+","+c.NodeURL(2)))
	pub := connect(ctx, t, c.Client(bus.RoleWorker, c.NodeURL(2)+","+c.NodeURL(1)))
	got := make(chan string, 16)
	s, err := sub.Conn().Subscribe("izwi.test.cluster", func(m *nats.Msg) { got <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe()
	if err := sub.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	deliver(ctx, t, pub.Conn(), got, "before")

	js, err := jetstream.New(pub.Conn())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "izwi_test", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("1")); err != nil {
		t.Fatal(err)
	}

	c.Kill(0)
	// Interest moves with the subscriber's reconnect: poll until a message
	// published on node 3 reaches it through node 2.
	deliver(ctx, t, pub.Conn(), got, "after")
	// Two of three replicas are a quorum: writes go on.
	for {
		_, err := kv.Put(ctx, "k", []byte("2"))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("kv put with a node down: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	c.Restart(0)
	only := connect(ctx, t, c.Client(bus.RoleWorker, c.NodeURL(0)))
	js0, err := jetstream.New(only.Conn())
	if err != nil {
		t.Fatal(err)
	}
	for {
		kv0, err := js0.KeyValue(ctx, "izwi_test")
		if err == nil {
			var e jetstream.KeyValueEntry
			if e, err = kv0.Get(ctx, "k"); err == nil && string(e.Value()) == "2" {
				return
			}
			if err == nil {
				err = errors.New("value " + string(e.Value()))
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("restarted node never served the bucket's current value: %v\n%s", err, c.Logs(0))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func connect(ctx context.Context, t *testing.T, cfg bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// deliver publishes msg until the subscriber has it (a message published
// while its route or client reconnects is lost: core NATS is at most once).
func deliver(ctx context.Context, t *testing.T, nc *nats.Conn, got <-chan string, msg string) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := nc.Publish("izwi.test.cluster", []byte(msg)); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m == msg {
				return
			}
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%q never delivered across the cluster", msg)
		}
	}
}

// BenchmarkClusterDelivery is core NATS publish → deliver across the
// cluster: the publisher on node 1, the subscriber on node 3, each message
// awaited before the next (so the figure is latency, not throughput), with
// p50/p99, on a plain cluster and on a secured one (TLS 1.3 on every link,
// NKey users) side by side: each iteration sends one message on each, in
// alternating order, so both see the same load.
func BenchmarkClusterDelivery(b *testing.B) {
	type side struct {
		pub  *nats.Conn
		got  chan struct{}
		durs []time.Duration
	}
	open := func(c *natstest.Cluster) *side {
		pub := connectB(b, c.Client(bus.RoleGateway, c.NodeURL(0)))
		sub := connectB(b, c.Client(bus.RoleWorker, c.NodeURL(2)))
		sd := &side{pub: pub.Conn(), got: make(chan struct{}, 1), durs: make([]time.Duration, 0, b.N)}
		if _, err := sub.Conn().Subscribe("izwi.bench.delivery", func(*nats.Msg) { sd.got <- struct{}{} }); err != nil {
			b.Fatal(err)
		}
		if err := sub.Conn().Flush(); err != nil {
			b.Fatal(err)
		}
		// Interest reaches node 1 over the routes: wait for the first delivery.
		deliverB(b, sd.pub, sd.got)
		return sd
	}
	plain := open(natstest.Start(b, natstest.Self))
	secured := open(natstest.StartSecured(b, natstest.Self))
	payload := make([]byte, 200) // about a caption event
	one := func(sd *side) {
		start := time.Now()
		if err := sd.pub.Publish("izwi.bench.delivery", payload); err != nil {
			b.Fatal(err)
		}
		select {
		case <-sd.got:
		case <-time.After(5 * time.Second):
			b.Fatal("a message was not delivered within 5 s")
		}
		sd.durs = append(sd.durs, time.Since(start))
	}
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			one(plain)
			one(secured)
		} else {
			one(secured)
			one(plain)
		}
	}
	b.StopTimer()
	pct := func(d []time.Duration, p int) time.Duration { slices.Sort(d); return d[len(d)*p/100] }
	b.ReportMetric(float64(pct(plain.durs, 50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(pct(plain.durs, 99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(pct(secured.durs, 50).Microseconds()), "secured-p50-µs")
	b.ReportMetric(float64(pct(secured.durs, 99).Microseconds()), "secured-p99-µs")
	b.ReportMetric(float64(pct(secured.durs, 50))/float64(pct(plain.durs, 50)), "secured/plain-p50")
}

func connectB(b *testing.B, cfg bus.Config) *bus.Bus {
	bb, err := bus.Start(b.Context(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bb.Close() })
	return bb
}

func deliverB(b *testing.B, nc *nats.Conn, got <-chan struct{}) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = nc.Publish("izwi.bench.delivery", nil)
		select {
		case <-got:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatal("no delivery across the cluster")
		}
	}
}
