package listen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/testenv"
)

func post(t testing.TB, url, ct string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// A WAV file comes back as Deepgram's pre-recorded JSON: the right words
// with times, utterances when asked, and metadata describing the bytes.
func TestFileTranscribesWAV(t *testing.T) {
	e := loadEngines(t)
	base := serve(t, NewFileHandler(e.options()))
	u, samples, wav := utterance(t, shortID)
	status, b := post(t, base+"/v1/listen?utterances=true&smart_format=true&redact=pci&model=nova-3&extra=team:captions&extra=room:a:1", "audio/wav", wav)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	var resp FileResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results.Channels) != 1 || len(resp.Results.Channels[0].Alternatives) != 1 {
		t.Fatalf("channels %s", b)
	}
	alt := resp.Results.Channels[0].Alternatives[0]
	checkWER(t, u.Reference, alt.Transcript, 0.1)
	if !strings.HasSuffix(alt.Transcript, ".") || len(alt.Words) == 0 || alt.Confidence <= 0 || alt.Confidence > 1 {
		t.Errorf("alternative %+v", alt)
	}
	last := alt.Words[len(alt.Words)-1]
	if last.End > float64(len(samples))/16000+0.05 || !strings.HasSuffix(last.PunctuatedWord, ".") || last.Word == last.PunctuatedWord {
		t.Errorf("last word %+v", last)
	}
	if len(resp.Results.Utterances) == 0 || resp.Results.Utterances[0].Transcript == "" {
		t.Errorf("utterances=true gave %+v", resp.Results.Utterances)
	}
	sum := sha256.Sum256(wav)
	md := resp.Metadata
	if md.SHA256 != hex.EncodeToString(sum[:]) || md.Channels != 1 || len(md.Models) != 1 || md.ModelInfo[md.Models[0]].Arch != "pocketsphinx" ||
		md.Duration < 3.2 || md.Duration > 3.3 || md.RequestID == "" || md.Created == "" {
		t.Errorf("metadata %+v", md)
	}
	if len(md.Warnings) != 1 || md.Warnings[0].Parameter != "model" || !strings.Contains(md.Warnings[0].Message, "nova-3") {
		t.Errorf("warnings %+v, want the model nova-3 named as not applied (redact is honoured)", md.Warnings)
	}
	if md.Extra["team"] != "captions" || md.Extra["room"] != "a:1" {
		t.Errorf("extra %v, want the request's pairs echoed", md.Extra)
	}

	// The same audio as raw linear16 named in the query.
	status, b = post(t, base+"/v1/listen?encoding=linear16&sample_rate=16000", "application/octet-stream", audio.EncodePCM16(samples))
	var raw FileResponse
	_ = json.Unmarshal(b, &raw)
	if status != 200 || len(raw.Results.Channels) != 1 || raw.Results.Utterances != nil {
		t.Fatalf("raw: %d %s", status, b)
	}
	checkWER(t, u.Reference, raw.Results.Channels[0].Alternatives[0].Transcript, 0.1)
}

func TestFileRefusals(t *testing.T) {
	e := loadEngines(t)
	opts := e.options()
	opts.MaxFileBytes = 1 << 20
	base := serve(t, NewFileHandler(opts))
	_, mono, wav := utterance(t, shortID)
	stereo := make([]float32, 0, 2*len(mono))
	for _, s := range mono[:16000] {
		stereo = append(stereo, s, -s)
	}
	var wav2 bytes.Buffer
	if err := audio.EncodeWAV(&wav2, stereo, 16000, 2); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query, ct string
		body            []byte
		status          int
		code, says      string
	}{
		{"url fetch", "", "application/json", []byte(`{"url":"http://169.254.169.254/latest"}`), 400, "bad_request", "not fetched"},
		{"claimed flac", "", "audio/flac", wav, 415, "unsupported_media_type", "Content-Type"},
		{"not audio", "", "audio/wav", []byte("hello, this is not audio at all"), 415, "unsupported_media_type", "WAV, FLAC, MP3"},
		{"truncated wav", "", "", wav[:40], 400, "bad_request", "malformed"},
		{"too large", "", "", make([]byte, 1<<20+1), 413, "payload_too_large", "exceeds"},
		{"bad rate", "encoding=linear16&sample_rate=1", "", wav, 400, "bad_request", "sample_rate"},
		{"empty raw", "encoding=linear16&sample_rate=16000", "", nil, 400, "bad_request", "no samples"},
		{"bad param", "utterances=perhaps", "", wav, 400, "bad_request", "utterances"},
		{"unspellable keyterm", "keyterm=caf%C3%A9", "audio/wav", wav, 400, "bad_request", "keyterm"},
		{"multichannel stereo", "multichannel=true", "audio/wav", wav2.Bytes(), 400, "unsupported_option", "multichannel"},
		{"diarize", "diarize=true", "audio/wav", wav, 400, "unsupported_option", "diarize"},
		{"detect_language", "detect_language=true", "audio/wav", wav, 400, "unsupported_option", "detect_language"},
		{"language not heard", "language=de", "audio/wav", wav, 400, "unsupported_language", "language"},
	} {
		status, b := post(t, base+"/v1/listen?"+tc.query, tc.ct, tc.body)
		var body apierr.DeepgramBody
		_ = json.Unmarshal(b, &body)
		if status != tc.status || string(body.Error.Code) != tc.code || !strings.Contains(body.ErrMsg, tc.says) {
			t.Errorf("%s: %d %s, want %d %s mentioning %q", tc.name, status, b, tc.status, tc.code, tc.says)
		}
	}
	if status, _ := post(t, serve(t, NewFileHandler(Options{}))+"/v1/listen", "audio/wav", wav); status != 503 {
		t.Errorf("no transcriber: %d, want 503", status)
	}
}

// FuzzFileDecode: any body under any format query decodes to audio or is
// refused with a catalogued 4xx code and a message; never a panic.
func FuzzFileDecode(f *testing.F) {
	h := &fileHandler{opts: Options{MaxFileBytes: 1 << 20}.withDefaults()}
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"), "", "audio/wav")
	f.Add([]byte("fLaC\x00\x00\x00\x22"), "", "audio/flac")
	f.Add([]byte{1, 2, 3, 4, 5}, "encoding=linear16&sample_rate=16000", "")
	f.Add([]byte{0xff, 0x7f, 0x00}, "encoding=mulaw&sample_rate=8000&channels=2", "application/octet-stream")
	f.Add([]byte("RIFF"), "encoding=float32&sample_rate=48000", "audio/x-wav")
	f.Fuzz(func(t *testing.T, body []byte, query, ct string) {
		r, err := http.NewRequest("POST", "/v1/listen?"+query, nil)
		if err != nil {
			return
		}
		clip, code, msg := h.decode(r, bytes.NewReader(body), ct, audio.UploadLimits(h.opts.MaxFileBytes, h.opts.MaxFileAudio))
		if code == "" {
			if clip.SampleRate <= 0 || clip.Channels <= 0 || len(clip.Samples) == 0 {
				t.Fatalf("accepted an empty clip %+v", clip)
			}
			return
		}
		if msg == "" || (code != "bad_request" && code != "unsupported_media_type" && code != "payload_too_large") {
			t.Fatalf("refusal %q %q", code, msg)
		}
	})
}

// An MP3 upload (encoded from a shared utterance by sox at test time; no
// MP3 is committed) is decoded by content and transcribed.
func TestFileTranscribesMP3(t *testing.T) {
	sox, err := exec.LookPath("sox")
	out, _ := exec.Command("sox", "-h").CombinedOutput()
	_, formats, _ := strings.Cut(string(out), "AUDIO FILE FORMATS:")
	formats, _, _ = strings.Cut(formats, "\n")
	if err != nil || !slices.Contains(strings.Fields(formats), "mp3") {
		testenv.Missing(t, "sox cannot write MP3 (apt-get install sox libsox-fmt-mp3)")
	}
	e := loadEngines(t)
	base := serve(t, NewFileHandler(e.options()))
	u, _, _ := utterance(t, shortID)
	mp3 := filepath.Join(t.TempDir(), "u.mp3")
	if out, err := exec.Command(sox, u.WAV, "-C", "64", mp3).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	body, err := os.ReadFile(mp3)
	if err != nil {
		t.Fatal(err)
	}
	status, b := post(t, base+"/v1/listen", "audio/mpeg", body)
	var resp FileResponse
	_ = json.Unmarshal(b, &resp)
	if status != 200 || len(resp.Results.Channels) != 1 {
		t.Fatalf("status %d: %s", status, b)
	}
	checkWER(t, u.Reference, resp.Results.Channels[0].Alternatives[0].Transcript, 0.25)
}
