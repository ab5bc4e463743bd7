package live

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// Every (state, event) pair: the resulting state, or a refusal.
func TestTransitionTable(t *testing.T) {
	const refused = State("refused")
	want := map[State]map[InputKind]State{
		Idle:        {EvStart: Live, EvStop: Stopped, EvAudio: refused, EvTick: Idle, EvRestart: Idle, EvResume: refused, EvLabel: Idle, EvReconnect: refused, EvPause: refused},
		Live:        {EvStart: refused, EvStop: Stopped, EvAudio: Live, EvTick: Live, EvRestart: Interrupted, EvResume: refused, EvLabel: Live, EvReconnect: Live, EvPause: Paused},
		Interrupted: {EvStart: refused, EvStop: Stopped, EvAudio: refused, EvTick: Interrupted, EvRestart: Interrupted, EvResume: Live, EvLabel: Interrupted, EvReconnect: refused, EvPause: refused},
		Paused:      {EvStart: refused, EvStop: Stopped, EvAudio: refused, EvTick: Paused, EvRestart: Paused, EvResume: Live, EvLabel: Paused, EvReconnect: Paused, EvPause: refused},
		Stopped:     {EvStart: refused, EvStop: refused, EvAudio: refused, EvTick: Stopped, EvRestart: Stopped, EvResume: refused, EvLabel: Stopped, EvReconnect: refused, EvPause: refused},
	}
	for from, row := range want {
		for ev, to := range row {
			s := Session{ID: "s1", State: from, LastSpeech: t0}
			got, eff, err := Next(s, Input{Kind: ev, At: at(time.Second), Label: "x"})
			if to == refused {
				if !errors.Is(err, ErrTransition) || got != s || eff != nil {
					t.Errorf("%s + %s = %s, %v, %v; want refusal with the session unchanged", from, ev, got.State, eff, err)
				}
				continue
			}
			if err != nil || got.State != to {
				t.Errorf("%s + %s = %s, %v; want %s", from, ev, got.State, err, to)
			}
		}
	}
}

func TestEffects(t *testing.T) {
	s := Session{ID: "s1", State: Idle}
	s, eff, err := Next(s, Input{Kind: EvStart, At: t0})
	if err != nil || !slices.Equal(eff, []Effect{StartPipeline, Persist, NotifyViewers}) || !s.StartedAt.Equal(t0) {
		t.Fatalf("start: %+v %v %v", s, eff, err)
	}
	s, eff, _ = Next(s, Input{Kind: EvRestart, At: at(time.Minute)})
	if s.State != Interrupted || slices.Contains(eff, StopPipeline) {
		t.Fatalf("restart: %+v %v (the pipeline died with the process; nothing to stop)", s, eff)
	}
	s, eff, _ = Next(s, Input{Kind: EvResume, At: at(2 * time.Minute)})
	if s.State != Live || eff[0] != StartPipeline || !s.StartedAt.Equal(at(2*time.Minute)) {
		t.Fatalf("resume: %+v %v", s, eff)
	}
	s, eff, _ = Next(s, Input{Kind: EvPause, At: at(150 * time.Second)})
	if s.State != Paused || !slices.Equal(eff, []Effect{StopPipeline, Persist, NotifyViewers}) {
		t.Fatalf("pause: %+v %v (a paused session recognises nothing)", s, eff)
	}
	if p, eff, _ := Next(s, Input{Kind: EvTick, At: at(time.Hour)}); p.State != Paused || eff != nil {
		t.Fatalf("a paused session's silence: %+v %v (no auto-stop while paused)", p, eff)
	}
	s, eff, _ = Next(s, Input{Kind: EvResume, At: at(160 * time.Second)})
	if s.State != Live || eff[0] != StartPipeline {
		t.Fatalf("resume from pause: %+v %v", s, eff)
	}
	s, eff, _ = Next(s, Input{Kind: EvStop, At: at(3 * time.Minute)})
	if s.State != Stopped || eff[0] != StopPipeline || s.StopReason != "operator" {
		t.Fatalf("stop: %+v %v", s, eff)
	}
}

func TestSilenceAutoStop(t *testing.T) {
	s := Session{ID: "s1", State: Idle, AutoStopAfter: 5 * time.Minute}
	s, _, _ = Next(s, Input{Kind: EvStart, At: t0})
	// Speech keeps it alive; non-speech audio and ticks do not.
	s, _, _ = Next(s, Input{Kind: EvAudio, At: at(4 * time.Minute), Speech: true})
	s, _, _ = Next(s, Input{Kind: EvAudio, At: at(8 * time.Minute), Speech: false})
	if s.State != Live {
		t.Fatalf("stopped after 4 min of silence: %+v", s)
	}
	s, eff, _ := Next(s, Input{Kind: EvTick, At: at(9 * time.Minute)})
	if s.State != Stopped || s.StopReason != "silence" || eff[0] != StopPipeline {
		t.Fatalf("not stopped after 5 min of silence: %+v %v", s, eff)
	}
	// Speech stamped earlier than the last one (reordered delivery) never moves LastSpeech back.
	s = Session{ID: "s2", State: Live, LastSpeech: at(time.Minute), AutoStopAfter: time.Minute}
	s, _, _ = Next(s, Input{Kind: EvAudio, At: at(30 * time.Second), Speech: true})
	if !s.LastSpeech.Equal(at(time.Minute)) {
		t.Fatalf("LastSpeech went back to %v", s.LastSpeech)
	}
	// AutoStopAfter 0 never stops.
	s = Session{ID: "s3", State: Live, LastSpeech: t0}
	if s, _, _ = Next(s, Input{Kind: EvTick, At: at(1000 * time.Hour)}); s.State != Live {
		t.Fatal("a session without auto-stop stopped")
	}
}

func TestLabel(t *testing.T) {
	s := Session{ID: "s1", State: Stopped, Label: "old"}
	if got, _, err := Next(s, Input{Kind: EvLabel, Label: "Sunday service"}); err != nil || got.Label != "Sunday service" {
		t.Fatalf("relabel a stopped session: %+v %v", got, err)
	}
	if got, _, err := Next(s, Input{Kind: EvLabel, Label: strings.Repeat("x", MaxLabel+1)}); !errors.Is(err, ErrTransition) || got.Label != "old" {
		t.Fatalf("overlong label: %+v %v", got, err)
	}
	if _, _, err := Next(s, Input{Kind: "explode"}); !errors.Is(err, ErrTransition) {
		t.Fatalf("unknown event: %v", err)
	}
}

// quietInput: the inputs the audio path and the sources apply under the
// session's lock alone (session.quiet), which must never have effects.
func quietInput(e Input) bool {
	return e.Kind == EvReconnect || (e.Kind == EvAudio && e.Speech)
}

// Speech heard and a source reconnecting never have effects, in any state
// at any time, however long the silence before.
func TestQuietInputsHaveNoEffects(t *testing.T) {
	for _, st := range []State{Idle, Live, Interrupted, Paused, Stopped} {
		for _, e := range []Input{{Kind: EvAudio, Speech: true}, {Kind: EvReconnect}} {
			for _, d := range []time.Duration{-time.Hour, 0, time.Second, 1000 * time.Hour} {
				e.At = at(d)
				s := Session{ID: "s", State: st, LastSpeech: t0, AutoStopAfter: time.Second}
				if _, eff, _ := Next(s, e); len(eff) > 0 {
					t.Errorf("%s + %s at %v: effects %v", st, e.Kind, d, eff)
				}
			}
		}
	}
}

// Any sequence of events keeps the machine consistent: Stopped is
// terminal, a live session has a start time, refusals change nothing.
func FuzzNext(f *testing.F) {
	f.Add([]byte{0, 2, 2, 3, 4, 5, 1}, uint16(60))
	f.Add([]byte{1, 0, 6, 7}, uint16(0))
	kinds := []InputKind{EvStart, EvStop, EvAudio, EvTick, EvRestart, EvResume, EvLabel, EvReconnect, EvPause}
	f.Fuzz(func(t *testing.T, seq []byte, autoStop uint16) {
		s := Session{ID: "f", State: Idle, AutoStopAfter: time.Duration(autoStop) * time.Second}
		now := t0
		for i, b := range seq {
			now = now.Add(time.Duration(b) * time.Second)
			e := Input{Kind: kinds[int(b)%len(kinds)], At: now, Speech: b%3 == 0, Label: "l"}
			next, eff, err := Next(s, e)
			if quietInput(e) && len(eff) > 0 {
				t.Fatalf("step %d: %s (speech %v) has effects %v; the audio path applies it without them", i, e.Kind, e.Speech, eff)
			}
			if err != nil && next != s {
				t.Fatalf("step %d: a refused %s changed the session", i, e.Kind)
			}
			if s.State == Stopped && next.State != Stopped {
				t.Fatalf("step %d: %s left Stopped", i, e.Kind)
			}
			if next.State == Live && next.StartedAt.IsZero() {
				t.Fatalf("step %d: live without a start time", i)
			}
			s = next
		}
	})
}
