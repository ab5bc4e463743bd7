package chain

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/deepgram/dgtest"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/wer"
)

// TestFailover injects each fault twice (once with -short) in `make test`;
// TestSoakFailover (`make soak`) 20 times. The double's PocketSphinx runs
// at about 1.6× real time on the 2-core box, so a round costs ~2 s.
func TestFailover(t *testing.T) {
	n := 2
	if testing.Short() {
		n = 1
	}
	failover(t, n)
}

// failover injects each fault n times. Mid-stream faults hit while
// the primary is inside an utterance right after it finalised one; refusals
// hit when the stream opens. Every round checks: the switch is reported
// with the fault's reason; the speech after the fault is all there (WER
// against PocketSphinx's own reading of the same audio); no word appears
// twice (word times strictly increase across finals); the stream switches
// back once the double recovers and the primary serves again.
func failover(t *testing.T, rounds int) {
	r := newRig(t, testConfig())
	samples, _ := dgtest.Speech(t, shortID)
	direct := directText(t, r.local, samples)
	half := len(samples) / 2 / 1600 * 1600
	cases := []struct {
		fault     dgtest.Fault
		reason    string
		handshake bool
	}{
		{dgtest.FaultStall, "stall", false},
		{dgtest.FaultReset, "reset", false},
		{dgtest.FaultMalformed, "server_error", false},
		{dgtest.FaultDropMid, "reset", false},
		{dgtest.Fault401, "auth", true},
		{dgtest.Fault429, "rate_limited", true},
		{dgtest.Fault503, "server_error", true},
	}
	for _, c := range cases {
		t.Run(c.fault.String(), func(t *testing.T) {
			for i := range rounds {
				r.dbl.SetFault(dgtest.FaultNone)
				if c.handshake {
					r.dbl.SetFault(c.fault)
				}
				s := r.open(t, false)
				before := 0
				if !c.handshake {
					s.feed(samples, 0)
					s.flush()
					before = len(s.results)
				}
				s.feed(samples[:half], 0)
				r.dbl.SetFault(c.fault)
				s.feed(samples[half:], 0)
				s.flush()
				want := "deepgram>pocketsphinx:" + c.reason
				if sw := s.switches(); len(sw) == 0 || sw[0] != want {
					t.Fatalf("round %d: switches %v, want %s first", i, sw, want)
				}
				checkOnce(t, s.finals(0))
				after := s.finals(before)
				got := speechtest.FinalText(after)
				if e := wer.Compute(direct, got).Rate(); e > 0.35 {
					t.Errorf("round %d: across the fault %q, PocketSphinx alone %q (WER %.2f): speech lost", i, got, direct, e)
				}
				r.dbl.SetFault(dgtest.FaultNone)
				s.awaitRecovery(10 * time.Second)
				back := len(s.results)
				s.feed(samples, 0)
				s.flush()
				for _, res := range s.finals(back) {
					if res.Engine != "deepgram" {
						t.Errorf("round %d: after switching back a final came from %q (switches %v)", i, res.Engine, s.switches())
					}
				}
				if len(s.finals(back)) == 0 {
					t.Errorf("round %d: nothing recognised after switching back", i)
				}
				s.st.Close()
			}
		})
	}
	if logs := r.logs.String(); strings.Contains(logs, r.key) {
		t.Error("the canary key is in the chain's log")
	} else if !strings.Contains(logs, `"msg":"engine switch"`) {
		t.Error("switches were not logged")
	}
}

// checkOnce fails t when a word's time does not follow the previous one:
// a word said once must be reported once, however the engines split it.
func checkOnce(t *testing.T, finals []speech.Result) {
	t.Helper()
	var prev time.Duration = -1
	var prevWord string
	for _, r := range finals {
		for _, w := range r.Words {
			mid := (w.Start + w.End) / 2
			if mid <= prev {
				t.Errorf("%q (%s) at %v follows %q at %v: a word twice or out of order", w.Text, r.Engine, mid, prevWord, prev)
			}
			prev, prevWord = mid, w.Text
		}
	}
}

// directText is what the local engine alone makes of samples.
func directText(t *testing.T, rec speech.Recognizer, samples []float32) string {
	t.Helper()
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return speechtest.FinalText(speechtest.Feed(t, st, samples, 1600))
}

// TestConformance: a chain is a Recognizer like any engine, whether the
// primary serves or is refused and the fallback does.
func TestConformance(t *testing.T) {
	// Four concurrent streams share the double's PocketSphinx on two busy
	// cores, so its answers come slowly: a stall bound that tolerates it.
	r := newRig(t, Config{Stall: 5 * time.Second})
	samples, _ := dgtest.Speech(t, shortID)
	direct := directText(t, r.local, samples)
	check := func(t *testing.T, text string) {
		if e := wer.Compute(direct, text).Rate(); e > 0.35 {
			t.Errorf("%q vs PocketSphinx alone %q (WER %.2f)", text, direct, e)
		}
	}
	t.Run("primary", func(t *testing.T) { speechtest.Recognizer(t, r.rec, samples, check) })
	r.dbl.SetFault(dgtest.Fault401)
	t.Run("fallback", func(t *testing.T) { speechtest.Recognizer(t, r.rec, samples, check) })
}

// TestFallbackWithoutHotwords: a fallback that cannot take the session's
// vocabulary (PocketSphinx needs unknown words spelt in phones) still
// serves, without it.
func TestFallbackWithoutHotwords(t *testing.T) {
	r := newRig(t, testConfig())
	r.dbl.SetFault(dgtest.Fault401)
	st, err := r.rec.NewStream(context.Background(), speech.StreamOptions{Hotwords: []string{"izwi"}})
	if err != nil {
		t.Fatalf("NewStream with the primary refused: %v", err)
	}
	defer st.Close()
	if got := r.rec.Serving()["pocketsphinx"]; got != 1 {
		t.Errorf("Serving() = %v, want the fallback serving", r.rec.Serving())
	}
}
