package live

import (
	"math"
	"testing"
	"time"
)

func TestLevelMeter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var l levelMeter
	var st Stats
	l.read(t0, &st)
	if st.Receiving || st.Clipping || st.Level != 0 || st.PeakDBFS != floorDBFS {
		t.Fatalf("no audio yet: %+v", st)
	}
	l.note([]float32{0.1, -0.5, 0.2}, t0)
	st = Stats{}
	l.read(t0.Add(100*time.Millisecond), &st)
	if !st.Receiving || st.Clipping || math.Abs(st.PeakDBFS-(-6.0)) > 0.01 || math.Abs(st.Level-(1-6.02/60)) > 0.001 {
		t.Fatalf("half scale: %+v", st)
	}
	// A louder frame in the same window raises the peak; a full-scale
	// negative sample clips.
	l.note([]float32{-1}, t0.Add(200*time.Millisecond))
	st = Stats{}
	l.read(t0.Add(300*time.Millisecond), &st)
	if !st.Clipping || st.PeakDBFS != 0 || st.Level != 1 {
		t.Fatalf("full scale: %+v", st)
	}
	// A new window starts from the new frame's peak; clipping is still
	// shown for its window.
	l.note([]float32{0.01}, t0.Add(1500*time.Millisecond))
	st = Stats{}
	l.read(t0.Add(1600*time.Millisecond), &st)
	if !st.Clipping || math.Abs(st.PeakDBFS-(-40)) > 0.01 {
		t.Fatalf("quiet window: %+v", st)
	}
	// Long after the last frame: nothing is received, nothing clips.
	st = Stats{}
	l.read(t0.Add(10*time.Second), &st)
	if st.Receiving || st.Clipping || st.Level != 0 {
		t.Fatalf("stale: %+v", st)
	}
}
