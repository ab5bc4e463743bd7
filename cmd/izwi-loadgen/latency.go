package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

// arrival is an event and when the viewer got it.
type arrival struct {
	ev live.Event
	at time.Time
}

func runLatency(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	url := fs.String("url", "", "server URL")
	key := fs.String("key", "", "API key with live.write")
	_ = fs.Parse(args)
	if *url == "" || *key == "" || fs.NArg() == 0 {
		return errors.New("latency: -url, -key and at least one WAV are required")
	}
	c := newClient(*url, *key)
	var first, final, gaps []float64
	for _, wav := range fs.Args() {
		samples, err := load(wav)
		if err != nil {
			return err
		}
		onset, end := speechSpan(samples)
		id, err := c.createSession(ctx, "bench-latency")
		if err != nil {
			return err
		}
		view, err := c.ws(ctx, "/v1/sessions/"+id+"/captions", false)
		if err != nil {
			return fmt.Errorf("viewer: %w", err)
		}
		var mu sync.Mutex
		var got []arrival
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				_, b, err := view.Read(ctx)
				if err != nil {
					return
				}
				var e live.Event
				if json.Unmarshal(b, &e) == nil {
					mu.Lock()
					got = append(got, arrival{e, time.Now()})
					mu.Unlock()
				}
			}
		}()
		sent, err := c.streamRealTime(ctx, id, samples, 3*time.Second)
		if err != nil {
			return err
		}
		time.Sleep(2 * time.Second) // the last final after the trailing silence
		view.CloseNow()
		<-done
		c.stopSession(ctx, id)
		onsetAt := sent[min(onset/chunk, len(sent)-1)]
		endAt := sent[min(end/chunk, len(sent)-1)]
		var fp, lf time.Time
		lastPartial := map[int]time.Time{} // a segment's previous partial
		for _, a := range got {
			if a.ev.Type != live.TypeCaption || a.ev.Text == "" {
				continue
			}
			if fp.IsZero() {
				fp = a.at
			}
			if a.ev.Final {
				lf = a.at
				continue
			}
			if t, ok := lastPartial[a.ev.Segment]; ok {
				gaps = append(gaps, a.at.Sub(t).Seconds()*1000)
			}
			lastPartial[a.ev.Segment] = a.at
		}
		if fp.IsZero() || lf.IsZero() {
			fmt.Fprintf(os.Stderr, "%s: no captions (partial %v, final %v)\n", wav, !fp.IsZero(), !lf.IsZero())
			continue
		}
		first = append(first, fp.Sub(onsetAt).Seconds()*1000)
		final = append(final, lf.Sub(endAt).Seconds()*1000)
		fmt.Fprintf(os.Stderr, "%s: onset→first partial %.0f ms, end→final %.0f ms\n", wav, first[len(first)-1], final[len(final)-1])
	}
	if len(first) == 0 {
		return errors.New("latency: no utterance produced captions")
	}
	fmt.Printf("live_first_partial_p50 %.0f ms\nlive_first_partial_p95 %.0f ms\n", pct(first, 50), pct(first, 95))
	fmt.Printf("live_final_p50 %.0f ms\nlive_final_p95 %.0f ms\nlive_latency_utterances %d count\n", pct(final, 50), pct(final, 95), len(first))
	if len(gaps) > 0 {
		fmt.Printf("live_partial_gap_p95 %.0f ms\n", pct(gaps, 95))
	}
	return nil
}
