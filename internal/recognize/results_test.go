package recognize

import (
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// An unchanged partial passes again only once its End has moved on by
// PartialRefresh; a changed one always passes; a final closes the segment.
func TestRepeatedPartials(t *testing.T) {
	var c collector
	p := &Pipeline{emit: c.emit, partial: map[int]speech.Result{}, rate: 16000}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	p.results([]speech.Result{
		{Text: "the", End: ms(100)},
		{Text: "the", End: ms(200)},                      // too soon: dropped
		{Text: "the", End: ms(100) + PartialRefresh},     // refresh: passes
		{Text: "the cat", End: ms(100) + PartialRefresh}, // changed: passes
		{Text: "the cat", Final: true, End: ms(400)},
		{Segment: 1, Text: "sat", End: ms(500)},
	})
	var got []string
	for _, e := range c.events() {
		got = append(got, e.Result.Text)
	}
	want := []string{"the", "the", "the cat", "the cat", "sat"}
	if len(got) != len(want) {
		t.Fatalf("emitted %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("emitted %q, want %q", got, want)
		}
	}
}
