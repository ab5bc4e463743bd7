package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/rtc/rtctest"
)

// /v1/converse over WebRTC on a real izwi serve in front of the chat
// upstream double: a pion peer POSTs its offer to /v1/converse/calls,
// configures the conversation on the "converse" data channel and speaks a
// question on its microphone track; the transcript and the answer's
// events come on the channel and the answer plays on the call's Opus
// track (its length, its words as PocketSphinx hears them). Speaking over
// a long second answer is a barge-in: the event comes and the track falls
// silent.
func TestConverseOverWebRTCEndToEnd(t *testing.T) {
	long := strings.Repeat("Zebras live in herds on the grassy plains of Africa. ", 6)
	up := chattest.New(chattest.Options{Key: chatUpstreamKey, Reply: func(r chattest.Request) string {
		if len(r.Messages) > 2 {
			return long
		}
		return chatReply
	}})
	defer up.Close()
	env := chatEnv(t, up)
	key := newKey(t, env, "--name", "cv", "--scopes", "asr.read,chat.read,tts.read")
	s := startServe(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	question := speechPCM(t, s.url, key, chatPrompt)
	reply := speechPCM(t, s.url, key, chatReply)

	p := rtctest.Dial(t, s.url+"/v1/converse/calls", key, "converse")
	p.Send(t, map[string]any{"type": "config", "model": "test-model", "voice": "alloy"})
	if typ, raw := p.Next(ctx, t); typ != "ready" {
		t.Fatalf("after the config: %s", raw)
	}
	p.Speak(t, question, 1.5)
	var heard, text string
	for text == "" {
		typ, raw := p.Next(ctx, t)
		var e struct {
			Text  string
			Final *bool
		}
		_ = json.Unmarshal(raw, &e)
		switch typ {
		case "transcript":
			if e.Final != nil && *e.Final {
				heard += e.Text
			}
		case "error":
			t.Fatalf("error event: %s", raw)
		case "response.done":
			text = e.Text
		}
	}
	if !strings.Contains(heard, "zebra") || text != chatReply {
		t.Fatalf("heard %q, answered %q", heard, text)
	}
	hearReply(t, s.url, key, p, reply)

	// The second answer is long; speaking over it stops it.
	p.Speak(t, question, 1.5)
	p.Await(ctx, t, "audio.start")
	before := p.Voiced()
	p.Speak(t, question, 0)
	p.Await(ctx, t, "barge_in")
	time.Sleep(300 * time.Millisecond) // what was queued (≤ 100 ms) plays out
	stopped := p.Voiced()
	time.Sleep(time.Second)
	if after := p.Voiced(); after > stopped+100*time.Millisecond {
		t.Errorf("after the barge-in the track went on: %v of voice, then %v a second later", stopped, after)
	}
	full := rtctest.Voiced(floats(speechPCM(t, s.url, key, long)), 24000)
	t.Logf("the long answer is %v of voice; %v played before the barge-in stopped it", full, stopped-before)
	if stopped-before >= full {
		t.Errorf("the whole long answer played (%v) despite the barge-in", stopped-before)
	}
}
