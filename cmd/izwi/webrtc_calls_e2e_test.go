package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/rtc/rtctest"
)

// transcribe is a WAV file's words by the server's own recognizer.
func transcribe(t testing.TB, url, key string, wav []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("model", "whisper-1")
	fw, _ := mw.CreateFormFile("file", "reply.wav")
	_, _ = fw.Write(wav)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/audio/transcriptions", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Text string }
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("transcribing the reply: %d %s", resp.StatusCode, b)
	}
	return strings.ToLower(out.Text)
}

// hearReply checks what the call's track played, once it has played it:
// as much voice as reply (24 kHz PCM16, the same words synthesized) has,
// within a fifth, and words of the chat reply as PocketSphinx hears them.
func hearReply(t *testing.T, url, key string, p *rtctest.Peer, reply []byte) {
	t.Helper()
	want := rtctest.Voiced(floats(reply), 24000)
	deadline := time.Now().Add(10 * time.Second)
	for p.Voiced() < want*8/10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the track's last queued frames
	t.Logf("the reply is %v of voice; the track carried %v", want, p.Voiced())
	if got := p.Voiced(); got < want*8/10 || got > want*12/10+200*time.Millisecond {
		t.Errorf("the track carried %v of voice; the reply is %v", got, want)
	}
	if words := transcribe(t, url, key, p.Recording(t)); !strings.Contains(words, "stripes") && !strings.Contains(words, "zebra") {
		t.Errorf("the track's audio was heard as %q, not the reply %q", words, chatReply)
	}
}

// floats is 24 kHz PCM16 as samples.
func floats(pcm []byte) []float32 {
	out := make([]float32, len(pcm)/2)
	for i := range out {
		out[i] = float32(int16(uint16(pcm[2*i])|uint16(pcm[2*i+1])<<8)) / 32768
	}
	return out
}
