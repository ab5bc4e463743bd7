package openai

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/audio/audiotest"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testenv"
	"github.com/izwi-speech/izwi/internal/transcript"
	"github.com/izwi-speech/izwi/internal/wer"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "izwi/internal/openai", "net/http.(*conn).serve", "net/http.(*persistConn)")
}

// The utterance the transcription tests use: 4.4 s, which PocketSphinx
// gets word for word (WER 0 measured; speaker 1089's 5.4 s 1089-134691-0001
// measured 0.059). Short, because every format is a full transcription.
const testID = "3752-4944-0001"

// maxWER is the bound on PocketSphinx's output through the API; the exact
// check is equality with the engine used directly.
const maxWER = 0.2

func quotaErr() error {
	return &limit.Error{Code: limit.CodeQuotaExceeded, Limit: "audio_minutes_per_day", RetryAfter: time.Hour}
}

// direct is what the Transcriber says about path used without the API.
func direct(t *testing.T, tr speech.Transcriber, path string) speech.Transcript {
	t.Helper()
	c, err := audio.DecodeFile(path, audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := audio.Prepare(c, tr.SampleRate())
	if err != nil {
		t.Fatal(err)
	}
	out, err := tr.Transcribe(context.Background(), s, speech.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func params(t *testing.T, path, model string) openai.AudioTranscriptionNewParams {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return openai.AudioTranscriptionNewParams{File: openai.File(bytes.NewReader(b), filepath.Base(path), "application/octet-stream"), Model: model}
}

var cueTime = regexp.MustCompile(`^(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)$`)

func cueSeconds(m []string, i int) float64 {
	h, _ := strconv.Atoi(m[i])
	mi, _ := strconv.Atoi(m[i+1])
	s, _ := strconv.Atoi(m[i+2])
	ms, _ := strconv.Atoi(m[i+3])
	return float64(h*3600+mi*60+s) + float64(ms)/1000
}

// parseCues reads SRT or WebVTT cues: their text joined, checking that
// every timing line parses and that cues do not go back in time.
func parseCues(t *testing.T, doc string) string {
	t.Helper()
	var words []string
	last, cues := -1.0, 0
	for _, line := range strings.Split(strings.ReplaceAll(doc, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if m := cueTime.FindStringSubmatch(line); m != nil {
			start, end := cueSeconds(m, 1), cueSeconds(m, 5)
			if start < last || end < start {
				t.Fatalf("cue %q goes back in time (previous end %.3f)", line, last)
			}
			last, cues = end, cues+1
			continue
		}
		if line == "" || line == "WEBVTT" || regexp.MustCompile(`^\d+$`).MatchString(line) {
			continue
		}
		words = append(words, line)
	}
	if cues == 0 {
		t.Fatalf("no cues in %q", doc)
	}
	return strings.Join(words, " ")
}

// Every response format through the official client: the text equals
// what the engine says used directly, and matches the reference.
func TestTranscriptionFormats(t *testing.T) {
	e := loadEngines(t)
	u := utterance(t, testID)
	want := transcript.Text(direct(t, e.tr, u.WAV))
	werBelow(t, u.Reference, want, maxWER)
	_, c := newServer(t, newHandlers(t, Options{}))
	ctx := context.Background()

	t.Run("json", func(t *testing.T) {
		res, err := c.Audio.Transcriptions.New(ctx, params(t, u.WAV, "whisper-1"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Text != want {
			t.Fatalf("text %q, engine says %q", res.Text, want)
		}
		if res.Usage.Type != "duration" || res.Usage.Seconds < 1 {
			t.Errorf("usage %+v", res.Usage)
		}
	})
	for _, f := range []string{"text", "srt", "vtt"} {
		t.Run(f, func(t *testing.T) {
			p := params(t, u.WAV, "gpt-4o-transcribe")
			p.ResponseFormat = openai.AudioResponseFormat(f)
			var out string
			if err := c.Post(ctx, "audio/transcriptions", p, &out); err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(out)
			if f != "text" {
				if f == "vtt" && !strings.HasPrefix(out, "WEBVTT") {
					t.Fatalf("vtt without its header: %q", out)
				}
				got = parseCues(t, out)
			}
			if strings.Join(strings.Fields(got), " ") != want {
				t.Fatalf("%s text %q, engine says %q", f, got, want)
			}
		})
	}
	t.Run("verbose_json", func(t *testing.T) {
		p := params(t, u.WAV, "pocketsphinx/pocketsphinx-en-us")
		p.ResponseFormat = openai.AudioResponseFormatVerboseJSON
		p.TimestampGranularities = []string{"word", "segment"}
		res, err := c.Audio.Transcriptions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if res.Text != want || res.Duration < 1 || len(res.Segments) == 0 || len(res.Words) == 0 {
			t.Fatalf("verbose %q, %.2f s, %d segments, %d words", res.Text, res.Duration, len(res.Segments), len(res.Words))
		}
		var segText, wordText []string
		last := 0.0
		for i, s := range res.Segments {
			if s.ID != int64(i) || s.Start < last || s.End < s.Start || s.End > res.Duration+0.01 {
				t.Fatalf("segment %d %+v after %.3f (duration %.3f)", i, s, last, res.Duration)
			}
			last = s.End
			segText = append(segText, s.Text)
		}
		last = 0
		for i, w := range res.Words {
			if w.Start < last || w.End < w.Start || w.End > res.Duration+0.01 || w.Word == "" {
				t.Fatalf("word %d %+v after %.3f", i, w, last)
			}
			last = w.End
			wordText = append(wordText, w.Word)
		}
		if strings.Join(segText, " ") != want {
			t.Errorf("segments say %q, text %q", strings.Join(segText, " "), want)
		}
		werBelow(t, want, strings.Join(wordText, " "), 0.05)
	})
}

// FLAC and MP3 uploads decode to the same speech.
func TestTranscriptionInputs(t *testing.T) {
	e := loadEngines(t)
	u := utterance(t, testID)
	want := transcript.Text(direct(t, e.tr, u.WAV))
	_, c := newServer(t, newHandlers(t, Options{}))
	ctx := context.Background()
	if u.FLAC != "" {
		res, err := c.Audio.Transcriptions.New(ctx, params(t, u.FLAC, "whisper-1"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Text != want {
			t.Errorf("flac: %q, wav gave %q", res.Text, want)
		}
	}
	sox := testenv.LookPath(t, "sox", "apt-get install sox")
	if out, _ := exec.Command(sox, "-h").CombinedOutput(); !regexp.MustCompile(`AUDIO FILE FORMATS:.* mp3 `).Match(out) {
		testenv.Missing(t, "sox cannot write MP3 (apt-get install libsox-fmt-mp3)")
	}
	mp3 := filepath.Join(t.TempDir(), "u.mp3")
	if out, err := exec.Command(sox, u.WAV, "-C", "64", mp3).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	res, err := c.Audio.Transcriptions.New(ctx, params(t, mp3, "whisper-1"))
	if err != nil {
		t.Fatal(err)
	}
	// Lossy: the words may differ a little from the WAV's.
	werBelow(t, want, res.Text, 0.25)
	werBelow(t, u.Reference, res.Text, maxWER)
}

// stream=true: deltas arrive, join to the final text, and that text is
// the engine's.
func TestTranscriptionStream(t *testing.T) {
	e := loadEngines(t)
	u := utterance(t, testID)
	want := transcript.Text(direct(t, e.tr, u.WAV))
	_, c := newServer(t, newHandlers(t, Options{}))
	st := c.Audio.Transcriptions.NewStreaming(context.Background(), params(t, u.WAV, "whisper-1"))
	defer st.Close()
	var deltas []string
	done := ""
	for st.Next() {
		ev := st.Current()
		switch ev.Type {
		case "transcript.text.delta":
			if done != "" {
				t.Fatal("delta after done")
			}
			deltas = append(deltas, ev.Delta)
		case "transcript.text.done":
			done = ev.Text
		default:
			t.Fatalf("unexpected event %q", ev.Type)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if len(deltas) == 0 || strings.Join(deltas, "") != done {
		t.Fatalf("deltas %q do not join to %q", deltas, done)
	}
	if done != want {
		t.Errorf("streamed %q, engine says %q", done, want)
	}
	werBelow(t, u.Reference, done, maxWER)
	t.Logf("%d deltas", len(deltas))
}

// Every container a phone or browser records, made from a shared WAV,
// uploaded through the official client with the type a browser claims,
// transcribes with its WAV's WER, within one word per utterance: Opus and
// AAC are lossy, and PocketSphinx hears one more word of 1089-134691-0001
// wrong through 32 kbit/s Opus than through its WAV (measured).
func TestPhoneUploads(t *testing.T) {
	_, c := newServer(t, newHandlers(t, Options{}))
	for _, id := range []string{testID, "1089-134691-0001"} {
		u := utterance(t, id)
		ref, err := c.Audio.Transcriptions.New(t.Context(), params(t, u.WAV, "whisper-1"))
		if err != nil {
			t.Fatal(err)
		}
		base := wer.Compute(u.Reference, ref.Text).Rate()
		for _, pc := range audiotest.PhoneContainers {
			b := audiotest.Encode(t, u.WAV, pc)
			res, err := c.Audio.Transcriptions.New(t.Context(), openai.AudioTranscriptionNewParams{
				File: openai.File(bytes.NewReader(b), pc.Filename, pc.ContentType), Model: "gpt-4o-mini-transcribe"})
			if err != nil {
				t.Fatalf("%s %s: %v", id, pc.Name, err)
			}
			got := wer.Compute(u.Reference, res.Text).Rate()
			t.Logf("%s %s: WER %.3f, WAV %.3f", id, pc.Name, got, base)
			if tolerance := 1 / float64(len(strings.Fields(u.Reference))); got > base+tolerance+1e-9 {
				t.Errorf("%s %s: WER %.3f, its WAV %.3f: %q", id, pc.Name, got, base, res.Text)
			}
		}
	}
}
