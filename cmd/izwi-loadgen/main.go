// Command izwi-loadgen measures a running izwi serve's live captions from a
// separate process (scripts/bench-live.sh runs it):
//
//	izwi-loadgen latency -url URL -key KEY WAV...
//	    streams each WAV at real time into its own session and reports,
//	    from a viewer WebSocket, speech onset → first partial, end of
//	    speech → final (p50, p95) and the gap between successive partials
//	    of a segment (p95);
//	izwi-loadgen fanout -url URL -key KEY -viewers N [-pid PID] WAV
//	    opens N viewer WebSockets on one session, streams WAV at real time
//	    and reports delivery time (publish → viewer, p50/p99), events
//	    delivered, and the server's RSS per viewer when -pid is given.
//
// Streams per engine through the server are cmd/izwi's
// BenchmarkLiveStreams (its direct side needs the server's own engine
// wiring). It prints one "name value unit" line per figure. It is a
// benchmark tool: nothing here runs in make test.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
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

// pct is the p-th percentile (nearest rank).
func pct(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
