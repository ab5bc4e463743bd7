package chain

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/deepgram"
	"github.com/izwi-speech/izwi/internal/speech/deepgram/dgtest"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/wer"
)

// outage runs one session through a reset outage: an utterance on the
// primary, one on the fallback, recovery. It returns the session and the
// results index where the fallback's utterance began.
func outage(t *testing.T, r *rig, keep bool, samples []float32) (*session, int) {
	t.Helper()
	r.dbl.SetFault(dgtest.FaultNone)
	s := r.open(t, keep)
	s.feed(samples, 0)
	s.flush()
	r.dbl.SetFault(dgtest.FaultReset)
	from := len(s.results)
	s.feed(samples, 0)
	s.flush()
	if !s.held(keep) {
		t.Errorf("while the fallback served: audio held = %v, want %v", !keep, keep)
	}
	r.dbl.SetFault(dgtest.FaultNone)
	s.awaitRecovery(10 * time.Second)
	return s, from
}

// held reports whether the stream holds outage audio now.
func (s *session) held(want bool) bool {
	k := s.st.(*stream).keep
	return (k != nil && k.held > 0) == want
}

// TestCatchUp: the outage span comes back re-transcribed by the primary as
// one catchup event, and the sealed audio is gone afterwards.
func TestCatchUp(t *testing.T) {
	r := newRig(t, testConfig())
	samples, _ := dgtest.Speech(t, shortID)
	direct := directText(t, r.local, samples)
	s, from := outage(t, r, true, samples)
	var ev *speech.StreamEvent
	silence := make([]float32, 1600)
	// Generous: the double's PocketSphinx re-transcribes while the live
	// stream runs beside it, on two cores other test packages share.
	for end := time.Now().Add(60 * time.Second); ev == nil; {
		if time.Now().After(end) {
			t.Fatalf("no catchup event; events %+v; log:\n%s", s.events, r.logs)
		}
		s.feed(silence, 20*time.Millisecond)
		for i := range s.events {
			if s.events[i].Kind == speech.EventCatchUp {
				ev = &s.events[i]
			}
		}
	}
	if ev.From != "pocketsphinx" || ev.To != "deepgram" {
		t.Errorf("catchup %s>%s, want pocketsphinx>deepgram", ev.From, ev.To)
	}
	fallback := s.finals(from)
	if len(fallback) == 0 || fallback[0].Engine != "pocketsphinx" {
		t.Fatalf("the outage utterance was not served by the fallback: %+v", fallback)
	}
	first := fallback[0]
	if ev.Span[0] > first.Start || ev.Span[1] < first.End {
		t.Errorf("span %v does not cover the fallback's final [%v, %v]", ev.Span, first.Start, first.End)
	}
	for _, res := range ev.Results {
		if res.Engine != "deepgram" || !res.Final || res.Start < ev.Span[0] || res.End > ev.Span[1]+100*time.Millisecond {
			t.Errorf("catch-up result %+v outside span %v or not the primary's final", res, ev.Span)
		}
	}
	if e := wer.Compute(direct, speechtest.FinalText(ev.Results)).Rate(); e > 0.35 {
		t.Errorf("catch-up text %q vs %q (WER %.2f)", speechtest.FinalText(ev.Results), direct, e)
	}
	if s.st.(*stream).keep != nil {
		t.Error("outage audio still held after the catch-up")
	}
}

// TestNothingHeldWithoutKeep: without KeepForCatchUp no outage audio is
// held and no catch-up happens.
func TestNothingHeldWithoutKeep(t *testing.T) {
	r := newRig(t, testConfig())
	samples, _ := dgtest.Speech(t, shortID)
	s, _ := outage(t, r, false, samples)
	s.feed(samples, 0)
	s.flush()
	for _, e := range s.events {
		if e.Kind == speech.EventCatchUp {
			t.Errorf("catch-up without KeepForCatchUp: %+v", e)
		}
	}
	if s.st.(*stream).keep != nil {
		t.Error("audio held without KeepForCatchUp")
	}
}

// TestTranscriberChain: a file goes to the next engine when the first is
// unavailable, never when the audio is bad.
func TestTranscriberChain(t *testing.T) {
	key, file := dgtest.CanaryKey(t)
	dbl := dgtest.New(t, dgtest.PocketSphinx(t, 2), key)
	local := speech.StreamTranscriber(dgtest.PocketSphinx(t, 1))
	// timeout bounds how long a file may go unanswered: generous for the
	// double working on a busy box, short where the double stalls.
	newChain := func(timeout time.Duration) *Transcriber {
		dg, err := deepgram.NewTranscriber(deepgram.Config{URL: dbl.URL, APIKeyFile: file, FlushTimeout: timeout}, secrets.Source{})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTranscriber(nil, FileEngine{Name: "deepgram", Tr: dg}, FileEngine{Name: "pocketsphinx", Tr: local})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	tr, quick := newChain(30*time.Second), newChain(time.Second)
	samples, ref := dgtest.Speech(t, shortID)
	for _, c := range []struct {
		fault dgtest.Fault
		tr    *Transcriber
		want  string
	}{
		{dgtest.FaultNone, tr, "deepgram"}, {dgtest.Fault503, tr, "pocketsphinx"}, {dgtest.FaultMalformed, tr, "pocketsphinx"},
		{dgtest.Fault401, tr, "pocketsphinx"}, {dgtest.FaultStall, quick, "pocketsphinx"},
	} {
		dbl.SetFault(c.fault)
		out, err := c.tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.fault, err)
		}
		if len(out.Segments) == 0 || out.Segments[0].Engine != c.want {
			t.Errorf("%s: segments %+v, want from %s", c.fault, out.Segments, c.want)
		}
		if e := wer.Compute(ref, out.Text).Rate(); e > 0.5 {
			t.Errorf("%s: %q (WER %.2f)", c.fault, out.Text, e)
		}
	}
	dbl.SetFault(dgtest.FaultNone)
	bad := append([]float32{float32(math.NaN())}, samples...)
	if _, err := tr.Transcribe(context.Background(), bad, speech.TranscribeOptions{}); !errors.Is(err, speech.ErrBadAudio) {
		t.Errorf("NaN audio: %v, want ErrBadAudio", err)
	}
	speechtest.Transcriber(t, tr, samples, nil)
}
