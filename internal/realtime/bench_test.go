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
// Flite), the same instant upstream double and the same spoken question
// sent at real time (100 ms every 100 ms, then silence): from sending the
// last 100 ms that holds speech to the first byte of reply audio, measured
// by the client. Reports p50 over b.N turns for each.
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
		return "ws" + strings.TrimPrefix(srv.URL, "http")
	}
	// speak sends the question then silence, 100 ms every 100 ms, with
	// send, until done is closed; it returns when the last speech left.
	speak := func(send func([]float32), done <-chan struct{}) <-chan time.Time {
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

	b.Run("realtime", func(b *testing.B) {
		h := NewHandler(Options{Recognizer: rec, VAD: vad, Synthesizer: syn, Chat: px})
		defer h.Close(context.Background())
		conn, _, err := websocket.Dial(b.Context(), mount(h)+"/v1/realtime", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.CloseNow()
		conn.SetReadLimit(4 << 20)
		upd := `{"type":"session.update","session":{"type":"realtime","model":"test-model","audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"turn_detection":{"type":"server_vad","silence_duration_ms":700}}}}}`
		if err := conn.Write(b.Context(), websocket.MessageText, []byte(upd)); err != nil {
			b.Fatal(err)
		}
		var lat []float64
		for range b.N {
			done := make(chan struct{})
			last := speak(func(s []float32) {
				msg := `{"type":"input_audio_buffer.append","audio":"` + base64.StdEncoding.EncodeToString(audio.EncodePCM16(s)) + `"}`
				_ = conn.Write(context.Background(), websocket.MessageText, []byte(msg))
			}, done)
			var end time.Time
			for {
				_, m, err := conn.Read(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				var ev struct{ Type string }
				_ = json.Unmarshal(m, &ev)
				if ev.Type == "response.output_audio.delta" && end.IsZero() {
					end = time.Now()
				}
				if ev.Type == "response.done" {
					break
				}
			}
			close(done)
			lat = append(lat, float64(end.Sub(<-last).Microseconds())/1000)
		}
		slices.Sort(lat)
		b.ReportMetric(lat[len(lat)/2], "end-of-speech-to-first-audio-p50-ms")
		b.ReportMetric(0, "ns/op")
	})

	b.Run("converse", func(b *testing.B) {
		h := converse.NewHandler(converse.Options{Recognizer: rec, VAD: vad, Synthesizer: syn, Chat: px, Pace: 100})
		defer h.Close(context.Background())
		conn, _, err := websocket.Dial(b.Context(), mount(h)+"/v1/converse", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.CloseNow()
		if err := conn.Write(b.Context(), websocket.MessageText, []byte(`{"type":"config","sample_rate":24000,"model":"test-model"}`)); err != nil {
			b.Fatal(err)
		}
		var lat []float64
		for range b.N {
			done := make(chan struct{})
			last := speak(func(s []float32) {
				_ = conn.Write(context.Background(), websocket.MessageBinary, audio.EncodePCM16(s))
			}, done)
			var end time.Time
			for {
				typ, m, err := conn.Read(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				if typ == websocket.MessageBinary && end.IsZero() {
					end = time.Now()
				}
				var ev struct{ Type string }
				_ = json.Unmarshal(m, &ev)
				if ev.Type == "response.done" {
					break
				}
			}
			close(done)
			lat = append(lat, float64(end.Sub(<-last).Microseconds())/1000)
		}
		slices.Sort(lat)
		b.ReportMetric(lat[len(lat)/2], "end-of-speech-to-first-audio-p50-ms")
		b.ReportMetric(0, "ns/op")
	})
}
