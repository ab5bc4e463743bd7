package pocketsphinx

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

// FuzzStream feeds arbitrary bytes as 16-bit PCM (and, from the first byte,
// a chunk size) through one stream: the native decoder must neither crash
// nor hang, and what comes back must obey the result contract.
func FuzzStream(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{7, 0, 0})
	loud := make([]byte, 2*8000)
	for i := range 8000 {
		v := int16(32767)
		if i%2 == 1 {
			v = -32768
		}
		binary.LittleEndian.PutUint16(loud[2*i:], uint16(v))
	}
	f.Add(loud)
	tone := make([]byte, 2*16000)
	for i := range 16000 {
		binary.LittleEndian.PutUint16(tone[2*i:], uint16(int16(8000*math.Sin(float64(i)/5))))
	}
	f.Add(tone)
	rec := newRec(f, map[string]string{"decoders": "1"})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<18 {
			return
		}
		chunk := 1
		if len(data) > 0 {
			chunk = 1 + int(data[0])*64
		}
		samples := make([]float32, len(data)/2)
		for i := range samples {
			samples[i] = float32(int16(binary.LittleEndian.Uint16(data[2*i:]))) / 32768
		}
		st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		all := speechtest.Feed(t, st, samples, chunk)
		speechtest.CheckResults(t, all, speech.SamplesToDuration(len(samples), 16000))
		if err := st.Reset(context.Background()); err != nil {
			t.Fatalf("Reset: %v", err)
		}
	})
}

// FuzzParseHotwords checks the hotword parser never panics and that what
// it accepts is safe to hand to ps_add_word.
func FuzzParseHotwords(f *testing.F) {
	for _, s := range []string{"hello", "New York", "izwi:IH Z W IY", "a:", ":AE", "<s>", "x:AE1 B2", "the(2)", "é:AE", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		hws, err := parseHotwords([]string{entry})
		if err != nil {
			if !errors.Is(err, speech.ErrBadInput) {
				t.Fatalf("error %v is not ErrBadInput", err)
			}
			return
		}
		if len(hws) == 0 {
			t.Fatalf("%q accepted with no words", entry)
		}
		for _, hw := range hws {
			if checkWord(hw.word) != nil {
				t.Fatalf("accepted bad word %q", hw.word)
			}
			for _, p := range strings.Fields(hw.phones) {
				if !isPhone(p) {
					t.Fatalf("accepted bad phone %q", p)
				}
			}
		}
	})
}
