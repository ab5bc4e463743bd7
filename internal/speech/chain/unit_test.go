package chain

import (
	"bytes"
	"testing"
	"time"
)

func TestRing(t *testing.T) {
	r := newRing(10)
	seq := func(from, n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(from + i)
		}
		return out
	}
	r.push(seq(0, 4))
	if got, at := r.since(0); at != 0 || len(got) != 4 || got[3] != 3 {
		t.Fatalf("since(0) = %v at %d", got, at)
	}
	r.push(seq(4, 9)) // 13 pushed: holds 3..12, wrapped
	got, at := r.since(0)
	if at != 3 || len(got) != 10 || got[0] != 3 || got[9] != 12 {
		t.Fatalf("after wrap since(0) = %v at %d", got, at)
	}
	if got, at := r.since(11); at != 11 || len(got) != 2 || got[0] != 11 {
		t.Fatalf("since(11) = %v at %d", got, at)
	}
	r.push(seq(13, 25)) // longer than the ring: keeps the newest 10
	if got, at := r.since(0); at != 28 || got[0] != 28 || got[9] != 37 {
		t.Fatalf("after a long push since(0) = %v at %d", got, at)
	}
	if got, _ := r.since(99); got != nil {
		t.Fatalf("since(future) = %v", got)
	}
	r.reset()
	if got, at := r.since(0); got != nil || at != 0 {
		t.Fatalf("after reset %v at %d", got, at)
	}
}

func TestSealed(t *testing.T) {
	s, err := newSealed(8)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.add(100, []float32{0.5, -0.5, 0.25}); err != nil {
		t.Fatal(err)
	}
	if err := s.add(103, []float32{0.1, 0.2, 0.3, 0.4}); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.chunks {
		if bytes.Contains(c.box, []byte{0xff, 0x3f}) { // 0.5 as PCM16, little-endian
			t.Error("a chunk holds its audio in the clear")
		}
	}
	got, first, err := s.open()
	if err != nil || first != 100 || len(got) != 7 || abs(got[0]-0.5) > 1e-3 || abs(got[6]-0.4) > 1e-3 {
		t.Fatalf("open = %v at %d, %v", got, first, err)
	}
	if err := s.add(107, []float32{0, 0, 0}); err != nil { // over the bound of 8: the oldest goes
		t.Fatal(err)
	}
	if _, first, _ := s.open(); first != 103 || s.held != 7 {
		t.Errorf("after the bound: first %d, held %d; want 103, 7", first, s.held)
	}
	s.chunks[0].box[0] ^= 1
	if _, _, err := s.open(); err == nil {
		t.Error("a tampered chunk opened")
	}
	s.chunks[0].box[0] ^= 1
	s.chunks[0], s.chunks[1] = s.chunks[1], s.chunks[0]
	if _, _, err := s.open(); err == nil {
		t.Error("swapped chunks opened")
	}
	key := s.key
	s.drop()
	if !bytes.Equal(key, make([]byte, len(key))) || s.chunks != nil || s.held != 0 {
		t.Error("drop left the key or audio behind")
	}
}

func abs(v float32) float32 { return max(v, -v) }

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{Stall: -1}, {ReplayWindow: 100 * time.Millisecond}, {ReplayWindow: time.Hour},
		{ProbeMin: time.Minute, ProbeMax: time.Second}, {CatchUpMax: 48 * time.Hour},
	} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	d := Config{}.withDefaults()
	if d.Stall != DefaultStall || d.ReplayWindow != DefaultReplayWindow || d.ProbeMin != DefaultProbeMin ||
		d.ProbeMax != DefaultProbeMax || d.CatchUpMax != DefaultCatchUpMax {
		t.Errorf("defaults %+v", d)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Error(err)
	}
}
