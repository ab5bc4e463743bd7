package dgtest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	dgws "github.com/deepgram/deepgram-go-sdk/v3/pkg/api/listen/v1/websocket/interfaces"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
)

// session is one live socket: audio in, the local engine's results out.
type session struct {
	s       *Server
	conn    *websocket.Conn
	st      speech.Stream
	rate    int
	samples int  // audio received
	uttEnd  bool // utterance_end_ms set: send UtteranceEnd after a final
	vad     bool // vad_events=true: send SpeechStarted
	talking bool
	told    int           // audio (samples) the last Results message covered
	partial speech.Result // the utterance in progress, while talking
}

// silenceAck is how much audio may pass without any message before the
// double, like Deepgram, answers with an empty Results message.
const silenceAck = 250 * time.Millisecond

func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	q := r.URL.Query()
	rate, err := strconv.Atoi(q.Get("sample_rate"))
	if q.Get("encoding") != "linear16" || err != nil || rate != s.rec.SampleRate() || q.Get("channels") != "1" {
		// The double resamples nothing: it takes exactly what its engine does.
		refuse(w, http.StatusBadRequest)
		return
	}
	st, err := s.rec.NewStream(r.Context(), speech.StreamOptions{Hotwords: append(q["keyterm"], q["keywords"]...)})
	if errors.Is(err, speech.ErrUnsupported) {
		// Deepgram takes any keyterm; the local engine may not spell it.
		st, err = s.rec.NewStream(r.Context(), speech.StreamOptions{})
	}
	if err != nil {
		refuse(w, http.StatusServiceUnavailable)
		return
	}
	defer st.Close()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.conns[conn] = true
	s.opens++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.CloseNow()
	}()
	ss := &session{s: s, conn: conn, st: st, rate: rate,
		uttEnd: q.Get("utterance_end_ms") != "", vad: q.Get("vad_events") == "true"}
	ss.run(r.Context())
}

// frame is one message read from the client.
type frame struct {
	typ websocket.MessageType
	b   []byte
}

// read queues the client's messages so that, once the client is gone, a
// backlog it left is dropped rather than recognised for nobody (Deepgram
// stops work on a closed socket too; here it would starve the live ones).
func (ss *session) read(ctx context.Context, out chan<- frame, gone *atomic.Bool) {
	defer close(out)
	for {
		typ, b, err := ss.conn.Read(ctx)
		if err != nil {
			gone.Store(true)
			return
		}
		out <- frame{typ, b}
	}
}

func (ss *session) run(ctx context.Context) {
	frames := make(chan frame, 1024)
	var gone atomic.Bool
	go ss.read(ctx, frames, &gone)
	defer func() {
		ss.conn.CloseNow()
		for range frames { // let the reader finish
		}
	}()
	for f := range frames {
		if gone.Load() {
			continue
		}
		typ, b := f.typ, f.b
		if fault, _ := ss.s.state(); fault == FaultReset {
			return // a socket that raced SetFault's sweep dies on its next frame
		}
		if typ == websocket.MessageBinary {
			if len(b)%2 != 0 {
				ss.conn.Close(websocket.StatusPolicyViolation, "DATA-0000")
				return
			}
			clip, err := audio.DecodeRaw(b, audio.RawFormat{Encoding: "linear16", SampleRate: ss.rate, Channels: 1})
			if err != nil {
				continue
			}
			ss.samples += len(clip.Samples)
			rs, err := ss.st.Accept(ctx, clip.Samples)
			if err != nil || !ss.send(ctx, rs, false) {
				return
			}
			if speech.SamplesToDuration(ss.samples-ss.told, ss.rate) >= silenceAck {
				// Deepgram answers about every second whatever it hears:
				// the utterance so far again, or an empty final in silence.
				now := speech.SamplesToDuration(ss.samples, ss.rate)
				r := speech.Result{Start: speech.SamplesToDuration(ss.told, ss.rate), End: now, Final: true}
				if ss.talking {
					r = ss.partial
					r.End = max(r.End, now)
				}
				ss.told = ss.samples
				ss.write(ctx, results(r))
			}
			continue
		}
		var m dgws.MessageType
		if json.Unmarshal(b, &m) != nil {
			ss.conn.Close(websocket.StatusPolicyViolation, "bad control message")
			return
		}
		switch m.Type {
		case "Finalize":
			rs, err := ss.st.Flush(ctx)
			if err != nil || !ss.send(ctx, rs, true) {
				return
			}
		case "CloseStream":
			rs, err := ss.st.Flush(ctx)
			if err != nil || !ss.send(ctx, rs, false) {
				return
			}
			d := round(float64(ss.samples) / float64(ss.rate))
			ss.write(ctx, dgws.MetadataResponse{Type: "Metadata", RequestID: "dgtest", Duration: d, Channels: 1,
				Models: []string{"dgtest"}, Created: time.Now().UTC().Format(time.RFC3339)})
			ss.conn.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

// send writes rs as Results messages; a Finalize always gets one answer
// marked from_finalize, even when nothing was pending. It returns false
// when the session must end (write failure or a mid-utterance drop).
func (ss *session) send(ctx context.Context, rs []speech.Result, finalize bool) bool {
	if finalize && (len(rs) == 0 || !rs[len(rs)-1].Final) {
		at := speech.SamplesToDuration(ss.samples, ss.rate)
		rs = append(rs, speech.Result{Start: at, End: at, Final: true})
	}
	for i, r := range rs {
		if !ss.talking && r.Text != "" && !r.Final {
			ss.talking = true
			if ss.vad {
				ss.write(ctx, dgws.SpeechStartedResponse{Type: "SpeechStarted", Channel: []int{0, 1}, Timestamp: round(r.Start.Seconds())})
			}
		}
		ss.told = ss.samples
		msg := results(r)
		msg.FromFinalize = finalize && i == len(rs)-1
		if !ss.write(ctx, msg) {
			return false
		}
		if fault, _ := ss.s.state(); fault == FaultDropMid && !r.Final && r.Text != "" {
			ss.conn.CloseNow()
			return false
		}
		if !r.Final && r.Text != "" {
			ss.partial = r
		}
		if r.Final {
			ss.talking = false
			if ss.uttEnd && r.Text != "" {
				ss.write(ctx, dgws.UtteranceEndResponse{Type: "UtteranceEnd", Channel: []int{0, 1}, LastWordEnd: round(r.End.Seconds())})
			}
		}
	}
	return true
}

// write sends one message as the current fault allows.
func (ss *session) write(ctx context.Context, v any) bool {
	fault, delay := ss.s.state()
	if delay > 0 {
		time.Sleep(delay)
	}
	b, _ := json.Marshal(v)
	switch fault {
	case FaultStall:
		return true
	case FaultMalformed:
		b = b[:len(b)/2]
	}
	return ss.conn.Write(ctx, websocket.MessageText, b) == nil
}

func results(r speech.Result) dgws.MessageResponse {
	words := make([]dgws.Word, len(r.Words))
	for i, w := range r.Words {
		words[i] = dgws.Word{Word: w.Text, PunctuatedWord: w.Text, Start: round(w.Start.Seconds()),
			End: round(w.End.Seconds()), Confidence: round(float64(w.Confidence))}
	}
	return dgws.MessageResponse{
		Type: "Results", ChannelIndex: []int{0, 1}, Start: round(r.Start.Seconds()),
		Duration: round((r.End - r.Start).Seconds()), IsFinal: r.Final, SpeechFinal: r.Final,
		Channel: dgws.Channel{Alternatives: []dgws.Alternative{{Transcript: r.Text,
			Confidence: round(float64(r.Confidence)), Words: words}}},
		Metadata: dgws.Metadata{RequestID: "dgtest", ModelInfo: dgws.ModelInfo{Name: "dgtest", Arch: "local"}},
	}
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }
