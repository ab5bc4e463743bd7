package live

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
)

// FuzzPipelineOps drives a real pipeline (PocketSphinx, and the Silero VAD
// when the first byte's high bit is set) through random
// Write / Finalize / Close sequences: no panic, no hang, no goroutine
// left (TestMain's leak check), counters consistent.
func FuzzPipelineOps(f *testing.F) {
	f.Add([]byte{0, 50, 1, 0, 20, 2, 0, 5})
	f.Add([]byte{2, 2, 1, 0})
	f.Add([]byte{3, 0, 255, 1, 1, 1})
	f.Add([]byte{0, 255, 0, 255, 0, 255, 0, 255, 1})
	f.Add([]byte{0x80, 200, 0, 200, 1, 0, 100, 2})
	rec, vad := newRecognizer(f), newVAD(f)
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		var emitted atomic.Int64
		cfg := PipelineConfig{Recognizer: rec, QueueAudio: 300 * time.Millisecond, UtteranceEndGap: 50 * time.Millisecond}
		if len(ops) > 0 && ops[0]&0x80 != 0 {
			cfg.VAD = vad
		}
		p, err := NewPipeline(t.Context(), cfg, func(Event) { emitted.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		closed := false
		for i := 0; i < len(ops); i++ {
			switch ops[i] % 4 {
			case 0: // write n×40 samples of a pattern
				n := 0
				if i+1 < len(ops) {
					i++
					n = int(ops[i]) * 40
				}
				s := make([]float32, n)
				for j := range s {
					s[j] = float32(int8(ops[(i+j)%len(ops)])) / 128
				}
				err := p.Write(s)
				if closed && n > 0 && !errors.Is(err, speech.ErrClosed) {
					t.Fatalf("Write after Close: %v", err)
				}
				if !closed && err != nil {
					t.Fatalf("Write: %v", err)
				}
			case 1:
				if err := p.Finalize(); (err != nil) != closed {
					t.Fatalf("Finalize (closed=%v): %v", closed, err)
				}
			case 2:
				p.Close(context.Background())
				closed = true
			case 3:
				if err := p.Write([]float32{float32NaN()}); err == nil {
					t.Fatal("NaN accepted")
				}
			}
		}
		p.Close(context.Background())
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("pipeline goroutine still running")
		}
		st := p.Stats()
		if st.AudioDropped > st.AudioIn || st.Lag != 0 || st.Events != uint64(emitted.Load()) {
			t.Fatalf("stats %+v, emitted %d", st, emitted.Load())
		}
	})
}

func FuzzHistoryRequest(f *testing.F) {
	for _, s := range []string{``, `{"after":3}`, `{"after":-1}`, `{"after":1e30}`, `[]`, `{"after":"x"}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseHistoryRequest(b)
		if err != nil && n != 0 {
			t.Fatalf("error %v with %d", err, n)
		}
	})
}

func FuzzPCM16RoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 255, 127, 0, 128, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := decodePCM16(b)
		if len(s) != len(b)/2 {
			t.Fatalf("%d samples from %d bytes", len(s), len(b))
		}
		for _, v := range s {
			if v < -1 || v >= 1 {
				t.Fatalf("sample %v out of range", v)
			}
		}
		// Symmetric scaling: 16-bit audio survives the bus exactly.
		back := decodePCM16(encodePCM16(nil, s))
		for i := range s {
			if back[i] != s[i] {
				t.Fatalf("sample %d: %v → %v", i, s[i], back[i])
			}
		}
	})
}

func TestPublisherHistoryBoundedAndOrdered(t *testing.T) {
	nc := newNATS(t)()
	p, err := newPublisher(nc, newID(), 0, 5, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for i := range 20 {
		p.publish(Event{Type: TypeCaption, Segment: i, Final: true, Text: "w"})
		p.publish(Event{Type: TypeCaption, Segment: i + 1, Text: "partial"})
	}
	p.publish(Event{Type: TypeState, State: Live})
	got := p.after(0, 100)
	// Five held (4 finals and the state) plus the one open partial, in order.
	if len(got) != 6 {
		t.Fatalf("held %d: %+v", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("out of order: %+v", got)
		}
	}
	if got[4].Text != "partial" || got[4].Final || got[5].Type != TypeState {
		t.Errorf("open partial not in its place: %+v", got)
	}
	if page := p.after(0, 2); len(page) != 2 || page[1].Seq != got[1].Seq {
		t.Errorf("page %+v", page)
	}
	if rest := p.after(got[5].Seq, 10); len(rest) != 0 {
		t.Errorf("after the last: %+v", rest)
	}
}

// FuzzControlRequest sends arbitrary bytes to a session owner's control
// subject (a worker of an in-process cluster): every request is answered
// with a reply that decodes, nothing panics or hangs.
func FuzzControlRequest(f *testing.F) {
	for _, s := range []string{`{"op":"get","owner":"k"}`, `{"op":"update","owner":"k","update":{"label":"x"}}`,
		`{"op":"update"}`, `{"op":"stats"}`, `{"op":"viewer","secret":"x"}`, `{"op":"attach","owner":"other"}`,
		`{"op":"pause","owner":""}`, `{"op":"nope"}`, `{`, ``, `null`, `{"op":"start","update":{"hotwords":[""]}}`} {
		f.Add([]byte(s))
	}
	conn := newJetStream(f)
	dir := f.TempDir()
	gw := newClusterNode(f, conn, dir, "gw", false, config.Live{})
	w := newClusterNode(f, conn, dir, "w", true, config.Live{})
	c, err := gw.m.Create(context.Background(), "k", CreateRequest{Label: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for owner(c.ID, w) != 0 {
		if time.Now().After(deadline) {
			f.Fatal("the worker did not take the session")
		}
		time.Sleep(20 * time.Millisecond)
	}
	nc := conn()
	f.Fuzz(func(t *testing.T, req []byte) {
		msg, err := nc.Request(SubjectsFor(c.ID).Control, req, 20*time.Second)
		if errors.Is(err, nats.ErrNoResponders) {
			return // a fuzzed delete (or stop) ended the ownership
		}
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		var rep ctlReply
		if err := json.Unmarshal(msg.Data, &rep); err != nil {
			t.Fatalf("reply %q: %v", msg.Data, err)
		}
	})
}
