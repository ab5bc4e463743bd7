// lmmap.h: the shared language model's n-gram arrays read in place from
// the model file (sharedlm.go includes it after izwi_shared_lm and the
// private trie layouts).
//
// sphinxbase 5prealpha's binary trie reader (ngram_model_trie_read_bin,
// lm_trie_read_bin in upstream 2c132b3) freads the n-gram arrays as one
// block of ngram_mem_size bytes into the heap: ~24 MiB of
// pocketsphinx-en-us's 27 MB file, private memory of every process that
// loads it. The file ends with that block, then the word strings (an
// int32 length k, then k bytes of NUL-terminated words), so the block
// starts at size - 4 - k - ngram_mem_size. izwi_lm_map checks that
// position (the length read there is k; the bytes there are the heap
// copy's, compared through pread so no page gets mapped by the check),
// maps those bytes read-only and points the trie at the mapping: pages the
// search never reads stay on disk, those it reads are page cache that
// every process on the machine shares, and none is anonymous memory. On
// any mismatch (a compressed file, another layout) the heap copy stays.
//
// The mapping is MAP_PRIVATE and never written. Like PocketSphinx's own
// mmapped mdef, it relies on the file being replaced by rename (dpkg,
// `izwi models`), never rewritten in place while the server runs.

// izwi_trie_base is base_s of lm_trie.h; every middle_s and longest_s
// begins with one, whose base points into ngram_mem.
typedef struct {
	uint8 word_bits;
	uint8 total_bits;
	uint32 word_mask;
	uint8 *base;
	uint32 insert_index;
	uint32 max_vocab;
} izwi_trie_base;

// izwi_trie_middle is middle_s of lm_trie.h (bitarr_mask_s inlined).
typedef struct {
	izwi_trie_base base;
	struct { uint8 bits; uint32 mask; } next_mask;
	uint8 quant_bits;
	void *next_source;
} izwi_trie_middle;

// izwi_lm_bases lists the base pointers into ngram_mem of t (at most
// IZWI_NGRAM_MAX_ORDER), after checking the middle layout: the array
// spans order - 2 entries, each entry's next_source is the next one (the
// longest for the last), and every base lies inside ngram_mem. Returns
// how many, or 0 if anything disagrees.
static int izwi_lm_bases(izwi_lm_trie *t, int order, uint8 ***out) {
	izwi_trie_middle *mb = t->middle_begin, *me = t->middle_end;
	int n = 0;
	if (order < 2 || order > IZWI_NGRAM_MAX_ORDER || me - mb != order - 2 || t->longest == NULL) return 0;
	for (izwi_trie_middle *m = mb; m < me; m++) {
		void *next = (m + 1 < me) ? (void *)(m + 1) : t->longest;
		if (m->next_source != next) return 0;
		out[n++] = &m->base.base;
	}
	out[n++] = &((izwi_trie_base *)t->longest)->base;
	for (int i = 0; i < n; i++) {
		if (*out[i] < t->ngram_mem || *out[i] >= t->ngram_mem + t->ngram_mem_size) return 0;
	}
	return n;
}

// izwi_lm_same reports whether the len bytes of fd at off equal mem.
static int izwi_lm_same(int fd, off_t off, const uint8 *mem, size_t len) {
	enum { chunk = 1 << 20 };
	uint8 *buf = malloc(chunk);
	if (buf == NULL) return 0;
	int same = 1;
	for (size_t done = 0; same && done < len;) {
		size_t want = len - done < chunk ? len - done : chunk;
		ssize_t got = pread(fd, buf, want, off + (off_t)done);
		if (got <= 0 || memcmp(buf, mem + done, (size_t)got) != 0) same = 0;
		done += got > 0 ? (size_t)got : 0;
	}
	free(buf);
	return same;
}

// izwi_lm_map points s's n-gram arrays at a read-only mapping of the
// model file at path and frees the heap copy. 0 on success; otherwise a
// step number, and the heap copy is left as it was.
static int izwi_lm_map(izwi_shared_lm *s, const char *path) {
	izwi_ngram_model *b = (izwi_ngram_model *)s->lm;
	izwi_lm_trie *t = ((izwi_trie_model *)s->lm)->trie;
	if (t == NULL || t->ngram_mem == NULL || t->ngram_mem_size == 0) return 1;
	uint8 **bases[IZWI_NGRAM_MAX_ORDER];
	int nb = izwi_lm_bases(t, b->n, bases);
	if (nb == 0) return 2;
	int64 k = 0;
	for (uint32 i = 0; i < b->n_counts[0]; i++) k += (int64)strlen(b->word_str[i]) + 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 3;
	struct stat st;
	int32 k32 = 0;
	off_t off = -1;
	if (fstat(fd, &st) == 0) off = st.st_size - 4 - (off_t)k - (off_t)t->ngram_mem_size;
	if (off <= 0 || pread(fd, &k32, 4, st.st_size - 4 - (off_t)k) != 4 || k32 != k ||
	    !izwi_lm_same(fd, off, t->ngram_mem, t->ngram_mem_size)) {
		close(fd);
		return 4;
	}
	off_t page = sysconf(_SC_PAGESIZE), aligned = off - off % page;
	size_t len = t->ngram_mem_size + (size_t)(off - aligned);
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, aligned);
	close(fd);
	if (map == MAP_FAILED) return 5;
	// The search reads the arrays at random: no read-ahead, and no 2 MiB
	// page-cache folios mapped whole for one word's n-grams.
	madvise(map, len, MADV_RANDOM);
	madvise(map, len, MADV_NOHUGEPAGE);
	uint8 *mem = (uint8 *)map + (off - aligned);
	for (int i = 0; i < nb; i++) *bases[i] = mem + (*bases[i] - t->ngram_mem);
	free(t->ngram_mem); // ckd_calloc'd
	t->ngram_mem = mem;
	// glibc keeps the freed copy in its arena when it was not mmapped
	// itself (the mmap threshold rises as large blocks are freed).
	malloc_trim(0);
	s->map = map;
	s->map_len = len;
	return 0;
}

// izwi_lm_unmap gives s's trie a heap ngram_mem again for lm_trie_free
// to free, then drops the mapping. Runs once no view is left.
static void izwi_lm_unmap(izwi_shared_lm *s) {
	if (s->map == NULL) return;
	((izwi_trie_model *)s->lm)->trie->ngram_mem = calloc(1, 1);
	munmap(s->map, s->map_len);
	s->map = NULL;
}
