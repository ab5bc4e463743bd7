package prepare

import (
	"reflect"
	"strings"
	"testing"
)

func TestSentences(t *testing.T) {
	got := Sentences("Psalm 23: The Lord is my shepherd;\nI shall not want.\n\nHymn 1905 — \"Abide With Me\" (verse 2)! Don't  stop... naïve café")
	want := [][]string{
		{"psalm", "twenty", "three"},
		{"the", "lord", "is", "my", "shepherd"},
		{"i", "shall", "not", "want"},
		{"hymn", "nineteen", "oh", "five", "abide", "with", "me", "verse", "two"},
		{"don't", "stop"},
		{"naïve", "café"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Sentences:\n got %q\nwant %q", got, want)
	}
	if s := Sentences(" \n\t.;!? 'quoted' "); !reflect.DeepEqual(s, [][]string{{"quoted"}}) {
		t.Errorf("quotes and blanks: %q", s)
	}
	if s := Sentences(strings.Repeat("x", 41) + " ok"); !reflect.DeepEqual(s, [][]string{{"ok"}}) {
		t.Errorf("an over-long token must go: %q", s)
	}
}

func TestSpellNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "zero", "7": "seven", "13": "thirteen", "40": "forty", "99": "ninety nine",
		"100": "one hundred", "105": "one hundred five", "512": "five hundred twelve",
		"1000": "one thousand", "2000": "two thousand", "1662": "sixteen sixty two", "1905": "nineteen oh five",
		"2026": "twenty twenty six", "1100": "one thousand one hundred", "007": "seven",
		"123456": "one two three four five six",
	} {
		if got := strings.Join(spellNumber(in), " "); got != want {
			t.Errorf("%s → %q, want %q", in, got, want)
		}
	}
}

func FuzzSentences(f *testing.F) {
	for _, s := range []string{"Psalm 23", "a.b!c?d;e:f\ng", "12345678901234567890", "’tis", "\xff\xfe", "ⅷ ٣ 𝟘"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range Sentences(text) {
			if len(s) == 0 {
				t.Fatal("an empty sentence")
			}
			for _, w := range s {
				if w == "" || len(w) > maxWordBytes || strings.ContainsAny(w, " .!?;:\n") || w != strings.ToLower(w) {
					t.Fatalf("bad word %q from %q", w, text)
				}
			}
		}
	})
}
