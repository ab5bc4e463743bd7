package live

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/lease"
)

// newJetStream starts an in-process NATS server with JetStream (in
// memory streams only, but the server wants a store directory).
func newJetStream(t testing.TB) func() *nats.Conn {
	t.Helper()
	return natsServer(t, &server.Options{DontListen: true, NoSigs: true, NoLog: true, JetStream: true, StoreDir: t.TempDir()})
}

// clusterNode is one process of a test cluster: its own bus connection
// (closed to simulate a crash) and manager.
type clusterNode struct {
	nc *nats.Conn
	m  *Manager
}

func newClusterNode(t testing.TB, conn func() *nats.Conn, dir, name string, take bool, cfg config.Live) *clusterNode {
	t.Helper()
	nc := conn()
	tb, err := lease.Open(t.Context(), nc, lease.Config{Node: name, TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(t, dir)
	log := slog.New(slog.DiscardHandler)
	if _, ok := t.(*testing.T); ok && testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", name)
	}
	opts := ManagerOptions{Store: st, Conn: nc, Config: cfg, Cluster: &Cluster{Leases: LeasesOf(tb), Take: take},
		TickEvery: 200 * time.Millisecond, Logger: log}
	if take {
		opts.Recognizer = newRecognizer(t)
	}
	m, err := NewManager(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()); st.Close() })
	return &clusterNode{nc: nc, m: m}
}

// owner names which node's manager holds session id.
func owner(id string, nodes ...*clusterNode) int {
	for i, n := range nodes {
		if s := n.m.local(id); s != nil && s.held() {
			return i
		}
	}
	return -1
}

// A session created and fed through a gateway is run by one worker;
// when that worker's bus connection dies mid-utterance, the other worker
// takes the session within the lease's TTL plus a poll, recognises the
// audio since the last final again, and the viewer (on the gateway) sees
// every final once, in order, with no seq twice.
func TestClusterTakeover(t *testing.T) {
	conn := newJetStream(t)
	dir := t.TempDir()
	gw := newClusterNode(t, conn, dir, "gw", false, config.Live{})
	w1 := newClusterNode(t, conn, dir, "w1", true, config.Live{})
	w2 := newClusterNode(t, conn, dir, "w2", true, config.Live{})
	ctx := t.Context()

	c, err := gw.m.Create(ctx, "k1", CreateRequest{Label: "cluster", Start: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != Live {
		t.Fatalf("created in state %s", c.State)
	}
	first := owner(c.ID, w1, w2)
	if first < 0 {
		t.Fatal("no worker owns the started session")
	}
	workers := []*clusterNode{w1, w2}
	feed, err := gw.m.Watch(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	in, err := gw.m.Attach(ctx, "k1", c.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	u := utterance(t, pauseID)
	pcm := samples(t, u)
	var events []Event
	var crashedAt time.Time
	const chunk = 1600 // 100 ms
	for i := 0; i < len(pcm); i += chunk {
		if err := in.Write(pcm[i:min(i+chunk, len(pcm))]); err != nil {
			t.Fatal(err)
		}
		if crashedAt.IsZero() && i >= len(pcm)*2/3 {
			// The owner "dies": its connection goes, so it neither
			// renews its lease nor publishes.
			workers[first].nc.Close()
			crashedAt = time.Now()
		}
		time.Sleep(25 * time.Millisecond) // 4× real time
	}
	if err := in.Finalize(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the other worker takes the session", func() bool { return owner(c.ID, w1, w2) == 1-first })
	took := time.Since(crashedAt)
	t.Logf("takeover after %v", took)
	if took > 5*time.Second {
		t.Errorf("takeover took %v; the lease's TTL is 2 s", took)
	}
	var finals []Event
	deadline := time.After(30 * time.Second)
	for len(finals) == 0 || !finalEndsNear(finals, float64(len(pcm))/16000) {
		select {
		case e, ok := <-feed.Events():
			if !ok {
				t.Fatalf("feed ended: %v; finals %+v", feed.Err(), finals)
			}
			events = append(events, e)
			if e.Type == TypeCaption && e.Final && e.Text != "" {
				finals = append(finals, e)
			}
		case <-deadline:
			t.Fatalf("no final reached the end of the audio; finals %+v", finals)
		}
	}
	for i := 1; i < len(events); i++ {
		if events[i].Seq <= events[i-1].Seq {
			t.Fatalf("seq %d after %d", events[i].Seq, events[i-1].Seq)
		}
	}
	for i := 1; i < len(finals); i++ {
		if finals[i].Start < finals[i-1].End-0.05 {
			t.Fatalf("final %q [%.2f,%.2f] overlaps the one before [%.2f,%.2f]: told twice", finals[i].Text,
				finals[i].Start, finals[i].End, finals[i-1].Start, finals[i-1].End)
		}
	}
	w, hyp := werOf(u.Reference, finals)
	t.Logf("WER %.3f: %q", w, hyp)
	if w > 0.45 { // PocketSphinx alone scores 0.361 on it
		t.Fatalf("WER %.3f after a takeover; hyp %q", w, hyp)
	}
	if err := feed.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("feed ended: %v", err)
	}
}

// finalEndsNear reports whether the last final ends within a second of end.
func finalEndsNear(finals []Event, end float64) bool {
	return finals[len(finals)-1].End > end-1.5
}

// Deleting a session through a gateway deletes it at its owner, which
// purges what the bus kept of it (its last event, its mark, its audio).
func TestClusterDeletePurgesTheBus(t *testing.T) {
	conn := newJetStream(t)
	dir := t.TempDir()
	gw := newClusterNode(t, conn, dir, "gw", false, config.Live{})
	w := newClusterNode(t, conn, dir, "w", true, config.Live{})
	ctx := t.Context()
	c, err := gw.m.Create(ctx, "k", CreateRequest{Label: "gone", Start: true})
	if err != nil {
		t.Fatal(err)
	}
	in, err := gw.m.Attach(ctx, "k", c.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	_ = in.Write(make([]float32, 16000))
	eventually(t, 10*time.Second, "a mark and a last event on the bus", func() bool {
		_, _, ev := w.m.bus.last(ctx, c.ID)
		_, mk := w.m.bus.mark(ctx, c.ID)
		return ev && mk
	})
	if _, err := gw.m.Get(ctx, "other", c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another owner's Get through the gateway: %v", err)
	}
	if err := gw.m.Delete(ctx, "k", c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, ev := w.m.bus.last(ctx, c.ID); ev {
		t.Error("the last event outlived the session")
	}
	if _, mk := w.m.bus.mark(ctx, c.ID); mk {
		t.Error("the mark outlived the session")
	}
	if owner(c.ID, w) >= 0 {
		t.Error("the worker still owns a deleted session")
	}
	if _, err := gw.m.Get(ctx, "k", c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
}
