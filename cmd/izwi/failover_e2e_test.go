package main

import (
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/speech/deepgram/dgtest"
	"github.com/izwi-speech/izwi/internal/wer"
)

// maxCaptionGap is the longest a viewer may wait for the next caption
// event from the fault to the end of the audio: the chain's 1 s switch
// bound, the 1 s pause between the two utterances and the recognizer's
// latency on a loaded 2-core test machine. Without failover the gap would
// be the whole outage (40 % of the audio, over 6 s) plus a probe.
const maxCaptionGap = 5 * time.Second

// izwi serve with IZWI_ASR_ENGINE=deepgram,pocketsphinx against the
// Deepgram double: the double dies mid-speech (for 40 % of the audio) and
// comes back, and the viewer's captions continue without a break, say
// which engine made them, announce both switches, and the words are all
// there once; the kept transcript gets Deepgram's catch-up for the outage.
func TestLiveFailoverEndToEnd(t *testing.T) {
	key, keyFile := dgtest.CanaryKey(t)
	dg := dgtest.New(t, dgtest.PocketSphinx(t, 2), key)
	env := append(liveEnv(t), "IZWI_ASR_ENGINE=deepgram,pocketsphinx", "IZWI_DEEPGRAM_URL="+dg.URL,
		"IZWI_DEEPGRAM_API_KEY_FILE="+keyFile, "IZWI_FAILOVER_PROBE_MIN=500ms", "IZWI_FAILOVER_PROBE_MAX=1s")
	apiKey := newKey(t, env, "--name", "failover", "--scopes", "live.write,live.read")
	s := startServe(t, env)

	// /readyz names the chain.
	_, body, _ := readyz(t, s)
	found := false
	for _, r := range body.Roles {
		found = found || (r.Role == "asr" && r.Engine == "deepgram,pocketsphinx" && r.State == "ready")
	}
	if !found {
		t.Fatalf("/readyz does not show the asr chain ready: %+v", body.Roles)
	}

	u1, s1 := liveUtterance(t, "1089-134691-0001")
	u2, s2 := liveUtterance(t, "1089-134686-0000")
	samples := append(append(append([]float32(nil), s1...), make([]float32, 16000)...), s2...)
	// The session keeps its transcript, so the outage span is caught up.
	ses := createLiveSession(t, s, apiKey, map[string]any{"label": "failover", "start": true, "keep_transcript": true})
	v, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)

	done := make(chan struct{})
	go func() {
		defer close(done)
		streamPaced(t, s, apiKey, ses.ID, samples, 1)
	}()
	total := time.Duration(len(samples)) * time.Second / 16000
	time.Sleep(total * 35 / 100) // pacing the fault against the paced stream, not waiting for a result
	dg.SetFault(dgtest.FaultReset)
	faultAt := time.Now()
	time.Sleep(total * 40 / 100)
	dg.SetFault(dgtest.FaultNone)
	<-done

	ref := u1.Reference + " " + u2.Reference
	evs := awaitLiveWER(t, "failover viewer", v, ref)
	checkLiveOrder(t, "failover viewer", evs)
	// Both switches are caption-feed events, and captions name their engine.
	var away, back bool
	engines := map[string]bool{}
	for _, e := range evs {
		switch e.Type {
		case live.TypeEngine:
			away = away || (e.EngineFrom == "deepgram" && e.Engine == "pocketsphinx" && e.Reason != "")
			back = back || (e.Engine == "deepgram" && e.Reason == "recovered")
		case live.TypeCaption:
			if e.Text != "" {
				engines[e.Engine] = true
			}
		}
	}
	if !away || !back {
		t.Errorf("switch events: away %v, back %v", away, back)
	}
	if !engines["deepgram"] || !engines["pocketsphinx"] {
		t.Errorf("captions came from %v, want both engines", engines)
	}
	// No break: from the fault to the end of speech, caption events keep
	// coming.
	var last time.Time
	for _, e := range evs {
		if e.Type != live.TypeCaption || e.Time.Before(faultAt) {
			continue
		}
		if !last.IsZero() {
			if gap := e.Time.Sub(last); gap > maxCaptionGap {
				t.Errorf("captions stopped for %v after the fault (seq %d)", gap, e.Seq)
			}
		}
		last = e.Time
	}
	// The replayed span's words appear once: no three-word run of the
	// reference is in the finals more often than in the reference
	// (recognition errors make runs the reference lacks; a replay shown
	// twice repeats real ones).
	trigrams := func(s string) map[string]int {
		w, m := strings.Fields(strings.ToLower(s)), map[string]int{}
		for i := 0; i+3 <= len(w); i++ {
			m[strings.Join(w[i:i+3], " ")]++
		}
		return m
	}
	refN := trigrams(ref)
	for g, n := range trigrams(liveFinals(evs)) {
		if refN[g] > 0 && n > refN[g] {
			t.Errorf("%q appears %d times, the reference has it %d times: a replayed span shown twice", g, n, refN[g])
		}
	}
	t.Logf("failover: WER %.3f", wer.Compute(ref, liveFinals(evs)).Rate())
	// Catch-up: once Deepgram is back it re-transcribes the span the local
	// engine served, and the kept transcript holds its finals there
	// (numbered apart from the viewers' captions) in place of the local
	// ones; the viewers keep what they saw.
	var kept struct{ Captions []live.Event }
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code := liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/transcript", apiKey, nil, &kept); code != 200 {
			t.Fatalf("transcript: %d", code)
		}
		caught := false
		for _, e := range kept.Captions {
			caught = caught || (e.Seq >= 1<<40 && e.Engine == "deepgram" && e.Text != "")
		}
		if caught {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no caught-up caption in the kept transcript: %+v", kept.Captions)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := wer.Compute(ref, liveFinals(kept.Captions)).Rate(); r > maxStreamWER {
		t.Errorf("kept transcript after catch-up: WER %.3f: %q", r, liveFinals(kept.Captions))
	}
	// The key never left the Authorization header.
	if strings.Contains(s.logs.String(), key) {
		t.Error("the Deepgram key is in the server's log")
	}
	uris, _ := dg.Requests()
	for _, u := range uris {
		if strings.Contains(u, key) {
			t.Errorf("the Deepgram key is in a URL: %s", u)
		}
	}
}
