package pocketsphinx

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Prepared text (speech.StreamOptions.Context) adapts PocketSphinx in two
// ways. Its words get a trigram model of their own (package prepare, its
// unigrams deflated by preparedUnigramScale), interpolated with the
// general model in one merged model (preparedlm.go; weight option
// context_weight) in a search with narrower beams, so the decoder expects
// the sentences it was told about without forgetting English. And its
// words missing from the dictionary get pronunciations by letter-to-sound
// rules (Flite's, through speech.Deps.Pronouncer), so a name nobody
// taught it can be recognised. The adaptation is built once per text and
// shared by every stream given the same text; it lives in memory only (the
// model's tables are handed to the shim in memory, the dictionary reaches
// sphinxbase through an anonymous memory file, never the disk).

// LiveContextWeight and FileContextWeight are the prepared model's share w
// of the merged model's probability (preparedlm.go) in the live and the
// file profile. Measured on the 19 shared utterances (docs/benchmarks.md,
// "Prepared text"): live, the service sheet takes WER from 30.3 % to
// 10.7 % and the unrelated text alone costs 1.0 point (0.3: 1.3, 0.7:
// 4.2); files, 32.9 % to 8.4 % and 0.3 points (0.5: 5.2 % but 4.2 points
// — the file profile's second passes rescore every word outside the text
// by (1 − w) as well).
const (
	LiveContextWeight = 0.5
	FileContextWeight = 0.2
)

// textShare is the share of the profile's weight a text of n tokens gets:
// n/(n + preparedPriorTokens). The merged model gives every word outside
// the text (1 − w) of its general probability, so a short text (a
// request's few key terms) at a service sheet's weight would make every
// other word dearer and the decoder drop words; weighed by its length, a
// text counts as evidence does (a sheet of thousands of words gets nearly
// all of w, one key term about 1 %, which still lifts a rare word a
// hundredfold).
func textShare(n int) float64 { return float64(n) / float64(n+preparedPriorTokens) }

// preparedPriorTokens is the text length (tokens) at which it gets half of
// the profile's weight.
const preparedPriorTokens = 200

// preparedUnigramScale deflates the prepared model's unigrams (package
// prepare, LM.UnigramScale): a word of the text gains from it only in the
// company the text gives it (its bigrams and trigrams), not wherever it
// might be said. Unrelated text then boosts its common words far less.
const preparedUnigramScale = 1e-3

// preparedBeamNarrowing narrows every beam of the prepared search by this
// factor, winning back part of its decoding cost. 10× or 100× cost a
// Deepgram-route stream with one key term 8–17 WER points
// (listen.TestStreamRecognisesUtterance) and the unrelated text 0.65
// points, though not the shared utterances with a service sheet; 3×
// and 5× cost nothing measurable (docs/benchmarks.md, "Prepared text").
const preparedBeamNarrowing = 3

const (
	maxNewWords     = 2000 // pronunciations added per text
	preparedEntries = 8    // texts whose adaptation is kept
)

// adaptation is a prepared text made ready for PocketSphinx.
type adaptation struct {
	model    *preparedModel       // nil: the text adapts nothing
	share    float64              // of the profile's weight this text gets (textShare)
	added    []string             // words missing from the dictionary, with phones
	phones   map[string]string    // their pronunciations
	hotwords map[string]bool      // added words whose phones a caller gave
	report   speech.ContextReport // Added is filled when reported
	textSum  [32]byte             // SHA-256 of the text alone (the key adds hotwords)
}

// preparedCache keeps the adaptations of the last few texts.
type preparedCache struct {
	mu        sync.Mutex
	items     map[[32]byte]*adaptation
	order     [][32]byte
	builds    int64
	lastBuild time.Duration
}

// stats sums up the cache for /readyz.
func (c *preparedCache) stats() speech.ContextStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := speech.ContextStats{Engine: Name, Cached: len(c.items), Capacity: preparedEntries, Builds: c.builds, LastBuild: c.lastBuild}
	for _, a := range c.items {
		st.Bytes += a.report.ModelBytes
	}
	return st
}

func (c *preparedCache) get(key [32]byte) *adaptation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.items[key]
}

// byText returns the latest adaptation of a text with this SHA-256,
// whatever hotwords came with it.
func (c *preparedCache) byText(sum [32]byte) *adaptation {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.order) - 1; i >= 0; i-- {
		if a := c.items[c.order[i]]; a.textSum == sum {
			return a
		}
	}
	return nil
}

func (c *preparedCache) put(key [32]byte, a *adaptation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = map[[32]byte]*adaptation{}
	}
	if _, ok := c.items[key]; ok {
		return
	}
	c.builds++
	c.lastBuild = a.report.BuildTime
	c.items[key] = a
	c.order = append(c.order, key)
	if len(c.order) > preparedEntries {
		delete(c.items, c.order[0])
		c.order = c.order[1:]
	}
}

// preparedKey names a prepared text together with the stream's hotwords.
func preparedKey(text string, hws []hotword) [32]byte {
	h := sha256.New()
	h.Write([]byte(text))
	for _, hw := range hws {
		fmt.Fprintf(h, "\x00%s:%s", hw.word, hw.phones)
	}
	var key [32]byte
	h.Sum(key[:0])
	return key
}

// adapt returns the adaptation for text and hotwords hws (cached under
// key), building it with d's dictionary when it is not cached. Hotwords
// are sentences of the text, and those with phones are its new words.
func (r *Recognizer) adapt(d *decoder, key [32]byte, text string, hws []hotword) (*adaptation, error) {
	if len(text) > prepare.MaxTextBytes {
		return nil, fmt.Errorf("pocketsphinx: prepared text of %d bytes, at most %d: %w", len(text), prepare.MaxTextBytes, speech.ErrBadInput)
	}
	if a := r.prepared.get(key); a != nil {
		return a, nil
	}
	start := time.Now()
	sentences := prepare.Sentences(text)
	a := &adaptation{phones: map[string]string{}, hotwords: map[string]bool{}}
	keep := map[string]bool{}
	for _, hw := range hws {
		sentences = append(sentences, []string{hw.word})
		if hw.phones != "" && !d.known(hw.word) {
			a.phones[hw.word] = hw.phones
			a.added = append(a.added, hw.word)
			a.hotwords[hw.word] = true
			keep[hw.word] = true
		}
	}
	vocab := map[string]bool{}
	for _, s := range sentences {
		for _, w := range s {
			vocab[w] = true
		}
	}
	words := make([]string, 0, len(vocab))
	for w := range vocab {
		words = append(words, w)
	}
	sort.Strings(words)
	for _, w := range words {
		switch {
		case keep[w]:
			continue
		case checkWord(w) != nil:
		case d.known(w):
			keep[w] = true
			continue
		case r.pron != nil && len(a.added) < maxNewWords:
			if ph, err := r.pron.Pronounce(w); err == nil && len(ph) > 0 && len(ph) <= maxPhones {
				a.phones[w] = strings.Join(ph, " ")
				a.added = append(a.added, w)
				keep[w] = true
				continue
			}
		}
		a.report.Dropped++
	}
	a.report = speech.ContextReport{Engine: Name, Words: len(vocab), Dropped: a.report.Dropped}
	// A text with no word the model can use (punctuation, another script)
	// adapts nothing: the decoder stays general, as without a text.
	if len(keep) > 0 {
		lm, err := prepare.Estimate(sentences, 3, func(w string) bool { return keep[w] })
		if err != nil {
			return nil, fmt.Errorf("pocketsphinx: %w: %w", speech.ErrBadInput, err)
		}
		lm.UnigramScale = preparedUnigramScale
		a.model, a.share = newPreparedModel(lm), textShare(lm.Tokens())
		a.report.NGrams, a.report.ModelBytes = lm.Size(), a.model.bytes()
	}
	a.report.BuildTime = time.Since(start)
	a.textSum = sha256.Sum256([]byte(text))
	r.prepared.put(key, a)
	return a, nil
}

// adaptTo makes decoder d serve the prepared text with key (zero: none)
// and adaptation a. A decoder keeps its adaptation when it goes back to
// the pool, so a stream for the same text reuses it as it is; switching
// costs a dictionary load at most, never a new decoder. On failure d is
// tainted, so it is freed rather than reused half-changed.
func (r *Recognizer) adaptTo(d *decoder, key [32]byte, a *adaptation) error {
	if d.prepared == key {
		return nil
	}
	d.tainted = true
	if d.prepared != ([32]byte{}) {
		if err := d.useOwn(); err != nil {
			return err
		}
		if d.dictSwapped {
			if err := d.loadDict(r.decoderDict()); err != nil {
				return err
			}
			d.dictSwapped = false
		}
		d.prepared = [32]byte{}
	}
	if a != nil && a.model != nil {
		// A decoder's own dictionary is cut to the general model's words
		// (cutdict.go); a prepared model may use any word of the full one.
		if len(a.added) > 0 || r.cut != nil {
			if err := r.loadDictWith(d, a); err != nil {
				return err
			}
		}
		if err := d.usePrepared(a.model, r.cfg.contextWeight*a.share, preparedBeamNarrowing); err != nil {
			return err
		}
		d.prepared = key
	}
	d.tainted = false
	return nil
}

// loadDictWith gives d the model's dictionary plus a's new words.
func (r *Recognizer) loadDictWith(d *decoder, a *adaptation) error {
	dict, err := r.dictionary()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.Grow(len(dict) + 32*len(a.added))
	buf.Write(dict)
	if len(dict) > 0 && dict[len(dict)-1] != '\n' {
		buf.WriteByte('\n')
	}
	for _, w := range a.added {
		fmt.Fprintf(&buf, "%s %s\n", w, a.phones[w])
	}
	f, err := memFile(buf.Bytes())
	if err != nil {
		return err
	}
	defer f.Close()
	d.dictSwapped = true
	if err := d.loadDict(procPath(f)); err != nil {
		return err
	}
	// PocketSphinx skips, with a warning, a word whose phones its acoustic
	// model lacks: from a hotword that is the caller's mistake to report
	// (the rules' phones are always in the model's set).
	for i, w := range a.added {
		if a.hotwords[w] && !d.known(w) {
			return fmt.Errorf("pocketsphinx: new word #%d: phones not in the acoustic model: %w", i+1, speech.ErrBadInput)
		}
	}
	return nil
}

func procPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// dictionary returns the model's pronunciation dictionary, read once (it
// was verified against its pinned SHA-256 when the model was resolved).
func (r *Recognizer) dictionary() ([]byte, error) {
	r.dictOnce.Do(func() {
		r.dict, r.dictErr = os.ReadFile(r.cfg.dict)
	})
	if r.dictErr != nil {
		return nil, fmt.Errorf("pocketsphinx: reading the dictionary: %w", r.dictErr)
	}
	return r.dict, nil
}

// memFile holds b in an anonymous memory file (memfd): sphinxbase reads
// models only by path, and prepared text must not reach the disk.
func memFile(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("izwi-prepared-lm", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "izwi-prepared-lm")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("pocketsphinx: memfd: %w", err)
	}
	return f, nil
}
