package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/cmd_ln.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/ckd_alloc.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/ngram_model.h>

// izwi_cmn is a copy of a decoder's live cepstral-mean state. Live CMN
// adapts to each speaker and carries over between utterances, so a pooled
// decoder would otherwise start a new stream tuned to the previous one's
// audio: different words than a fresh decoder, and a leak between users.
typedef struct {
	mfcc_t *mean, *var, *sum;
	int32 nframe, veclen;
} izwi_cmn;

static izwi_cmn *izwi_cmn_save(ps_decoder_t *ps) {
	cmn_t *c = ps_get_feat(ps)->cmn_struct;
	if (c == NULL) {
		return NULL;
	}
	izwi_cmn *s = calloc(1, sizeof(izwi_cmn));
	size_t n = c->veclen * sizeof(mfcc_t);
	s->veclen = c->veclen;
	s->nframe = c->nframe;
	s->mean = malloc(n); memcpy(s->mean, c->cmn_mean, n);
	s->var = malloc(n); memcpy(s->var, c->cmn_var, n);
	s->sum = malloc(n); memcpy(s->sum, c->sum, n);
	return s;
}

static void izwi_cmn_restore(ps_decoder_t *ps, izwi_cmn *s) {
	cmn_t *c = ps_get_feat(ps)->cmn_struct;
	if (c == NULL || s == NULL || c->veclen != s->veclen) {
		return;
	}
	size_t n = c->veclen * sizeof(mfcc_t);
	memcpy(c->cmn_mean, s->mean, n);
	memcpy(c->cmn_var, s->var, n);
	memcpy(c->sum, s->sum, n);
	c->nframe = s->nframe;
}

static void izwi_cmn_free(izwi_cmn *s) {
	if (s != NULL) {
		free(s->mean); free(s->var); free(s->sum); free(s);
	}
}

// izwi_malloc_fixed pins glibc's mmap threshold (fixMmapThreshold).
static void izwi_malloc_fixed(void) {
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

// izwi_ps_new builds a decoder from "-key value" pairs. Logging is switched
// off first: PocketSphinx logs hypotheses at INFO level, and logs must never
// carry transcripts. The log stream is process-wide inside the library;
// setting it to NULL again is idempotent, whereas -logfn would fclose the
// FILE another decoder's thread may be logging to at that moment.
static ps_decoder_t *izwi_ps_new(int argc, char **argv) {
	err_set_logfp(NULL);
	cmd_ln_t *cfg = cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
	if (cfg == NULL) {
		return NULL;
	}
	ps_decoder_t *ps = ps_init(cfg);
	cmd_ln_free_r(cfg); // ps_init retains what it keeps
	return ps;
}

// izwi_seg_conf is a segment's posterior probability in [0, 1].
static double izwi_seg_conf(ps_decoder_t *ps, ps_seg_t *seg) {
	int32 ascr, lscr, lback;
	int32 p = ps_seg_prob(seg, &ascr, &lscr, &lback);
	return logmath_exp(ps_get_logmath(ps), p);
}

// izwi_load_dict replaces the dictionary with the one at path, and the
// fillers with the decoder's own filler dictionary (-fdict): given none,
// ps_load_dict keeps only <s>, </s> and <sil>, and a search that cannot
// explain noise and breath as fillers explains them with words — slower
// (a prepared decoder took 1.4× the CPU) and less accurate.
static int izwi_load_dict(ps_decoder_t *ps, const char *path) {
	return ps_load_dict(ps, path, cmd_ln_str_r(ps_get_config(ps), "-fdict"), NULL);
}

// izwi_lookup reports whether word is in the decoder's dictionary.
static int izwi_lookup(ps_decoder_t *ps, const char *word) {
	char *phones = ps_lookup_word(ps, word);
	if (phones == NULL) {
		return 0;
	}
	ckd_free(phones);
	return 1;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/izwi-speech/izwi/internal/speech"
)

// fixMmapThreshold pins glibc's mmap threshold at 1 MiB for the process,
// before the first model loads. glibc raises the threshold to the size of
// each large block freed (up to 32 MiB): once the language model's
// 24.7 MiB heap copy (lmmap.h) or a decoder is freed, a decoder's
// multi-megabyte blocks land inside the heap among longer-lived
// allocations, and freeing the decoder gives back only part of them even
// after malloc_trim. Two decoders built and freed left 41 MiB private
// with 23 MiB in use; with the threshold fixed, 26 MiB, and an idle
// server 53 MiB private instead of 55–77. Blocks of 1 MiB and more are
// mapped on their own and unmapped when freed.
var fixMmapThreshold = sync.OnceFunc(func() { C.izwi_malloc_fixed() })

// decoder owns one native ps_decoder_t. It is not safe for concurrent use;
// the Recognizer's pool hands each one to a single stream at a time.
type decoder struct {
	ps  *C.ps_decoder_t
	cmn *C.izwi_cmn // CMN state as loaded, restored at each stream start
	// tainted is set once words were added to its dictionary, so it is
	// freed rather than reused by a stream that did not ask for them.
	tainted bool
	// prepared is the SHA-256 of the prepared text the decoder is adapted
	// to (zero: none); search is the name of its own n-gram search, and
	// dictSwapped whether its dictionary was replaced (prepared.go).
	prepared    [32]byte
	search      string
	dictSwapped bool
	// idleAt is when it last went back to the pool.
	idleAt time.Time
	// ownLM is the path of the language model the decoder reads through a
	// shared view, loaded privately before words are added (sharedlm.go);
	// empty once it has its own copy.
	ownLM string
	// outside holds the model dictionary's words left out of the
	// decoder's (cutdict.go): they count as known, as before the cut.
	outside *dictCut
	// dict is the shared dictionary the decoder was built on
	// (shareddict.go), sharesDict whether it still uses it (loadDict
	// gives it its own).
	dict       *dictShare
	sharesDict bool
}

// seg is one entry of the best path: a word (or filler) and its frames.
type seg struct {
	word   string
	sf, ef int
	conf   float64
}

// newDecoder loads the model described by args ("-hmm", dir, ...). With
// lm, the decoder is built with a one-word keyphrase search instead of
// its -lm (ps_init would load that, or Debian's default model without
// one), then given an n-gram search over a view of lm (sharedlm.go); with
// cut, it uses that dictionary instead of -dict: the first decoder loads
// it and shares it, later ones are built with a one-word dictionary and
// given the shared one (shareddict.go).
func newDecoder(args []string, lm *sharedLM, cut *dictCut) (*decoder, error) {
	if lm != nil {
		args = append(withoutArg(args, "-lm"), "-keyphrase", stubKeyphrase)
	}
	var share *dictShare
	if cut != nil {
		sharedLMs.mu.Lock()
		if cut.share != nil && cut.share.hmm == argValue(args, "-hmm") {
			share = cut.share
		}
		sharedLMs.mu.Unlock()
		path := cut.path()
		if share != nil {
			tiny, err := tinyDict()
			if err != nil {
				return nil, err
			}
			path = procPath(tiny)
		}
		args = withArg(args, "-dict", path)
	}
	argv := cStrings(args)
	defer freeCStrings(argv)
	ps := C.izwi_ps_new(C.int(len(argv)), firstOf(argv))
	runtime.KeepAlive(argv)
	if ps == nil {
		return nil, fmt.Errorf("pocketsphinx: decoder failed to initialise (bad configuration or model files): %w", speech.ErrModel)
	}
	d := &decoder{ps: ps, search: C.GoString(C.ps_get_search(ps)), outside: cut}
	var err error
	switch {
	case share != nil:
		err = d.useDict(share)
	case cut != nil:
		err = d.shareDict(cut, argValue(args, "-hmm"))
	}
	if err == nil && lm != nil {
		err = d.attach(lm)
	}
	if err != nil {
		d.free()
		return nil, err
	}
	d.cmn = C.izwi_cmn_save(ps)
	return d, nil
}

// withArg returns args with the value of flag replaced by v.
func withArg(args []string, flag, v string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == flag {
			out[i+1] = v
		}
	}
	return out
}

// argValue returns the value of flag in args ("" if absent).
func argValue(args []string, flag string) string {
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// withoutArg returns args without flag and its value.
func withoutArg(args []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] != flag {
			out = append(out, args[i], args[i+1])
		}
	}
	return out
}

// cStrings copies args to C strings; free them with freeCStrings. The
// slice lives in Go memory but holds only C pointers, which cgo allows.
func cStrings(args []string) []*C.char {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	return argv
}

func freeCStrings(argv []*C.char) {
	for _, p := range argv {
		C.free(unsafe.Pointer(p))
	}
}

func firstOf(argv []*C.char) **C.char {
	if len(argv) == 0 {
		return nil
	}
	return &argv[0]
}

// free releases the native decoder; later calls are no-ops. glibc keeps
// freed memory in its heap unless asked: malloc_trim hands the ~27 MiB of a
// freed decoder back to the system (the pool frees idle decoders for that).
func (d *decoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		C.izwi_cmn_free(d.cmn)
		d.ps, d.cmn = nil, nil
		d.dropDict()
		C.malloc_trim(0)
	}
}

// startStream restarts frame counting at zero, puts the cepstral mean back
// to its initial state and opens an utterance, so a reused decoder decodes
// exactly as a fresh one.
func (d *decoder) startStream() error {
	C.izwi_cmn_restore(d.ps, d.cmn)
	if C.ps_start_stream(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_stream failed")
	}
	return d.startUtt()
}

func (d *decoder) startUtt() error {
	if C.ps_start_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_utt failed")
	}
	return nil
}

func (d *decoder) endUtt() error {
	if C.ps_end_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_end_utt failed")
	}
	return nil
}

// process feeds samples and reports whether the decoder's voice activity
// detector considers speech in progress afterwards.
func (d *decoder) process(samples []int16) (bool, error) {
	if len(samples) == 0 {
		return C.ps_get_in_speech(d.ps) != 0, nil
	}
	n := C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&samples[0])), C.size_t(len(samples)), 0, 0)
	if n < 0 {
		return false, errors.New("pocketsphinx: ps_process_raw failed")
	}
	return C.ps_get_in_speech(d.ps) != 0, nil
}

// hyp returns the current best hypothesis (fillers already removed by
// PocketSphinx, alternates reduced to their base word).
func (d *decoder) hyp() string {
	h := C.ps_get_hyp(d.ps, nil)
	if h == nil {
		return ""
	}
	// Lower-cased because every dictionary word is (the CMU dictionary,
	// hotwords and prepared words alike), yet with a mixed language model
	// 5prealpha's hypothesis string has been seen to capitalise an
	// utterance's first word that its best path spells in lower case.
	return strings.ToLower(strings.Join(strings.Fields(C.GoString(h)), " "))
}

// segments walks the best path of the utterance just ended.
func (d *decoder) segments() []seg {
	var out []seg
	for it := C.ps_seg_iter(d.ps); it != nil; it = C.ps_seg_next(it) {
		var sf, ef C.int
		C.ps_seg_frames(it, &sf, &ef)
		out = append(out, seg{
			word: C.GoString(C.ps_seg_word(it)),
			sf:   int(sf), ef: int(ef),
			conf: float64(C.izwi_seg_conf(d.ps, it)),
		})
	}
	return out
}

// known reports whether word is in the dictionary: the decoder's, or the
// model's full one when the decoder loaded a cut (cutdict.go).
func (d *decoder) known(word string) bool {
	cw := C.CString(word)
	defer C.free(unsafe.Pointer(cw))
	return C.izwi_lookup(d.ps, cw) != 0 || d.outside.has(word)
}

// useOwn makes the decoder's own search active again and drops the
// prepared one.
func (d *decoder) useOwn() error {
	cd, cp := C.CString(d.search), C.CString("izwi_prepared")
	defer C.free(unsafe.Pointer(cd))
	defer C.free(unsafe.Pointer(cp))
	if C.ps_set_search(d.ps, cd) != 0 {
		return errors.New("pocketsphinx: restoring the decoder's own search failed")
	}
	C.ps_unset_search(d.ps, cp)
	return nil
}

// loadDict replaces the decoder's dictionary with the file at path and
// reinitialises its searches. Unlike ps_add_word it leaves every language
// model untouched: sphinxbase 5prealpha's model sets mis-map words added to
// them, and a binary model that had words added crashes once mixed. The
// fillers come again from the decoder's configured filler dictionary
// (izwi_load_dict).
func (d *decoder) loadDict(path string) error {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	if C.izwi_load_dict(d.ps, cp) != 0 {
		return errors.New("pocketsphinx: the dictionary was refused") // the old one stays
	}
	d.sharesDict = false
	return nil
}

// addWord adds word with its phones and rebuilds the search so the word can
// be recognised from the next utterance.
func (d *decoder) addWord(word, phones string) error {
	cw, cp := C.CString(word), C.CString(phones)
	defer C.free(unsafe.Pointer(cw))
	defer C.free(unsafe.Pointer(cp))
	d.tainted = true // even a failed add may have touched the dictionary
	if err := d.ownModel(); err != nil {
		return err
	}
	if err := d.ownDict(); err != nil {
		return err
	}
	if C.ps_add_word(d.ps, cw, cp, 1) < 0 {
		return fmt.Errorf("pocketsphinx: ps_add_word refused the pronunciation")
	}
	return nil
}
