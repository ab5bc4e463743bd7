package livetranslate

import (
	"context"
	"errors"
	"testing"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/translate"
)

// upper is a translator that marks what it translated; "fail" fails.
type upper struct{}

func (upper) Check(from string, t []string) ([]string, error) { return t, nil }
func (upper) Translate(_ context.Context, p translate.Pair, text string) translate.Result {
	if text == "fail" {
		return translate.Result{Text: text, Lang: p.From, Err: translate.ErrUnavailable}
	}
	return translate.Result{Text: p.To + ":" + text, Lang: p.To}
}

func newService(t *testing.T, partials bool) *Service {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir()+"/izwi.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(context.Background(), Options{Translator: upper{}, Store: st, Partials: partials})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(context.Background(), "ses_1", []string{"es"}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFeedTranslatesFinalsInOrder(t *testing.T) {
	s := newService(t, false)
	src := &chanFeed{ch: make(chan live.Event, 8)}
	info := live.Info{ID: "ses_1"}
	if _, err := s.Feed(context.Background(), info, "fr", &chanFeed{ch: make(chan live.Event)}); !errors.Is(err, ErrNotOffered) {
		t.Fatalf("a language not offered: %v", err)
	}
	if f, err := s.Feed(context.Background(), info, "en", src); err != nil || f != live.Feed(src) {
		t.Fatalf("the source language: %v, %v", f, err)
	}
	f, err := s.Feed(context.Background(), info, "ES", src)
	if err != nil {
		t.Fatal(err)
	}
	in := []live.Event{
		{Type: live.TypeCaption, Seq: 1, Segment: 1, Text: "hel"},
		{Type: live.TypeCaption, Seq: 2, Segment: 1, Final: true, Text: "hello", Start: 1, End: 2, Words: []live.Word{{Word: "hello", Start: 1, End: 2}}},
		{Type: live.TypeState, Seq: 3, State: live.Live},
		{Type: live.TypeCaption, Seq: 4, Segment: 2, Final: true, Text: "fail"},
	}
	for _, e := range in {
		src.ch <- e
	}
	src.Close()
	var got []live.Event
	for e := range f.Events() {
		got = append(got, e)
	}
	if len(got) != 3 || got[0].Seq != 2 || got[0].Text != "es:hello" || got[0].Lang != "es" || got[0].Start != 1 || len(got[0].Words) != 1 ||
		got[1].Type != live.TypeState || got[2].Text != "fail" || got[2].Lang != "en" {
		t.Fatalf("translated feed: %+v", got)
	}
	f.Close()
}

func TestTrack(t *testing.T) {
	s := newService(t, false)
	evs := []live.Event{{Type: live.TypeCaption, Final: true, Text: "one"}, {Type: live.TypeCaption, Final: true, Text: "two"}}
	out, err := s.Track(context.Background(), live.Info{ID: "ses_1"}, "es", evs)
	if err != nil || out[0].Text != "es:one" || out[1].Text != "es:two" || evs[0].Text != "one" {
		t.Fatalf("Track = %+v, %v", out, err)
	}
	if _, err := s.Track(context.Background(), live.Info{ID: "ses_1"}, "ca", evs); !errors.Is(err, ErrNotOffered) {
		t.Fatalf("a language not offered: %v", err)
	}
	// Forgotten with the session.
	if err := s.Set(context.Background(), "ses_1", nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Langs(context.Background(), "ses_1"); l != nil {
		t.Fatalf("langs after forgetting: %v", l)
	}
}
