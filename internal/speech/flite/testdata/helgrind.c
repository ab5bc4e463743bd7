/* helgrind.c checks Flite for data races when threads share voices, the
 * way Synthesizer.Synthesize uses them. It is not built by go; run it with:
 *
 *   cd internal/speech/flite && gcc -g -O1 -I/usr/include/flite -I. \
 *     testdata/helgrind.c glue.c -o /tmp/flite-hg -lflite_cmu_us_kal16 \
 *     -lflite_cmu_us_slt -lflite_cmu_us_rms -lflite_cmu_us_awb \
 *     -lflite_usenglish -lflite_cmulex -lflite -lm -lpthread &&
 *   valgrind --tool=helgrind /tmp/flite-hg
 *
 * Expect "ERROR SUMMARY: 0 errors". Voices are registered before the
 * threads start because helgrind does not see pthread_once's ordering.
 * With --tool=memcheck --leak-check=full it also checks that requests,
 * including ones stopped mid-stream, free everything ("definitely lost: 0"). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "glue.h"

#define NTHREADS 8

typedef struct {
    long sum;
    int chunks, stop_after; /* stop_after 0: never stop */
} sink;

/* Stands in for the Go callback: sums the samples, and stops the request
 * after stop_after chunks as a failing sink or cancelled ctx would. */
int izwiFliteChunk(uintptr_t h, short *s, int n, int rate)
{
    sink *k = (sink *)h;
    (void)rate;
    for (int i = 0; i < n; i++)
        k->sum += s[i];
    k->chunks++;
    return (k->stop_after > 0 && k->chunks >= k->stop_after) ? -1 : 0;
}

static const char *texts[] = {
    "The quick brown fox jumps over the lazy dog.",
    "Seven engineers share two cores, in 1999. Dr. Smith paid $42.50!",
};

static void *run(void *arg)
{
    int id = (int)(intptr_t)arg, rc[3];
    sink k = {0, 0, 0};
    /* Two threads per voice, each with a different text; the last request
     * of each thread stops after its second chunk. */
    for (int i = 0; i < 3; i++)
    {
        k.chunks = 0;
        k.stop_after = i == 2 ? 2 : 0;
        rc[i] = izwi_flite_synth(izwi_flite_voice(id % IZWI_FLITE_NVOICES),
                                 texts[(id / IZWI_FLITE_NVOICES) % 2],
                                 1.0f + 0.25f * i, (uintptr_t)&k, 1024);
    }
    printf("thread %d: checksum %ld, outcomes %d %d %d (want 0 0 1)\n",
           id, k.sum, rc[0], rc[1], rc[2]);
    return NULL;
}

int main(void)
{
    pthread_t t[NTHREADS];
    izwi_flite_voice(0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, run, (void *)(intptr_t)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    return 0;
}
