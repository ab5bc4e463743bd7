package sherpa

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

// asrOfflineModels are the generated file-transcription models.
var asrOfflineModels = []string{asrOfflineModel, "offline-parakeet-tdt-tiny", "offline-whisper-tiny", "offline-moonshine-tiny", "offline-paraformer-tiny"}

func asrOffline(t testing.TB, opts ASROptions) *OfflineTranscriber {
	t.Helper()
	tr, err := NewOfflineTranscriber(genModel(t, asrOfflineModel), opts)
	if err != nil {
		t.Fatalf("NewOfflineTranscriber: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestASROfflineConformance(t *testing.T) {
	for _, name := range asrOfflineModels {
		t.Run(name, func(t *testing.T) {
			tr, err := NewOfflineTranscriber(genModel(t, name), DefaultASROptions())
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			samples := asrSpeech(t, 2)
			speechtest.Transcriber(t, tr, samples, nil)
			if lang := tr.model.Meta["language"]; lang != "" {
				if _, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{Language: "xx"}); !errors.Is(err, speech.ErrUnsupported) {
					t.Errorf("language xx on a %s model: %v, want ErrUnsupported", lang, err)
				}
				if out, err := tr.Transcribe(context.Background(), samples[:asrSampleRate], speech.TranscribeOptions{Language: lang + "-GB"}); err != nil || out.Language != lang {
					t.Errorf("language %s-GB: %q, %v", lang, out.Language, err)
				}
			}
			out, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ws := asrAllWords(out.Segments)
			t.Logf("%d segments, %d words: %.80q", len(out.Segments), len(ws), out.Text)
			if out.Text == "" {
				t.Fatalf("no text: the generated model should emit tokens on speech")
			}
			silent, err := tr.Transcribe(context.Background(), make([]float32, 3*asrSampleRate), speech.TranscribeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tr.model.family == "offline-whisper" {
				t.Logf("digital silence: %.60q (the tiny whisper, like real ones, may hallucinate)", silent.Text)
			} else if silent.Text != "" || len(silent.Segments) != 0 {
				t.Errorf("digital silence gave %.60q in %d segments", silent.Text, len(silent.Segments))
			}
			if tr.model.family == "offline-whisper" || tr.model.family == "offline-moonshine" || tr.model.family == "offline-paraformer" {
				// sherpa-onnx gives these no token times (whisper only with
				// an attention-output export), and Izwi does not invent them.
				if len(ws) != 0 {
					t.Errorf("%s words with times: %+v", name, ws[0])
				}
				return
			}
			if got := asrJoinWords(ws); got != out.Text {
				t.Errorf("words %.60q do not spell text %.60q", got, out.Text)
			}
		})
	}
}

// A long recording is cut into pieces, yet segments come back in order,
// inside the audio, with absolute times, and progress reaches the end.
func TestASROfflineLongFileChunks(t *testing.T) {
	opts := DefaultASROptions()
	opts.MaxChunkSeconds = 4
	tr := asrOffline(t, opts)
	samples := asrSpeech(t, 4)
	dur := asrElapsed(int64(len(samples)))
	var progress []time.Duration
	out, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{
		Progress: func(d time.Duration) { progress = append(progress, d) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Segments) < int(dur/(4*time.Second)) {
		t.Fatalf("%d segments for %v in ≤ 4 s pieces", len(out.Segments), dur)
	}
	if len(progress) < 2 || progress[len(progress)-1] != dur {
		t.Errorf("progress %v, want several calls ending at %v", progress, dur)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] <= progress[i-1] {
			t.Errorf("progress not increasing: %v", progress)
		}
	}
	speechtest.CheckResults(t, out.Segments, dur)
	t.Logf("%v in %d segments, %d words, first %+v", dur, len(out.Segments), len(asrAllWords(out.Segments)), out.Segments[0].Words[:2])
	var lastEnd time.Duration
	for i, seg := range out.Segments {
		if seg.Segment != i || !seg.Final {
			t.Errorf("segment %d: number %d final %v", i, seg.Segment, seg.Final)
		}
		if seg.Start < lastEnd-asrTokenSpan {
			t.Errorf("segment %d starts at %v before the previous ended at %v", i, seg.Start, lastEnd)
		}
		if got := asrJoinWords(seg.Words); got != seg.Text {
			t.Errorf("segment %d words %q, text %q", i, got, seg.Text)
		}
		lastEnd = seg.End
	}
	// The same audio in one piece says the same words (the cut points fall
	// in pauses, and CTC frames are independent).
	whole := asrOffline(t, DefaultASROptions())
	one, err := whole.Transcribe(context.Background(), samples, speech.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(asrAllWords(one.Segments)) == 0 {
		t.Fatalf("no words at all")
	}
	if a, b := len(asrAllWords(one.Segments)), len(asrAllWords(out.Segments)); a-b > a/10 || b-a > a/10 {
		t.Errorf("chunked transcription has %d words, whole %d", b, a)
	}
}

func asrAllWords(rs []speech.Result) []speech.Word {
	var ws []speech.Word
	for _, r := range rs {
		ws = append(ws, r.Words...)
	}
	return ws
}

func TestASROfflineCancelBetweenChunks(t *testing.T) {
	opts := DefaultASROptions()
	opts.MaxChunkSeconds = 2
	tr := asrOffline(t, opts)
	samples := asrSpeech(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := tr.Transcribe(ctx, samples, speech.TranscribeOptions{Progress: func(time.Duration) {
		calls++
		cancel()
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("%d pieces decoded after cancel, want it to stop after the first", calls)
	}
}

func TestASROfflineConcurrentAndClosed(t *testing.T) {
	tr, err := NewOfflineTranscriber(genModel(t, asrOfflineModel), DefaultASROptions())
	if err != nil {
		t.Fatal(err)
	}
	samples := asrSpeech(t, 1)
	want, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{})
			if err != nil || got.Text != want.Text {
				t.Errorf("concurrent: %q, %v; want %q", got.Text, err, want.Text)
			}
		}()
	}
	wg.Wait()
	if _, err := tr.Transcribe(context.Background(), []float32{0, float32(inf())}, speech.TranscribeOptions{}); !errors.Is(err, speech.ErrBadAudio) {
		t.Errorf("Inf sample: %v, want ErrBadAudio", err)
	}
	if _, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{Hotwords: []string{"x"}}); !errors.Is(err, speech.ErrUnsupported) {
		t.Errorf("hotwords: %v, want ErrUnsupported", err)
	}
	if _, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{Language: "fr"}); err != nil {
		t.Errorf("language fr on a model with no declared language: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{}); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	empty, err := asrOffline(t, DefaultASROptions()).Transcribe(context.Background(), nil, speech.TranscribeOptions{})
	if err != nil || len(empty.Segments) != 0 || empty.Duration != 0 {
		t.Errorf("empty input: %+v, %v", empty, err)
	}
}

func inf() float64 { var z float64; return 1 / z }
