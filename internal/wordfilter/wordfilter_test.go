package wordfilter

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func mustNew(t testing.TB, c Config) *Filter {
	t.Helper()
	f, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestText(t *testing.T) {
	f := mustNew(t, Config{Profanity: true, RedactNumbers: true, Replace: []Rule{
		{Find: "monika", Replace: "Monica"}, {Find: "pastor dala me ni", Replace: "Pastor Dlamini"}, {Find: "um", Replace: ""},
	}})
	for in, want := range map[string]string{
		"Monika, said um hello":                    "Monica, said hello",
		"welcome pastor dala me ni.":               "welcome Pastor Dlamini.",
		"Pastor dala me ni spoke":                  "Pastor Dlamini spoke",
		"what the fuck, Fucking hell":              "what the ****, ****ing hell",
		"the assassin passed the class":            "the assassin passed the class",
		"Turnips and carrots in Scunthorpe.":       "Turnips and carrots in Scunthorpe.",
		"Bitches, shits.":                          "*****es, ****s.",
		"call one two three four now":              "call [REDACTED] now",
		"card 4111 1111 ends 12.":                  "card [REDACTED] ends 12.",
		"hymn two hundred and twelve, one or two.": "hymn two hundred and twelve, one or two.",
		"": "",
	} {
		if got := f.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
	if got := mustNew(t, Config{}).Text("fuck 123"); got != "fuck 123" {
		t.Errorf("the zero Config changed %q", got)
	}
}

func TestTimesKept(t *testing.T) {
	s := func(n int) time.Duration { return time.Duration(n) * time.Second }
	in := []Token{{"hi", s(0), s(1), 0.9}, {"monika", s(1), s(2), 0.8}, {"jones", s(2), s(3), 0.5}, {"five", s(3), s(4), 1}, {"five", s(4), s(5), 1}, {"five", s(5), s(6), 1}}
	f := mustNew(t, Config{RedactNumbers: true, Replace: []Rule{{Find: "monika jones", Replace: "Monica Jonas Smith"}}})
	got := f.Apply(in)
	want := []Token{{"hi", s(0), s(1), 0.9}, {"Monica", s(1), s(3), 0.5}, {"Jonas", s(1), s(3), 0.5}, {"Smith", s(1), s(3), 0.5}, {Redacted, s(3), s(6), 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply = %+v\nwant %+v", got, want)
	}
	if in[1].Text != "monika" {
		t.Error("Apply modified its input")
	}
}

func TestValidate(t *testing.T) {
	bad := []Config{
		{Replace: []Rule{{Find: " ", Replace: "x"}}},
		{Replace: []Rule{{Find: strings.Repeat("a ", 9), Replace: "x"}}},
		{Replace: []Rule{{Find: "a", Replace: strings.Repeat("x", MaxRuleLen+1)}}},
		{Replace: []Rule{{Find: "a\xff", Replace: "x"}}},
		{Replace: make([]Rule, MaxRules+1)},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("New accepted %+v", c.Replace[:min(len(c.Replace), 1)])
		}
	}
}

func FuzzFilter(f *testing.F) {
	f.Add("Monika said fuck one two three", "monika", "Monica")
	f.Add("\xff oh oh oh ,,, ' '", "oh oh", "")
	f.Add("ǅ ß ﬁ 12", "ß", "ss")
	f.Fuzz(func(t *testing.T, text, find, repl string) {
		flt, err := New(Config{Profanity: true, RedactNumbers: true, Replace: []Rule{{Find: find, Replace: repl}}})
		if err != nil {
			return
		}
		got := flt.Text(text)
		if utf8.ValidString(text) && utf8.ValidString(repl) && !utf8.ValidString(got) {
			t.Fatalf("Text(%q) = %q: invalid UTF-8", text, got)
		}
		// Bounded growth: each input word becomes at most the longer of
		// itself, Redacted and the replacement's words.
		if len(got) > (len(text)+1)*(len(repl)+len(Redacted)+2) {
			t.Fatalf("Text(%q) grew to %d bytes", text, len(got))
		}
	})
}
