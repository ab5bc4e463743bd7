package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/realtime"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/rtc/rtctest"
)

// OpenAI's Realtime API over WebRTC on a real izwi serve in front of the
// chat upstream double, in OpenAI's browser flow driven by the official
// openai-go unmodified: the server side mints an ephemeral client secret
// with the session's configuration (Realtime.ClientSecrets.New, Izwi
// key); the "browser" (a pion peer) creates the call with that secret
// alone (Realtime.Calls.New: its SDP offer in OpenAI's multipart form),
// opens the oai-events data channel (events read with openai-go's types)
// and speaks a question on its microphone track; server VAD answers
// through the upstream with the secret's instructions, the answer's
// events come on the channel and its audio on the call's Opus track, of
// the reply's length and holding its words (PocketSphinx hears them). The
// secret opens one call only, and nothing else; revoking the key that
// minted it ends the call at once. A key's plain application/sdp offer
// works too.
func TestRealtimeOverWebRTCEndToEnd(t *testing.T) {
	up := chattest.New(chattest.Options{Key: chatUpstreamKey, Reply: func(chattest.Request) string { return chatReply }})
	defer up.Close()
	env := chatEnv(t, up)
	key := newKey(t, env, "--name", "rt", "--scopes", "asr.read,chat.read,tts.read")
	s := startServe(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	question := speechPCM(t, s.url, key, chatPrompt)
	reply := speechPCM(t, s.url, key, chatReply)

	// A key's own application/sdp offer: a call whose session.update works.
	p := rtctest.Dial(t, s.url+"/v1/realtime/calls", key, "oai-events")
	if typ, raw := p.Next(ctx, t); typ != "session.created" || !strings.Contains(string(raw), `"type":"realtime"`) {
		t.Fatalf("first event %s", raw)
	}
	p.Send(t, realtime.RealtimeClientEventUnionParam{OfSessionUpdate: &realtime.SessionUpdateEventParam{
		Session: realtime.SessionUpdateEventSessionUnionParam{OfRealtime: &realtime.RealtimeSessionCreateRequestParam{Model: "test-model"}}}})
	if typ, raw := p.Next(ctx, t); typ != "session.updated" {
		t.Fatalf("after session.update: %s", raw)
	}
	_ = p.PC.Close()

	// The browser flow: a client secret minted with the session, the call
	// created with the secret alone.
	server := openaiClient(s.url, key)
	minted, err := server.Realtime.ClientSecrets.New(ctx, realtime.ClientSecretNewParams{
		ExpiresAfter: realtime.ClientSecretNewParamsExpiresAfter{Anchor: "created_at", Seconds: openai.Int(60)},
		Session: realtime.ClientSecretNewParamsSessionUnion{OfRealtime: &realtime.RealtimeSessionCreateRequestParam{
			Model: "test-model", Instructions: openai.String("Answer in one sentence."),
			Audio: realtime.RealtimeAudioConfigParam{Output: realtime.RealtimeAudioConfigOutputParam{
				Voice: realtime.RealtimeAudioConfigOutputVoiceUnionParam{OfString: openai.String("alloy")}}},
		}}})
	if err != nil || !strings.HasPrefix(minted.Value, "ek_") || minted.Session.Type != "realtime" {
		t.Fatalf("minting a client secret: %+v %v", minted, err)
	}
	if code, _ := rawPost(t, s.url+"/v1/audio/speech", minted.Value, "application/json", strings.NewReader(`{}`)); code != 401 {
		t.Errorf("a client secret on another route: %d", code)
	}
	browser := openaiClient(s.url, minted.Value)
	p = rtctest.DialWith(t, "oai-events", func(offer string) string {
		resp, err := browser.Realtime.Calls.New(ctx, realtime.CallNewParams{Sdp: offer})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 || !strings.HasPrefix(resp.Header.Get("Location"), "/v1/realtime/calls/") {
			t.Fatalf("create call: %d %s", resp.StatusCode, answer)
		}
		return string(answer)
	})
	if _, err := browser.Realtime.Calls.New(ctx, realtime.CallNewParams{Sdp: "v=0"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("the client secret opened a second call: %v", err)
	}
	if typ, raw := p.Next(ctx, t); typ != "session.created" || !strings.Contains(string(raw), `"type":"realtime"`) {
		t.Fatalf("first event %s", raw)
	}
	p.Speak(t, question, 1.5)
	var heard, said strings.Builder
	for done := false; !done; {
		typ, raw := p.Next(ctx, t)
		var ev realtime.RealtimeServerEventUnion
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "conversation.item.input_audio_transcription.completed":
			heard.WriteString(ev.AsConversationItemInputAudioTranscriptionCompletedEvent().Transcript)
		case "response.output_audio_transcript.delta":
			said.WriteString(ev.AsResponseAudioTranscriptDeltaEvent().Delta)
		case "response.output_audio.delta":
			t.Fatal("a WebRTC call's reply audio came as events, not on its track")
		case "error":
			t.Fatalf("error event: %s", raw)
		case "response.done":
			if r := ev.AsResponseDoneEvent().Response; r.Status != "completed" {
				t.Fatalf("response %s", raw)
			}
			done = true
		}
	}
	if !strings.Contains(heard.String(), "zebra") || said.String() != chatReply {
		t.Fatalf("heard %q, answered %q", heard.String(), said.String())
	}
	hearReply(t, s.url, key, p, reply)

	reqs := up.Requests()
	if msgs := reqs[len(reqs)-1].Messages; len(msgs) < 2 || msgs[0].Role != "system" || msgs[0].Content != "Answer in one sentence." {
		t.Errorf("the secret's instructions did not reach the upstream: %+v", msgs)
	}
	if r := run(t, env, "keys", "revoke", key[4:16]); r.code != exitOK {
		t.Fatalf("keys revoke: exit %d %s", r.code, r.stderr)
	}
	select {
	case <-p.Closed:
	case <-time.After(10 * time.Second):
		t.Fatal("revoking the key did not end the call")
	}
	logs := s.logs.String()
	if strings.Contains(logs, minted.Value[3:]) || strings.Contains(logs, chatReply) {
		t.Error("the client secret or the answer reached the server's logs")
	}
	if !strings.Contains(logs, `"ephemeral_id":"eks_`) {
		t.Error("the minted secret's public ID is not in the logs")
	}
}
