package livetranslate

import (
	"context"
	"testing"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/translate"
)

// payerShown is a translator that answers with whoever pays for the call.
type payerShown struct{}

func (payerShown) Check(_ string, t []string) ([]string, error) { return t, nil }
func (payerShown) Translate(ctx context.Context, p translate.Pair, text string) translate.Result {
	return translate.Result{Text: "[" + translate.Payer(ctx) + "] " + text, Lang: p.To}
}

// Feeds and tracks are paid for by the session's owner, whoever watches
// (a viewer's context naming another payer does not count); a session
// with no owner (the console's) names no payer.
func TestOwnerPays(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir()+"/izwi.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(ctx, Options{Translator: payerShown{}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ses_1", "ses_2"} {
		if err := s.Set(ctx, id, []string{"es"}); err != nil {
			t.Fatal(err)
		}
	}
	viewer := translate.WithPayer(ctx, "key:viewer")
	for _, c := range []struct {
		info live.Info
		want string
	}{
		{live.Info{ID: "ses_1", Owner: "key:owner"}, "[key:owner] hello"},
		{live.Info{ID: "ses_2"}, "[] hello"},
	} {
		src := &chanFeed{ch: make(chan live.Event, 1)}
		f, err := s.Feed(viewer, c.info, "es", src)
		if err != nil {
			t.Fatal(err)
		}
		src.ch <- live.Event{Type: live.TypeCaption, Seq: 1, Final: true, Text: "hello"}
		src.Close()
		var got []string
		for e := range f.Events() {
			got = append(got, e.Text)
		}
		f.Close()
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s feed: %q, want %q", c.info.ID, got, c.want)
		}
		out, err := s.Track(viewer, c.info, "es", []live.Event{{Type: live.TypeCaption, Final: true, Text: "hello"}})
		if err != nil || out[0].Text != c.want {
			t.Errorf("%s track: %+v, %v, want %q", c.info.ID, out, err, c.want)
		}
	}
}
