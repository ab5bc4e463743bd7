package pocketsphinx

import (
	"context"
	"encoding/binary"
	"os"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

// readWAV reads a 16-bit mono PCM WAV into floats (int16/32768), walking
// RIFF chunks. Test-only: package audio owns real decoding.
func readWAV(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8
		if id == "fmt " {
			if ch, bits := binary.LittleEndian.Uint16(b[off+2:]), binary.LittleEndian.Uint16(b[off+14:]); ch != 1 || bits != 16 {
				t.Fatalf("%s: %d channels, %d bits; want mono 16-bit", path, ch, bits)
			}
		}
		if id == "data" {
			data := b[off:min(off+size, len(b))]
			out := make([]float32, len(data)/2)
			for i := range out {
				out[i] = float32(int16(binary.LittleEndian.Uint16(data[2*i:]))) / 32768
			}
			return out
		}
		off += size + size&1
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
}

// newRec loads the Debian model with no resolver, as unit tests do, with
// the live (asr) endpointing profile.
func newRec(t testing.TB, opts map[string]string) *Recognizer {
	t.Helper()
	return newProfileRec(t, true, opts, speech.Deps{})
}

// newProfileRec is newRec with the live or the file profile and deps.
func newProfileRec(t testing.TB, live bool, opts map[string]string, deps speech.Deps) *Recognizer {
	t.Helper()
	r, err := newRecognizer(context.Background(), speech.Spec{Engine: Name, Options: opts}, deps, live)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
