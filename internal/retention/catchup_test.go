package retention

import (
	"context"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/live"
)

// A catch-up replaces the kept captions of the outage span with the
// primary's, in place, sealed like the rest; captions outside the span and
// other sessions are untouched.
func TestReplaceSpan(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	// Captions at 1..6 s; the fallback served 3..4.
	texts := []string{"one", "two", "fallback three", "fallback four", "five", "six"}
	for i, text := range texts {
		if err := r.k.Keep(ctx, caption("ses_a", uint64(i+1), true, text)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.k.Keep(ctx, caption("ses_b", 3, true, "other session")); err != nil {
		t.Fatal(err)
	}
	primary := []live.Event{
		{Type: live.TypeCaption, Final: true, Text: "primary three", Start: 3.0, End: 3.5},
		{Type: live.TypeCaption, Final: true, Text: "primary three and a half", Start: 3.5, End: 4.2},
		{Type: live.TypeCaption, Final: true, Text: "primary four", Start: 4.2, End: 4.8},
		{Type: live.TypeCaption, Final: false, Text: "a partial is never kept", Start: 4.8, End: 4.9},
	}
	if err := r.k.Replace(ctx, "ses_a", 3.0, 4.9, primary); err != nil {
		t.Fatal(err)
	}
	got, err := r.k.Transcript(ctx, "ses_a")
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for _, e := range got {
		words = append(words, e.Text)
	}
	want := "one|two|primary three|primary three and a half|primary four|five|six"
	if j := strings.Join(words, "|"); j != want {
		t.Fatalf("transcript after catch-up:\n got %s\nwant %s", j, want)
	}
	other, err := r.k.Transcript(ctx, "ses_b")
	if err != nil || len(other) != 1 || other[0].Text != "other session" {
		t.Fatalf("another session changed: %+v %v", other, err)
	}
	r.scan(t, []byte("primary three"), []byte("primary four"))
	// A second catch-up over the same span replaces the first one's lines.
	if err := r.k.Replace(ctx, "ses_a", 3.0, 4.9, primary[:1]); err != nil {
		t.Fatal(err)
	}
	if got, _ = r.k.Transcript(ctx, "ses_a"); len(got) != 5 {
		t.Fatalf("after a second catch-up: %d lines, want 5", len(got))
	}
	var lines int
	if err := r.k.db.QueryRowContext(ctx, "SELECT lines FROM retention_transcripts WHERE session_id = 'ses_a'").Scan(&lines); err != nil || lines != 5 {
		t.Fatalf("lines counter %d (%v), want 5", lines, err)
	}
	// Nothing kept: nothing to replace.
	if err := r.k.Replace(ctx, "ses_none", 0, 1, primary); err == nil {
		t.Fatal("Replace on a session with nothing kept succeeded")
	}
}
