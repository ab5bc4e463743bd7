package sherpa

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// maxLexiconWords bounds the lexicon read into memory (real English
// lexicons hold about 130k words).
const maxLexiconWords = 2 << 20

// lexicon is the set of words a lexicon-based VITS model can say, lower
// case. sherpa-onnx logs every out-of-vocabulary word (and, when nothing is
// left, the whole text) to stderr; Izwi never logs what users say, so
// Synthesize drops unknown words before the text reaches sherpa-onnx.
type lexicon map[string]struct{}

// parseLexicon reads a sherpa-onnx lexicon.txt: one "word token token…"
// entry per line; blank lines are skipped. Only the words are kept.
func parseLexicon(r io.Reader) (lexicon, error) {
	lex := lexicon{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("sherpa: tts: lexicon line %d has a word but no tokens: %w", line, speech.ErrModel)
		}
		if len(lex) >= maxLexiconWords {
			return nil, fmt.Errorf("sherpa: tts: lexicon has more than %d words: %w", maxLexiconWords, speech.ErrModel)
		}
		lex[asciiLower(fields[0])] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sherpa: tts: lexicon line %d: %w: %w", line+1, speech.ErrModel, err)
	}
	if len(lex) == 0 {
		return nil, fmt.Errorf("sherpa: tts: lexicon is empty: %w", speech.ErrModel)
	}
	return lex, nil
}

// asciiLower lower-cases ASCII letters only, as sherpa-onnx does.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// sayable rewrites text so that only words in lex, single spaces and the
// sentence punctuation , . ! ? ; : remain, and returns how many words were
// kept. Words are runs of ASCII letters, digits and inner apostrophes.
func (lex lexicon) sayable(text string) (string, int) {
	var b strings.Builder
	kept := 0
	space := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), " ") {
			b.WriteByte(' ')
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case isWordByte(c):
			j := i
			for j < len(text) && (isWordByte(text[j]) || text[j] == '\'' && j+1 < len(text) && isWordByte(text[j+1])) {
				j++
			}
			if _, ok := lex[asciiLower(text[i:j])]; ok {
				space()
				b.WriteString(text[i:j])
				kept++
			}
			i = j
		case strings.IndexByte(",.!?;:", c) >= 0:
			b.WriteByte(c)
			i++
		default: // whitespace, other punctuation, non-ASCII
			space()
			i++
		}
	}
	return strings.TrimSpace(b.String()), kept
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
