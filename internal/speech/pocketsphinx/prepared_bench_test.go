package pocketsphinx

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/flite"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// BenchmarkPreparedWER: the file profile's corpus WER over all 19 shared
// utterances without preparation, with the service sheet (their
// references hidden in text fifteen times longer) and with the unrelated
// text alone; and decoding
// speed with and without a prepared model (seconds of compute per second
// of audio), side by side in one run. The WERs are measured once; the
// timed loop decodes the corpus with the prepared model.
func BenchmarkPreparedWER(b *testing.B) {
	utts := testdata.Utterances(b)
	var refs []string
	var audioSecs float64
	samples := make([][]float32, len(utts))
	for i, u := range utts {
		refs = append(refs, u.Reference)
		samples[i] = readWAV(b, u.WAV)
		audioSecs += float64(len(samples[i])) / 16000
	}
	sheet := serviceSheet(b, refs...)
	// The file profile (izwi transcribe --context); BenchmarkEndpoint
	// measures the live one.
	r := newProfileRec(b, false, nil, speech.Deps{Pronouncer: flite.Pronouncer{}})
	tr := speech.StreamTranscriber(r)
	pass := func(prepared string) (float64, time.Duration) {
		var e wer.Errors
		start := time.Now()
		for i, u := range utts {
			res, err := tr.Transcribe(context.Background(), samples[i], speech.TranscribeOptions{Prompt: prepared})
			if err != nil {
				b.Fatal(err)
			}
			e.Add(wer.Compute(u.Reference, res.Text))
		}
		return e.Rate(), time.Since(start)
	}
	plain, plainTime := pass("")
	prepared, _ := pass(sheet) // builds and caches the adaptation
	unrelated, _ := pass(unrelatedText(b))
	_, preparedTime := pass(sheet)
	b.ResetTimer() // (it also drops reported metrics: report after it)
	for range b.N {
		pass(sheet)
	}
	b.ReportMetric(plain, "wer_unprepared")
	b.ReportMetric(prepared, "wer_prepared")
	b.ReportMetric(unrelated, "wer_unrelated_only")
	b.ReportMetric(plainTime.Seconds()/audioSecs, "rtf_unprepared")
	b.ReportMetric(preparedTime.Seconds()/audioSecs, "rtf_prepared")
}

// BenchmarkPreparedBuild: estimating the model and pronouncing the new
// words of a 5,600-word text (Debian's GPL-3), per 1,000 words of text;
// the model's size per 1,000 words.
func BenchmarkPreparedBuild(b *testing.B) {
	text := unrelatedText(b)
	words := len(strings.Fields(text))
	r := newPreparedRec(b)
	st, err := r.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d := st.(*stream).d
	b.ReportAllocs()
	b.ResetTimer()
	var rep speech.ContextReport
	var added int
	for i := range b.N {
		key := preparedKey(text+strings.Repeat(" ", i+1), nil) // a new text each time: no cache
		a, err := r.adapt(d, key, text, nil)
		if err != nil {
			b.Fatal(err)
		}
		rep, added = a.report, len(a.added)
	}
	b.StopTimer()
	st.Close()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(words)*1000, "ms_per_1000_words")
	b.ReportMetric(float64(rep.ModelBytes)/float64(words)*1000, "model_bytes_per_1000_words")
	b.ReportMetric(float64(added), "new_words")
}
