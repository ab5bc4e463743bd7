package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/live"
)

// runStreams measures recognition throughput through the real server: N
// sessions at once, each fed WAV over the ingest WebSocket as fast as the
// server takes it (the bench sets live.queue_audio so nothing is
// dropped), each watched on a viewer WebSocket until the final that
// reaches the end of its speech. The figure is seconds of audio recognised
// per wall second, i.e. real-time streams sustained: the same measure as
// BenchmarkConcurrentStreams's streams-direct, the engine driven directly.
func runStreams(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("streams", flag.ExitOnError)
	url := fs.String("url", "", "server URL")
	key := fs.String("key", "", "API key with live.write")
	n := fs.Int("n", 2, "concurrent sessions")
	_ = fs.Parse(args)
	if *url == "" || *key == "" || fs.NArg() != 1 {
		return errors.New("streams: -url, -key and one WAV are required")
	}
	samples, err := load(fs.Arg(0))
	if err != nil {
		return err
	}
	_, end := speechSpan(samples)
	c := newClient(*url, *key)
	type result struct {
		wall time.Duration
		err  error
	}
	results := make([]result, *n)
	ready := make(chan struct{})
	var prep, wg sync.WaitGroup
	for i := range *n {
		prep.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			wall, err := c.oneStream(ctx, samples, end, &prep, ready)
			results[i] = result{wall, err}
		}()
	}
	prep.Wait() // every session created, watched and attached
	close(ready)
	wg.Wait()
	var longest time.Duration
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
		longest = max(longest, r.wall)
	}
	secs := float64(len(samples)) / 16000 * float64(*n)
	fmt.Printf("live_streams_sessions %d count\nlive_streams_server %.2f streams\n", *n, secs/longest.Seconds())
	return nil
}

// oneStream runs one session: it says it is ready (prep) and waits for
// ready, then sends the audio at once and returns the time until the
// final reaching speech end (a sample offset) arrives on its viewer.
func (c *client) oneStream(ctx context.Context, samples []float32, end int, prep *sync.WaitGroup, ready <-chan struct{}) (time.Duration, error) {
	once := sync.OnceFunc(prep.Done)
	defer once()
	id, err := c.createSession(ctx, "bench-streams")
	if err != nil {
		return 0, err
	}
	defer c.stopSession(context.WithoutCancel(ctx), id)
	view, err := c.ws(ctx, "/v1/sessions/"+id+"/captions", false)
	if err != nil {
		return 0, fmt.Errorf("viewer: %w", err)
	}
	defer view.CloseNow()
	in, err := c.ws(ctx, "/v1/sessions/"+id+"/audio?encoding=linear16&sample_rate=16000&channels=1", true)
	if err != nil {
		return 0, fmt.Errorf("ingest: %w", err)
	}
	defer in.CloseNow()
	// Two seconds of silence after the speech let the endpointer close the
	// last utterance.
	pcm := audio.EncodePCM16(append(append([]float32(nil), samples...), make([]float32, 2*16000)...))
	once()
	<-ready
	start := time.Now()
	for off := 0; off < len(pcm); off += 32000 { // one second a message
		if err := in.Write(ctx, websocket.MessageBinary, pcm[off:min(off+32000, len(pcm))]); err != nil {
			return 0, fmt.Errorf("ingest write: %w", err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	want := float64(end)/16000 - 0.5
	for {
		_, b, err := view.Read(rctx)
		if err != nil {
			return 0, fmt.Errorf("viewer: no final reached %.1f s: %w", want, err)
		}
		var e live.Event
		if json.Unmarshal(b, &e) == nil && e.Type == live.TypeCaption && e.Final && e.End >= want {
			return time.Since(start), nil
		}
	}
}
