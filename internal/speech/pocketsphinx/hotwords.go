package pocketsphinx

import (
	"fmt"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// hotword is one dictionary word a stream wants recognisable; phones is
// empty when the word must already be in the dictionary.
type hotword struct {
	word   string
	phones string
}

const (
	maxHotwords     = 256
	maxHotwordBytes = 64
	maxPhones       = 64
)

// PocketSphinx 5prealpha cannot bias its search towards words it already
// knows, so a hotword in the dictionary changes nothing; what hotwords buy
// is vocabulary: a word missing from the dictionary, given with its phones,
// is added (with a unigram in the language model) for that stream only.

// parseHotwords turns StreamOptions.Hotwords into dictionary words. An entry
// is either a phrase ("new york": every word must be in the dictionary) or
// one word with its pronunciation in the model's phone set ("izwi:IH Z W
// IY"). Words are lower-cased, as the CMU dictionary spells them. Messages
// name entries by position, never by content.
func parseHotwords(list []string) ([]hotword, error) {
	if len(list) > maxHotwords {
		return nil, fmt.Errorf("pocketsphinx: %d hotwords, at most %d: %w", len(list), maxHotwords, speech.ErrBadInput)
	}
	var out []hotword
	for i, entry := range list {
		word, phones, hasPhones := strings.Cut(entry, ":")
		if hasPhones {
			word = strings.ToLower(strings.TrimSpace(word))
			if err := checkWord(word); err != nil {
				return nil, fmt.Errorf("pocketsphinx: hotword #%d: %w", i+1, err)
			}
			ph := strings.Fields(phones)
			if len(ph) == 0 || len(ph) > maxPhones {
				return nil, fmt.Errorf("pocketsphinx: hotword #%d: want 1 to %d phones after ':': %w", i+1, maxPhones, speech.ErrBadInput)
			}
			for j, p := range ph {
				if !isPhone(p) {
					return nil, fmt.Errorf("pocketsphinx: hotword #%d: phone %d is not an upper-case ARPAbet symbol: %w", i+1, j+1, speech.ErrBadInput)
				}
			}
			out = append(out, hotword{word: word, phones: strings.Join(ph, " ")})
			continue
		}
		words := strings.Fields(strings.ToLower(entry))
		if len(words) == 0 {
			return nil, fmt.Errorf("pocketsphinx: hotword #%d is blank: %w", i+1, speech.ErrBadInput)
		}
		for _, w := range words {
			if err := checkWord(w); err != nil {
				return nil, fmt.Errorf("pocketsphinx: hotword #%d: %w", i+1, err)
			}
			out = append(out, hotword{word: w})
		}
	}
	return out, nil
}

// checkWord refuses words the dictionary cannot hold or that would collide
// with PocketSphinx's own markup: fillers (<s>, [NOISE], ++UH++) and
// alternates (word(2)).
func checkWord(w string) error {
	if w == "" || len(w) > maxHotwordBytes {
		return fmt.Errorf("word must have 1 to %d bytes: %w", maxHotwordBytes, speech.ErrBadInput)
	}
	for _, r := range w {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '\'', r == '-', r == '.', r == '_':
		default:
			return fmt.Errorf("word may hold only a-z, 0-9 and ' - . _: %w", speech.ErrBadInput)
		}
	}
	return nil
}

// isPhone accepts upper-case letters with an optional stress digit.
func isPhone(p string) bool {
	if p == "" || len(p) > 4 {
		return false
	}
	for i, r := range p {
		if !(r >= 'A' && r <= 'Z') && !(i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// applyHotwords makes every hotword recognisable on d. Words already known
// need nothing (and leave d reusable); unknown words need phones.
func applyHotwords(d *decoder, hws []hotword) error {
	for i, hw := range hws {
		if d.known(hw.word) {
			continue
		}
		if hw.phones == "" {
			return fmt.Errorf("pocketsphinx: hotword word #%d is not in the dictionary; give its pronunciation as \"word:PH ON EMES\": %w", i+1, speech.ErrUnsupported)
		}
		if err := d.addWord(hw.word, hw.phones); err != nil {
			return fmt.Errorf("pocketsphinx: hotword word #%d: phones not in the acoustic model: %w: %w", i+1, speech.ErrBadInput, err)
		}
	}
	return nil
}
