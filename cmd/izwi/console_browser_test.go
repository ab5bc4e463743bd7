package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// setupTokenRE finds the one-time setup token izwi serve prints.
var setupTokenRE = regexp.MustCompile(`first-run setup: open \S+ and enter this one-time token \(valid until [^)]*\): ([0-9a-f]+)`)

// consoleOf returns the admin console's URL and the setup token from the
// server's log.
func consoleOf(t *testing.T, s *server) (url, token string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(s.logs.Bytes()))
	for sc.Scan() {
		var rec struct {
			Msg      string `json:"msg"`
			AdminURL string `json:"admin_url"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
			url = rec.AdminURL
		}
		if m := setupTokenRE.FindSubmatch(sc.Bytes()); m != nil {
			token = string(m[1])
		}
	}
	if url == "" || token == "" {
		t.Fatalf("no console URL or setup token in the log:\n%s", s.logs)
	}
	return url, token
}

// TestBrowserConsoleService: a volunteer runs a whole service from the
// console in Chromium, with no CLI, curl or API key: first-run setup, log
// in, create a session with the keyboard only, open the display at its QR
// code's URL, pair a microphone with the session's pairing QR (the fake
// capture device plays a shared utterance), see the captions on the
// display and the level and viewer on the console, stop. axe-core finds no
// serious or critical WCAG 2.2 A/AA violation on any console page or the
// display.
func TestBrowserConsoleService(t *testing.T) {
	node := needBrowser(t)
	var utt testdata.Utterance
	for _, u := range testdata.Utterances(t) {
		if u.ID == "1089-134691-0001" {
			utt = u
		}
	}
	if utt.WAV == "" {
		t.Fatal("shared utterance 1089-134691-0001 missing")
	}
	clip, err := audio.DecodeFile(utt.WAV, audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	env := append(keysEnv(t.TempDir()), "IZWI_ASR_ENGINE=pocketsphinx", "IZWI_MODELS_DIR="+importVAD(t, false),
		"IZWI_VAD_ENGINE=sherpa", "IZWI_VAD_MODEL=silero-vad-v5")
	s := startServe(t, env)
	consoleURL, token := consoleOf(t, s)

	out := t.TempDir()
	if d := os.Getenv("IZWI_SCREENSHOTS"); d != "" {
		out = d
	}
	// The service sheet: the reading among the notices, and a name no
	// dictionary holds, given as a Markdown document on the session page.
	sheet := filepath.Join(t.TempDir(), "service.md")
	if err := os.WriteFile(sheet, []byte("# Order of service\n\nWelcome and notices. The choir sings at ten.\n\n## Reading\n\n"+
		utt.Reference+"\n\nRead by **Nokuthula Dlamini**.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runNode(t, node, 4*time.Minute, "console.mjs", "--console="+consoleURL, "--api="+s.url, "--token="+token, "--wav="+utt.WAV,
		"--wav-ms="+strconv.Itoa(int(clip.Duration().Milliseconds())), "--out="+out, "--context="+sheet)
	// The console took the document and shows what PocketSphinx made of it:
	// the name's words added by rule.
	if c := res["context"]; c == nil || !strings.HasSuffix(strings.TrimSpace(fmt.Sprint(c["size"])), "bytes of prepared text.") ||
		!strings.Contains(fmt.Sprint(c["engines"]), "pocketsphinx") || !strings.Contains(fmt.Sprint(c["engines"]), "nokuthula") {
		t.Errorf("prepared text on the session page: %v", c)
	}

	if o := res["outputs"]; o == nil || o["kind"] != "obs" || o["url"] != "ws://127.0.0.1:4455" || o["credentials"] != "obs" || o["delay"] != "2" {
		t.Errorf("the console's add-an-output form, filled by its labels: %v", o)
	}
	if k := res["keyboard"]; k == nil || k["skip"] != "Skip to content" || k["mainFocused"] != true || k["focusRing"] != "solid" {
		t.Errorf("keyboard navigation: %v", k)
	}
	if k := res["keys"]; k == nil || !strings.HasPrefix(k["secret"].(string), "izk_") || !strings.HasPrefix(k["rotated"].(string), "izk_") ||
		k["secret"] == k["rotated"] || !strings.Contains(k["limits"].(string), `"rps":5`) || !strings.Contains(fmt.Sprint(k["afterRevoke"]), "revoked") {
		t.Errorf("API keys page: %v", k)
	}
	if o := res["ops"]; o == nil || !strings.Contains(o["check"].(string), "answers as this server") ||
		!strings.Contains(o["check"].(string), "loopback") || !strings.Contains(o["verdict"].(string), "The chain is intact") ||
		!strings.Contains(fmt.Sprint(o["health"]), "database") {
		t.Errorf("settings, audit and health pages: %v", o)
	}
	if sc := res["schedules"]; sc == nil || sc["schedError"] != "" || len(sc["calendar"].([]any)) < 2 ||
		!strings.HasPrefix(sc["calendar"].([]any)[0].(string), "Sun ") || !strings.Contains(sc["calendar"].([]any)[0].(string), "09:30–11:00 Sunday service") {
		t.Errorf("schedules page: %v", sc)
	}
	sv := res["service"]
	if sv == nil {
		t.Fatalf("the service did not run: %v", res)
	}
	d := sv["display"].(map[string]any)
	if d["qr"] != true || !strings.HasPrefix(d["url"].(string), s.url+"/display/ses_") {
		t.Errorf("the display link and its QR code: %v (API at %s)", d, s.url)
	}
	if pair := sv["pairURL"].(string); !strings.HasPrefix(pair, s.url+"/mic/ses_") || !strings.Contains(pair, "#pair=izt_") ||
		strings.Contains(sv["micURL"].(string), "#pair=") || sv["keyHidden"] != true {
		t.Errorf("mic pairing: the QR URL %q, the mic page then at %q (the code must leave the address bar), key field hidden %v",
			pair, sv["micURL"], sv["keyHidden"])
	}
	st := sv["status"].(map[string]any)
	if st["state"] != "live" || st["viewers"].(float64) < 1 || st["level"].(float64) <= 0 {
		t.Errorf("the console's status while streaming: %v", st)
	}
	text, _ := sv["text"].(string)
	e := wer.Compute(utt.Reference, text)
	t.Logf("display captions: WER %.3f: %q", e.Rate(), text)
	if text == "" || e.Rate() > maxMicWER {
		t.Errorf("the display shows %q: WER %.3f > %.2f against %q", text, e.Rate(), maxMicWER, utt.Reference)
	}
	if stop := res["stop"]; stop == nil || stop["state"] != "stopped" {
		t.Errorf("stop from the console: %v", stop)
	}
	// The exports: SRT cues with the words, a PDF whose text has them too.
	if ex := res["export"]; ex == nil {
		t.Error("no export")
	} else {
		srt, _ := ex["srt"].(string)
		if !strings.Contains(srt, " --> ") || !strings.Contains(srt, "hour") || !strings.HasPrefix(ex["srtType"].(string), "application/x-subrip") {
			t.Errorf("SRT export (%v): %q", ex["srtType"], srt)
		}
		out, err := exec.CommandContext(t.Context(), "pdftotext", ex["pdf"].(string), "-").Output()
		if err != nil || !strings.Contains(string(out), "hour") || ex["pdfType"] != "application/pdf" {
			t.Errorf("PDF export (%v): %v %q", ex["pdfType"], err, out)
		}
	}
	pages := res["axe"]["axe"].(map[string]any)
	for _, want := range []string{"/setup", "/login", "/", "/sessions", "/keys", "/audit", "/health", "/settings", "/schedules", "/display"} {
		if _, ok := pages[want]; !ok {
			t.Errorf("axe did not check %s (checked %v)", want, pages)
		}
	}
	for path, v := range pages {
		if vs := v.([]any); len(vs) > 0 {
			t.Errorf("axe: %s has serious violations: %v", path, vs)
		}
	}
	for _, msg := range res["errors"]["errors"].([]any) {
		t.Errorf("browser console: %v", msg)
	}
	t.Logf("screenshots in %s", out)
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exit %d", code)
	}
	if strings.Contains(s.logs.String(), token[8:]) && strings.Count(s.logs.String(), token) > 1 {
		t.Error("the setup token reached the log beyond its one console line")
	}
}
