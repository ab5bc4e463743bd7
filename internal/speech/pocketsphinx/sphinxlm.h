// sphinxlm.h: private layouts of sphinxbase 5prealpha shared by the
// shim's language-model code (sharedlm.go, preparedlm.go). Include it
// after <sphinxbase/ngram_model.h>.
#ifndef IZWI_SPHINXLM_H
#define IZWI_SPHINXLM_H

#include <sphinxbase/logmath.h>
#include <sphinxbase/hash_table.h>
#include <sphinxbase/ngram_model.h>

// Private layouts of sphinxbase 5prealpha as Debian ships it (upstream
// commit 2c132b3, 2016-10; unchanged from 2016-09 to the 2017 releases):
// ngram_model_s and ngram_funcs_s from src/libsphinxbase/lm/
// ngram_model_internal.h, lm_trie_s from lm_trie.h, ngram_model_trie_s
// from ngram_model_trie.h. izwi_lm_check verifies the base layout against
// the public accessors and the trie copy against scores of the original,
// and TestSharedLMParity compares recognition word for word with a decoder
// that loaded its own model.
typedef struct izwi_ngram_model izwi_ngram_model;
typedef struct {
	void (*free)(ngram_model_t *);
	int (*apply_weights)(ngram_model_t *, float32, float32);
	int32 (*score)(ngram_model_t *, int32, int32 *, int32, int32 *);
	int32 (*raw_score)(ngram_model_t *, int32, int32 *, int32, int32 *);
	int32 (*add_ug)(ngram_model_t *, int32, int32);
	void (*flush)(ngram_model_t *);
} izwi_ngram_funcs;

struct izwi_ngram_model {
	int refcount;
	uint32 *n_counts;
	int32 n_1g_alloc;
	int32 n_words;
	uint8 n, n_classes, writable, flags;
	logmath_t *lmath;
	float32 lw;
	int32 log_wip;
	int32 log_zero;
	char **word_str;
	hash_table_t *wid;
	int32 *tmp_wids;
	void **classes;
	izwi_ngram_funcs *funcs;
};

#define IZWI_NGRAM_MAX_ORDER 5

typedef struct {
	uint8 *ngram_mem;
	size_t ngram_mem_size;
	void *unigrams, *middle_begin, *middle_end, *longest, *quant;
	float backoff_cache[IZWI_NGRAM_MAX_ORDER];
	uint32 hist_cache[IZWI_NGRAM_MAX_ORDER - 1];
} izwi_lm_trie;

typedef struct {
	izwi_ngram_model base;
	izwi_lm_trie *trie;
} izwi_trie_model;

#endif
