package dgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// PocketSphinx loads the Debian PocketSphinx model with a pool of decoders
// (the double's engine, or a chain's local fallback); closed when t ends.
func PocketSphinx(t testing.TB, decoders int) speech.Recognizer {
	t.Helper()
	rec, err := pocketsphinx.New(context.Background(), speech.Spec{Engine: pocketsphinx.Name,
		Options: map[string]string{"decoders": strconv.Itoa(decoders)}}, speech.Deps{})
	if err != nil {
		t.Fatalf("pocketsphinx: %v", err)
	}
	t.Cleanup(func() { rec.Close() })
	return rec
}

// Speech returns a shared utterance's 16 kHz samples and its reference.
func Speech(t testing.TB, id string) ([]float32, string) {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == id {
			clip, err := audio.DecodeFile(u.WAV, audio.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			return clip.Samples, u.Reference
		}
	}
	t.Fatalf("utterance %s not in the shared set", id)
	return nil, ""
}

// CanaryKey makes a random, recognisable API key and writes it to a 0600
// file in a fresh directory; tests search outputs for it.
func CanaryKey(t testing.TB) (key, file string) {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	key = "dgcanary" + hex.EncodeToString(b)
	file = filepath.Join(t.TempDir(), "deepgram.key")
	WriteKey(t, file, key)
	return key, file
}

// WriteKey replaces the key file's content atomically (as a rotation does).
func WriteKey(t testing.TB, file, key string) {
	t.Helper()
	tmp := file + ".new"
	if err := os.WriteFile(tmp, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}
