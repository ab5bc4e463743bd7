package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// BenchmarkLiveWER is issue 14's accuracy goal through the real server:
// the 19 shared utterances streamed into live sessions of one `izwi
// serve` with the default live engines (PocketSphinx, Silero VAD), 100 ms
// ingest messages at 4× real time (the pipeline's segmentation and
// endpointing run on the audio's clock, so pacing does not change the
// words; nothing is dropped), each followed by 2 s of silence; the
// finals read from a viewer socket. Beside it, the same files through
// the same server's file transcription (/v1/audio/transcriptions,
// PocketSphinx's file profile). Reports both corpus WERs and live − file
// in points (goal: ≤ 1).
//
//	go test ./cmd/izwi -run '^$' -bench LiveWER -benchtime 1x
func BenchmarkLiveWER(b *testing.B) {
	env := append(keysEnv(b.TempDir()), "IZWI_ASR_ENGINE=pocketsphinx", "IZWI_TRANSCRIBE_ENGINE=pocketsphinx",
		"IZWI_VAD_ENGINE=sherpa", "IZWI_VAD_MODEL=silero-vad-v5", "IZWI_MODELS_DIR="+importVAD(b, false),
		"IZWI_LIVE_QUEUE_AUDIO=5m")
	key := newKey(b, env, "--name", "bench", "--scopes", "live.write,live.read,asr.read")
	s := startServe(b, env)
	us := testdata.Utterances(b)
	var liveErr, fileErr wer.Errors
	for b.Loop() {
		liveErr, fileErr = wer.Errors{}, wer.Errors{}
		for _, u := range us {
			wav, err := os.ReadFile(u.WAV)
			if err != nil {
				b.Fatal(err)
			}
			fileErr.Add(wer.Compute(u.Reference, transcribe(b, s.url, key, wav)))
			_, samples := liveUtterance(b, u.ID)
			text, err := liveWords(b.Context(), s.url, key, append(samples, make([]float32, 2*16000)...))
			if err != nil {
				b.Fatalf("%s: %v", u.ID, err)
			}
			liveErr.Add(wer.Compute(u.Reference, text))
		}
	}
	s.stop(b)
	if strings.Contains(s.logs.String(), "drain cut short") {
		b.Fatal("a session's stop gave up recognising its queued audio: the live WER is missing words")
	}
	b.ReportMetric(100*liveErr.Rate(), "live-WER-%")
	b.ReportMetric(100*fileErr.Rate(), "file-WER-%")
	b.ReportMetric(100*(liveErr.Rate()-fileErr.Rate()), "live−file-WER-points")
	b.ReportMetric(0, "ns/op")
}

// liveWords streams samples into a new session at 4× real time, stops it
// (the server recognises what is queued before it answers) and returns
// the finals its viewer socket received, in order.
func liveWords(ctx context.Context, url, key string, samples []float32) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	bs, err := openBenchSession(ctx, url, key)
	if err != nil {
		return "", err
	}
	defer bs.close(ctx)
	pcm := audio.EncodePCM16(samples)
	start := time.Now()
	for i, off := 0, 0; off < len(pcm); i, off = i+1, off+3200 {
		time.Sleep(time.Until(start.Add(time.Duration(i) * 25 * time.Millisecond)))
		if err := bs.in.Write(ctx, websocket.MessageBinary, pcm[off:min(off+3200, len(pcm))]); err != nil {
			return "", fmt.Errorf("ingest write: %w", err)
		}
	}
	if err := bs.in.Write(ctx, websocket.MessageText, []byte(`{"type":"finalize"}`)); err != nil {
		return "", fmt.Errorf("ingest finalize: %w", err)
	}
	if err := benchAPI(ctx, "POST", url+"/v1/sessions/"+bs.id+"/stop", key, nil, nil); err != nil {
		return "", err
	}
	var words []string
	for {
		_, msg, err := bs.view.Read(ctx)
		if err != nil {
			return "", fmt.Errorf("viewer: ended before the session's stop: %w", err)
		}
		var e live.Event
		if json.Unmarshal(msg, &e) != nil {
			continue
		}
		switch {
		case e.Type == live.TypeCaption && e.Final && e.Text != "":
			words = append(words, e.Text)
		case e.Type == live.TypeState && e.State == live.Stopped:
			return strings.Join(words, " "), nil
		}
	}
}
