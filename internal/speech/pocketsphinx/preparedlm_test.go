package pocketsphinx

import (
	"reflect"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// idleDecoder returns rec's one idle decoder.
func idleDecoder(t *testing.T, rec *Recognizer) *decoder {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.idle) != 1 {
		t.Fatalf("%d idle decoders, want 1", len(rec.idle))
	}
	return rec.idle[0]
}

// The merged model with nothing prepared in it scores exactly as the
// general model: a decoder searching through it recognises word for word,
// time for time, what it recognises without it (live profile). This is
// the guard on the merged model's word table and its pass-through of the
// general model's scores, weights and caches.
func TestPreparedEmptyParity(t *testing.T) {
	rec := newProfileRec(t, true, map[string]string{"decoders": "1"}, speech.Deps{})
	us := testdata.Utterances(t)[:3]
	var want [][]speech.Result
	for _, u := range us {
		want = append(want, transcribe(t, rec, readWAV(t, u.WAV), 3200))
	}
	d := idleDecoder(t, rec)
	if err := d.usePrepared(nil, DefaultContextWeight, 1); err != nil {
		t.Fatal(err)
	}
	for i, u := range us {
		got := transcribe(t, rec, readWAV(t, u.WAV), 3200)
		if s := idleDecoder(t, rec).activeSearch(); s != "izwi_prepared" {
			t.Fatalf("the stream searched with %q, not the merged model", s)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("%s: through the empty merged model\n %+v\nwithout it\n %+v", u.ID, got, want[i])
		}
	}
}
