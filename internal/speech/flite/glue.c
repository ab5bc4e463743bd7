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

/* izwi_flite_synth mirrors flite_ts_to_speech: it splits text into
 * utterances with the voice's own tokeniser and break rule, so audio starts
 * after the first sentence rather than after the whole text. */
int izwi_flite_synth(void *v, const char *text, float stretch,
                     uintptr_t handle, int min_chunk)
{
    cst_voice *voice = (cst_voice *)v;
    const cst_features *f = voice->features;
    cst_tokenstream *ts;
    cst_utterance *utt;
    cst_relation *tokrel;
    cst_item *t;
    const char *token;
    int num_tokens = 0, rc = IZWI_FLITE_DONE;
    izwi_stream s = {handle, 0, 0};

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
            (num_tokens > IZWI_SOFT_TOKENS && izwi_clause_end(tokrel)) ||
            (relation_head(tokrel) && default_utt_break(ts, token, tokrel)))
        {
            if (relation_head(tokrel))
            {
                rc = izwi_utt_synth(utt, voice, stretch, &s, min_chunk);
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
            if (cst_strlen(token) == 0)
                continue;
        }
        num_tokens++;
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
