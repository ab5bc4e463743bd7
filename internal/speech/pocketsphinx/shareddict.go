package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <pocketsphinx.h>

// Private layouts of pocketsphinx 5prealpha as Debian ships it (upstream
// c8e366e5, 2016-09): the head of ps_decoder_s (pocketsphinx_internal.h),
// of dict_t (dict.h) and of dict2pid_t (dict2pid.h). izwi_head_ok checks
// them against the public accessors and each other before anything is
// touched; TestSharedLMParity compares recognition word for word.
typedef struct {
	cmd_ln_t *config;
	int refcount;
	void *acmod, *dict, *d2p;
	logmath_t *lmath;
} izwi_ps_head;
typedef struct { int refcnt; void *mdef; } izwi_dict_head;
typedef struct { int refcount; void *mdef, *dict; } izwi_d2p_head;

extern void *dict_retain(void *d);
extern int dict_free(void *d);
extern void *dict2pid_retain(void *d2p);
extern int dict2pid_free(void *d2p);

// IZWI_PINNED is added to the reference counts of a shared dictionary and
// dict2pid. PocketSphinx retains and frees them without atomics (every
// search, every lattice at an utterance's end), so decoders on different
// threads can lose an update now and then; from 2^30 no such drift can
// reach zero, and izwi_dict_unshare frees them itself, by count-free
// means, once no decoder is left.
#define IZWI_PINNED (1 << 30)

typedef struct { void *dict, *d2p; } izwi_shared_dict;

static int izwi_head_ok(ps_decoder_t *ps) {
	izwi_ps_head *h = (izwi_ps_head *)ps;
	if (h->config != ps_get_config(ps) || h->lmath != ps_get_logmath(ps)) return 1;
	if (h->acmod == NULL || h->dict == NULL || h->d2p == NULL) return 2;
	izwi_d2p_head *p = h->d2p;
	izwi_dict_head *d = h->dict;
	if (p->dict != h->dict || p->refcount < 1 || p->refcount > 64) return 3;
	if (d->refcnt < 2 || d->refcnt > 64 || d->mdef != p->mdef) return 4;
	return 0;
}

// izwi_dict_share makes the dictionary and dict2pid of ps the shared ones.
static izwi_shared_dict *izwi_dict_share(ps_decoder_t *ps, int *why) {
	if ((*why = izwi_head_ok(ps)) != 0) return NULL;
	izwi_ps_head *h = (izwi_ps_head *)ps;
	izwi_shared_dict *s = calloc(1, sizeof(izwi_shared_dict));
	s->dict = dict_retain(h->dict);
	s->d2p = dict2pid_retain(h->d2p);
	((izwi_dict_head *)s->dict)->refcnt += IZWI_PINNED;
	((izwi_d2p_head *)s->d2p)->refcount += IZWI_PINNED;
	return s;
}

// izwi_dict_use replaces the dictionary and dict2pid of ps (built with a
// one-word dictionary) by the shared ones, before any n-gram search is
// built over them.
static int izwi_dict_use(ps_decoder_t *ps, izwi_shared_dict *s) {
	int why = izwi_head_ok(ps);
	if (why != 0) return why;
	izwi_ps_head *h = (izwi_ps_head *)ps;
	void *od = h->dict, *op = h->d2p;
	h->dict = dict_retain(s->dict);
	h->d2p = dict2pid_retain(s->d2p);
	dict2pid_free(op);
	dict_free(od);
	return 0;
}

// izwi_dict_unshare frees s once no decoder holds it: the counts are set
// to exactly the references left (s's own, and dict2pid's on the dict).
static void izwi_dict_unshare(izwi_shared_dict *s) {
	((izwi_d2p_head *)s->d2p)->refcount = 1;
	((izwi_dict_head *)s->dict)->refcnt = 2;
	dict2pid_free(s->d2p);
	dict_free(s->dict);
	free(s);
}
*/
import "C"

import (
	"fmt"
	"os"
	"sync"

	"github.com/izwi-speech/izwi/internal/speech"
)

// dictShare is the cut dictionary (and its triphone map, dict2pid) loaded
// once and used by every decoder: ~13 MiB each otherwise. It is read-only
// while decoding; a decoder that must add words loads its own first
// (ownDict). users counts the decoders built on it and orphan is set once
// no Recognizer holds the model: the last of them frees it. Both are
// guarded by sharedLMs.mu.
type dictShare struct {
	c      *C.izwi_shared_dict
	hmm    string // the acoustic model it was built for (its phone set)
	users  int
	orphan bool
}

// tinyDict is the dictionary a decoder is built with before the shared
// one replaces it: the keyphrase search's one word.
var tinyDict = sync.OnceValues(func() (*os.File, error) {
	return memFile([]byte(stubKeyphrase + " AH\n"))
})

// shareDict makes d's dictionary (the cut one, just loaded for the
// acoustic model hmm) the shared one of cut if there is none yet, and
// records d as a user.
func (d *decoder) shareDict(cut *dictCut, hmm string) error {
	sharedLMs.mu.Lock()
	defer sharedLMs.mu.Unlock()
	if cut.share != nil {
		return nil // another decoder got there first; d keeps its own
	}
	var why C.int
	c := C.izwi_dict_share(d.ps, &why)
	if c == nil {
		return fmt.Errorf("pocketsphinx: the decoder does not have the layout dictionary sharing was written for (check %d): %w", int(why), speech.ErrModel)
	}
	cut.share = &dictShare{c: c, hmm: hmm, users: 1}
	d.dict, d.sharesDict = cut.share, true
	return nil
}

// useDict gives d, built with tinyDict, the shared dictionary of cut.
func (d *decoder) useDict(share *dictShare) error {
	sharedLMs.mu.Lock()
	defer sharedLMs.mu.Unlock()
	if share.orphan {
		return fmt.Errorf("pocketsphinx: recognizer: %w", speech.ErrClosed)
	}
	if why := C.izwi_dict_use(d.ps, share.c); why != 0 {
		return fmt.Errorf("pocketsphinx: the decoder does not have the layout dictionary sharing was written for (check %d): %w", int(why), speech.ErrModel)
	}
	share.users++
	d.dict, d.sharesDict = share, true
	return nil
}

// ownDict gives d a private copy of its dictionary before words are added
// to it (loadDict leaves the shared one). No-op if d has one.
func (d *decoder) ownDict() error {
	if !d.sharesDict {
		return nil
	}
	return d.loadDict(d.outside.path())
}

// dropDict records that d, just freed, no longer uses its shared
// dictionary, freeing it if d was the last user of an orphaned one.
func (d *decoder) dropDict() {
	s := d.dict
	if s == nil {
		return
	}
	d.dict = nil
	sharedLMs.mu.Lock()
	s.users--
	last := s.orphan && s.users == 0
	sharedLMs.mu.Unlock()
	if last {
		C.izwi_dict_unshare(s.c)
	}
}

// orphanDict marks the shared dictionary of cut as held by no Recognizer;
// it is freed now if no decoder uses it. sharedLMs.mu is held.
func orphanDict(cut *dictCut) {
	if s := cut.share; s != nil {
		s.orphan = true
		if s.users == 0 {
			C.izwi_dict_unshare(s.c)
		}
	}
}
