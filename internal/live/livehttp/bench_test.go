package livehttp

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/live"
)

// BenchmarkFanout publishes events to 200 viewer WebSockets through the
// handlers (the fake manager fans out) and reports publish → viewer delivery
// time. The 10,000-viewer figure comes from scripts/bench-live.sh.
func BenchmarkFanout(b *testing.B) {
	const viewers = 200
	hs := newHarness(b, harnessOpts{})
	s := hs.create("alice", map[string]any{"start": true})
	var mu sync.Mutex
	var delays []time.Duration
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, viewers)
	for i := range conns {
		c, _, err := hs.dial("/v1/sessions/"+s.ID+"/captions", nil)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ev, err := readEventCtx(context.Background(), c)
				if err != nil {
					return
				}
				d := time.Since(ev.Time)
				mu.Lock()
				delays = append(delays, d)
				mu.Unlock()
			}
		}()
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		hs.fake.publish(s.ID, caption("bench", i%2 == 0))
		// Pace to what a caption feed carries (tens of events a second
		// per session), so the figure is delivery time, not queueing.
		time.Sleep(10 * time.Millisecond)
	}
	want := b.N * viewers
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(delays)
		mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	for _, c := range conns {
		c.CloseNow()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(delays) == 0 {
		b.Fatal("nothing delivered")
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(len(delays))/float64(want), "delivered-ratio")
}

// readEventCtx reads one caption event.
func readEventCtx(ctx context.Context, c *websocket.Conn) (live.Event, error) {
	_, b, err := c.Read(ctx)
	if err != nil {
		return live.Event{}, err
	}
	var e live.Event
	err = json.Unmarshal(b, &e)
	return e, err
}
