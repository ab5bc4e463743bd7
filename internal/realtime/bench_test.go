package realtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/converse"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/rtc"
	"github.com/izwi-speech/izwi/internal/rtc/rtctest"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/flite"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
	"github.com/izwi-speech/izwi/internal/testdata"
)

type vadResolver map[string]speech.ResolvedModel

func (r vadResolver) Resolve(_ context.Context, name string) (speech.ResolvedModel, error) {
	return r[name], nil
}

// BenchmarkTurnLatency compares a Realtime API conversation turn with a
// /v1/converse turn over the same engines (PocketSphinx, Silero VAD,
// Flite), the same instant upstream double and the same spoken question,
// each over its WebSocket and over a WebRTC call (a pion peer, Opus both
// ways), in alternating rounds (one turn of each per round, the order
// rotated every round, so load from other work falls on all alike): from
// sending the last of the question to the first reply audio as the client
// would hear it: the first voiced 20 ms frame on the call's track, and on
// a WebSocket the first audio message's arrival plus the quiet before its
// first voiced frame (a client plays it in real time too). Reports p50
// over b.N turns for each and the medians of the per-round ratios.
//
//	go test ./internal/realtime/ -run '^$' -bench TurnLatency -benchtime 6x
func BenchmarkTurnLatency(b *testing.B) {
	rec := recognizer(b)
	reg := speech.NewRegistry()
	sherpa.Register(reg)
	flite.Register(reg)
	vadPath := testdata.SileroVAD(b)
	st, err := os.Stat(vadPath)
	if err != nil {
		b.Fatal(err)
	}
	model := speech.ResolvedModel{Name: "silero-vad-v5", Family: "vad-silero",
		Files: map[string]speech.ModelFile{"model": {Path: vadPath, SHA256: testdata.SileroVADSHA256, Size: st.Size()}}}
	vad, err := reg.VADs.New(context.Background(), speech.Spec{Engine: "silero", Model: "silero-vad-v5", Options: map[string]string{"min_silence": "0.3"}},
		speech.Deps{Models: vadResolver{"silero-vad-v5": model}})
	if err != nil {
		b.Fatal(err)
	}
	syn, err := reg.Synthesizers.New(context.Background(), speech.Spec{Engine: "flite"}, speech.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	up := chattest.New(chattest.Options{Reply: func(chattest.Request) string { return "Okay." }})
	defer up.Close()
	c, err := config.Parse([]byte("[[chat.upstreams]]\nname = \"local\"\nbase_url = \"" + up.BaseURL() + "\"\nmodels = [\"test-model\"]\n"))
	if err != nil {
		b.Fatal(err)
	}
	px, err := chat.NewProxy(chat.Options{Config: c.Defaults().Chat})
	if err != nil {
		b.Fatal(err)
	}
	var q []float32
	if err := syn.Synthesize(b.Context(), speech.SynthesisRequest{Text: "What is the weather like today?"}, func(s []float32) error {
		q = append(q, s...)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	q24, err := audio.Resample(q, syn.SampleRate(), 24000)
	if err != nil {
		b.Fatal(err)
	}
	who := auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeASRRead, auth.ScopeChatRead}}
	mount := func(h http.Handler) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(apierr.WithRequestID(auth.WithPrincipal(r.Context(), who), "req-bench")))
		}))
		b.Cleanup(srv.Close)
		return srv.URL
	}
	const session = `{"type":"realtime","model":"test-model","audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"turn_detection":{"type":"server_vad","silence_duration_ms":700}}}}`
	rt := NewHandler(Options{Recognizer: rec, VAD: vad, Synthesizer: syn, Chat: px})
	defer rt.Close(context.Background())
	cv := converse.NewHandler(converse.Options{Recognizer: rec, VAD: vad, Synthesizer: syn, Chat: px, Pace: 100})
	defer cv.Close(context.Background())
	calls, err := rtc.New(rtc.Options{Loopback: true})
	if err != nil {
		b.Fatal(err)
	}
	defer calls.Close(context.Background())
	rtCalls := mount(calls.Calls(rtc.CallOptions{Label: "oai-events", InputRate: CallRate,
		Serve: func(ctx context.Context, br *rtc.Bridge, who auth.Principal, _ livehttp.Slot, _ []byte) {
			rt.ServeCall(ctx, br, who, nil, "req-bench", []byte(session))
		}}))
	cvCalls := mount(calls.Calls(rtc.CallOptions{Label: "converse", InputRate: 16000,
		Serve: func(ctx context.Context, br *rtc.Bridge, who auth.Principal, _ livehttp.Slot, _ []byte) {
			cv.ServeCall(ctx, br, who, nil, "req-bench")
		}}))

	turns := []struct {
		name string
		turn func() float64
	}{
		{"realtime-websocket", wsTurn(b, "ws"+strings.TrimPrefix(mount(rt), "http")+"/v1/realtime",
			`{"type":"session.update","session":`+session+`}`, q24, true)},
		{"converse-websocket", wsTurn(b, "ws"+strings.TrimPrefix(mount(cv), "http")+"/v1/converse",
			`{"type":"config","sample_rate":24000,"model":"test-model"}`, q24, false)},
		{"realtime-webrtc", callTurn(b, rtCalls, "oai-events", "", q24)},
		{"converse-webrtc", callTurn(b, cvCalls, "converse", `{"type":"config","model":"test-model"}`, q24)},
	}
	lat := make([][]float64, len(turns))
	var rtVsCv, rtcVsWS [2][]float64
	for i := range b.N {
		for k := range turns {
			j := (k + i) % len(turns)
			lat[j] = append(lat[j], turns[j].turn())
		}
		last := func(j int) float64 { return lat[j][len(lat[j])-1] }
		rtVsCv[0] = append(rtVsCv[0], last(0)/last(1))
		rtVsCv[1] = append(rtVsCv[1], last(2)/last(3))
		rtcVsWS[0] = append(rtcVsWS[0], last(2)/last(0))
		rtcVsWS[1] = append(rtcVsWS[1], last(3)/last(1))
	}
	for j, t := range turns {
		b.ReportMetric(p50(lat[j]), t.name+"-end-of-speech-to-first-voice-p50-ms")
	}
	b.ReportMetric(p50(rtVsCv[0]), "ratio-realtime/converse-websocket")
	b.ReportMetric(p50(rtVsCv[1]), "ratio-realtime/converse-webrtc")
	b.ReportMetric(p50(rtcVsWS[0]), "ratio-webrtc/websocket-realtime")
	b.ReportMetric(p50(rtcVsWS[1]), "ratio-webrtc/websocket-converse")
	b.ReportMetric(0, "ns/op")
}

func p50(x []float64) float64 {
	x = slices.Clone(x)
	slices.Sort(x)
	return x[len(x)/2]
}

// wsTurn opens a WebSocket session (first is its first message) and
// returns a turn: the question then silence, 100 ms every 100 ms, until
// the answer is done; the latency to the first reply audio in ms.
func wsTurn(b *testing.B, url, first string, q24 []float32, realtime bool) func() float64 {
	conn, _, err := websocket.Dial(b.Context(), url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.CloseNow() })
	conn.SetReadLimit(4 << 20)
	if err := conn.Write(b.Context(), websocket.MessageText, []byte(first)); err != nil {
		b.Fatal(err)
	}
	rate := 24000 // the Realtime API's; a conversation says its rate in ready
	return func() float64 {
		done := make(chan struct{})
		last := speakChunks(q24, done, func(s []float32) {
			if realtime {
				msg := `{"type":"input_audio_buffer.append","audio":"` + base64.StdEncoding.EncodeToString(audio.EncodePCM16(s)) + `"}`
				_ = conn.Write(context.Background(), websocket.MessageText, []byte(msg))
			} else {
				_ = conn.Write(context.Background(), websocket.MessageBinary, audio.EncodePCM16(s))
			}
		})
		var heard voiceClock
		for {
			typ, m, err := conn.Read(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			var ev struct {
				Type             string
				Delta            string
				OutputSampleRate int `json:"output_sample_rate"`
			}
			if typ == websocket.MessageText {
				_ = json.Unmarshal(m, &ev)
			}
			switch {
			case ev.Type == "ready":
				rate = ev.OutputSampleRate
			case typ == websocket.MessageBinary:
				heard.add(m, rate)
			case ev.Type == "response.output_audio.delta":
				pcm, _ := base64.StdEncoding.DecodeString(ev.Delta)
				heard.add(pcm, rate)
			}
			if ev.Type == "response.done" {
				break
			}
		}
		close(done)
		return float64(heard.voice.Sub(<-last).Microseconds()) / 1000
	}
}

// voiceClock finds when a client playing reply audio as it arrives would
// first sound a voiced 20 ms frame: the first audio's arrival plus the
// quiet before that frame (played in real time, as a WebRTC track plays
// it).
type voiceClock struct {
	first  time.Time
	played time.Duration // audio received before the first voiced frame
	voice  time.Time     // zero until found
}

func (c *voiceClock) add(pcm []byte, rate int) {
	if !c.voice.IsZero() || len(pcm) == 0 || rate == 0 {
		return
	}
	if c.first.IsZero() {
		c.first = time.Now()
	}
	s := make([]float32, len(pcm)/2)
	for i := range s {
		s[i] = float32(int16(uint16(pcm[2*i])|uint16(pcm[2*i+1])<<8)) / 32768
	}
	size := rate / 50
	for i := 0; i+size <= len(s); i += size {
		if rtctest.Voiced(s[i:i+size], rate) > 0 {
			c.voice = c.first.Add(c.played)
			return
		}
		c.played += 20 * time.Millisecond
	}
}

// speakChunks sends the question then silence, 100 ms every 100 ms, with
// send, until done is closed; it tells when the last speech left.
func speakChunks(q24 []float32, done <-chan struct{}, send func([]float32)) <-chan time.Time {
	last := make(chan time.Time, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		rest := q24
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			chunk := make([]float32, 2400)
			n := copy(chunk, rest)
			rest = rest[n:]
			send(chunk)
			if n > 0 && len(rest) == 0 {
				last <- time.Now()
			}
		}
	}()
	return last
}

// callTurn opens a WebRTC call (first, if any, is its first event) and
// returns a turn: the question on the microphone track then silence; the
// latency to the first voiced frame on the call's track in ms.
func callTurn(b *testing.B, url, label, first string, q24 []float32) func() float64 {
	p := rtctest.Dial(b, url, "", label)
	if first != "" {
		if err := p.DC.SendText(first); err != nil {
			b.Fatal(err)
		}
	}
	pcm := audio.EncodePCM16(q24)
	return func() float64 {
		last := p.Speak(b, pcm, 2.5)
		ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
		defer cancel()
		p.Await(ctx, b, "response.done")
		var end time.Time
		for end = p.FirstVoiceAfter(last); end.IsZero(); end = p.FirstVoiceAfter(last) {
			if ctx.Err() != nil {
				b.Fatal("no reply audio on the call's track")
			}
			time.Sleep(5 * time.Millisecond)
		}
		return float64(end.Sub(last).Microseconds()) / 1000
	}
}
