package live

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
)

// benchSessions runs n sessions at once through create (on entry), attach
// and watch (on view), each fed the whole utterance as fast as the queue
// takes it, and returns the audio seconds recognised per wall second
// (until every session's last final arrived) and every event's delivery
// time (publish → the feed).
func benchSessions(b *testing.B, entry, view *Manager, s []float32, n int) (float64, []time.Duration) {
	b.Helper()
	ctx := context.Background()
	end := float64(len(s)) / 16000
	var mu sync.Mutex
	var delays []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := entry.Create(ctx, "bench", CreateRequest{Label: "bench", Start: true})
			if err != nil {
				b.Error(err)
				return
			}
			defer entry.Delete(context.WithoutCancel(ctx), "bench", c.ID)
			f, err := view.Watch(ctx, c.ID, 0)
			if err != nil {
				b.Error(err)
				return
			}
			defer f.Close()
			in, err := entry.Attach(ctx, "bench", c.ID, "bench")
			if err != nil {
				b.Error(err)
				return
			}
			defer in.Close()
			for off := 0; off < len(s); off += 1600 {
				_ = in.Write(s[off:min(off+1600, len(s))])
			}
			_ = in.Finalize()
			timeout := time.After(2 * time.Minute)
			for {
				select {
				case e, ok := <-f.Events():
					if !ok {
						b.Errorf("feed ended: %v", f.Err())
						return
					}
					mu.Lock()
					delays = append(delays, time.Since(e.Time))
					mu.Unlock()
					if e.Type == TypeCaption && e.Final && e.Text != "" && e.End > end-1.5 {
						return
					}
				case <-timeout:
					b.Error("no last final within 2 minutes")
					return
				}
			}
		}()
	}
	wg.Wait()
	return end * float64(n) / time.Since(start).Seconds(), delays
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// BenchmarkClusterStreams compares live streams through a gateway and a
// worker (two managers, each its own bus connection, audio and captions
// over the embedded NATS server's JetStream) with the same sessions on
// one manager (--role all, audio in process): N = GOMAXPROCS sessions at
// once, audio written as fast as the queue takes it. streams-* are audio
// seconds recognised per wall second; ratio is cluster / all (issue 13:
// ≥ 0.9). deliver-p99-ms is publish → a viewer's feed on the gateway
// (cluster) or in the process (all).
func BenchmarkClusterStreams(b *testing.B) {
	s := samples(b, utterance(b, pauseID))
	n := runtime.GOMAXPROCS(0)
	cfg := config.Live{QueueAudio: config.Duration(2 * time.Minute), MaxSessions: 64}
	conn := newJetStream(b)
	dir := b.TempDir()
	gw := newClusterNode(b, conn, dir, "gw", false, cfg)
	w := newClusterNode(b, conn, dir, "w", true, cfg)
	allStore := newStore(b, b.TempDir())
	all, err := NewManager(context.Background(), ManagerOptions{Store: allStore, Conn: conn(), Recognizer: newRecognizer(b), Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { all.Close(context.Background()); allStore.Close() })
	_ = w // the worker that owns the gateway's sessions
	var single, split float64
	var dAll, dSplit []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, d := benchSessions(b, all, all, s, n)
		single, dAll = single+r, append(dAll, d...)
		r, d = benchSessions(b, gw.m, gw.m, s, n)
		split, dSplit = split+r, append(dSplit, d...)
	}
	b.ReportMetric(single/float64(b.N), "streams-all")
	b.ReportMetric(split/float64(b.N), "streams-cluster")
	b.ReportMetric(split/single, "ratio")
	b.ReportMetric(float64(quantile(dAll, 0.99).Microseconds())/1000, "deliver-all-p99-ms")
	b.ReportMetric(float64(quantile(dSplit, 0.99).Microseconds())/1000, "deliver-p99-ms")
}

// BenchmarkClusterTakeover: each iteration a live session fed through a
// gateway loses its worker (its bus connection closes: it neither renews
// nor publishes) while a second worker runs; reported is the time from
// the loss to the viewer's first event from the new owner (the
// interrupted state), p50 and p95 over the iterations. The lease's TTL
// is 2 s.
func BenchmarkClusterTakeover(b *testing.B) {
	s := samples(b, utterance(b, pauseID))
	conn := newJetStream(b)
	dir := b.TempDir()
	gw := newClusterNode(b, conn, dir, "gw", false, config.Live{})
	spare := newClusterNode(b, conn, dir, "w0", true, config.Live{})
	ctx := context.Background()
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Started before the next worker exists, the session is the
		// spare's; the next worker takes it and is the next spare.
		c, err := gw.m.Create(ctx, "bench", CreateRequest{Label: "takeover", Start: true})
		if err != nil {
			b.Fatal(err)
		}
		next := newClusterNode(b, conn, dir, "w", true, config.Live{})
		f, err := gw.m.Watch(ctx, c.ID, 0)
		if err != nil {
			b.Fatal(err)
		}
		in, err := gw.m.Attach(ctx, "bench", c.ID, "bench")
		if err != nil {
			b.Fatal(err)
		}
		_ = in.Write(s[:16000*3])
		owner := spare
		if owner.m.local(c.ID) == nil || !owner.m.local(c.ID).held() {
			owner = next
		}
		lost := time.Now()
		owner.nc.Close()
		for e := range f.Events() {
			if e.Type == TypeState && e.State == Interrupted {
				took = append(took, time.Since(lost))
				break
			}
		}
		f.Close()
		in.Close()
		// Free the decoders: the session, and the dead worker's manager.
		if err := gw.m.Delete(ctx, "bench", c.ID); err != nil {
			b.Fatal(err)
		}
		_ = owner.m.Close(ctx)
		if owner == spare {
			spare = next
		}
	}
	b.ReportMetric(quantile(took, 0.5).Seconds(), "takeover-p50-s")
	b.ReportMetric(quantile(took, 0.95).Seconds(), "takeover-p95-s")
}
