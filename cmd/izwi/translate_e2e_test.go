package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/outputs"
	"github.com/izwi-speech/izwi/internal/outputs/outputstest"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// The done-when: one live session shows English on a display and
// Spanish on a phone at the same time (Apertium, from Debian), and pushes
// its captions to a YouTube caption-ingestion double (English) and an
// obs-websocket double (Spanish, with the v5 password handshake).
func TestTranslationAndOutputsEndToEnd(t *testing.T) {
	testenv.Exists(t, "/usr/share/apertium/modes/eng-spa.mode", "apt-get install apertium apertium-eng-spa")
	yt := outputstest.NewYouTube("yt-stream-key-e2e")
	defer yt.Close()
	obs := outputstest.NewOBS("obs-password-e2e")
	defer obs.Close()
	creds := t.TempDir()
	for name, v := range map[string]string{"youtube": yt.IngestionURL(), "obs": "obs-password-e2e"} {
		if err := os.WriteFile(filepath.Join(creds, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := append(liveEnv(t), "IZWI_OUTPUTS_CREDENTIALS_DIR="+creds, "IZWI_OUTPUTS_ALLOW_HOSTS=127.0.0.1")
	key := newKey(t, env, "--name", "translate", "--scopes", "live.write,live.read")
	s := startServe(t, env)

	var refusal struct {
		Error struct{ Code string } `json:"error"`
	}
	if code := liveAPI(t, s, "POST", "/v1/sessions", key, map[string]any{"translate": []string{"tlh"}}, &refusal); code != 400 || refusal.Error.Code != "unsupported_language" {
		t.Fatalf("translate into an unserved language: %d %+v", code, refusal)
	}
	var created struct {
		ID        string   `json:"id"`
		Translate []string `json:"translate"`
	}
	if code := liveAPI(t, s, "POST", "/v1/sessions", key, map[string]any{"label": "service", "start": true, "translate": []string{"ES"}}, &created); code != 201 || !slices.Equal(created.Translate, []string{"es"}) {
		t.Fatalf("create: %d %+v", code, created)
	}
	id := created.ID
	t.Cleanup(func() { liveAPI(t, s, "POST", "/v1/sessions/"+id+"/stop", key, nil, nil) })
	if code := liveAPI(t, s, "GET", "/v1/sessions/"+id+"/captions?lang=fr", "", nil, &refusal); code != 400 || refusal.Error.Code != "unsupported_language" {
		t.Fatalf("a language the session does not offer: %d %+v", code, refusal)
	}
	var view struct {
		Translate []string `json:"translate"`
	}
	if liveAPI(t, s, "GET", "/v1/sessions/"+id+"/view", "", nil, &view); !slices.Equal(view.Translate, []string{"es"}) {
		t.Fatalf("view: %+v", view)
	}
	for _, spec := range []outputs.Spec{{Kind: "youtube", Credentials: "youtube", Delay: 0.2},
		{Kind: "obs", URL: obs.WSURL(), Credentials: "obs", Lang: "es"}} {
		var info outputs.Info
		if code := liveAPI(t, s, "POST", "/v1/sessions/"+id+"/outputs", key, spec, &info); code != 201 || info.ID == "" {
			t.Fatalf("add %s output: %d", spec.Kind, code)
		}
	}

	display, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+id+"/captions"), nil)
	phone, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+id+"/captions?lang=es"), nil)
	u, samples := liveUtterance(t, "1089-134691-0001")
	streamPaced(t, s, key, id, samples, 2)
	english := awaitLiveWER(t, "display", display, u.Reference)

	finals := func(evs []live.Event) map[uint64]live.Event {
		out := map[uint64]live.Event{}
		for _, e := range evs {
			if e.Type == live.TypeCaption && e.Final && e.Text != "" {
				out[e.Seq] = e
			}
		}
		return out
	}
	en := finals(english)
	var es map[uint64]live.Event
	deadline := time.Now().Add(60 * time.Second)
	for {
		es = finals(phone.snapshot())
		if len(es) == len(en) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(es) != len(en) {
		t.Fatalf("the phone has %d finals, the display %d", len(es), len(en))
	}
	for seq, e := range en {
		p := es[seq]
		if e.Lang != "" || p.Lang != "es" || p.Segment != e.Segment || p.Start != e.Start || p.End != e.End || p.Text == e.Text {
			t.Errorf("seq %d: display %q (%s), phone %q (%s): want the same caption in Spanish", seq, e.Text, e.Lang, p.Text, p.Lang)
		}
	}
	for _, p := range phone.snapshot() {
		if p.Type == live.TypeCaption && !p.Final {
			t.Errorf("a partial on the translated feed (translate.partials is off): %+v", p)
		}
	}
	t.Logf("display: %q; phone: %q", liveFinals(english), liveFinals(phone.snapshot()))

	// The outputs: YouTube got the English finals, OBS the Spanish ones,
	// and the API shows both healthy.
	waitOutputs := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitOutputs("YouTube captions", func() bool { return len(yt.Captions()) == len(en) })
	waitOutputs("OBS captions", func() bool { return len(obs.Captions()) == len(es) })
	var ytText, obsText []string
	for _, c := range yt.Captions() {
		ytText = append(ytText, c.Text)
	}
	if strings.Join(ytText, " ") != liveFinals(english) || len(yt.Problems()) > 0 {
		t.Errorf("YouTube got %q (problems %v), want %q", ytText, yt.Problems(), liveFinals(english))
	}
	obsText = obs.Captions()
	if strings.Join(obsText, " ") != liveFinals(phone.snapshot()) {
		t.Errorf("OBS got %q, want the Spanish %q", obsText, liveFinals(phone.snapshot()))
	}
	var list struct {
		Outputs []outputs.Info `json:"outputs"`
	}
	if code := liveAPI(t, s, "GET", "/v1/sessions/"+id+"/outputs", key, nil, &list); code != http.StatusOK || len(list.Outputs) != 2 {
		t.Fatalf("list outputs: %d %+v", code, list)
	}
	for _, o := range list.Outputs {
		if o.Health.LastSuccess == nil || o.Health.Sent == 0 {
			t.Errorf("%s output health %+v", o.Kind, o.Health)
		}
	}
	// Nothing of the words or the credentials reaches the log.
	logs := s.logs.String()
	for _, secret := range append([]string{"yt-stream-key-e2e", "obs-password-e2e"}, append(ytText, obsText...)...) {
		if len(secret) > 12 && strings.Contains(logs, secret) {
			t.Errorf("the server log contains %q", secret)
		}
	}
}
