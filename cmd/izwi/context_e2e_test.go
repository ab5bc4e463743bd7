package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
	"github.com/izwi-speech/izwi/internal/wer"
	"github.com/openai/openai-go/v3"
)

// gplText is real English prose none of the shared utterances says:
// Debian's GPL-3 text (base-files), the "unrelated" part of a sheet.
func gplText(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.Exists(t, "/usr/share/common-licenses/GPL-3", "Debian's base-files"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// `izwi transcribe --context notes.md` on speaker 1089's four utterances:
// the notes (their references hidden in Debian's GPL-3 text, fifteen times
// longer, written as Markdown) at least halve the corpus WER of the same
// command without them. A context file that is not what it claims exits
// 3 and names the file.
func TestTranscribeWithContext(t *testing.T) {
	var files, refs []string
	for _, u := range testdata.Utterances(t) {
		if u.Speaker == "1089" {
			files = append(files, u.WAV)
			refs = append(refs, u.Reference)
		}
	}
	gpl := gplText(t)
	half := len(gpl) / 2
	notes := "# Order of service\n\n" + string(gpl[:half]) + "\n\n## Readings\n\n* " + strings.Join(refs, "\n* ") + "\n\n" + string(gpl[half:])
	dir := t.TempDir()
	notesPath := filepath.Join(dir, "notes.md")
	if err := os.WriteFile(notesPath, []byte(notes), 0o600); err != nil {
		t.Fatal(err)
	}
	corpus := func(args ...string) float64 {
		t.Helper()
		r := run(t, nil, append(append([]string{"transcribe"}, args...), files...)...)
		if r.code != 0 {
			t.Fatalf("transcribe %v: exit %d: %s", args, r.code, r.stderr)
		}
		parts := strings.Split(r.stdout, "==> ")[1:]
		if len(parts) != len(files) {
			t.Fatalf("%d blocks for %d files:\n%s", len(parts), len(files), r.stdout)
		}
		var total wer.Errors
		for i, p := range parts {
			_, body, _ := strings.Cut(p, " <==\n")
			total.Add(wer.Compute(refs[i], body))
		}
		return total.Rate()
	}
	plain := corpus()
	prepared := corpus("--context", notesPath)
	t.Logf("corpus WER without notes %.3f, with notes %.3f", plain, prepared)
	if prepared > plain/2 {
		t.Errorf("with notes WER %.3f, want at most half of %.3f", prepared, plain)
	}
	bad := filepath.Join(dir, "notes.pdf")
	if err := os.WriteFile(bad, []byte("%PDF-1.4 not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "transcribe", "--context", bad, files[0])
	if r.code != exitInput || !strings.Contains(r.stderr, "notes.pdf") {
		t.Errorf("a broken context file: exit %d, stderr %q; want %d naming it", r.code, r.stderr, exitInput)
	}
	r = run(t, nil, "transcribe", "--context", filepath.Join(dir, "missing.txt"), files[0])
	if r.code != exitInput {
		t.Errorf("a missing context file: exit %d, want %d", r.code, exitInput)
	}
}

// The same text through the routes developers already use: OpenAI's
// transcription prompt (the official openai-go client) at least halves
// the WER of one of speaker 1089's readings; Deepgram's pre-recorded
// /v1/listen takes key terms no dictionary holds (a name) instead of
// refusing them, and the reading's rare words as key terms lower its WER.
func TestPreparedTextThroughOpenAIAndDeepgramRoutes(t *testing.T) {
	gpl := gplText(t)
	env := openaiEnv(t)
	key := newKey(t, env, "--name", "asr", "--scopes", "asr.read")
	s := startServe(t, env)
	u, _ := liveUtterance(t, "1089-134686-0000")
	wav, err := os.ReadFile(u.WAV)
	if err != nil {
		t.Fatal(err)
	}
	sheet := string(gpl[:len(gpl)/2]) + "\n" + u.Reference + "\n" + string(gpl[len(gpl)/2:])
	client := openaiClient(s.url, key)
	transcribe := func(prompt string) float64 {
		t.Helper()
		params := openai.AudioTranscriptionNewParams{File: openai.File(bytes.NewReader(wav), "reading.wav", "audio/wav"), Model: "whisper-1"}
		if prompt != "" {
			params.Prompt = openai.String(prompt)
		}
		res, err := client.Audio.Transcriptions.New(t.Context(), params)
		if err != nil {
			t.Fatal(err)
		}
		return wer.Compute(u.Reference, res.Text).Rate()
	}
	plain, prompted := transcribe(""), transcribe(sheet)
	t.Logf("OpenAI route: WER %.3f without a prompt, %.3f with the service sheet as the prompt", plain, prompted)
	if prompted > plain/2 {
		t.Errorf("the prompt took WER from %.3f to %.3f, want at most half", plain, prompted)
	}
	// /readyz sums up the adaptation the prompt became, without its words.
	_, ready, idx := readyz(t, s)
	if i, ok := idx["transcribe"]; !ok || len(ready.Roles[i].Prepared) != 1 || ready.Roles[i].Prepared[0].Cached != 1 ||
		ready.Roles[i].Prepared[0].Builds != 1 || ready.Roles[i].Prepared[0].Bytes == 0 {
		t.Errorf("/readyz does not report the prompt's adaptation: %+v", ready.Roles)
	}

	listen := func(query string) (int, float64) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/listen?"+query, bytes.NewReader(wav))
		req.Header.Set("Authorization", "Token "+key)
		req.Header.Set("Content-Type", "audio/wav")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Results struct {
				Channels []struct {
					Alternatives []struct{ Transcript string }
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
			return resp.StatusCode, 1
		}
		return 200, wer.Compute(u.Reference, body.Results.Channels[0].Alternatives[0].Transcript).Rate()
	}
	_, dgPlain := listen("")
	code, dgTerms := listen("keyterm=turnips&keyterm=mutton&keyterm=ladled&keyterm=fattened&keyterm=Nokuthula")
	t.Logf("Deepgram route: WER %.3f without key terms, %.3f with the reading's rare words", dgPlain, dgTerms)
	if code != 200 || dgTerms >= dgPlain {
		t.Errorf("key terms (one a name no dictionary holds): %d, WER %.3f; without %.3f", code, dgTerms, dgPlain)
	}
}
