package flite

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Words in the CMU lexicon come back as the CMU dictionary spells them;
// words it lacks get letter-to-sound phones from the same phone set.
func TestPronounce(t *testing.T) {
	p := Pronouncer{}
	for word, want := range map[string]string{
		"hello":   "HH AH L OW",
		"speech":  "S P IY CH",
		"thought": "TH AO T",
	} {
		got, err := p.Pronounce(word)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("%s: %v %v, want %s", word, got, err, want)
		}
	}
	arpabet := strings.Fields("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH")
	for _, word := range []string{"nokuthula", "izwi", "thandeka", "mbeki", "o'shaughnessy"} {
		got, err := p.Pronounce(word)
		if err != nil || len(got) < 3 {
			t.Fatalf("%s: %v %v", word, got, err)
		}
		for _, ph := range got {
			if !slices.Contains(arpabet, ph) {
				t.Errorf("%s: phone %q is not ARPAbet (%v)", word, ph, got)
			}
		}
	}
	for _, bad := range []string{"", "Hello", "two words", "naïve", "'tis", strings.Repeat("a", 41), "a\x00b"} {
		if _, err := p.Pronounce(bad); !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("%q: %v, want ErrBadInput", bad, err)
		}
	}
	// Concurrent callers get the same answers (the lexicon is shared).
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if got, _ := p.Pronounce("nokuthula"); len(got) == 0 {
					t.Error("concurrent pronounce failed")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzPronounce(f *testing.F) {
	for _, s := range []string{"hello", "nokuthula", "x", "zzzzzzzz", "a'b", "qqq'q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, word string) {
		ph, err := Pronouncer{}.Pronounce(word)
		if err == nil && len(ph) == 0 {
			t.Fatal("no error and no phones")
		}
	})
}
