package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openai/openai-go/v3"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
)

const (
	chatUpstreamKey = "sk-e2e-upstream-0123456789"
	chatPrompt      = "tell me something about zebras"
	chatReply       = "Zebras have black and white stripes."
)

// chatEnv runs serve with PocketSphinx and Flite and one chat upstream, the
// double up, configured from the environment alone (its key through the
// secret chat_default_api_key).
func chatEnv(t *testing.T, up *chattest.Server) []string {
	return append(keysEnv(t.TempDir()), "IZWI_ASR_ENGINE=pocketsphinx", "IZWI_TTS_ENGINE=flite",
		"IZWI_CHAT_UPSTREAM_URL="+up.BaseURL(), "IZWI_CHAT_UPSTREAM_MODELS=test-model",
		"IZWI_CHAT_DEFAULT_API_KEY="+chatUpstreamKey)
}

// Chat completions and a voice conversation through a real izwi serve in
// front of the upstream double: the official client, scopes, the upstream
// key (never the caller's) on what the upstream received, the model list,
// and no prompt, answer or key in the server's logs.
func TestChatEndToEnd(t *testing.T) {
	up := chattest.New(chattest.Options{Key: chatUpstreamKey, Reply: func(chattest.Request) string { return chatReply }})
	defer up.Close()
	env := chatEnv(t, up)
	chatKey := newKey(t, env, "--name", "chat", "--scopes", "chat.read,tts.read")
	asrKey := newKey(t, env, "--name", "asr", "--scopes", "asr.read")
	s := startServe(t, env)
	if code, _ := rawPost(t, s.url+"/v1/chat/completions", chatKey, "application/json", strings.NewReader(`{}`)); code == 404 {
		t.Fatal("POST /v1/chat/completions is not mounted by izwi serve (answered 404)")
	}
	ctx := context.Background()
	c := openaiClient(s.url, chatKey)
	params := openai.ChatCompletionNewParams{Model: "test-model", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(chatPrompt)}}
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content != chatReply || res.Usage.TotalTokens == 0 {
		t.Errorf("completion %q, usage %+v", res.Choices[0].Message.Content, res.Usage)
	}
	st := c.Chat.Completions.NewStreaming(ctx, params)
	var text strings.Builder
	for st.Next() {
		if ch := st.Current(); len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	if err := st.Err(); err != nil || text.String() != chatReply {
		t.Errorf("stream: %v, %q", err, text.String())
	}
	asr := openaiClient(s.url, asrKey)
	_, err = asr.Chat.Completions.New(ctx, params)
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden {
		t.Errorf("asr.read key: %v, want 403", err)
	}
	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range page.Data {
		found = found || (m.ID == "test-model" && m.OwnedBy == "default")
	}
	if !found {
		t.Errorf("/v1/models lacks the upstream's test-model: %+v", page.Data)
	}
	for _, r := range up.Requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+chatUpstreamKey {
			t.Errorf("upstream %s got Authorization %q", r.Path, got)
		}
		for k, vs := range r.Header {
			if strings.Contains(strings.Join(vs, " "), "izk_") {
				t.Errorf("an Izwi key reached the upstream in %s", k)
			}
		}
	}

	converseTurn(t, s.url, chatKey)

	logs := s.logs.String()
	for _, secret := range []string{chatPrompt, chatReply, "zebras", chatKey, chatUpstreamKey} {
		if strings.Contains(strings.ToLower(logs), strings.ToLower(secret)) {
			t.Errorf("the server log contains %q", secret)
		}
	}
}

// converseTurn speaks a question (synthesized by the same server) into
// /v1/converse and waits for the spoken answer.
func converseTurn(t *testing.T, url, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/audio/speech",
		strings.NewReader(`{"model":"tts-1","voice":"alloy","input":"`+chatPrompt+`","response_format":"pcm"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pcm, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(pcm) < 16000 {
		t.Fatalf("speech: %d, %d bytes", resp.StatusCode, len(pcm))
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/converse",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	write := func(typ websocket.MessageType, b []byte) {
		if err := conn.Write(ctx, typ, b); err != nil {
			t.Fatal(err)
		}
	}
	// /v1/audio/speech's pcm is 24 kHz (OpenAI's); say so.
	write(websocket.MessageText, []byte(`{"type":"config","sample_rate":24000,"model":"test-model"}`))
	pcm = append(pcm, make([]byte, 2*24000*2)...) // 2 s of silence ends the turn
	for off := 0; off < len(pcm); off += 4800 {
		write(websocket.MessageBinary, pcm[off:min(off+4800, len(pcm))])
	}
	audioBytes, heard := 0, ""
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("converse ended: %v", err)
		}
		if typ == websocket.MessageBinary {
			audioBytes += len(b)
			continue
		}
		var ev struct{ Type, Text, Code string }
		_ = json.Unmarshal(b, &ev)
		switch ev.Type {
		case "transcript":
			heard += " " + ev.Text
		case "error":
			t.Fatalf("converse error %s", ev.Code)
		}
		if ev.Type == "response.done" {
			if ev.Text != chatReply || audioBytes == 0 || !strings.Contains(heard, "zebra") {
				t.Errorf("converse: answer %q, %d audio bytes, heard %q", ev.Text, audioBytes, heard)
			}
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}
