package rtc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/codec/opus"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/recognize"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// recSessions is one session whose source feeds a real PocketSphinx
// pipeline; it records when each final with words was emitted. The rest
// of live.Sessions is not used by the ingest routes.
type recSessions struct {
	live.Sessions
	rec speech.Recognizer

	mu      sync.Mutex
	finals  []time.Time
	cpu     []time.Duration // the process's CPU time at each final
	sent    []time.Time     // when frame i was sent
	samples int             // samples arrived (16 kHz)
	delays  []time.Duration // frame arrival - frame sent
}

// send records that the next 20 ms frame left the client.
func (s *recSessions) send() {
	s.mu.Lock()
	s.sent = append(s.sent, time.Now())
	s.mu.Unlock()
}

// arrived counts n samples at 16 kHz and records each whole frame's delay.
func (s *recSessions) arrived(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.samples / 320
	s.samples += n
	for k := before; k < s.samples/320 && k < len(s.sent); k++ {
		s.delays = append(s.delays, time.Since(s.sent[k]))
	}
}

func (s *recSessions) Get(_ context.Context, _, id string) (live.Info, error) {
	return live.Info{ID: id}, nil
}

func (s *recSessions) Attach(ctx context.Context, _, _, _ string) (live.Ingest, error) {
	pl, err := recognize.NewAsync(context.WithoutCancel(ctx), recognize.AsyncConfig{Config: recognize.Config{Recognizer: s.rec}}, func(e recognize.Event) {
		if e.Kind == recognize.KindResult && e.Result.Final && e.Result.Text != "" {
			now, cpu := time.Now(), cpuTime()
			s.mu.Lock()
			s.finals = append(s.finals, now)
			s.cpu = append(s.cpu, cpu)
			s.mu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	return &recIngest{pl: pl, s: s}, nil
}

func (s *recSessions) Watch(ctx context.Context, id string, after uint64) (live.Feed, error) {
	return &fakeFeed{ch: make(chan live.Event)}, nil
}

func (s *recSessions) lastFinal() time.Time {
	at, _ := s.lastFinalCPU()
	return at
}

// lastFinalCPU is when the last final came and the process's CPU time then.
func (s *recSessions) lastFinalCPU() (time.Time, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.finals) == 0 {
		return time.Time{}, 0
	}
	return s.finals[len(s.finals)-1], s.cpu[len(s.cpu)-1]
}

// cpuTime is the process's CPU time (user and system) so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type recIngest struct {
	pl *recognize.Async
	s  *recSessions
}

func (in *recIngest) SampleRate() int { return in.pl.SampleRate() }

// Write records when each 20 ms frame arrived, against when it was sent.
func (in *recIngest) Write(s []float32) error {
	in.s.arrived(len(s))
	return in.pl.Write(s)
}
func (in *recIngest) Finalize() error { return in.pl.Finalize() }
func (in *recIngest) Close() error    { return in.pl.Close(context.Background()) }

var _ live.Ingest = (*recIngest)(nil)

// BenchmarkEndOfSpeechToFinal streams a shared utterance at real time in
// 20 ms frames, then silence, into a session recognised by PocketSphinx,
// over WebRTC (Opus over DTLS-SRTP on loopback, decoded by libopus) and
// over the audio WebSocket (PCM16), in alternating rounds (b.N of each,
// the order swapped every round, so load from other work on the machine
// falls on both alike), and reports, p50 over the rounds, the time from
// sending the last frame of speech to the utterance's final (wall), the
// process's CPU time spent in that span (insensitive to other processes'
// load), the ratio WebRTC/WebSocket of each (the median of the per-round
// ratios), and the frame delivery (sent → handed to the session) that
// isolates the transport and codec.
//
//	go test ./internal/rtc/ -run '^$' -bench EndOfSpeechToFinal -benchtime 10x
func BenchmarkEndOfSpeechToFinal(b *testing.B) {
	var u testdata.Utterance
	for _, x := range testdata.Utterances(b) {
		if x.ID == "1089-134691-0000" { // 2.4 s, "he could wait no longer"
			u = x
		}
	}
	clip, err := audio.DecodeFile(u.WAV, audio.UploadLimits(1<<24, time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	speech16, err := audio.Prepare(clip, 16000)
	if err != nil {
		b.Fatal(err)
	}
	speech48, err := audio.Prepare(clip, 48000)
	if err != nil {
		b.Fatal(err)
	}
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	rec, err := reg.Recognizers.New(context.Background(), speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()

	sides := []struct {
		name  string
		round func(b *testing.B, s *recSessions) (time.Time, time.Duration)
	}{
		{"webrtc", func(b *testing.B, s *recSessions) (time.Time, time.Duration) { return webrtcRound(b, s, speech48) }},
		{"websocket", func(b *testing.B, s *recSessions) (time.Time, time.Duration) { return websocketRound(b, s, speech16) }},
	}
	lat, cpu, delays := map[string][]time.Duration{}, map[string][]time.Duration{}, map[string][]time.Duration{}
	var ratio, cpuRatio []float64
	for i := range b.N {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			side := sides[k]
			s := &recSessions{rec: rec}
			end, endCPU := side.round(b, s)
			waitFor(b, "a final", func() bool { return s.lastFinal().After(end) })
			at, atCPU := s.lastFinalCPU()
			lat[side.name] = append(lat[side.name], at.Sub(end))
			cpu[side.name] = append(cpu[side.name], atCPU-endCPU)
			delays[side.name] = append(delays[side.name], s.delays...)
		}
		n := len(lat["webrtc"]) - 1
		ratio = append(ratio, float64(lat["webrtc"][n])/float64(lat["websocket"][n]))
		if c := cpu["websocket"][n]; c > 0 {
			cpuRatio = append(cpuRatio, float64(cpu["webrtc"][n])/float64(c))
		}
	}
	for _, name := range []string{"webrtc", "websocket"} {
		b.ReportMetric(quantile(lat[name], 0.5), name+"-ms-end-of-speech-to-final-p50")
		b.ReportMetric(quantile(cpu[name], 0.5), name+"-cpu-ms-end-of-speech-to-final-p50")
		b.ReportMetric(quantile(delays[name], 0.5), name+"-ms-frame-delivery-p50")
		b.ReportMetric(quantile(delays[name], 0.95), name+"-ms-frame-delivery-p95")
	}
	b.ReportMetric(median(ratio), "ratio-webrtc/websocket-wall")
	b.ReportMetric(median(cpuRatio), "ratio-webrtc/websocket-cpu")
	b.ReportMetric(0, "ns/op")
}

// webrtcRound streams one utterance over WebRTC; it returns when the last
// frame of speech was sent and the process's CPU time then.
func webrtcRound(b *testing.B, s *recSessions, speech48 []float32) (time.Time, time.Duration) {
	_, base := server(b, nil, Options{Sessions: s})
	ws, _, err := websocket.Dial(b.Context(), base+"s1/webrtc", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close(websocket.StatusNormalClosure, "")
	c := newClient(b)
	c.signal(b, ws)
	waitFor(b, "the connection", func() bool { return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
	var endCPU time.Duration
	end := c.play(b, speech48, s.send, func() { endCPU = cpuTime() })
	waitFor(b, "a final", func() bool { return s.lastFinal().After(end) })
	return end, endCPU
}

// websocketRound streams one utterance over the audio WebSocket.
func websocketRound(b *testing.B, s *recSessions, speech16 []float32) (time.Time, time.Duration) {
	h, err := livehttp.New(livehttp.Options{Sessions: s})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("id", "ses_benchbenchbenchbenc")
		p := auth.Principal{Kind: auth.KindAPIKey, Subject: "u1", ID: "k1", Scopes: []auth.Scope{auth.ScopeLiveWrite}}
		h.Ingest.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}))
	defer srv.Close()
	ws, _, err := websocket.Dial(b.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/?encoding=linear16&sample_rate=16000&channels=1", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close(websocket.StatusNormalClosure, "")
	var last time.Time
	var lastCPU time.Duration
	frames(speech16, 320, func(f []float32, speech bool) {
		s.send()
		if err := ws.Write(b.Context(), websocket.MessageBinary, audio.EncodePCM16(f)); err != nil {
			b.Fatal(err)
		}
		if speech {
			last, lastCPU = time.Now(), cpuTime()
		}
	})
	waitFor(b, "a final", func() bool { return s.lastFinal().After(last) })
	return last, lastCPU
}

// frames calls send with each frame of samples then two seconds of
// silence, paced at real time; speech says whether the frame is at or
// before the utterance's last voiced frame (the clip's own trailing quiet
// is not speech: the recognizer may end the utterance in it).
func frames(samples []float32, size int, send func(f []float32, speech bool)) {
	voicedEnd := 0
	for i := 0; i+size <= len(samples); i += size {
		var e float64
		for _, x := range samples[i : i+size] {
			e += float64(x * x)
		}
		if e/float64(size) > 1e-4 { // -40 dBFS
			voicedEnd = i + size
		}
	}
	all := append(append([]float32(nil), samples...), make([]float32, size*100)...)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(all); i += size {
		send(all[i:min(i+size, len(all))], i < voicedEnd)
		<-tick.C
	}
}

// play sends samples (48 kHz) as 20 ms Opus packets at real time, then a
// second of silence, and returns when the last packet of speech was sent;
// mark is called as each packet of speech goes.
func (c *client) play(b testing.TB, samples []float32, sent, mark func()) time.Time {
	enc, err := opus.NewEncoder(48000, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	var last time.Time
	seq := uint16(0)
	frames(samples, 960, func(f []float32, speech bool) {
		if len(f) < 960 {
			f = append(f, make([]float32, 960-len(f))...)
		}
		pkt, err := enc.Encode(f)
		if err != nil {
			b.Fatal(err)
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 1}, Payload: pkt}
		seq++
		sent()
		if err := c.track.WriteRTP(p); err != nil {
			b.Fatal(err)
		}
		if speech {
			last = time.Now()
			mark()
		}
	})
	return last
}

// quantile is the q-quantile of d in milliseconds.
func quantile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	d = append([]time.Duration(nil), d...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	x = append([]float64(nil), x...)
	sort.Float64s(x)
	return x[len(x)/2]
}
