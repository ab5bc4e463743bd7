package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/realtime"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/rtc/rtctest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// WebRTC calls from Chromium on a real izwi serve in front of the chat
// upstream double: its fake microphone plays a shared utterance (then
// silence, so the device's loop does not talk over the answer), once in
// OpenAI's browser flow (an ephemeral client secret minted with openai-go,
// the offer POSTed to /v1/realtime/calls with it alone, events on
// oai-events) and once to /v1/converse/calls (a key, the config on the
// converse channel). Each time the answer's events arrive and the remote
// track, recorded by MediaRecorder as WebM/Opus, holds the reply: WebAudio
// measures about as much voice as the reply has, and the server's own
// recognizer finds the reply's words in the recording.
func TestBrowserWebRTCCalls(t *testing.T) {
	node := needBrowser(t)
	var utt testdata.Utterance
	for _, u := range testdata.Utterances(t) {
		if u.ID == "1089-134691-0000" { // 2.4 s
			utt = u
		}
	}
	clip, err := audio.DecodeFile(utt.WAV, audio.UploadLimits(1<<24, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	mono, err := audio.Prepare(clip, 16000)
	if err != nil {
		t.Fatal(err)
	}
	var wav bytes.Buffer
	if err := audio.EncodeWAV(&wav, append(mono, make([]float32, 12*16000)...), 16000, 1); err != nil {
		t.Fatal(err)
	}
	micFile := filepath.Join(t.TempDir(), "mic.wav")
	if err := os.WriteFile(micFile, wav.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	up := chattest.New(chattest.Options{Key: chatUpstreamKey, Reply: func(chattest.Request) string { return chatReply }})
	defer up.Close()
	env := chatEnv(t, up)
	key := newKey(t, env, "--name", "calls", "--scopes", "asr.read,chat.read,tts.read")
	s := startServe(t, env)
	want := rtctest.Voiced(floats(speechPCM(t, s.url, key, chatReply)), 24000)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	c := openaiClient(s.url, key)
	minted, err := c.Realtime.ClientSecrets.New(ctx, realtime.ClientSecretNewParams{
		Session: realtime.ClientSecretNewParamsSessionUnion{OfRealtime: &realtime.RealtimeSessionCreateRequestParam{
			Model: "test-model",
			Audio: realtime.RealtimeAudioConfigParam{Output: realtime.RealtimeAudioConfigOutputParam{
				Voice: realtime.RealtimeAudioConfigOutputVoiceUnionParam{OfString: openai.String("alloy")}}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, token, label, first string
	}{
		{"realtime", "/v1/realtime/calls", minted.Value, "oai-events", ""},
		{"converse", "/v1/converse/calls", key, "converse", `{"type":"config","model":"test-model","voice":"alloy"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := browserCall(ctx, t, node, s, "--base="+s.url, "--path="+tc.path, "--token="+tc.token, "--label="+tc.label,
				"--wav="+micFile, "--until=response.done", "--first="+tc.first)
			var got struct {
				Events   []string
				VoicedMs float64
				WebM     string
			}
			b, _ := json.Marshal(res)
			_ = json.Unmarshal(b, &got)
			voiced := time.Duration(got.VoicedMs) * time.Millisecond
			t.Logf("events %v; the track carried %v of voice, the reply has %v", got.Events, voiced, want)
			if voiced < want*7/10 || voiced > want*13/10+300*time.Millisecond {
				t.Errorf("the remote track carried %v of voice; the reply has %v", voiced, want)
			}
			webm, err := base64.StdEncoding.DecodeString(got.WebM)
			if err != nil || len(webm) < 1000 {
				t.Fatalf("recording: %d bytes, %v", len(webm), err)
			}
			// A word of the reply (PocketSphinx on Flite's voice, Opus-coded
			// twice, catches some of them), in the recording cut to its voice.
			words := transcribe(t, s.url, key, voicedWAV(t, webm))
			if !slices.ContainsFunc([]string{"zebra", "stripes", "black", "white"}, func(w string) bool { return strings.Contains(words, w) }) {
				t.Errorf("the recorded track was heard as %q, not the reply %q", words, chatReply)
			}
		})
	}
}

// voicedWAV decodes a recording (WebM/Opus, through the server's own
// sandboxed ffmpeg decoder) and returns its voiced part, with 300 ms
// either side, as a 16 kHz WAV file.
func voicedWAV(t *testing.T, webm []byte) []byte {
	t.Helper()
	clip, err := audio.DecodeContext(t.Context(), bytes.NewReader(webm), audio.UploadLimits(1<<24, time.Minute))
	if err != nil {
		t.Fatalf("decoding the recording: %v", err)
	}
	pcm, err := audio.Prepare(clip, 16000)
	if err != nil {
		t.Fatal(err)
	}
	first, last := -1, 0
	for i := 0; i+320 <= len(pcm); i += 320 {
		if rtctest.Voiced(pcm[i:i+320], 16000) > 0 {
			if first < 0 {
				first = i
			}
			last = i + 320
		}
	}
	if first < 0 {
		t.Fatal("the recording is silent")
	}
	pcm = pcm[max(first-4800, 0):min(last+4800, len(pcm))]
	var b bytes.Buffer
	if err := audio.EncodeWAV(&b, pcm, 16000, 1); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// browserCall runs web/e2e/call.mjs and returns its report.
func browserCall(ctx context.Context, t *testing.T, node string, s *server, args ...string) map[string]any {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, append([]string{"call.mjs"}, args...)...)
	cmd.Dir = e2eDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node call.mjs: %v\n%s", err, stderr.String())
	}
	var call map[string]any
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		var r map[string]any
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		switch r["name"] {
		case "call":
			if ok, _ := r["ok"].(bool); !ok {
				t.Fatalf("browser: %v\nserver log:\n%s", r["error"], s.logs)
			}
			call = r
		case "errors":
			if errs, _ := r["errors"].([]any); len(errs) > 0 {
				t.Errorf("page errors: %v", errs)
			}
		}
	}
	if call == nil {
		t.Fatalf("call.mjs reported nothing\n%s", stderr.String())
	}
	return call
}
