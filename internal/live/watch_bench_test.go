package live

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
)

// BenchmarkFanoutFrames: 50,000 feeds of one session drained the way
// viewer sockets drain them (FrameFeed: no goroutine per feed, a few
// workers take the shared frames when notified), without sockets. Each
// iteration publishes one event and waits until every feed has taken it.
// Reports p50/p99 publish → taken and heap bytes per feed. The socket
// figures come from scripts/bench-live.sh.
func BenchmarkFanoutFrames(b *testing.B) {
	const feeds, workers = 50000, 16
	m := benchManager(b, false, config.Live{})
	c, err := m.Create(b.Context(), "bench", CreateRequest{})
	if err != nil {
		b.Fatal(err)
	}
	sess, _ := m.lookup("", c.ID)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()

	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	var ready []FrameFeed
	type take struct {
		seq uint64
		at  time.Time
	}
	var takes []take
	taken := 0
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fs := make([]FrameFeed, feeds)
	for i := range fs {
		f, err := m.Watch(ctx, c.ID, 0)
		if err != nil {
			b.Fatal(err)
		}
		fs[i] = f.(FrameFeed)
		ff := fs[i]
		ff.Frames(ctx, func() { mu.Lock(); ready = append(ready, ff); cond.Signal(); mu.Unlock() })
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []Frame
			for {
				mu.Lock()
				for len(ready) == 0 && ctx.Err() == nil {
					cond.Wait()
				}
				if ctx.Err() != nil {
					mu.Unlock()
					return
				}
				f := ready[len(ready)-1]
				ready = ready[:len(ready)-1]
				mu.Unlock()
				buf = f.Take(buf[:0])
				now := time.Now()
				mu.Lock()
				for _, fr := range buf {
					takes = append(takes, take{fr.Seq, now})
				}
				taken += len(buf)
				cond.Broadcast()
				mu.Unlock()
			}
		}()
	}
	// Every feed first takes what the session held (its catch-up).
	info, err := m.Get(b.Context(), "", c.ID)
	if err != nil {
		b.Fatal(err)
	}
	taken0 := feeds * int(info.LastSeq)
	mu.Lock()
	for taken < taken0 {
		cond.Wait()
	}
	mu.Unlock()
	published := map[uint64]time.Time{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := sess.pub.publish(Event{Type: TypeCaption, Segment: i, Text: "benchmark words"})
		published[e.Seq] = e.Time
		want := taken0 + (i+1)*feeds
		deadline := time.Now().Add(time.Minute)
		mu.Lock()
		for taken < want {
			if time.Now().After(deadline) {
				mu.Unlock()
				b.Fatalf("only %d of %d deliveries", taken, want)
			}
			cond.Wait()
		}
		mu.Unlock()
	}
	b.StopTimer()
	cancel()
	mu.Lock()
	cond.Broadcast()
	mu.Unlock()
	wg.Wait()
	var lat []float64
	for _, t := range takes {
		if p, ok := published[t.seq]; ok {
			lat = append(lat, t.at.Sub(p).Seconds())
		}
	}
	b.ReportMetric(percentile(lat, 0.99)*1000, "p99-ms")
	b.ReportMetric(percentile(lat, 0.5)*1000, "p50-ms")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/feeds, "heap-B/feed")
	b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/feeds, "stack-B/feed")
}
