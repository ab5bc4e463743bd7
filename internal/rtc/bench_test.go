package rtc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
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
			s.mu.Lock()
			s.finals = append(s.finals, time.Now())
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.finals) == 0 {
		return time.Time{}
	}
	return s.finals[len(s.finals)-1]
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
// over the audio WebSocket (PCM16), and reports the time from sending the
// last frame of speech to the utterance's final (p50 over the runs). The
// recognizer is the same; the difference is the transport and the codec,
// which the frame delivery figures (sent → handed to the session) isolate.
//
//	go test ./internal/rtc/ -run '^$' -bench EndOfSpeechToFinal -benchtime 3x
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

	b.Run("webrtc", func(b *testing.B) {
		var lat, delays []time.Duration
		for range b.N {
			s := &recSessions{rec: rec}
			_, base := server(b, nil, Options{Sessions: s})
			ws, _, err := websocket.Dial(b.Context(), base+"s1/webrtc", nil)
			if err != nil {
				b.Fatal(err)
			}
			c := newClient(b)
			c.signal(b, ws)
			waitFor(b, "the connection", func() bool { return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
			end := c.play(b, speech48, s.send)
			waitFor(b, "a final", func() bool { return s.lastFinal().After(end) })
			lat = append(lat, s.lastFinal().Sub(end))
			delays = append(delays, s.delays...)
			_ = ws.Close(websocket.StatusNormalClosure, "")
		}
		report(b, lat, delays)
	})
	b.Run("websocket", func(b *testing.B) {
		var lat, delays []time.Duration
		for range b.N {
			s := &recSessions{rec: rec}
			h, err := livehttp.New(livehttp.Options{Sessions: s})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.SetPathValue("id", "ses_benchbenchbenchbenc")
				p := auth.Principal{Kind: auth.KindAPIKey, Subject: "u1", ID: "k1", Scopes: []auth.Scope{auth.ScopeLiveWrite}}
				h.Ingest.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
			}))
			ws, _, err := websocket.Dial(b.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/?encoding=linear16&sample_rate=16000&channels=1", nil)
			if err != nil {
				b.Fatal(err)
			}
			var last time.Time
			frames(speech16, 320, func(f []float32, speech bool) {
				s.send()
				if err := ws.Write(b.Context(), websocket.MessageBinary, audio.EncodePCM16(f)); err != nil {
					b.Fatal(err)
				}
				if speech {
					last = time.Now()
				}
			})
			waitFor(b, "a final", func() bool { return s.lastFinal().After(last) })
			lat = append(lat, s.lastFinal().Sub(last))
			delays = append(delays, s.delays...)
			_ = ws.Close(websocket.StatusNormalClosure, "")
			srv.Close()
		}
		report(b, lat, delays)
	})
}

// frames calls send with each frame of samples then a second of silence,
// paced at real time; speech says whether the frame holds the utterance.
func frames(samples []float32, size int, send func(f []float32, speech bool)) {
	all := append(append([]float32(nil), samples...), make([]float32, size*50)...)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(all); i += size {
		send(all[i:min(i+size, len(all))], i < len(samples))
		<-tick.C
	}
}

// play sends samples (48 kHz) as 20 ms Opus packets at real time, then a
// second of silence, and returns when the last packet of speech was sent.
func (c *client) play(b testing.TB, samples []float32, sent func()) time.Time {
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
		}
	})
	return last
}

func report(b *testing.B, lat, delays []time.Duration) {
	ms := func(d []time.Duration, q float64) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(ms(lat, 0.5), "ms-end-of-speech-to-final-p50")
	b.ReportMetric(ms(delays, 0.5), "ms-frame-delivery-p50")
	b.ReportMetric(ms(delays, 0.95), "ms-frame-delivery-p95")
	b.ReportMetric(0, "ns/op")
}
