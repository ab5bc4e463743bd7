package prepare

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestKeyterms(t *testing.T) {
	text := `Order of service, Sunday 7 December.
Welcome: Reverend Thandeka Mbeki. Please welcome Nokuthula Dlamini to the lectern.
Reading: the parable of the mustard seed. The kingdom of heaven is like a mustard seed.
Hymn: Abide with me. Notices from Nokuthula Dlamini about the harvest festival.`
	got := Keyterms(text, 6)
	want := []string{"nokuthula dlamini", "nokuthula", "dlamini", "thandeka mbeki", "thandeka", "mbeki"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Keyterms:\n got %q\nwant %q", got, want)
	}
	more := Keyterms(text, 100)
	for _, w := range []string{"mustard", "kingdom", "festival", "harvest"} {
		if !slices.Contains(more, w) {
			t.Errorf("%q missing from %q", w, more)
		}
	}
	for _, w := range []string{"the", "sunday", "december", "order", "please"} {
		if slices.Contains(more, w) {
			t.Errorf("common word %q picked: %q", w, more)
		}
	}
	if len(Keyterms(text, 0)) != 0 || len(Keyterms("", 5)) != 0 {
		t.Error("nothing asked or nothing given must give nothing")
	}
	if !reflect.DeepEqual(Keyterms(text, 100), more) {
		t.Error("the same text gave two lists")
	}
	for _, k := range more {
		if k != strings.ToLower(k) || k == "" {
			t.Errorf("term %q", k)
		}
	}
}

func FuzzKeyterms(f *testing.F) {
	f.Add("Please welcome Nokuthula Dlamini.", 3)
	f.Add("A B C D E F. ’Tis O’Neill", 100)
	f.Fuzz(func(t *testing.T, text string, n int) {
		n = n % 200
		got := Keyterms(text, n)
		if len(got) > max(n, 0) {
			t.Fatalf("%d terms for n=%d", len(got), n)
		}
	})
}
