package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// e2eDir is web/e2e, the Playwright scripts, from this package's directory.
const e2eDir = "../../web/e2e"

// needBrowser returns node's path, or reports as testenv.Missing when
// node, chromium or the scripts' node_modules are missing.
func needBrowser(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		msg := "browser tests need " + what + " (apt-get install -y chromium nodejs npm; cd web/e2e && npm ci)"
		testenv.Missing(t, "%s", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node")
	}
	chromium := os.Getenv("IZWI_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("chromium at " + chromium)
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing("web/e2e/node_modules")
	}
	return node
}

// results are the scripts' JSON lines by scenario name.
type results map[string]map[string]any

func runScript(t *testing.T, node, script string, args ...string) results {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = e2eDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s\n%s", script, err, stdout.String(), stderr.String())
	}
	out := results{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("script output %q: %v", sc.Text(), err)
		}
		name, _ := r["name"].(string)
		if ok, _ := r["ok"].(bool); !ok {
			t.Errorf("scenario %s failed: %v (errors %v, text %q)", name, r["error"], r["errors"], r["text"])
		}
		for _, e := range r["errors"].([]any) {
			// CSP violations and script errors show up here; the password
			// scenario's wrong password is a 401 by design.
			if name == "password" && strings.Contains(e.(string), "status of 401") {
				continue
			}
			t.Errorf("scenario %s: console error %v", name, e)
		}
		out[name] = r
	}
	return out
}

const xssText = `<img src=x onerror="window.__xss=1">`

// TestBrowserPages drives the four pages in Chromium against a fake live
// API (fake_test.go): rendering, partial→final, speakers, XSS as text,
// themes, font size, smart scroll, reconnect with catch-up, password and
// link sessions, the display's QR codes, the overlay, and the mic page
// streaming a shared utterance through the AudioWorklet.
func TestBrowserPages(t *testing.T) {
	node := needBrowser(t)
	wav := testdata.Utterances(t)[0].WAV
	f := newFakeLive()
	f.add("pub", "public", "", "live")
	f.push("pub", event{Type: "caption", Segment: 1, Text: "hello wor"})
	f.push("pub", event{Type: "caption", Segment: 1, Final: true, Text: "hello world"})
	f.push("pub", event{Type: "caption", Segment: 2, Final: true, Text: "my name is alice", Speaker: "Alice"})
	f.push("pub", event{Type: "caption", Segment: 3, Final: true, Text: xssText})
	f.add("pw", "password", "correct horse", "live")
	f.push("pw", event{Type: "caption", Segment: 1, Final: true, Text: "behind a password"})
	f.add("lnk", "link", "tok_secret_123", "live")
	f.push("lnk", event{Type: "caption", Segment: 1, Final: true, Text: "behind a link"})
	f.add("quiet", "public", "", "live") // live, nothing heard yet
	f.add("wrap", "public", "", "live")
	for i := range 6 {
		f.push("wrap", event{Type: "caption", Segment: i, Final: true,
			Text: "caption " + strconv.Itoa(i) + " is long enough to wrap over more than one line of the kiosk display at this size"})
	}
	f.add("styled", "public", "", "live")
	f.push("styled", event{Type: "caption", Segment: 1, Final: true, Text: "styled words"})
	f.add("long", "public", "", "live")
	for i := range 100 {
		f.push("long", event{Type: "caption", Segment: i, Final: true, Text: "line number " + strconv.Itoa(i)})
	}

	mux := http.NewServeMux()
	f.routes(mux)
	pages := Handler(Options{PublicSessions: func(context.Context) ([]PublicSession, error) {
		return []PublicSession{{ID: "pub", Label: "Morning service", State: "live"}, {ID: "quiet", State: "idle"}}, nil
	}})
	for _, p := range []string{"/live/", "/display/", "/overlay/", "/mic/", "/assets/", "/{$}"} {
		mux.Handle(p, pages)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	out := t.TempDir()
	if dir := os.Getenv("IZWI_SCREENSHOTS"); dir != "" {
		out = dir
	}
	res := runScript(t, node, "pages.mjs", "--base="+srv.URL, "--out="+out, "--wav="+wav)
	for _, name := range []string{"live", "themes", "contrast", "scroll", "reconnect", "password", "link", "display", "overlay", "mic",
		"states", "displayLines", "portrait", "overlayStyle", "index", "axe"} {
		if res[name] == nil {
			t.Fatalf("scenario %s reported nothing", name)
		}
	}

	lv := res["live"]
	text, _ := lv["text"].(string)
	wantText := "hello world\nmy name is alice\n" + xssText + "\nfinal words"
	if text != wantText {
		t.Errorf("live page shows %q, want %q", text, wantText)
	}
	if x := lv["xss"].(map[string]any); x["fired"] != false || x["imgs"] != 0.0 {
		t.Errorf("XSS caption: %v", x)
	}
	if seg9 := lv["seg9"].([]any); len(seg9) != 1 || seg9[0] != "final words" {
		t.Errorf("segment 9 after its final: %v (partial must be replaced in place)", seg9)
	}
	p := lv["partial"].(map[string]any)
	if p["color"] == p["finalColor"] || p["hidden"] != "true" {
		t.Errorf("partial line not set apart: %v", p)
	}
	lines := lv["lines"].([]any)
	if l := lines[1].(map[string]any); l["speaker"] != "Alice: " {
		t.Errorf("speaker not shown: %v", l)
	}
	eng := lv["engine"].(map[string]any)
	if eng["text"] != "Captions now from pocketsphinx (deepgram unavailable)" || eng["role"] != "status" ||
		eng["body"] != "pocketsphinx" || eng["back"] != "Captions from deepgram again" {
		t.Errorf("engine switch display: %v", eng)
	}
	if lv["state"] != "Live" || lv["live"] != "polite" {
		t.Errorf("state %q, aria-live %q", lv["state"], lv["live"])
	}

	th := res["themes"]
	auto := th["auto"].(map[string]any)
	if auto["theme"] != "auto" || auto["bg"] != "rgb(18, 18, 18)" || th["light"] != "rgb(255, 255, 255)" ||
		th["contrast"] != "rgb(0, 0, 0)" || th["contrastFg"] != "rgb(255, 255, 0)" || th["remembered"] != "contrast" {
		t.Errorf("themes: %v", th)
	}
	if s0, s1 := px(th["size0"]), px(th["size1"]); s1 != s0+8 {
		t.Errorf("font size %v → %v, want +8px from two presses", s0, s1)
	}

	sc := res["scroll"]
	if sc["followed"] != true || sc["scrolledTop"] != 0.0 || sc["jumped"] != true || sc["jumpHidden"] != true || sc["followsAgain"] != true {
		t.Errorf("smart scroll: %v", sc)
	}

	rc := res["reconnect"]
	segs := rc["segments"].([]any)
	seen := map[any]bool{}
	for _, s := range segs {
		if seen[s] {
			t.Errorf("segment %v shown twice after reconnects: %v", s, segs)
		}
		seen[s] = true
	}
	if !seen["10"] || !seen["11"] {
		t.Errorf("events after the drops missing: %v", segs)
	}
	var resumed int
	for _, a := range rc["afters"].([]any) {
		if a.(float64) >= 5 {
			resumed++
		}
	}
	if resumed < 2 {
		t.Errorf("reconnects did not resume with ?after=: %v", rc["afters"])
	}

	if rc["interrupted"] != "Interrupted — captions will resume" || rc["missing"] != "No such session" ||
		rc["stopped"] != "The session has ended" {
		t.Errorf("state banner: interrupted %q, deleted %q", rc["interrupted"], rc["missing"])
	}

	if rc["partialsBefore"] != 1.0 || rc["partialsAfter"] != 0.0 {
		t.Errorf("open partials when the session stopped: %v before, %v after (want 1, 0)", rc["partialsBefore"], rc["partialsAfter"])
	}

	for theme, rs := range res["contrast"]["ratios"].(map[string]any) {
		for what, r := range rs.(map[string]any) {
			t.Logf("contrast %s/%s %.2f:1", theme, what, r)
			if r.(float64) < 4.5 {
				t.Errorf("theme %s: %s contrast %.2f:1 < 4.5:1 (WCAG AA)", theme, what, r)
			}
		}
	}

	pw := res["password"]
	if pw["state"] != "This session needs a password" || pw["wrong"] != "The password was not accepted." ||
		pw["formHidden"] != true || pw["text"] != "behind a password" || strings.Contains(pw["stored"].(string), "correct horse") {
		t.Errorf("password session: %v", pw)
	}

	lk := res["link"]
	if strings.Contains(lk["href"].(string), "tok_secret") || strings.Contains(lk["displayHref"].(string), "tok_secret") ||
		lk["qr"].(float64) < 100 || lk["text"] != "behind a link" {
		t.Errorf("link session: %v", lk)
	}

	d := res["display"]
	if d["lines"] != 3.0 || d["fontSize"].(float64) < 48 || d["qr"] != true || d["qrURL"] != srv.URL+"/live/pub" || d["fullscreen"] != true ||
		d["wakeLock"] != "held" || d["wakeCycle"] != "1,released,held,2" {
		t.Errorf("display: %v", d)
	}

	o := res["overlay"]
	if o["lines"] != 2.0 || o["bodyBg"] != "rgba(0, 0, 0, 0)" || o["htmlBg"] != "rgba(0, 0, 0, 0)" || o["fontSize"] != "40px" || o["buttons"] != 0.0 ||
		o["wraps"] != true || o["boxLines"].(float64) > 2.05 {
		t.Errorf("overlay: %v", o)
	}

	m := res["mic"]
	st := m["stats"].(map[string]any)
	rate := int(m["rate"].(float64))
	if st["query"] != "encoding=linear16&sample_rate="+strconv.Itoa(rate)+"&channels=1" {
		t.Errorf("ingest query %q, want the context rate %d", st["query"], rate)
	}
	// A second and more of 16-bit audio at the context's rate, in 20 ms
	// frames, loud enough to be the utterance rather than silence.
	if b := st["bytes"].(float64); b < float64(rate*2) || st["frames"].(float64) < 50 || st["peak"].(float64) < 0.05 {
		t.Errorf("ingest received %v", st)
	}
	if st["finalize"] != 1.0 {
		t.Errorf("stop sent %v finalize messages, want 1", st["finalize"])
	}
	// This server does not offer WebRTC (Options.WebRTC false): the page
	// goes straight to the audio WebSocket.
	if m["transport"] != "websocket" {
		t.Errorf("mic transport %v without WebRTC, want websocket", m["transport"])
	}
	if strings.Contains(m["stored"].(string), "izk_test_key") {
		t.Errorf("the API key was stored or left in the page: %v", m["stored"])
	}
	checkViewerStates(t, res)
	t.Logf("screenshots in %s", out)
}

// checkViewerStates judges issue 15's viewer scenarios.
func checkViewerStates(t *testing.T, res results) {
	t.Helper()
	st := res["states"]
	for name, want := range map[string][3]any{
		"waiting": {"waiting", "Live — waiting for audio", 0.0}, "heard": {"live", "Live", 1.0},
		"paused": {"paused", "Paused", 0.0}, "resumed": {"waiting", "Live — waiting for audio", 0.0},
		"ended": {"stopped", "The session has ended", 0.0},
	} {
		got, _ := st[name].(map[string]any)
		if got["state"] != want[0] || got["text"] != want[1] || got["lines"] != want[2] {
			t.Errorf("state %s: %v, want %v", name, got, want)
		}
	}
	dl := res["displayLines"]
	if bl := dl["boxLines"].(float64); bl < 2.95 || bl > 3.05 || dl["rendered"].(float64) < 4 {
		t.Errorf("display lines=3 with wrapping captions: %v (want a box of 3 line-heights over more rendered lines)", dl)
	}
	if p := res["portrait"]; p["captionsWidth"].(float64) < 0.8 || p["qrBelow"] != true {
		t.Errorf("portrait display: %v", p)
	}
	os := res["overlayStyle"]
	if os["bg"] != "rgba(18, 52, 86, 0.5)" || !strings.Contains(os["font"].(string), "serif") || os["top"].(float64) > 40 || os["cleared"] != true {
		t.Errorf("overlay styles: %v", os)
	}
	ix := res["index"]
	if links := fmt.Sprint(ix["links"]); links != "[/live/pub /live/quiet]" || !strings.Contains(ix["text"].(string), "Morning service") {
		t.Errorf("index: %v", ix)
	}
	for page, v := range res["axe"]["axe"].(map[string]any) {
		if list := v.([]any); len(list) > 0 {
			t.Errorf("axe-core: %s has serious violations: %v", page, list)
		}
	}
}

func px(v any) float64 {
	s, _ := v.(string)
	n, _ := strconv.ParseFloat(strings.TrimSuffix(s, "px"), 64)
	return n
}
