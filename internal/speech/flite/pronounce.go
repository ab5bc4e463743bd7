package flite

// #include <stdlib.h>
// #include "glue.h"
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Pronouncer spells words as ARPAbet phones with Flite's CMU lexicon and
// its letter-to-sound rules: the pronunciations PocketSphinx needs for
// the words of a prepared text its dictionary lacks (a visiting
// preacher's name, a place). It is safe for concurrent use: the lexicon
// is made once and only read.
type Pronouncer struct{}

var _ speech.Pronouncer = Pronouncer{}

// maxPronounceBytes keeps words short enough that the rules cannot run
// long (and away from Flite's exit-on-error paths).
const maxPronounceBytes = 40

// Pronounce returns word's phones in upper case without stress marks
// ("IH Z W IY"), as the CMU dictionary and PocketSphinx's en-us model
// spell them. Only a-z and inner apostrophes are accepted.
func (Pronouncer) Pronounce(word string) ([]string, error) {
	if word == "" || len(word) > maxPronounceBytes {
		return nil, fmt.Errorf("flite: a word of 1 to %d bytes: %w", maxPronounceBytes, speech.ErrBadInput)
	}
	for i, r := range word {
		if (r < 'a' || r > 'z') && (r != '\'' || i == 0) {
			return nil, fmt.Errorf("flite: pronounce takes lower-case a-z and apostrophes: %w", speech.ErrBadInput)
		}
	}
	cw := C.CString(strings.ReplaceAll(word, "'", ""))
	defer C.free(unsafe.Pointer(cw))
	var buf [512]C.char
	n := C.izwi_flite_pronounce(cw, &buf[0], C.int(len(buf)))
	if n <= 0 {
		return nil, fmt.Errorf("flite: no pronunciation: %w", speech.ErrBadInput)
	}
	var out []string
	for _, ph := range strings.Fields(C.GoString(&buf[0])) {
		ph = strings.ToUpper(strings.TrimRight(ph, "0123456789"))
		switch ph {
		case "PAU", "":
			continue
		case "AX":
			ph = "AH" // Flite writes unstressed AH as AX; the CMU dictionary does not
		}
		out = append(out, ph)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("flite: no pronunciation: %w", speech.ErrBadInput)
	}
	return out, nil
}
