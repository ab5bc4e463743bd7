package live

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speech/sherpa/sherpatest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// A session that keeps its transcript hands its finals (and low-confidence
// audio) to the hooks, one that names speakers labels its captions; a
// session that opted out gives the hooks nothing.
func TestPrivacyHooks(t *testing.T) {
	e := newEnv(t)
	emb := sherpatest.Embedder(t)

	var mu sync.Mutex
	kept := map[string][]Event{}
	snippets := map[string]int{}
	forgotten := map[string]bool{}
	priv := Privacy{
		Keep: func(ev Event) { mu.Lock(); kept[ev.SessionID] = append(kept[ev.SessionID], ev); mu.Unlock() },
		Snippet: func(ev Event, s []float32, rate int) {
			mu.Lock()
			if len(s) > 0 && rate == 16000 && ev.Final {
				snippets[ev.SessionID]++
			}
			mu.Unlock()
		},
		SnippetBelow: 1.01, // every final counts as unsure here
		Speakers: func(context.Context) (SpeakerTracker, error) {
			return speaker.NewTracker(emb, nil, speaker.Config{Window: time.Second, Hop: 250 * time.Millisecond})
		},
		Forget: func(id string) { mu.Lock(); forgotten[id] = true; mu.Unlock() },
	}
	st := newStore(t, e.dir)
	m, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc, Recognizer: newRecognizer(t), Now: e.clk.Now,
		Audit: e.aud, TickEvery: time.Hour, Config: config.Live{QueueAudio: config.Duration(time.Minute)}, Privacy: priv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()); st.Close() })

	yes, no := true, false
	run := func(keep, identify *bool) (Info, []Event) {
		c, err := m.Create(t.Context(), "key:a", CreateRequest{Label: "x", KeepTranscript: keep, IdentifySpeakers: identify, Start: true})
		if err != nil {
			t.Fatal(err)
		}
		_, next := watch(t, m, c.ID, 0)
		in, err := m.Attach(t.Context(), "key:a", c.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		push(t, in.Write, samples(t, utterance(t, pauseID)))
		push(t, in.Write, make([]float32, 16000))
		if err := in.Finalize(); err != nil {
			t.Fatal(err)
		}
		evs := next("a final", hasFinalText)
		in.Close()
		return c.Info, evs
	}
	on, evs := run(&yes, &yes)
	if !on.KeepTranscript || !on.IdentifySpeakers {
		t.Fatalf("info %+v", on)
	}
	var labelled int
	for _, ev := range evs {
		if ev.Type == TypeCaption && ev.Final && ev.Text != "" && strings.HasPrefix(ev.Speaker, "Speaker ") && ev.SpeakerConfidence > 0 {
			labelled++
		}
	}
	if labelled == 0 {
		t.Fatalf("no final labelled by the tracker (%d events)", len(evs))
	}
	eventually(t, 10*time.Second, "kept finals", func() bool { mu.Lock(); defer mu.Unlock(); return len(kept[on.ID]) > 0 })
	mu.Lock()
	for _, k := range kept[on.ID] {
		if !k.Final || k.Seq == 0 || k.SessionID != on.ID {
			t.Errorf("kept %+v", k)
		}
	}
	if snippets[on.ID] == 0 {
		t.Error("no snippet for an unsure final")
	}
	mu.Unlock()

	off, evs := run(&no, &no)
	for _, ev := range evs {
		if ev.Speaker != "" {
			t.Fatalf("opted-out session labelled: %+v", ev)
		}
	}
	if err := m.Delete(t.Context(), "key:a", on.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(kept[off.ID]) != 0 || snippets[off.ID] != 0 {
		t.Fatalf("opted-out session kept %d finals, %d snippets", len(kept[off.ID]), snippets[off.ID])
	}
	if !forgotten[on.ID] {
		t.Error("deleting a session did not ask for its kept data to be destroyed")
	}
}

// An enrolled person's name reaches the captions: the gallery holds a
// voiceprint made from one utterance of a speaker, and a live session of
// another utterance of the same speaker is captioned with that name.
func TestEnrolledNameOnCaptions(t *testing.T) {
	e := newEnv(t)
	emb := sherpatest.Embedder(t)
	u := utterance(t, pauseID)
	var enrol testdata.Utterance
	for _, x := range testdata.Utterances(t) {
		if x.Speaker == u.Speaker && x.ID != u.ID {
			enrol = x
			break
		}
	}
	v, err := emb.Embed(t.Context(), samples(t, enrol))
	if err != nil {
		t.Fatal(err)
	}
	g, err := speaker.NewGallery([]speaker.Voiceprint{{ID: "subject:x", Name: "Ada Lovelace", Vector: v}})
	if err != nil {
		t.Fatal(err)
	}
	priv := Privacy{IdentifySpeakers: true, Speakers: func(context.Context) (SpeakerTracker, error) {
		// The untrained test model puts one speaker's utterances at ≈ 0.88.
		return speaker.NewTracker(emb, g, speaker.Config{Threshold: 0.8})
	}}
	st := newStore(t, e.dir)
	m, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc, Recognizer: newRecognizer(t), Now: e.clk.Now,
		Audit: e.aud, TickEvery: time.Hour, Config: config.Live{QueueAudio: config.Duration(time.Minute)}, Privacy: priv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()); st.Close() })
	c, err := m.Create(t.Context(), "key:a", CreateRequest{Label: "named", Start: true})
	if err != nil {
		t.Fatal(err)
	}
	_, next := watch(t, m, c.ID, 0)
	in, err := m.Attach(t.Context(), "key:a", c.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	push(t, in.Write, samples(t, u))
	push(t, in.Write, make([]float32, 16000))
	if err := in.Finalize(); err != nil {
		t.Fatal(err)
	}
	evs := next("a final", hasFinalText)
	in.Close()
	for _, ev := range evs {
		if ev.Type == TypeCaption && ev.Final && ev.Text != "" {
			if ev.Speaker != "Ada Lovelace" || ev.SpeakerConfidence < 0.8 {
				t.Fatalf("final captioned as %q (%.2f), want the enrolled name", ev.Speaker, ev.SpeakerConfidence)
			}
			return
		}
	}
}
