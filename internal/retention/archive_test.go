package retention

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestArchiveCorrectAndReview(t *testing.T) {
	r := newRig(t)
	ctx := WithActor(context.Background(), "user:ann")
	for i, text := range []string{"welcome to the service", "the reading is from jon", "let us pray"} {
		if err := r.k.Keep(ctx, caption("ses_a", uint64(i+1), true, text)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := r.k.List(ctx)
	if err != nil || len(list) != 1 || list[0].SessionID != "ses_a" || list[0].Lines != 3 {
		t.Fatalf("List: %+v, %v", list, err)
	}

	// A correction is sealed like the original and audited without its text.
	if err := r.k.Correct(ctx, "ses_a", 2, "The reading is from John."); err != nil {
		t.Fatal(err)
	}
	evs, err := r.k.Transcript(ctx, "ses_a")
	if err != nil || len(evs) != 3 || evs[1].Text != "The reading is from John." || evs[1].Seq != 2 || evs[0].Text != "welcome to the service" {
		t.Fatalf("after the correction: %+v, %v", evs, err)
	}
	r.scan(t, []byte("from John"))
	found := false
	for _, e := range r.audit.Events() {
		if e.Action == "retention.correct" && e.Actor == "user:ann" && e.Details["seq"] == "2" {
			found = true
		}
		for _, v := range e.Details {
			if v == "The reading is from John." {
				t.Errorf("the audit log holds the corrected text: %+v", e)
			}
		}
	}
	if !found {
		t.Error("the correction was not audited")
	}
	for _, bad := range []struct {
		seq  uint64
		text string
	}{{2, "  "}, {9, "text"}, {2, string(make([]byte, MaxCorrection+1))}} {
		if err := r.k.Correct(ctx, "ses_a", bad.seq, bad.text); err == nil {
			t.Errorf("Correct(%d, %d bytes) succeeded", bad.seq, len(bad.text))
		}
	}

	// Review: a snippet cut from caption 3 (start 3 s), corrected; another
	// approved; a third deleted. Each ends with its audio shredded.
	pcm := make([]byte, 3200)
	var ids []string
	for _, start := range []time.Duration{3 * time.Second, 1 * time.Second, 2 * time.Second} {
		s, err := r.k.AddSnippet(ctx, Snippet{SessionID: "ses_a", Start: start, End: start + time.Second, Confidence: 0.3,
			Text: "let us pray", Rate: 16000, PCM16: pcm})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	queue, err := r.k.Review(ctx)
	if err != nil || len(queue) != 3 || queue[0].ExpiresAt.IsZero() {
		t.Fatalf("Review: %+v, %v", queue, err)
	}
	if err := r.k.Resolve(ctx, ids[0], "corrected", "Let us pray."); err != nil {
		t.Fatal(err)
	}
	if err := r.k.Resolve(ctx, ids[1], "approved", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.k.Resolve(ctx, ids[2], "deleted", ""); err != nil {
		t.Fatal(err)
	}
	if queue, _ := r.k.Review(ctx); len(queue) != 0 {
		t.Errorf("queue after review: %+v", queue)
	}
	for _, id := range ids {
		if _, err := r.k.SnippetContent(ctx, id); !errors.Is(err, ErrExpired) {
			t.Errorf("snippet %s after review: %v, want shredded", id, err)
		}
	}
	if evs, _ := r.k.Transcript(ctx, "ses_a"); evs[2].Text != "Let us pray." {
		t.Errorf("caption 3 after the reviewed correction: %q", evs[2].Text)
	}
	if err := r.k.Resolve(ctx, ids[0], "approved", ""); !errors.Is(err, ErrExpired) {
		t.Errorf("resolving twice: %v", err)
	}

	// Deleting the transcript shreds it; the archive no longer lists it.
	if err := r.k.DestroySession(ctx, "ses_a", "deleted"); err != nil {
		t.Fatal(err)
	}
	if list, _ := r.k.List(ctx); len(list) != 0 {
		t.Errorf("List after delete: %+v", list)
	}
	if err := r.k.Correct(ctx, "ses_a", 1, "x"); !errors.Is(err, ErrNoCaption) {
		t.Errorf("correcting a shredded transcript: %v", err)
	}
}
