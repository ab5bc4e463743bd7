/* glue.c is Izwi's C layer over Flite 2.2.
 *
 * Flite keeps process-global state: each register_cmu_us_* caches its voice
 * in a static pointer, and the US English lexicon is a static struct. So
 * voices are registered once per process under pthread_once and never
 * unregistered; Go code only holds indexes into that table.
 *
 * Per-request settings (streaming callback, duration_stretch) go on each
 * utterance's own features, which Flite searches before the shared voice's
 * features (utt_init links the voice features in behind them), so the shared
 * voices are never written after registration.
 *
 * Known limit: Flite reports internal errors through cst_error(), which
 * longjmps to the global cst_errjmp if set and otherwise calls exit(). A
 * process-global jmp_buf cannot serve concurrent requests, so it is left
 * unset; Go-side text hygiene and FuzzSynthesize keep inputs off those
 * paths, and none has been found. */
#include <pthread.h>
#include <string.h>
#include <flite.h>

#include "glue.h"

cst_voice *register_cmu_us_kal16(const char *voxdir);
cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);

/* Implemented in Go (callback.go). Returns 0 to go on, -1 to stop. */
extern int izwiFliteChunk(uintptr_t handle, short *samples, int n, int rate);

static pthread_once_t izwi_once = PTHREAD_ONCE_INIT;
static cst_voice *izwi_voices[IZWI_FLITE_NVOICES];

static void izwi_register(void)
{
    flite_init();
    izwi_voices[0] = register_cmu_us_kal16(NULL);
    izwi_voices[1] = register_cmu_us_slt(NULL);
    izwi_voices[2] = register_cmu_us_rms(NULL);
    izwi_voices[3] = register_cmu_us_awb(NULL);
}

void *izwi_flite_voice(int idx)
{
    pthread_once(&izwi_once, izwi_register);
    if (idx < 0 || idx >= IZWI_FLITE_NVOICES)
        return NULL;
    return izwi_voices[idx];
}

/* One request's streaming state, shared by its utterances. */
typedef struct {
    uintptr_t handle;
    int streamed; /* samples of the current utterance already handed on */
    int stopped;
} izwi_stream;

static int izwi_asc(const cst_wave *w, int start, int size, int last,
                    cst_audio_streaming_info *asi)
{
    izwi_stream *s = (izwi_stream *)asi->userdata;
    (void)last;
    if (s->stopped)
        return CST_AUDIO_STREAM_STOP;
    if (size > 0 &&
        izwiFliteChunk(s->handle, w->samples + start, size, w->sample_rate) != 0)
    {
        s->stopped = 1;
        return CST_AUDIO_STREAM_STOP;
    }
    s->streamed = start + size;
    return CST_AUDIO_STREAM_CONT;
}

/* izwi_utt_synth synthesizes one tokenised utterance and streams it. It
 * takes ownership of utt. Returns an IZWI_FLITE_* outcome. */
static int izwi_utt_synth(cst_utterance *utt, cst_voice *voice, float stretch,
                          izwi_stream *s, int min_chunk)
{
    cst_audio_streaming_info *asi;
    cst_wave *w;
    int rc = IZWI_FLITE_DONE;

    asi = new_audio_streaming_info();
    asi->asc = izwi_asc;
    asi->min_buffsize = min_chunk;
    asi->userdata = s;
    /* The utterance owns asi from here (freed with its features). */
    feat_set(utt->features, "streaming_info", audio_streaming_info_val(asi));
    feat_set_float(utt->features, "duration_stretch", stretch);
    s->streamed = 0;

    utt = flite_do_synth(utt, voice, utt_synth_tokens);
    if (utt == NULL)
        return s->stopped ? IZWI_FLITE_STOPPED : IZWI_FLITE_FAILED;
    if (s->stopped || feat_present(utt->features, "Interrupted"))
    {
        delete_utterance(utt);
        return IZWI_FLITE_STOPPED;
    }
    /* Hand on whatever the streaming callback did not (some back ends
     * stream nothing, or stop short of the final wave). */
    w = utt_wave(utt);
    if (w != NULL && w->num_samples > s->streamed)
    {
        if (izwiFliteChunk(s->handle, w->samples + s->streamed,
                           w->num_samples - s->streamed, w->sample_rate) != 0)
        {
            s->stopped = 1;
            rc = IZWI_FLITE_STOPPED;
        }
    }
    delete_utterance(utt);
    return rc;
}

/* Flite synthesises a whole utterance's parameters before its first audio
 * sample, so a long unbroken sentence delays the first chunk. Past
 * IZWI_SOFT_TOKENS tokens an utterance also ends at a clause (a token
 * followed by , ; : or -); past IZWI_HARD_TOKENS it ends anyway (Flite's own
 * file reader uses 500). Sentences shorter than IZWI_SOFT_TOKENS are split
 * exactly as flite_file_to_speech splits them. */
#define IZWI_SOFT_TOKENS 30
#define IZWI_HARD_TOKENS 120

static int izwi_clause_end(cst_relation *tokrel)
{
    cst_item *last = relation_tail(tokrel);
    const char *p;
    if (last == NULL)
        return 0;
    for (p = item_feat_string(last, "punc"); *p; p++)
        if (*p == ',' || *p == ';' || *p == ':' || *p == '-')
            return 1;
    return 0;
}

/* A run of digits (or a long unpronounceable token) is one token that
 * Flite reads character by character, so a token cap alone does not bound
 * an utterance: 4,096 digits made one utterance of over an hour, held whole
 * in memory. Each token weighs 1 if it reads as a word (no digit, at most
 * IZWI_WORD_BYTES bytes) and its length otherwise; past IZWI_HARD_WEIGHT an
 * utterance ends at the next token (CleanText splits tokens longer than 32
 * characters). Prose keeps Flite's own sentence breaks; a digit string is
 * cut every few dozen digits, so one utterance's audio stays short. */
#define IZWI_HARD_WEIGHT 64
#define IZWI_WORD_BYTES 12

static int izwi_token_weight(const char *token)
{
    int n = 0, digits = 0;
    const char *p;
    for (p = token; *p; p++, n++)
        if (*p >= '0' && *p <= '9')
            digits = 1;
    return (!digits && n <= IZWI_WORD_BYTES) ? 1 : n;
}

/* izwi_utt_fn consumes one tokenised utterance (it takes ownership) and
 * returns an IZWI_FLITE_* outcome. */
typedef int (*izwi_utt_fn)(cst_utterance *utt, cst_voice *voice, void *arg);

/* izwi_each_utt mirrors flite_ts_to_speech: it splits text into utterances
 * with the voice's own tokeniser and break rule and hands each to fn. */
static int izwi_each_utt(cst_voice *voice, const char *text, izwi_utt_fn fn, void *arg)
{
    const cst_features *f = voice->features;
    cst_tokenstream *ts;
    cst_utterance *utt;
    cst_relation *tokrel;
    cst_item *t;
    const char *token;
    int num_tokens = 0, weight = 0, rc = IZWI_FLITE_DONE;

    ts = ts_open_string(text,
                        get_param_string(f, "text_whitespace", NULL),
                        get_param_string(f, "text_singlecharsymbols", NULL),
                        get_param_string(f, "text_prepunctuation", NULL),
                        get_param_string(f, "text_postpunctuation", NULL));
    if (ts == NULL)
        return IZWI_FLITE_FAILED;

    utt = new_utterance();
    tokrel = utt_relation_create(utt, "Token");
    while (!ts_eof(ts) || num_tokens > 0)
    {
        token = ts_get(ts);
        if (cst_strlen(token) == 0 || num_tokens > IZWI_HARD_TOKENS ||
            weight > IZWI_HARD_WEIGHT ||
            (num_tokens > IZWI_SOFT_TOKENS && izwi_clause_end(tokrel)) ||
            (relation_head(tokrel) && default_utt_break(ts, token, tokrel)))
        {
            if (relation_head(tokrel))
            {
                rc = fn(utt, voice, arg);
                utt = NULL;
                if (rc != IZWI_FLITE_DONE)
                    break;
            }
            if (ts_eof(ts) && cst_strlen(token) == 0)
                break;
            if (utt == NULL)
            {
                utt = new_utterance();
                tokrel = utt_relation_create(utt, "Token");
            }
            num_tokens = 0;
            weight = 0;
            if (cst_strlen(token) == 0)
                continue;
        }
        num_tokens++;
        weight += izwi_token_weight(token);
        t = relation_append(tokrel, NULL);
        item_set_string(t, "name", token);
        item_set_string(t, "whitespace", ts->whitespace);
        item_set_string(t, "prepunctuation", ts->prepunctuation);
        item_set_string(t, "punc", ts->postpunctuation);
    }
    if (utt != NULL)
        delete_utterance(utt);
    ts_close(ts);
    return rc;
}

typedef struct {
    float stretch;
    izwi_stream *s;
    int min_chunk;
} izwi_synth_arg;

static int izwi_synth_one(cst_utterance *utt, cst_voice *voice, void *arg)
{
    izwi_synth_arg *a = (izwi_synth_arg *)arg;
    return izwi_utt_synth(utt, voice, a->stretch, a->s, a->min_chunk);
}

int izwi_flite_synth(void *v, const char *text, float stretch,
                     uintptr_t handle, int min_chunk)
{
    izwi_stream s = {handle, 0, 0};
    izwi_synth_arg a = {stretch, &s, min_chunk};
    return izwi_each_utt((cst_voice *)v, text, izwi_synth_one, &a);
}

/* The text-analysis half of Flite's token synthesis: words, phrases and
 * phones (with pauses), without the acoustic model or the wave. */
static const cst_synth_module izwi_phones_method[] = {
    {"textanalysis_func", default_textanalysis},
    {"pos_tagger_func", default_pos_tagger},
    {"phrasing_func", default_phrasing},
    {"lexical_insertion_func", default_lexical_insertion},
    {"pause_insertion_func", default_pause_insertion},
    {NULL, NULL}};

static int izwi_count_one(cst_utterance *utt, cst_voice *voice, void *arg)
{
    long *n = (long *)arg;
    cst_item *seg;
    utt_init(utt, voice);
    utt = apply_synth_method(utt, izwi_phones_method);
    if (utt == NULL)
        return IZWI_FLITE_FAILED;
    for (seg = relation_head(utt_relation(utt, "Segment")); seg; seg = item_next(seg))
        (*n)++;
    delete_utterance(utt);
    return IZWI_FLITE_DONE;
}

long izwi_flite_phones(void *v, const char *text)
{
    long n = 0;
    if (izwi_each_utt((cst_voice *)v, text, izwi_count_one, &n) != IZWI_FLITE_DONE)
        return -1;
    return n;
}

/* The CMU lexicon with its letter-to-sound rules, for words no
 * dictionary holds (izwi_flite_pronounce). Read-only once made. */
cst_lexicon *cmu_lex_init(void);
static pthread_once_t izwi_lex_once = PTHREAD_ONCE_INIT;
static cst_lexicon *izwi_lex;

static void izwi_lex_init(void)
{
    flite_init();
    izwi_lex = cmu_lex_init();
}

int izwi_flite_pronounce(const char *word, char *out, int size)
{
    pthread_once(&izwi_lex_once, izwi_lex_init);
    if (izwi_lex == NULL || size < 1)
        return -1;
    cst_val *phones = lex_lookup(izwi_lex, word, NULL, NULL);
    int n = 0, used = 0;
    out[0] = '\0';
    for (const cst_val *v = phones; v != NULL; v = val_cdr(v)) {
        const char *ph = val_string(val_car(v));
        int len = (int)strlen(ph);
        if (used + len + 2 > size) {
            n = -1;
            break;
        }
        if (used > 0)
            out[used++] = ' ';
        memcpy(out + used, ph, len);
        used += len;
        out[used] = '\0';
        n++;
    }
    delete_val(phones);
    return n;
}
