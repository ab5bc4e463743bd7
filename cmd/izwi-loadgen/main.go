// Command izwi-loadgen measures a running izwi serve's live captions from a
// separate process (scripts/bench-live.sh runs it):
//
//	izwi-loadgen latency -url URL -key KEY WAV...
//	    streams each WAV at real time into its own session and reports,
//	    from a viewer WebSocket, speech onset → first partial and end of
//	    speech → final (p50, p95);
//	izwi-loadgen fanout -url URL -key KEY -viewers N [-pid PID] WAV
//	    opens N viewer WebSockets on one session, streams WAV at real time
//	    and reports delivery time (publish → viewer, p50/p99), events
//	    delivered, and the server's RSS per viewer when -pid is given.
//
// It prints one "name value unit" line per figure. It is a benchmark tool:
// nothing here runs in make test.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/live"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: izwi-loadgen latency|fanout [flags] WAV...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "latency":
		err = runLatency(ctx, os.Args[2:])
	case "fanout":
		err = runFanout(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "izwi-loadgen:", err)
		os.Exit(1)
	}
}

// client talks to one server.
type client struct {
	url, key string
	http     *http.Client
}

func newClient(url, key string) *client {
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, MaxIdleConnsPerHost: 64}
	return &client{url: strings.TrimRight(url, "/"), key: key, http: &http.Client{Transport: tr}}
}

func (c *client) createSession(ctx context.Context, label string) (string, error) {
	b, _ := json.Marshal(map[string]any{"label": label, "start": true})
	req, _ := http.NewRequestWithContext(ctx, "POST", c.url+"/v1/sessions", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct{ ID string }
	if resp.StatusCode != 201 || json.Unmarshal(body, &out) != nil {
		return "", fmt.Errorf("create session: %d %s", resp.StatusCode, body)
	}
	return out.ID, nil
}

// stopSession ends a session, freeing its recognizer decoder.
func (c *client) stopSession(ctx context.Context, id string) {
	req, _ := http.NewRequestWithContext(ctx, "POST", c.url+"/v1/sessions/"+id+"/stop", nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	if resp, err := c.http.Do(req); err == nil {
		resp.Body.Close()
	}
}

func (c *client) ws(ctx context.Context, path string, auth bool) (*websocket.Conn, error) {
	h := http.Header{}
	if auth {
		h.Set("Authorization", "Bearer "+c.key)
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.url, "http")+path, &websocket.DialOptions{HTTPHeader: h, HTTPClient: c.http})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// load reads a WAV as 16 kHz mono.
func load(path string) ([]float32, error) {
	clip, err := audio.DecodeFile(path, audio.Limits{})
	if err != nil {
		return nil, err
	}
	return audio.Prepare(clip, 16000)
}

// speechSpan finds the first and last 20 ms windows whose level is within
// 30 dB of the loudest: speech onset and end, in samples.
func speechSpan(s []float32) (onset, end int) {
	const win = 320
	var levels []float64
	peak := 0.0
	for i := 0; i+win <= len(s); i += win {
		var e float64
		for _, v := range s[i : i+win] {
			e += float64(v) * float64(v)
		}
		rms := math.Sqrt(e / win)
		levels = append(levels, rms)
		peak = max(peak, rms)
	}
	thr := peak * math.Pow(10, -30.0/20)
	onset, end = -1, -1
	for i, l := range levels {
		if l >= thr {
			if onset < 0 {
				onset = i * win
			}
			end = (i + 1) * win
		}
	}
	return max(onset, 0), max(end, 0)
}

// chunk is 100 ms of 16 kHz audio.
const chunk = 1600

// streamRealTime sends samples, then pad of silence, paced at real time,
// and returns when each chunk was sent (sent[i] holds samples
// [i*chunk, (i+1)*chunk)).
func (c *client) streamRealTime(ctx context.Context, id string, samples []float32, pad time.Duration) ([]time.Time, error) {
	conn, err := c.ws(ctx, "/v1/sessions/"+id+"/audio?encoding=linear16&sample_rate=16000&channels=1", true)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	defer conn.CloseNow()
	all := append(append([]float32(nil), samples...), make([]float32, int(pad.Seconds()*16000))...)
	pcm := audio.EncodePCM16(all)
	var sent []time.Time
	start := time.Now()
	for i := 0; i*chunk*2 < len(pcm); i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * 100 * time.Millisecond)))
		if err := conn.Write(ctx, websocket.MessageBinary, pcm[i*chunk*2:min((i+1)*chunk*2, len(pcm))]); err != nil {
			return sent, fmt.Errorf("ingest write: %w", err)
		}
		sent = append(sent, time.Now())
	}
	_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"close"}`))
	return sent, nil
}

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
	var first, final []float64
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
		for _, a := range got {
			if a.ev.Type != live.TypeCaption || a.ev.Text == "" {
				continue
			}
			if fp.IsZero() {
				fp = a.at
			}
			if a.ev.Final {
				lf = a.at
			}
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
	return nil
}

// pct is the p-th percentile (nearest rank).
func pct(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// rssKiB reads a process's resident set from /proc.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

func runFanout(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fanout", flag.ExitOnError)
	url := fs.String("url", "", "server URL")
	key := fs.String("key", "", "API key with live.write")
	n := fs.Int("viewers", 10000, "viewer WebSockets")
	pid := fs.Int("pid", 0, "server process id (for RSS per viewer)")
	_ = fs.Parse(args)
	if *url == "" || *key == "" || fs.NArg() != 1 {
		return errors.New("fanout: -url, -key and one WAV are required")
	}
	samples, err := load(fs.Arg(0))
	if err != nil {
		return err
	}
	c := newClient(*url, *key)
	id, err := c.createSession(ctx, "bench-fanout")
	if err != nil {
		return err
	}
	var before int64
	if *pid > 0 {
		if before, err = rssKiB(*pid); err != nil {
			return err
		}
	}
	conns := make([]*websocket.Conn, *n)
	sem := make(chan struct{}, 100)
	var dialErr error
	var emu sync.Mutex
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			conn, err := c.ws(dctx, "/v1/sessions/"+id+"/captions", false)
			if err != nil {
				emu.Lock()
				dialErr = err
				emu.Unlock()
				return
			}
			conns[i] = conn
		}()
	}
	wg.Wait()
	open := 0
	for _, cn := range conns {
		if cn != nil {
			open++
		}
	}
	if open < *n {
		fmt.Fprintf(os.Stderr, "fanout: %d of %d viewers connected (last error: %v)\n", open, *n, dialErr)
	}
	time.Sleep(2 * time.Second) // let the server settle before measuring
	var after int64
	if *pid > 0 {
		if after, err = rssKiB(*pid); err != nil {
			return err
		}
	}
	// Every viewer records publish → arrival for each event published
	// from now on (catch-up of older events is not a delivery time).
	delays := make([][]float64, len(conns))
	ends := make([]websocket.StatusCode, len(conns)) // how each feed ended before we closed it
	from := time.Now()
	var rd sync.WaitGroup
	for i, cn := range conns {
		if cn == nil {
			continue
		}
		rd.Add(1)
		go func() {
			defer rd.Done()
			for {
				_, b, err := cn.Read(ctx)
				if err != nil {
					ends[i] = websocket.CloseStatus(err)
					return
				}
				var e struct {
					Time time.Time `json:"time"`
				}
				if json.Unmarshal(b, &e) == nil && e.Time.After(from) {
					delays[i] = append(delays[i], time.Since(e.Time).Seconds()*1000)
				}
			}
		}()
	}
	if _, err := c.streamRealTime(ctx, id, samples, 3*time.Second); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	c.stopSession(ctx, id)
	time.Sleep(2 * time.Second) // the "stopped" state event reaches everyone
	for _, cn := range conns {
		if cn != nil {
			cn.CloseNow()
		}
	}
	rd.Wait()
	var all []float64
	perViewer := map[int]int{}
	for _, d := range delays {
		all = append(all, d...)
		perViewer[len(d)]++
	}
	if len(all) == 0 {
		return errors.New("fanout: no events delivered")
	}
	dropped := 0
	for _, code := range ends {
		if code == 4008 { // fell behind
			dropped++
		}
	}
	fmt.Printf("live_fanout_viewers_dropped_slow %d count\n", dropped)
	fmt.Printf("live_fanout_viewers %d count\nlive_fanout_deliveries %d count\n", open, len(all))
	fmt.Printf("live_fanout_delivery_p50 %.1f ms\nlive_fanout_delivery_p99 %.1f ms\nlive_fanout_delivery_max %.1f ms\n",
		pct(all, 50), pct(all, 99), pct(all, 100))
	if *pid > 0 && open > 0 {
		fmt.Printf("live_fanout_server_rss_before %d KiB\nlive_fanout_server_rss_after %d KiB\nlive_fanout_rss_per_viewer %.1f KiB\n",
			before, after, float64(after-before)/float64(open))
	}
	// Viewers that missed events would show as a spread here.
	counts := make([]int, 0, len(perViewer))
	for k := range perViewer {
		counts = append(counts, k)
	}
	sort.Ints(counts)
	fmt.Fprintf(os.Stderr, "events per viewer (count: viewers): ")
	for _, k := range counts {
		fmt.Fprintf(os.Stderr, "%d:%d ", k, perViewer[k])
	}
	fmt.Fprintln(os.Stderr)
	return nil
}
