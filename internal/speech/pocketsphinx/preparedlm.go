package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pocketsphinx.h>
#include <sphinxbase/cmd_ln.h>
#include <sphinxbase/ckd_alloc.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/hash_table.h>
#include <sphinxbase/ngram_model.h>
#include "sphinxlm.h"

// izwi_prep_lm is the decoder's general model and a prepared text's
// n-grams as one language model that scores in one lookup: the general
// model's score for the word and history (through the decoder's own view
// of the shared model, caches and all), and only for a word of the
// prepared text the prepared model's back-off probability, found in two
// small hash tables; the two probabilities are interpolated before the
// language weight applies, so w is the prepared model's share of the
// probability:
//
//	score = lw·log((1−w)·P_general + w·P_prepared) + wip
//
// A word the text lacks has P_prepared = 0 and scores the general model's
// score plus lw·log(1−w), without a second lookup. Words the general model
// lacks (names, words of the full dictionary outside the model) get word
// IDs after the general model's, in a word table of the model's own; they
// score by the prepared model alone. With no prepared words it scores
// exactly as the general model, so the search decodes exactly as without
// it (TestPreparedEmptyParity). (sphinxbase's model set, used before,
// mixed the weighted scores, P^lw, and scored every word in both models
// through two word-ID mappings: 1.4× the decoding CPU.)
typedef struct {
	izwi_ngram_model base;
	izwi_ngram_funcs funcs;
	ngram_model_t *general; // retained
	int32 n_general;        // merged word IDs below it are the general model's
	int32 l_general, l_prepared; // log(1−w), log(w)
	int32 lw_general;            // lw·log(1−w)
	int32 n_vocab;          // prepared words, by local index
	int32 *p1, *bo1;        // their unigram log-probability and back-off
	uint32 wmask;           // merged word ID → local index (open addressing)
	int32 *wkey, *wval;
	uint64_t nmask;         // bigrams and trigrams by packed local indices
	uint64_t *nkey;
	int32 *np, *nbo;
	int32 n_new;            // words the general model lacks, owned
	char **new_words;
} izwi_prep_lm;

#define IZWI_PREP_MAX_VOCAB ((1 << 21) - 2)

static inline uint32 izwi_hash32(uint32 x) {
	x *= 0x9E3779B1u;
	return x ^ (x >> 15);
}

static inline uint64_t izwi_hash64(uint64_t k) {
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	return k ^ (k >> 33);
}

// izwi_pack names an n-gram by local indices, oldest first; a = -1 for a
// bigram. Never 0 (c ≥ 0), the empty slot's key.
static inline uint64_t izwi_pack(int32 a, int32 b, int32 c) {
	return ((uint64_t)(uint32)(a + 1) << 42) | ((uint64_t)(uint32)(b + 1) << 21) | (uint64_t)(uint32)(c + 1);
}

static inline int32 izwi_prep_local(izwi_prep_lm *m, int32 wid) {
	if (wid < 0) return -1;
	for (uint32 i = izwi_hash32((uint32)wid) & m->wmask;; i = (i + 1) & m->wmask) {
		if (m->wkey[i] == wid) return m->wval[i];
		if (m->wkey[i] < 0) return -1;
	}
}

static inline int32 izwi_prep_find(izwi_prep_lm *m, uint64_t key) {
	for (uint64_t i = izwi_hash64(key) & m->nmask;; i = (i + 1) & m->nmask) {
		if (m->nkey[i] == key) return (int32)i;
		if (m->nkey[i] == 0) return -1;
	}
}

// izwi_prep_raw is the prepared model's back-off log-probability of local
// word w after the history (most recent first), as sphinxbase's trie
// computes it for an ARPA model: the longest seen n-gram, plus the
// back-off weights of the histories it backed off from.
static int32 izwi_prep_raw(izwi_prep_lm *m, int32 w, int32 *hist, int32 n_hist) {
	int32 h1 = n_hist >= 1 ? izwi_prep_local(m, hist[0]) : -1, bo = 0, e;
	if (h1 >= 0 && n_hist >= 2) {
		int32 h2 = izwi_prep_local(m, hist[1]);
		if (h2 >= 0) {
			if ((e = izwi_prep_find(m, izwi_pack(h2, h1, w))) >= 0) return m->np[e];
			if ((e = izwi_prep_find(m, izwi_pack(-1, h2, h1))) >= 0) bo = m->nbo[e];
		}
	}
	if (h1 >= 0) {
		if ((e = izwi_prep_find(m, izwi_pack(-1, h1, w))) >= 0) return bo + m->np[e];
		bo += m->bo1[h1];
	}
	return bo + m->p1[w];
}

static int32 izwi_prep_mix(ngram_model_t *base, int32 wid, int32 *hist, int32 n_hist, int32 *n_used, int raw) {
	izwi_prep_lm *m = (izwi_prep_lm *)base;
	izwi_ngram_model *b = &m->base;
	int32 gh[IZWI_NGRAM_MAX_ORDER - 1], g;
	if (n_hist > b->n - 1) n_hist = b->n - 1;
	*n_used = 0;
	for (int32 i = 0; i < n_hist; i++) {
		gh[i] = hist[i] < m->n_general ? hist[i] : NGRAM_INVALID_WID;
	}
	int32 w = m->n_vocab > 0 ? izwi_prep_local(m, wid) : -1;
	if (w < 0) {
		// Not a word of the text: the general model's score, as it is
		// (nothing prepared) or times 1−w.
		if (wid < 0 || wid >= m->n_general) return b->log_zero;
		if (raw) return ngram_ng_prob(m->general, wid, gh, n_hist, n_used) + (m->n_vocab > 0 ? m->l_general : 0);
		return ngram_ng_score(m->general, wid, gh, n_hist, n_used) + (m->n_vocab > 0 ? m->lw_general : 0);
	}
	g = wid < m->n_general ? ngram_ng_prob(m->general, wid, gh, n_hist, n_used) : b->log_zero;
	int32 mix = logmath_add(b->lmath, m->l_general + g, m->l_prepared + izwi_prep_raw(m, w, hist, n_hist));
	return raw ? mix : (int32)(mix * b->lw + b->log_wip);
}

static int32 izwi_prep_score(ngram_model_t *base, int32 wid, int32 *hist, int32 n_hist, int32 *n_used) {
	return izwi_prep_mix(base, wid, hist, n_hist, n_used, 0);
}

static int32 izwi_prep_raw_score(ngram_model_t *base, int32 wid, int32 *hist, int32 n_hist, int32 *n_used) {
	return izwi_prep_mix(base, wid, hist, n_hist, n_used, 1);
}

static int izwi_prep_apply_weights(ngram_model_t *base, float32 lw, float32 wip) {
	izwi_prep_lm *m = (izwi_prep_lm *)base;
	m->base.lw = lw;
	m->base.log_wip = logmath_log(m->base.lmath, wip);
	m->lw_general = (int32)(m->l_general * lw);
	return ngram_model_apply_weights(m->general, lw, wip);
}

static void izwi_prep_flush(ngram_model_t *base) {
	ngram_model_flush(((izwi_prep_lm *)base)->general);
}

// izwi_prep_release frees what the model owns and empties the fields the
// generic part of ngram_model_free frees next (the general model's word
// strings and hash must survive), so that only the struct and n_counts go.
static void izwi_prep_release(izwi_prep_lm *m) {
	izwi_ngram_model *b = &m->base;
	if (m->n_new > 0) {
		if (b->wid != NULL) hash_table_free(b->wid);
		ckd_free(b->word_str);
		for (int32 i = 0; i < m->n_new; i++) free(m->new_words[i]);
	}
	free(m->new_words);
	b->wid = NULL;
	b->word_str = NULL;
	b->classes = NULL;
	b->n_classes = 0;
	free(m->p1); free(m->bo1); free(m->wkey); free(m->wval);
	free(m->nkey); free(m->np); free(m->nbo);
	m->p1 = m->bo1 = m->wkey = m->wval = m->np = m->nbo = NULL;
	m->nkey = NULL;
	m->new_words = NULL;
	m->n_new = 0;
	if (m->general != NULL) ngram_model_free(m->general);
	m->general = NULL;
}

static void izwi_prep_free(ngram_model_t *base) {
	izwi_prep_release((izwi_prep_lm *)base);
}

static uint32 izwi_pow2(uint64_t n) {
	uint64_t s = 16;
	while (s < 2 * n) s <<= 1;
	return (uint32)s;
}

// izwi_prep_new builds the model over general (a model whose word IDs it
// keeps) from the prepared model's words and n-grams: entry i is the
// local indices ids[3i..3i+2] (oldest first, -1 before a shorter one),
// its log10 probability lp[i] and back-off bo[i]; w is the prepared share.
// The caller's references are untouched: the model retains general.
static ngram_model_t *izwi_prep_new(ngram_model_t *general, int32 nwords, char **words, int32 nent,
                                    const int32 *ids, const float *lp, const float *bo, float w, int *why) {
	izwi_ngram_model *g = (izwi_ngram_model *)general;
	if (nwords < 0 || nwords > IZWI_PREP_MAX_VOCAB || nent < 0 || g->n < 1 || g->n > IZWI_NGRAM_MAX_ORDER || w <= 0 || w >= 1) {
		*why = 1;
		return NULL;
	}
	izwi_prep_lm *m = ckd_calloc(1, sizeof(izwi_prep_lm));
	izwi_ngram_model *b = &m->base;
	*b = *g;
	b->refcount = 1;
	b->writable = 0;
	b->flags = 0;
	b->tmp_wids = NULL;
	b->classes = NULL;
	b->n_classes = 0;
	b->n = g->n < 3 ? 3 : g->n;
	b->n_counts = ckd_calloc(b->n, sizeof(uint32));
	for (int i = 0; i < g->n; i++) b->n_counts[i] = g->n_counts[i];
	m->funcs.free = izwi_prep_free;
	m->funcs.apply_weights = izwi_prep_apply_weights;
	m->funcs.score = izwi_prep_score;
	m->funcs.raw_score = izwi_prep_raw_score;
	m->funcs.add_ug = NULL;
	m->funcs.flush = izwi_prep_flush;
	b->funcs = &m->funcs;
	m->general = ngram_model_retain(general);
	m->n_general = g->n_words;
	m->l_prepared = logmath_log(b->lmath, w);
	m->l_general = logmath_log(b->lmath, 1.0 - w);
	m->lw_general = (int32)(m->l_general * b->lw);
	m->n_vocab = nwords;

	// Merged word IDs: the general model's, then the words it lacks.
	int32 *mw = malloc((nwords + 1) * sizeof(int32));
	int32 unk = ngram_unknown_wid(general);
	m->new_words = calloc(nwords + 1, sizeof(char *));
	for (int32 i = 0; i < nwords; i++) {
		mw[i] = ngram_wid(general, words[i]);
		if (mw[i] == NGRAM_INVALID_WID || (mw[i] == unk && strcmp(words[i], "<UNK>") != 0)) {
			mw[i] = m->n_general + m->n_new;
			m->new_words[m->n_new++] = strdup(words[i]);
		}
	}
	if (m->n_new > 0) {
		int32 n = m->n_general + m->n_new;
		b->word_str = ckd_calloc(n, sizeof(char *));
		memcpy(b->word_str, g->word_str, m->n_general * sizeof(char *));
		memcpy(b->word_str + m->n_general, m->new_words, m->n_new * sizeof(char *));
		b->wid = hash_table_new(n, HASH_CASE_YES);
		for (int32 i = 0; i < n; i++) {
			(void)hash_table_enter_int32(b->wid, b->word_str[i], i);
		}
		b->n_words = b->n_1g_alloc = n;
		b->n_counts[0] = n;
	}

	uint32 ws = izwi_pow2(nwords);
	m->wmask = ws - 1;
	m->wkey = malloc(ws * sizeof(int32));
	m->wval = malloc(ws * sizeof(int32));
	memset(m->wkey, -1, ws * sizeof(int32));
	m->p1 = malloc((nwords + 1) * sizeof(int32));
	m->bo1 = calloc(nwords + 1, sizeof(int32));
	for (int32 i = 0; i < nwords; i++) {
		m->p1[i] = b->log_zero;
		uint32 j = izwi_hash32((uint32)mw[i]) & m->wmask;
		while (m->wkey[j] >= 0 && m->wkey[j] != mw[i]) j = (j + 1) & m->wmask;
		if (m->wkey[j] < 0) { // a word given twice keeps its first index
			m->wkey[j] = mw[i];
			m->wval[j] = i;
		}
	}
	free(mw);

	uint64_t ns = izwi_pow2(nent);
	m->nmask = ns - 1;
	m->nkey = calloc(ns, sizeof(uint64_t));
	m->np = malloc(ns * sizeof(int32));
	m->nbo = malloc(ns * sizeof(int32));
	for (int32 i = 0; i < nent; i++) {
		int32 a = ids[3 * i], c = ids[3 * i + 1], e = ids[3 * i + 2];
		if (a < -1 || c < -1 || e < 0 || a >= nwords || c >= nwords || e >= nwords || (a >= 0 && c < 0)) {
			*why = 2;
			izwi_prep_release(m);
			ckd_free(b->n_counts);
			ckd_free(m);
			return NULL;
		}
		int32 p = logmath_log10_to_log(b->lmath, lp[i]), q = logmath_log10_to_log(b->lmath, bo[i]);
		if (c < 0) {
			m->p1[e] = p;
			m->bo1[e] = q;
			continue;
		}
		uint64_t key = izwi_pack(a, c, e), j = izwi_hash64(key) & m->nmask;
		while (m->nkey[j] != 0 && m->nkey[j] != key) j = (j + 1) & m->nmask;
		m->nkey[j] = key;
		m->np[j] = p;
		m->nbo[j] = q;
	}
	return (ngram_model_t *)m;
}

// izwi_prepared_beams are the beams the prepared search narrows.
static const char *izwi_prepared_beams[] = {"-beam", "-wbeam", "-pbeam", "-lpbeam", "-lponlybeam"};

// izwi_use_prepared builds the merged model over the model of the
// decoder's own search dflt (the one model of the set the search keeps)
// and makes it the active search "izwi_prepared", its beams narrowed by
// factor narrow (every beam is a probability ratio: multiplied by narrow
// > 1). The beams are read from the decoder's configuration when a search
// is built, so they are set for this one search and put back at once: the
// decoder's own search keeps the configured beams, even when a later
// dictionary load rebuilds it. The new search holds the only reference to
// the merged model.
static int izwi_use_prepared(ps_decoder_t *ps, const char *dflt, int32 nwords, char **words, int32 nent,
                             const int32 *ids, const float *lp, const float *bo, float w, double narrow) {
	ngram_model_t *set = ps_get_lm(ps, dflt);
	if (set == NULL) return -1;
	ngram_model_set_iter_t *it = ngram_model_set_iter(set);
	if (it == NULL) return -1;
	char const *name;
	ngram_model_t *general = ngram_model_set_iter_model(it, &name);
	ngram_model_set_iter_free(it);
	if (general == NULL) return -1;
	int why = 0;
	ngram_model_t *lm = izwi_prep_new(general, nwords, words, nent, ids, lp, bo, w, &why);
	if (lm == NULL) return -10 - why;
	cmd_ln_t *cfg = ps_get_config(ps);
	enum { nbeams = sizeof(izwi_prepared_beams) / sizeof(izwi_prepared_beams[0]) };
	double saved[nbeams];
	for (int i = 0; i < nbeams; i++) {
		saved[i] = cmd_ln_float64_r(cfg, izwi_prepared_beams[i]);
		cmd_ln_set_float64_r(cfg, izwi_prepared_beams[i], saved[i] * narrow);
	}
	int rv = ps_set_lm(ps, "izwi_prepared", lm);
	for (int i = 0; i < nbeams; i++) {
		cmd_ln_set_float64_r(cfg, izwi_prepared_beams[i], saved[i]);
	}
	ngram_model_free(lm); // the search holds its own reference
	if (rv != 0) return -4;
	return ps_set_search(ps, "izwi_prepared");
}
// izwi_prepared_log10 is the merged model's log10 probability (before the
// language weight) of words[n-1] after words[0..n-2], oldest first, in
// the decoder's prepared search; 1 if there is none.
static double izwi_prepared_log10(ps_decoder_t *ps, char **words, int32 n) {
	ngram_model_t *set = ps_get_lm(ps, "izwi_prepared");
	if (set == NULL || n < 1 || n > IZWI_NGRAM_MAX_ORDER) return 1;
	ngram_model_set_iter_t *it = ngram_model_set_iter(set);
	char const *name;
	ngram_model_t *m = ngram_model_set_iter_model(it, &name);
	ngram_model_set_iter_free(it);
	int32 hist[IZWI_NGRAM_MAX_ORDER], used;
	for (int32 i = 0; i < n - 1; i++) hist[i] = ngram_wid(m, words[n - 2 - i]);
	int32 p = ngram_ng_prob(m, ngram_wid(m, words[n - 1]), hist, n - 1, &used);
	return logmath_log_to_log10(((izwi_ngram_model *)m)->lmath, p);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/izwi-speech/izwi/internal/prepare"
)

// preparedModel is a prepared text's n-gram model in the form the merged
// model (izwi_prep_lm above) is built from: its words, and per n-gram
// three local word indices (oldest first, -1 before a shorter n-gram)
// with its log10 probability and back-off weight. It is built once per
// text; each decoder maps the words to its general model's word IDs.
type preparedModel struct {
	words  []string
	ids    []int32
	lp, bo []float32
}

// newPreparedModel lays out lm's n-grams for the merged model.
func newPreparedModel(lm *prepare.LM) *preparedModel {
	ngrams := lm.NGrams()
	pm := &preparedModel{ids: make([]int32, 0, 3*len(ngrams)), lp: make([]float32, 0, len(ngrams)), bo: make([]float32, 0, len(ngrams))}
	index := map[string]int32{}
	for _, ng := range ngrams {
		var tri [3]int32
		for i := range tri {
			tri[i] = -1
		}
		for i, w := range ng.Words {
			j, ok := index[w]
			if !ok {
				j = int32(len(pm.words))
				index[w] = j
				pm.words = append(pm.words, w)
			}
			tri[3-len(ng.Words)+i] = j
		}
		pm.ids = append(pm.ids, tri[:]...)
		pm.lp = append(pm.lp, float32(ng.Log10Prob))
		pm.bo = append(pm.bo, float32(ng.Log10Backoff))
	}
	return pm
}

// bytes is the model's size in memory, as built in a decoder (its hash
// tables hold each entry about twice).
func (pm *preparedModel) bytes() int {
	n := 0
	for _, w := range pm.words {
		n += len(w) + 8
	}
	return n + 2*(len(pm.lp)*16+len(pm.words)*16)
}

// usePrepared makes the merged model of the decoder's own language model
// and pm (pm's share w; nil or empty: the general model alone) its active
// search, with its beams narrowed by factor narrow (1: as configured).
func (d *decoder) usePrepared(pm *preparedModel, w, narrow float64) error {
	if pm == nil {
		pm = &preparedModel{}
	}
	if len(pm.lp) != len(pm.bo) || len(pm.ids) != 3*len(pm.lp) {
		return fmt.Errorf("pocketsphinx: prepared model tables of unequal lengths")
	}
	cd := C.CString(d.search)
	defer C.free(unsafe.Pointer(cd))
	words := cStrings(pm.words)
	defer freeCStrings(words)
	var ids *C.int32
	var lp, bo *C.float
	if len(pm.lp) > 0 {
		ids = (*C.int32)(unsafe.Pointer(&pm.ids[0]))
		lp, bo = (*C.float)(unsafe.Pointer(&pm.lp[0])), (*C.float)(unsafe.Pointer(&pm.bo[0]))
	}
	rv := C.izwi_use_prepared(d.ps, cd, C.int32(len(words)), firstOf(words), C.int32(len(pm.lp)), ids, lp, bo, C.float(w), C.double(narrow))
	runtime.KeepAlive(words)
	runtime.KeepAlive(pm)
	if rv != 0 {
		return fmt.Errorf("pocketsphinx: prepared language model refused (step %d)", int(rv))
	}
	return nil
}

// preparedLog10 is the merged model's log10 probability of w after
// history (oldest first), for tests.
func (d *decoder) preparedLog10(history []string, w string) float64 {
	words := cStrings(append(append([]string(nil), history...), w))
	defer freeCStrings(words)
	return float64(C.izwi_prepared_log10(d.ps, firstOf(words), C.int32(len(words))))
}

// activeSearch names the decoder's active search.
func (d *decoder) activeSearch() string {
	return C.GoString(C.ps_get_search(d.ps))
}
