package textformat

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	for _, c := range []struct {
		in    string
		final bool
		want  string
	}{
		{"he hoped there would be stew for dinner", true, "He hoped there would be stew for dinner."},
		{"he hoped there would be stew", false, "He hoped there would be stew"},
		{"i think i'm late and i've said so", true, "I think I'm late and I've said so."},
		{"what is the time", true, "What is the time?"},
		{"are you coming", true, "Are you coming?"},
		{"how great thou art", true, "How great thou art."},
		{"what a friend we have", true, "What a friend we have."},
		{"Already Formatted, as Deepgram does", true, "Already Formatted, as Deepgram does"},
		{"no capitals but a comma, here", true, "No capitals but a comma, here."},
		{"is it you?", true, "Is it you?"},
		{"the shadow of death. he is with us", true, "The shadow of death. He is with us."},
		{"HE HOPED THERE WOULD BE STEW", true, "He hoped there would be stew."},
		{"", true, ""},
		{"élan vital", true, "Élan vital."},
	} {
		if got := Text(c.in, c.final); got != c.want {
			t.Errorf("Text(%q, %v) = %q, want %q", c.in, c.final, got, c.want)
		}
	}
}

func TestPausesEndSentences(t *testing.T) {
	s := func(n int) time.Duration { return time.Duration(n) * 100 * time.Millisecond }
	words := []Word{{"thank", s(0), s(3)}, {"you", s(4), s(6)}, {"is", s(20), s(21)}, {"it", s(22), s(23)}, {"raining", s(24), s(28)}}
	got := Words(words, true)
	want := []string{"Thank", "you.", "Is", "it", "raining?"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Words = %q, want %q", got, want)
	}
	if words[0].Text != "thank" {
		t.Error("Words modified its input")
	}
	// A short gap is no sentence break.
	words[2].Start = s(7)
	if got := Words(words, false); strings.Join(got, " ") != "Thank you is it raining" {
		t.Errorf("short gap: %q", got)
	}
}

func FuzzText(f *testing.F) {
	f.Add("what is it", true)
	f.Add("I\xffi i", false)
	f.Add("ǅ ß ﬁ", true)
	f.Fuzz(func(t *testing.T, s string, final bool) {
		got := Text(s, final)
		if len(strings.Fields(got)) != len(strings.Fields(s)) {
			t.Fatalf("Text(%q) = %q: word count changed", s, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Text(%q) = %q: invalid UTF-8", s, got)
		}
	})
}
