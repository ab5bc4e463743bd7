package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/cmd_ln.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/hash_table.h>
#include <sphinxbase/ngram_model.h>

#include "sphinxlm.h"

// izwi_shared_lm is one loaded language model that decoders read through
// views. refs counts the Go owner and every live view.
typedef struct {
	ngram_model_t *lm;
	logmath_t *lmath;
	int refs;
	// map and map_len are the read-only mapping of the model file that
	// holds its n-gram arrays once izwi_lm_map has run (else NULL).
	void *map;
	size_t map_len;
} izwi_shared_lm;

#include "lmmap.h"

// A view is a trie model of its own whose n-gram arrays, word strings and
// word-ID hash are the shared model's: only the per-model mutable state is
// private (the trie's history and back-off caches, which every score
// rewrites, and the weights lw/log_wip, which each search pass sets). It is
// read-only: writable is 0, so ngram_model_add_word refuses it.
typedef struct {
	izwi_trie_model tm;
	izwi_lm_trie trie;
	izwi_ngram_funcs funcs;
	izwi_shared_lm *shared;
} izwi_lm_view;

static void izwi_shared_release(izwi_shared_lm *s) {
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		izwi_lm_unmap(s);
		ngram_model_free(s->lm);
		logmath_free(s->lmath);
		free(s);
	}
}

// izwi_view_free runs first inside ngram_model_free(view): it drops the
// view's reference to the shared model and empties the fields the generic
// part of ngram_model_free frees next, so that only the view itself goes.
static void izwi_view_free(ngram_model_t *m) {
	izwi_lm_view *v = (izwi_lm_view *)m;
	izwi_ngram_model *b = &v->tm.base;
	b->n_classes = 0;
	b->classes = NULL;
	b->writable = 0;
	b->wid = NULL;
	b->word_str = NULL;
	b->n_counts = NULL;
	izwi_shared_release(v->shared);
	v->shared = NULL;
}

static ngram_model_t *izwi_lm_view_new(izwi_shared_lm *s) {
	izwi_trie_model *src = (izwi_trie_model *)s->lm;
	izwi_lm_view *v = calloc(1, sizeof(izwi_lm_view));
	if (v == NULL) {
		return NULL;
	}
	v->tm.base = src->base;
	v->tm.base.refcount = 1;
	v->tm.base.writable = 0;
	v->tm.base.tmp_wids = NULL;
	v->funcs = *src->base.funcs;
	v->funcs.free = izwi_view_free;
	v->funcs.add_ug = NULL;
	v->tm.base.funcs = &v->funcs;
	v->trie = *src->trie;
	memset(v->trie.hist_cache, -1, sizeof(v->trie.hist_cache));
	memset(v->trie.backoff_cache, 0, sizeof(v->trie.backoff_cache));
	v->tm.trie = &v->trie;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	v->shared = s;
	return (ngram_model_t *)v;
}

// izwi_lm_check verifies the copied layouts on a freshly loaded model
// before any view exists: the base fields against the public accessors,
// then scores through a view against scores of the model itself over the
// first n words with one- and two-word histories. 0 means they agree.
static int izwi_lm_check(izwi_shared_lm *s) {
	ngram_model_t *lm = s->lm;
	izwi_ngram_model *b = (izwi_ngram_model *)lm;
	if (b->n < 1 || b->n > IZWI_NGRAM_MAX_ORDER) return 1;
	if ((const uint32 *)b->n_counts != ngram_model_get_counts(lm)) return 2;
	if (b->n != ngram_model_get_size(lm) || b->n_words < (int32)b->n_counts[0]) return 3;
	if (b->n_words < 3 || ngram_word(lm, 0) != b->word_str[0]) return 4;
	if (b->refcount != 1 || b->funcs == NULL || b->funcs->score == NULL) return 5;
	izwi_lm_trie *t = ((izwi_trie_model *)lm)->trie;
	if (t == NULL || t->ngram_mem == NULL || t->unigrams == NULL) return 6;
	ngram_model_t *v = izwi_lm_view_new(s);
	if (v == NULL) return 7;
	int rv = 0, n = b->n_words < 400 ? b->n_words : 400;
	for (int i = 1; i < n && rv == 0; i++) {
		int32 h[2] = {i - 1, (i * 7) % n}, u1, u2;
		for (int nh = 0; nh <= 2 && nh < b->n; nh++) {
			if (ngram_ng_score(lm, i, h, nh, &u1) != ngram_ng_score(v, i, h, nh, &u2) || u1 != u2) {
				rv = 8;
			}
		}
	}
	ngram_model_flush(lm);
	ngram_model_free(v);
	return rv;
}

// izwi_lm_load reads the model at path as ps_init would (the decoder's
// configuration, a log-math table like the decoder's) and checks it.
static izwi_shared_lm *izwi_lm_load(int argc, char **argv, const char *path, int *why) {
	err_set_logfp(NULL);
	cmd_ln_t *cfg = cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
	if (cfg == NULL) {
		*why = -1;
		return NULL;
	}
	izwi_shared_lm *s = calloc(1, sizeof(izwi_shared_lm));
	s->refs = 1;
	s->lmath = logmath_init((float64)cmd_ln_float32_r(cfg, "-logbase"), 0, cmd_ln_boolean_r(cfg, "-bestpath"));
	s->lm = ngram_model_read(cfg, path, NGRAM_AUTO, s->lmath);
	cmd_ln_free_r(cfg);
	if (s->lm == NULL) {
		*why = -2;
		logmath_free(s->lmath);
		free(s);
		return NULL;
	}
	if ((*why = izwi_lm_check(s)) != 0) {
		izwi_shared_release(s);
		return NULL;
	}
	// The n-gram arrays read in place from the file (lmmap.h), checked
	// again through the mapping; the heap copy stays if they cannot be.
	if (izwi_lm_map(s, path) == 0 && (*why = izwi_lm_check(s)) != 0) {
		izwi_shared_release(s);
		return NULL;
	}
	return s;
}

// izwi_lm_attach makes a view of s the decoder's n-gram search named name
// and makes that search active. The search holds the only reference to
// the view.
static int izwi_lm_attach(ps_decoder_t *ps, const char *name, izwi_shared_lm *s) {
	ngram_model_t *v = izwi_lm_view_new(s);
	if (v == NULL) return -1;
	int rv = ps_set_lm(ps, name, v);
	ngram_model_free(v);
	if (rv != 0) return -2;
	return ps_set_search(ps, name);
}

// izwi_lm_own gives the decoder a private copy of the model at path as the
// search named name (for ps_add_word, which must write to the model).
static int izwi_lm_own(ps_decoder_t *ps, const char *name, const char *path) {
	ngram_model_t *lm = ngram_model_read(ps_get_config(ps), path, NGRAM_AUTO, ps_get_logmath(ps));
	if (lm == NULL) return -1;
	int rv = ps_set_lm(ps, name, lm);
	ngram_model_free(lm);
	if (rv != 0) return -2;
	return ps_set_search(ps, name);
}

// izwi_lm_has reports whether word is in s's vocabulary.
static int izwi_lm_has(izwi_shared_lm *s, const char *word) {
	return ngram_wid(s->lm, word) != ngram_unknown_wid(s->lm);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/izwi-speech/izwi/internal/speech"
)

// sharedLM is a language model loaded once per process and read by every
// decoder through a view of its own (izwi_lm_view above): the n-gram trie
// (~33 MiB for pocketsphinx-en-us) is in memory once, not once per
// decoder, and the asr and transcribe roles share it. Only the caches
// sphinxbase rewrites on every score are per decoder, so decoders on
// different threads never see each other's state.
type sharedLM struct {
	path string
	e    *lmEntry
}

type lmEntry struct {
	once sync.Once
	c    *C.izwi_shared_lm
	err  error
	refs int // owners (Recognizers); guarded by sharedLMs.mu
	// cuts holds the dictionaries cut to this model's words, by path
	// (cutdict.go); guarded by sharedLMs.mu.
	cuts map[string]*cutEntry
}

// sharedLMs holds the loaded models by path. The weights a model is read
// with (-lw, -wip, -logbase) are PocketSphinx's defaults for every
// decoder Izwi builds (config.args never sets them), so the path is key
// enough.
var sharedLMs = struct {
	mu sync.Mutex
	m  map[string]*lmEntry
}{m: map[string]*lmEntry{}}

// acquireLM returns the model at path, loading it (outside the lock) if no
// Recognizer holds it yet. args is the decoder command line it is read
// with. Release it with release.
func acquireLM(path string, args []string) (*sharedLM, error) {
	sharedLMs.mu.Lock()
	e := sharedLMs.m[path]
	if e == nil {
		e = &lmEntry{}
		sharedLMs.m[path] = e
	}
	e.refs++
	sharedLMs.mu.Unlock()
	e.once.Do(func() { e.c, e.err = loadLM(path, args) })
	s := &sharedLM{path: path, e: e}
	if e.err != nil {
		s.release()
		return nil, e.err
	}
	return s, nil
}

// release drops one owner's reference; the model itself is freed when
// the last decoder reading it is freed too.
func (s *sharedLM) release() {
	if s == nil {
		return
	}
	sharedLMs.mu.Lock()
	s.e.refs--
	last := s.e.refs == 0
	if last && sharedLMs.m[s.path] == s.e {
		delete(sharedLMs.m, s.path)
	}
	if last {
		for _, ce := range s.e.cuts {
			if ce.cut != nil {
				orphanDict(ce.cut) // freed now or by its last decoder
			}
		}
	}
	sharedLMs.mu.Unlock()
	if !last {
		return
	}
	if s.e.c != nil {
		C.izwi_shared_release(s.e.c)
		s.e.c = nil
	}
	for _, ce := range s.e.cuts {
		if ce.cut != nil {
			ce.cut.file.Close()
		}
	}
}

func loadLM(path string, args []string) (*C.izwi_shared_lm, error) {
	argv := cStrings(args)
	defer freeCStrings(argv)
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var why C.int
	c := C.izwi_lm_load(C.int(len(argv)), firstOf(argv), cp, &why)
	runtime.KeepAlive(argv)
	if c == nil {
		if why > 0 {
			return nil, fmt.Errorf("pocketsphinx: the loaded language model does not have the layout the shared-model views were written for (check %d): %w", int(why), speech.ErrModel)
		}
		return nil, fmt.Errorf("pocketsphinx: language model failed to load (step %d): %w", int(why), speech.ErrModel)
	}
	return c, nil
}

// mapped reports whether the model's n-gram arrays are read in place
// from its file (lmmap.h) rather than from a heap copy.
func (s *sharedLM) mapped() bool { return s.e.c._map != nil }

// has reports whether word is in the model's vocabulary.
func (s *sharedLM) has(word string) bool {
	cw := C.CString(word)
	defer C.free(unsafe.Pointer(cw))
	return C.izwi_lm_has(s.e.c, cw) != 0
}

// stubKeyphrase is the search a decoder is built with before its n-gram
// search over the shared model replaces it. A keyphrase search costs
// nothing to build; a stub n-gram model would cost seconds, because
// sphinxbase sizes the search's word hash table for the stub's three words
// and then enters the whole dictionary into it.
const stubKeyphrase = "a"

// attach makes a view of s the decoder's active n-gram search.
func (d *decoder) attach(s *sharedLM) error {
	cn := C.CString(d.search)
	defer C.free(unsafe.Pointer(cn))
	if rv := C.izwi_lm_attach(d.ps, cn, s.e.c); rv != 0 {
		return fmt.Errorf("pocketsphinx: attaching the shared language model failed (step %d): %w", int(rv), speech.ErrModel)
	}
	d.ownLM = s.path
	return nil
}

// ownModel gives d a private copy of its language model before words are
// added to it (the shared model is read-only). No-op if d has one.
func (d *decoder) ownModel() error {
	if d.ownLM == "" {
		return nil
	}
	cn, cp := C.CString(d.search), C.CString(d.ownLM)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cp))
	if rv := C.izwi_lm_own(d.ps, cn, cp); rv != 0 {
		return fmt.Errorf("pocketsphinx: loading a private language model failed (step %d)", int(rv))
	}
	d.ownLM = ""
	return nil
}
