package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/speech"
)

// BenchmarkLiveStreams is issue 14's streams goal, per engine: the live
// path through a real `izwi serve` (ingest WebSocket → session pipeline →
// viewer WebSocket) against the same engine driven directly in a tight
// loop, side by side in rounds that alternate which side goes first.
//
// Both sides run N streams at once (N = the cores, IZWI_BENCH_STREAMS to
// change it) over the same audio pushed in the same 1 s chunks (the most
// one ingest message may hold; the session hands each to the engine as
// it came) with no pacing. The direct side builds its recognizer from the
// server's own configuration through the composition root's functions
// (config.Load over the same IZWI_* settings, roleEngines, newRegistry,
// engineDeps): the same engine, model, profile and options. "Real-time
// streams sustained" is, on both sides, seconds of audio recognised per
// wall second at that saturation: N × audio ÷ the time until the last
// stream is done. A direct stream is done when Flush returns; a server
// session when its viewer socket has the final the direct run ended with
// (same engine, same audio, same chunks: the same last final), after the
// client sent {"type":"finalize"} behind the audio as Flush ends a direct
// stream. Opening (NewStream; creating the session and its sockets
// before the clock starts, the pipeline taking its stream on the first
// audio) is inside or outside the clock alike; closing (Close; stopping
// the session) is outside on both sides. The server has no VAD (the
// direct side has none) and may queue all the audio (live.queue_audio
// 5m): nothing is dropped.
//
// Reported per engine: the medians of each side's streams, of the
// per-round ratios (server ÷ direct; goal ≥ 0.95) and of the per-round
// ratios of CPU time per audio second (this process for the direct side,
// the server process for the other), which the box's other load barely
// moves. sherpa runs the small generated streaming model
// (streaming-zipformer2-tiny from scripts/gen-test-models.py,
// IZWI_GEN_MODELS): it decodes about a thousand times faster than real
// time, so its ratio measures what the server adds per second of audio
// rather than a production model's throughput; its
// audio is the utterance eight times over so a round lasts long enough
// to time.
//
//	go test ./cmd/izwi -run '^$' -bench LiveStreams -benchtime 5x
func BenchmarkLiveStreams(b *testing.B) {
	n := runtime.GOMAXPROCS(0)
	if v := os.Getenv("IZWI_BENCH_STREAMS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 64 {
			b.Fatalf("IZWI_BENCH_STREAMS=%q: want 1–64", v)
		}
	}
	_, one := liveUtterance(b, "2412-153948-0000")
	for _, e := range []struct {
		name    string
		repeat  int
		setting []string
	}{
		{"pocketsphinx", 1, []string{"IZWI_ASR_ENGINE=pocketsphinx"}},
		{"sherpa", 8, []string{"IZWI_ASR_ENGINE=sherpa", "IZWI_ASR_MODEL=" + benchSherpaModel}},
	} {
		b.Run(e.name, func(b *testing.B) {
			env := append(keysEnv(b.TempDir()), "IZWI_MODELS_DIR="+b.TempDir(), "IZWI_LIVE_QUEUE_AUDIO=5m",
				"IZWI_LIVE_MAX_SESSIONS="+strconv.Itoa(max(n, 4)))
			env = append(env, e.setting...)
			switch {
			case e.name == "sherpa":
				env = importGenModel(b, env, benchSherpaModel, "generated streaming zipformer (benchmarks only)")
			case n > 4: // PocketSphinx's pool holds 4 decoders unless told
				conf := filepath.Join(b.TempDir(), "izwi.toml")
				if err := os.WriteFile(conf, fmt.Appendf(nil, "[engines.asr]\nengine = \"pocketsphinx\"\noptions = { decoders = \"%d\" }\n", n), 0o600); err != nil {
					b.Fatal(err)
				}
				env = append(env, "IZWI_CONFIG="+conf)
			}
			var samples []float32
			for range e.repeat {
				samples = append(samples, one...)
			}
			rec := directRecognizer(b, env)
			key := newKey(b, env, "--name", "bench", "--scopes", "live.write,live.read")
			s := startServe(b, env)
			defer s.stop(b)
			secs := float64(len(samples)) / 16000 * float64(n)
			// A warm-up round of each side, untimed: decoders built once.
			_, _, lastEnd := direct(b, rec, samples, n)
			throughServer(b, s.cmd.Process.Pid, s.url, key, samples, n, lastEnd)
			var d, sv, ratio, cpuRatio []float64
			pid := s.cmd.Process.Pid
			for i := 0; b.Loop(); i++ {
				var dw, sw, dc, sc time.Duration
				directSide := func() { dw, dc, _ = direct(b, rec, samples, n) }
				serverSide := func() { sw, sc = throughServer(b, pid, s.url, key, samples, n, lastEnd) }
				if i%2 == 0 {
					directSide()
					serverSide()
				} else {
					serverSide()
					directSide()
				}
				d, sv = append(d, secs/dw.Seconds()), append(sv, secs/sw.Seconds())
				ratio, cpuRatio = append(ratio, dw.Seconds()/sw.Seconds()), append(cpuRatio, dc.Seconds()/sc.Seconds())
				b.Logf("round %d: direct %.2f, server %.2f streams (ratio %.2f); CPU per audio second direct %.4f s, server process %.4f s",
					i+1, d[i], sv[i], ratio[i], dc.Seconds()/secs, sc.Seconds()/secs)
			}
			median := func(xs []float64) float64 { xs = slices.Clone(xs); slices.Sort(xs); return xs[len(xs)/2] }
			b.ReportMetric(float64(n), "streams-at-once")
			b.ReportMetric(median(d), "streams-direct")
			b.ReportMetric(median(sv), "streams-server")
			b.ReportMetric(median(ratio), "server/direct-ratio")
			b.ReportMetric(median(cpuRatio), "cpu-direct/server-ratio")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchSherpaModel is the generated streaming model BenchmarkLiveStreams
// gives the server and the direct side.
const benchSherpaModel = "streaming-zipformer2-tiny"

// procCPU is a process's user + system CPU time from /proc/<pid>/stat.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command's closing parenthesis: utime and stime are
	// the 12th and 13th (fields 14 and 15 of the line), in clock ticks.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// directRecognizer loads the asr role the way izwi serve does from env's
// IZWI_* settings (and nothing else from this process's environment).
func directRecognizer(b *testing.B, env []string) speech.Recognizer {
	b.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	cfg, _, err := config.Load(config.Source{LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }})
	if err != nil {
		b.Fatal(err)
	}
	if cfg = cfg.Defaults(); cfg.Validate() != nil {
		b.Fatal(cfg.Validate())
	}
	logger := slog.New(slog.DiscardHandler)
	ms, err := openModelStore(cfg, logger)
	if err != nil {
		b.Fatal(err)
	}
	set, err := engines.LoadChained(b.Context(), newRegistry(), engineDeps(ms, logger),
		newChainer(cfg.Engines.Failover, logger), roleEngines(cfg))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = set.Close() })
	if set.Recognizer == nil {
		b.Fatalf("the asr role did not load: %+v", set.Status())
	}
	return set.Recognizer
}

// direct runs n streams of rec at once over samples in 1 s chunks, no
// pacing. It returns the wall time from the start to the last Flush, this
// process's CPU time meanwhile (the streams are closed after, as the
// server's sessions are stopped after theirs), and the end of the last
// final the streams produced (seconds).
func direct(b *testing.B, rec speech.Recognizer, samples []float32, n int) (wall, cpu time.Duration, lastEnd float64) {
	ends := make([]float64, n)
	release := make(chan struct{})
	var finished, wg sync.WaitGroup
	c0, start := procCPU(b, os.Getpid()), time.Now()
	for i := range n {
		finished.Add(1)
		wg.Go(func() {
			done := sync.OnceFunc(finished.Done)
			defer done()
			ctx := context.Background()
			st, err := rec.NewStream(ctx, speech.StreamOptions{})
			if err != nil {
				b.Error(err)
				return
			}
			defer st.Close()
			last := func(rs []speech.Result) {
				for _, r := range rs {
					if r.Final && r.Text != "" {
						ends[i] = max(ends[i], r.End.Seconds())
					}
				}
			}
			for off := 0; off < len(samples); off += 16000 {
				rs, err := st.Accept(ctx, samples[off:min(off+16000, len(samples))])
				if err != nil {
					b.Error(err)
					return
				}
				last(rs)
			}
			rs, err := st.Flush(ctx)
			if err != nil {
				b.Error(err)
			}
			last(rs)
			done()
			<-release
		})
	}
	finished.Wait()
	wall, cpu = time.Since(start), procCPU(b, os.Getpid())-c0
	close(release)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	if slices.Min(ends) != slices.Max(ends) || ends[0] == 0 {
		b.Fatalf("direct streams of the same audio ended with different (or no) finals: %v", ends)
	}
	return wall, cpu, ends[0]
}

// throughServer runs n sessions at once on the server at url (process
// pid): each created, watched and attached first, then given samples in
// 1 s ingest messages and a finalize, and done when its viewer socket has
// a final ending at lastEnd. It returns the wall time from the first
// audio to the last session done and the server's CPU time meanwhile
// (the sessions are stopped after).
func throughServer(b *testing.B, pid int, url, key string, samples []float32, n int, lastEnd float64) (wall, cpu time.Duration) {
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()
	pcm := audio.EncodePCM16(samples)
	ready, release := make(chan struct{}), make(chan struct{})
	var prep, finished, wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		prep.Add(1)
		finished.Add(1)
		wg.Go(func() { errs[i] = serverStream(ctx, url, key, pcm, lastEnd, &prep, &finished, ready, release) })
	}
	prep.Wait()
	c0, start := procCPU(b, pid), time.Now()
	close(ready)
	finished.Wait()
	wall, cpu = time.Since(start), procCPU(b, pid)-c0
	close(release)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return wall, cpu
}

// serverStream is one of throughServer's sessions: it says it is ready
// (prep) and waits for ready, says when it is done (finished) and waits
// for release before it stops the session.
func serverStream(ctx context.Context, url, key string, pcm []byte, lastEnd float64,
	prep, finished *sync.WaitGroup, ready, release <-chan struct{}) error {
	once, done := sync.OnceFunc(prep.Done), sync.OnceFunc(finished.Done)
	defer once()
	defer done()
	bs, err := openBenchSession(ctx, url, key)
	if err != nil {
		return err
	}
	defer bs.close(ctx)
	view, in := bs.view, bs.in
	once()
	<-ready
	for off := 0; off < len(pcm); off += 32000 {
		if err := in.Write(ctx, websocket.MessageBinary, pcm[off:min(off+32000, len(pcm))]); err != nil {
			return fmt.Errorf("ingest write: %w", err)
		}
	}
	if err := in.Write(ctx, websocket.MessageText, []byte(`{"type":"finalize"}`)); err != nil {
		return fmt.Errorf("ingest finalize: %w", err)
	}
	for {
		_, msg, err := view.Read(ctx)
		if err != nil {
			return fmt.Errorf("viewer: no final ending at %.2f s (the direct run's last): %w", lastEnd, err)
		}
		var e live.Event
		if json.Unmarshal(msg, &e) == nil && e.Type == live.TypeCaption && e.Final && e.Text != "" && e.End >= lastEnd-0.01 {
			done()
			<-release
			return nil
		}
	}
}

// benchSession is a live session started for a benchmark, with its
// viewer and ingest sockets open.
type benchSession struct {
	url, key, id string
	view, in     *websocket.Conn
}

func openBenchSession(ctx context.Context, url, key string) (*benchSession, error) {
	var c liveSession
	if err := benchAPI(ctx, "POST", url+"/v1/sessions", key, map[string]any{"label": "bench", "start": true}, &c); err != nil {
		return nil, err
	}
	bs := &benchSession{url: url, key: key, id: c.ID}
	ws := "ws" + strings.TrimPrefix(url, "http") + "/v1/sessions/" + c.ID
	var err error
	if bs.view, _, err = websocket.Dial(ctx, ws+"/captions", nil); err != nil {
		bs.close(ctx)
		return nil, fmt.Errorf("viewer: %w", err)
	}
	bs.view.SetReadLimit(1 << 20)
	if bs.in, _, err = websocket.Dial(ctx, ws+"/audio?encoding=linear16&sample_rate=16000&channels=1",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + key}}}); err != nil {
		bs.close(ctx)
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return bs, nil
}

// close stops the session (its decoder goes back) and closes its sockets.
func (bs *benchSession) close(ctx context.Context) {
	_ = benchAPI(context.WithoutCancel(ctx), "POST", bs.url+"/v1/sessions/"+bs.id+"/stop", bs.key, nil, nil)
	for _, c := range []*websocket.Conn{bs.view, bs.in} {
		if c != nil {
			c.CloseNow()
		}
	}
}

// benchAPI sends a JSON request and decodes a 2xx answer into out.
func benchAPI(ctx context.Context, method, url, key string, body, out any) error {
	var rd *strings.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}
