/* glue.h declares the small C layer between Go and Flite 2.2. */
#ifndef IZWI_FLITE_GLUE_H
#define IZWI_FLITE_GLUE_H

#include <stdint.h>

#define IZWI_FLITE_NVOICES 4

/* Outcomes of izwi_flite_synth. */
#define IZWI_FLITE_DONE 0
#define IZWI_FLITE_STOPPED 1
#define IZWI_FLITE_FAILED -1

/* izwi_flite_voice returns voice idx (0..IZWI_FLITE_NVOICES-1) or NULL,
 * registering every built-in voice exactly once per process. */
void *izwi_flite_voice(int idx);

/* izwi_flite_synth speaks text with voice, utterance by utterance, handing
 * each chunk of 16-bit samples to the Go callback izwiFliteChunk(handle, …).
 * stretch is Flite's duration_stretch; min_chunk is the smallest chunk in
 * samples that Flite's streaming callback should deliver. */
int izwi_flite_synth(void *voice, const char *text, float stretch,
                     uintptr_t handle, int min_chunk);

/* izwi_flite_pronounce writes the phones of a lower-case word, from the
 * CMU lexicon or its letter-to-sound rules, space-separated with Flite's
 * stress digits ("ih1 z w iy0"), into out (size bytes). It returns the
 * number of phones, or -1 if out is too small. */
int izwi_flite_pronounce(const char *word, char *out, int size);

/* izwi_flite_phones counts the phones (pauses included) Flite would speak
 * for text with voice, running text analysis only: no acoustic model, no
 * wave. It returns -1 on failure. */
long izwi_flite_phones(void *voice, const char *text);

#endif
