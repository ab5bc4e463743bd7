package main

import (
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/live"
)

// Live translation by a chat model is paid for by the session's owner:
// through a real izwi serve in front of the upstream double, the owner's
// GET /v1/usage shows at least the tokens the double reported for its
// captions, and a session whose owner has no chat tokens left shows the
// source text, in the source language, without calling the upstream.
func TestChatTranslationChargesTheOwner(t *testing.T) {
	up := chattest.New(chattest.Options{Key: chatUpstreamKey, Reply: func(r chattest.Request) string {
		return "ES " + r.Messages[len(r.Messages)-1].Content
	}})
	defer up.Close()
	env := append(liveEnv(t), "IZWI_CHAT_UPSTREAM_URL="+up.BaseURL(), "IZWI_CHAT_UPSTREAM_MODELS=test-model",
		"IZWI_CHAT_DEFAULT_API_KEY="+chatUpstreamKey, "IZWI_TRANSLATE_ENGINES=chat", "IZWI_TRANSLATE_CHAT_MODEL=test-model")
	owner := newKey(t, env, "--name", "owner", "--scopes", "live.write,live.read")
	broke := newKey(t, env, "--name", "broke", "--scopes", "live.write,live.read", "--limits", `{"chat_tokens_per_day":1}`)
	s := startServe(t, env)

	// run streams utterance id into a new session of key's, translated
	// into Spanish, and returns the display's and the phone's finals.
	run := func(key, id string) (display, phone []live.Event) {
		t.Helper()
		u, samples := liveUtterance(t, id)
		var created struct{ ID string }
		if code := liveAPI(t, s, "POST", "/v1/sessions", key, map[string]any{"start": true, "translate": []string{"es"}}, &created); code != 201 {
			t.Fatalf("create: %d", code)
		}
		t.Cleanup(func() { liveAPI(t, s, "POST", "/v1/sessions/"+created.ID+"/stop", key, nil, nil) })
		d, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+created.ID+"/captions"), nil)
		p, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+created.ID+"/captions?lang=es"), nil)
		streamPaced(t, s, key, created.ID, samples, 2)
		display = finalsOf(awaitLiveWER(t, "display", d, u.Reference))
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if phone = finalsOf(p.snapshot()); len(phone) >= len(display) || time.Now().After(deadline) {
				break
			}
		}
		if len(phone) != len(display) || len(display) == 0 {
			t.Fatalf("the phone has %d finals, the display %d", len(phone), len(display))
		}
		return display, phone
	}
	usage := func(key string) int64 {
		t.Helper()
		var us struct {
			Usage struct {
				ChatTokens int64 `json:"chat_tokens"`
			} `json:"usage"`
		}
		if code := liveAPI(t, s, "GET", "/v1/usage", key, nil, &us); code != 200 {
			t.Fatalf("GET /v1/usage: %d", code)
		}
		return us.Usage.ChatTokens
	}

	display, phone := run(owner, "1089-134691-0001")
	for i, e := range display {
		if phone[i].Text != "ES "+e.Text || phone[i].Lang != "es" {
			t.Errorf("final %d: phone %q (%s), want %q in es", i, phone[i].Text, phone[i].Lang, "ES "+e.Text)
		}
	}
	var reported int64
	reqs := up.Requests()
	for _, r := range reqs {
		reported += int64(len(strings.Fields("ES " + r.Messages[len(r.Messages)-1].Content)))
		for _, m := range r.Messages {
			reported += int64(1 + len(strings.Fields(m.Content)))
		}
	}
	if got := usage(owner); len(reqs) == 0 || got < reported {
		t.Errorf("the owner's chat tokens = %d after %d upstream calls, want at least the %d reported", got, len(reqs), reported)
	}

	// Another utterance: a caption another session already paid for is
	// served from the cache, free.
	display, phone = run(broke, "1089-134686-0000")
	for i, e := range display {
		if phone[i].Text != e.Text || phone[i].Lang != "en" {
			t.Errorf("over quota, final %d: phone %q (%s), want the source %q in en", i, phone[i].Text, phone[i].Lang, e.Text)
		}
	}
	if n := len(up.Requests()); n != len(reqs) {
		t.Errorf("an over-quota owner's captions reached the upstream (%d calls, %d before)", n, len(reqs))
	}
	if got := usage(broke); got > 1 {
		t.Errorf("the over-quota owner's chat tokens = %d, want at most its limit 1", got)
	}
}

// finalsOf is evs' non-empty final captions, in order.
func finalsOf(evs []live.Event) []live.Event {
	var out []live.Event
	for _, e := range evs {
		if e.Type == live.TypeCaption && e.Final && e.Text != "" {
			out = append(out, e)
		}
	}
	return out
}
