package sherpa

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

func TestASROnlineHotwordsNeedBeamSearch(t *testing.T) {
	rec := asrOnline(t, DefaultASROptions())
	_, err := rec.NewStream(context.Background(), speech.StreamOptions{Hotwords: []string{"the"}})
	if !errors.Is(err, speech.ErrUnsupported) {
		t.Errorf("hotwords with greedy search = %v, want ErrUnsupported", err)
	}
}

// Per-stream hotwords reach the native decoder: with modified beam search
// and a large bonus, a stream boosted towards "OF" says it more often than
// an unboosted stream on the same audio, and other streams are unaffected.
func TestASROnlineHotwordsBoost(t *testing.T) {
	opts := DefaultASROptions()
	opts.DecodingMethod = "modified_beam_search"
	opts.HotwordsScore = 8
	rec := asrOnline(t, opts)
	samples := asrSpeech(t, 2)
	run := func(hw []string) string {
		st, err := rec.NewStream(context.Background(), speech.StreamOptions{Hotwords: hw})
		if err != nil {
			t.Fatalf("NewStream(%v): %v", hw, err)
		}
		defer st.Close()
		return speechtest.FinalText(speechtest.Feed(t, st, samples, 1600))
	}
	plain := run(nil)
	boosted := run([]string{"of"})
	again := run(nil)
	count := func(s string) int { return strings.Count(" "+s+" ", " OF ") }
	t.Logf("plain %d × OF, boosted %d × OF", count(plain), count(boosted))
	if plain != again {
		t.Errorf("an unboosted stream changed after a boosted one: %q vs %q", again, plain)
	}
	if count(boosted) <= count(plain) {
		t.Errorf("hotword OF: %d times boosted, %d plain; want more", count(boosted), count(plain))
	}
	if _, err := rec.NewStream(context.Background(), speech.StreamOptions{Hotwords: []string{"a/b"}}); !errors.Is(err, speech.ErrBadInput) {
		t.Errorf("hotword with '/': %v, want ErrBadInput", err)
	}
	// Prepared text biases the stream through its names and rare words:
	// exactly as if they were given as hotwords, and not as no text.
	const sheet = "Notices. Please welcome Offo Ofof, then Ofofo Foof.\nThe offertory follows."
	withContext := func() string {
		st, err := rec.NewStream(context.Background(), speech.StreamOptions{Context: sheet})
		if err != nil {
			t.Fatalf("NewStream with prepared text: %v", err)
		}
		defer st.Close()
		return speechtest.FinalText(speechtest.Feed(t, st, samples, 1600))
	}()
	terms := prepare.Keyterms(sheet, maxContextTerms)
	if asTerms := run(terms); withContext != asTerms || withContext == plain {
		t.Errorf("prepared text gave %q; its terms %q as hotwords %q; no text %q", withContext, terms, asTerms, plain)
	}
}

// The endpoint options reach sherpa-onnx's rules: a shorter trailing
// silence (rule 2) closes more segments; no endpointing leaves one segment
// for Flush to close.
func TestASROnlineEndpointOptions(t *testing.T) {
	samples := asrSpeech(t, 3)
	finals := func(opts map[string]string) (n int, fromFlush bool) {
		o, err := ParseASROptions(0, opts)
		if err != nil {
			t.Fatal(err)
		}
		rec := asrOnline(t, o)
		st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for off := 0; off < len(samples); off += 1600 {
			rs, err := st.Accept(context.Background(), samples[off:min(off+1600, len(samples))])
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Final {
					n++
				}
			}
		}
		rs, err := st.Flush(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Final {
				n++
				fromFlush = true
			}
		}
		return n, fromFlush
	}
	def, _ := finals(nil)
	short, _ := finals(map[string]string{"rule2_min_trailing_silence": "0.2"})
	none, flushed := finals(map[string]string{"enable_endpoint": "false"})
	t.Logf("finals: default %d, rule2=0.2s %d, no endpointing %d", def, short, none)
	if short <= def {
		t.Errorf("rule2 0.2 s gave %d finals, default 1.2 s gave %d; want more", short, def)
	}
	if none != 1 || !flushed {
		t.Errorf("without endpointing: %d finals (from Flush: %v), want exactly the one Flush closes", none, flushed)
	}
}

func TestASROnlineHotwordsNeedTransducer(t *testing.T) {
	// sherpa-onnx would exit the process on beam search for CTC or
	// paraformer; Izwi refuses first.
	opts := DefaultASROptions()
	opts.DecodingMethod = "modified_beam_search"
	for _, name := range []string{"streaming-zipformer2-ctc-tiny", "streaming-paraformer-tiny"} {
		if _, err := NewOnlineRecognizer(genModel(t, name), opts); !errors.Is(err, speech.ErrUnsupported) {
			t.Errorf("%s with beam search: %v, want ErrUnsupported", name, err)
		}
	}
	rec, err := NewOnlineRecognizer(genModel(t, "streaming-zipformer2-ctc-tiny"), DefaultASROptions())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if _, err := rec.NewStream(context.Background(), speech.StreamOptions{Hotwords: []string{"of"}}); !errors.Is(err, speech.ErrUnsupported) {
		t.Errorf("hotwords on a CTC model: %v, want ErrUnsupported", err)
	}
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{Hotwords: []string{" ", ""}})
	if err != nil {
		t.Fatalf("blank hotwords are no hotwords: %v", err)
	}
	st.Close()
}
