package live

import (
	"reflect"
	"testing"
)

func TestAfterTold(t *testing.T) {
	w := func(s string, a, b float64) Word { return Word{Word: s, Start: a, End: b} }
	words := []Word{w("for", 9.02, 9.20), w("a", 9.20, 9.27), w("full", 9.27, 9.40)}
	cap := func(final bool, ws ...Word) Event {
		e := Event{Type: TypeCaption, Final: final, Start: ws[0].Start, End: ws[len(ws)-1].End, Words: ws}
		for i, x := range ws {
			if i > 0 {
				e.Text += " "
			}
			e.Text += x.Word
		}
		return e
	}
	for _, c := range []struct {
		name string
		in   Event
		told float64
		want Event
		ok   bool
	}{
		{"not taken over", cap(true, words...), 0, cap(true, words...), true},
		{"wholly after", cap(true, words...), 9.0, cap(true, words...), true},
		{"overlapping: told words cut", cap(true, words...), 9.29, cap(true, w("full", 9.29, 9.40)), true},
		{"a word straddling told stays on its middle's side, clipped", cap(true, words...), 9.22, cap(true, w("a", 9.22, 9.27), words[2]), true},
		{"wholly told", cap(true, words...), 9.40, Event{}, false},
		{"partial too", cap(false, words...), 9.29, cap(false, w("full", 9.29, 9.40)), true},
		{"no word times, ends after told", Event{Type: TypeCaption, Text: "x", Start: 9, End: 9.5}, 9.29, Event{Type: TypeCaption, Text: "x", Start: 9, End: 9.5}, true},
		{"no word times, ends by told", Event{Type: TypeCaption, Text: "x", Start: 9, End: 9.3}, 9.29, Event{}, false},
		{"not a caption", Event{Type: TypeState, State: Live}, 9.29, Event{Type: TypeState, State: Live}, true},
	} {
		got, ok := afterTold(c.in, c.told)
		if ok != c.ok || (ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("%s: got %+v %v, want %+v %v", c.name, got, ok, c.want, c.ok)
		}
	}
	// The caller's words are not changed under it (the pipeline keeps them).
	in := cap(true, words...)
	afterTold(in, 9.29)
	if in.Words[0].Word != "for" || len(in.Words) != 3 {
		t.Fatalf("input changed: %+v", in.Words)
	}
}
