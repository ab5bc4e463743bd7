package live

import (
	"context"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
)

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// benchManager is a Manager on a fresh store and in-process bus, with
// PocketSphinx and (when vad) the Silero VAD.
func benchManager(b *testing.B, vad bool, cfg config.Live) *Manager {
	b.Helper()
	nc := newNATS(b)()
	st, err := store.Open(context.Background(), b.TempDir()+"/izwi.db")
	if err != nil {
		b.Fatal(err)
	}
	opts := ManagerOptions{Store: st, Conn: nc, Recognizer: newRecognizer(b), Config: cfg}
	if vad {
		opts.VAD = newVAD(b)
	}
	m, err := NewManager(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close(context.Background()); st.Close() })
	return m
}

// BenchmarkLatency plays shared utterances at real time through
// Manager + Watch (PocketSphinx + Silero VAD) and reports, over all of
// them, speech onset (the VAD's, run offline on the same audio) → first
// partial, end of speech (a final's last word) → that final, and the gap
// between successive partials of a segment. "prepared" runs the same
// with prepared text holding what is said hidden in the GPL (issue 19:
// its finals must come within 5 % of "plain"), and reports its p50 end →
// final over plain's as end→final-ratio.
func BenchmarkLatency(b *testing.B) {
	m := benchManager(b, true, config.Live{})
	vad := newVAD(b)
	us := testdata3(b)
	gpl, err := os.ReadFile(testenv.Exists(b, "/usr/share/common-licenses/GPL-3", "Debian's base-files"))
	if err != nil {
		b.Fatal(err)
	}
	// One sheet for all three utterances, built once (by a first short
	// session) before anything is timed: a session's text is prepared
	// when it starts, not while it is spoken.
	sheet := string(gpl[:len(gpl)/2])
	for _, u := range us {
		sheet += "\n" + u.Reference + ".\n"
	}
	sheet += string(gpl[len(gpl)/2:])
	playSession(b, m, CreateRequest{Start: true, Context: &PreparedText{Text: sheet}}, make([]float32, 16000), nil)
	var plainFinal float64 // plain's p50 end → final, once measured
	for _, prepared := range []bool{false, true} {
		name := "plain"
		if prepared {
			name = "prepared"
		}
		b.Run(name, func(b *testing.B) {
			var lat latencies
			for i := 0; i < b.N; i++ {
				u := us[i%len(us)]
				req := CreateRequest{Start: true}
				if prepared {
					req.Context = &PreparedText{Text: sheet}
				}
				lat.add(playSession(b, m, req, samples(b, u), vadOnsets(b, vad, samples(b, u))))
			}
			lat.report(b)
			if p50 := percentile(lat.final, 0.5); !prepared {
				plainFinal = p50
			} else if plainFinal > 0 {
				b.ReportMetric(p50/plainFinal, "end→final-ratio")
			}
		})
	}
}

// latencies collects BenchmarkLatency's figures, in seconds.
type latencies struct{ firstPartial, final, partialGap []float64 }

func (l *latencies) add(o latencies) {
	l.firstPartial = append(l.firstPartial, o.firstPartial...)
	l.final = append(l.final, o.final...)
	l.partialGap = append(l.partialGap, o.partialGap...)
}

func (l *latencies) report(b *testing.B) {
	b.ReportMetric(percentile(l.firstPartial, 0.5), "onset→partial-p50-s")
	b.ReportMetric(percentile(l.firstPartial, 0.95), "onset→partial-p95-s")
	b.ReportMetric(percentile(l.final, 0.5), "end→final-p50-s")
	b.ReportMetric(percentile(l.final, 0.95), "end→final-p95-s")
	b.ReportMetric(percentile(l.partialGap, 0.95), "partial-gap-p95-s")
}

// playSession writes s at real time into a new session made by req,
// watching its captions, and measures them against onsets.
func playSession(b *testing.B, m *Manager, req CreateRequest, s []float32, onsets []float64) latencies {
	c, err := m.Create(b.Context(), "bench", req)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Delete(b.Context(), "bench", c.ID)
	f, err := m.Watch(b.Context(), c.ID, 0)
	if err != nil {
		b.Fatal(err)
	}
	in, err := m.Attach(b.Context(), "bench", c.ID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	written := func(at float64) time.Time { return start.Add(time.Duration(at * float64(time.Second))) }
	var mu sync.Mutex
	var got []Event
	var recv []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range f.Events() {
			mu.Lock()
			got, recv = append(got, e), append(recv, time.Now())
			mu.Unlock()
		}
	}()
	// Real-time pacing: chunk k is written at start + k×100 ms.
	for off, k := 0, 0; off < len(s)+32000; off, k = off+1600, k+1 {
		time.Sleep(time.Until(start.Add(time.Duration(k) * 100 * time.Millisecond)))
		chunk := make([]float32, 1600)
		if off < len(s) {
			copy(chunk, s[off:min(off+1600, len(s))])
		}
		in.Write(chunk)
	}
	in.Close()
	m.Stop(b.Context(), "bench", c.ID)
	f.Close()
	<-done
	var l latencies
	for _, on := range onsets {
		for j, e := range got {
			if e.Type == TypeCaption && !e.Final && e.Text != "" && e.End > on {
				l.firstPartial = append(l.firstPartial, recv[j].Sub(written(on)).Seconds())
				break
			}
		}
	}
	last := map[int]time.Time{}
	for j, e := range got {
		switch {
		case e.Type != TypeCaption:
		case e.Final && e.Text != "" && len(e.Words) > 0:
			l.final = append(l.final, recv[j].Sub(written(e.Words[len(e.Words)-1].End)).Seconds())
		case !e.Final && e.Text != "":
			if t, ok := last[e.Segment]; ok {
				l.partialGap = append(l.partialGap, recv[j].Sub(t).Seconds())
			}
			last[e.Segment] = recv[j]
		}
	}
	return l
}

// testdata3 is three shared utterances of different speakers.
func testdata3(b *testing.B) []testdata.Utterance {
	var out []testdata.Utterance
	for _, id := range []string{pauseID, "1089-134686-0000", "1089-134686-0001"} {
		out = append(out, utterance(b, id))
	}
	return out
}

// vadOnsets returns where the VAD hears each speech segment begin.
func vadOnsets(b *testing.B, v speech.VAD, s []float32) []float64 {
	d, err := v.NewDetector()
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var segs []speech.SpeechSegment
	for off := 0; off < len(s); off += 1600 {
		x, _ := d.Accept(s[off:min(off+1600, len(s))])
		segs = append(segs, x...)
	}
	x, _ := d.Flush()
	segs = append(segs, x...)
	var out []float64
	for _, sg := range segs {
		out = append(out, sg.Start.Seconds())
	}
	return out
}

// BenchmarkConcurrentStreams compares how many seconds of audio per second
// the machine recognises through N pipelines at once (N = GOMAXPROCS,
// audio written as fast as the queue takes it) with the engine's streams
// driven directly in a tight loop. streams-* are real-time streams
// sustainable (audio s per wall s); ratio is pipeline / direct.
func BenchmarkConcurrentStreams(b *testing.B) {
	rec := newRecognizer(b)
	s := samples(b, utterance(b, pauseID))
	n := runtime.GOMAXPROCS(0)
	audioSecs := float64(len(s)) / 16000 * float64(n)
	run := func(one func()) float64 {
		start := time.Now()
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() { defer wg.Done(); one() }()
		}
		wg.Wait()
		return audioSecs / time.Since(start).Seconds()
	}
	var direct, piped float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		direct += run(func() {
			st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
			if err != nil {
				b.Error(err)
				return
			}
			for off := 0; off < len(s); off += 1600 {
				st.Accept(context.Background(), s[off:min(off+1600, len(s))])
			}
			st.Flush(context.Background())
			st.Close()
		})
		piped += run(func() {
			p, err := NewPipeline(context.Background(), PipelineConfig{Recognizer: rec, QueueAudio: time.Minute}, func(Event) {})
			if err != nil {
				b.Error(err)
				return
			}
			for off := 0; off < len(s); off += 1600 {
				p.Write(s[off:min(off+1600, len(s))])
			}
			p.Close(context.Background())
		})
	}
	b.ReportMetric(direct/float64(b.N), "streams-direct")
	b.ReportMetric(piped/float64(b.N), "streams-pipeline")
	b.ReportMetric(piped/direct, "ratio")
}

// BenchmarkFanout: 10,000 feeds on one session in one process; each
// iteration publishes one event and waits until every feed has it.
// Reports p50/p99 delivery (publish → receipt), and heap and goroutine
// stack bytes per feed (each feed has one pump goroutine).
func BenchmarkFanout(b *testing.B) {
	const feeds = 10000
	m := benchManager(b, false, config.Live{})
	c, err := m.Create(b.Context(), "bench", CreateRequest{})
	if err != nil {
		b.Fatal(err)
	}
	sess, _ := m.lookup("", c.ID)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fs := make([]Feed, feeds)
	for i := range fs {
		if fs[i], err = m.Watch(ctx, c.ID, 0); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perFeed := float64(after.HeapAlloc-before.HeapAlloc) / feeds
	stackPerFeed := float64(after.StackInuse-before.StackInuse) / feeds
	lat := make([][]float64, feeds)
	var got atomic.Int64
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range f.Events() {
				lat[i] = append(lat[i], time.Since(e.Time).Seconds())
				got.Add(1)
			}
		}()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sess.pub.publish(Event{Type: TypeCaption, Segment: i, Text: "benchmark words"})
		want := int64(i+1) * feeds
		deadline := time.Now().Add(time.Minute)
		for got.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d deliveries", got.Load(), want)
			}
			runtime.Gosched()
		}
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	b.ReportMetric(percentile(all, 0.99)*1000, "p99-ms")
	b.ReportMetric(percentile(all, 0.5)*1000, "p50-ms")
	b.ReportMetric(perFeed, "heap-B/feed")
	b.ReportMetric(stackPerFeed, "stack-B/feed")
}
