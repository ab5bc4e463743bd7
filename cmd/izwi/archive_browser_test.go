package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astisub"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// TestBrowserArchive: a session keeps its transcript and low-confidence
// snippets; in the console a volunteer finds it in the Archive, reads the
// captions with their times, corrects one, downloads SRT and PDF (which
// hold the words), plays a snippet's sealed audio on the Review page,
// corrects and approves snippets, and deletes the transcript
// (crypto-shred). axe-core checks the three pages with their content.
func TestBrowserArchive(t *testing.T) {
	node := needBrowser(t)
	testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
	env := append(liveEnv(t), "IZWI_DATA_DIR="+t.TempDir(), "IZWI_PRIVACY_KEEP_TRANSCRIPTS=true",
		"IZWI_PRIVACY_REVIEW_SNIPPETS=true", "IZWI_PRIVACY_SNIPPET_BELOW=0.99")
	key := newKey(t, env, "--name", "keeper", "--scopes", "live.write,live.read")
	s := startServe(t, env)
	consoleURL, token := consoleOf(t, s)

	u, samples := liveUtterance(t, "1089-134691-0001")
	ses := createLiveSession(t, s, key, map[string]any{"label": "Evening service", "start": true})
	v, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)
	streamPaced(t, s, key, ses.ID, samples, 4)
	awaitLiveWER(t, "kept session", v, u.Reference)
	var kept struct{ Captions []live.Event }
	deadline := time.Now().Add(30 * time.Second)
	for liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/transcript", key, nil, &kept); len(kept.Captions) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("nothing kept")
		}
		time.Sleep(200 * time.Millisecond)
		liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/transcript", key, nil, &kept)
	}
	liveAPI(t, s, "POST", "/v1/sessions/"+ses.ID+"/stop", key, nil, nil)

	res := runNode(t, node, 3*time.Minute, "archive.mjs", "--console="+consoleURL, "--token="+token, "--session="+ses.ID, "--out="+t.TempDir())
	ar := res["archive"]
	if ar == nil || ar["ok"] != true {
		t.Fatalf("archive flow: %v", ar)
	}
	if listed := ar["listed"].([]any); len(listed) != 1 || !strings.Contains(listed[0].(string), "Evening service") {
		t.Errorf("archive list: %v", listed)
	}
	rows := ar["rows"].([]any)
	if len(rows) != len(kept.Captions) || rows[0].(map[string]any)["time"] != "00:00:00" {
		t.Errorf("transcript rows %v, kept %d captions", rows, len(kept.Captions))
	}
	if ar["corrected"] != "Corrected by a volunteer." || ar["found"] != 1.0 {
		t.Errorf("correction: %v, find: %v", ar["corrected"], ar["found"])
	}
	ex := ar["exports"].(map[string]any)
	srt := ex["srt"].(map[string]any)
	b, err := os.ReadFile(srt["path"].(string))
	if err != nil {
		t.Fatal(err)
	}
	subs, err := astisub.ReadFromSRT(bytes.NewReader(b))
	if err != nil || srt["name"] != ses.ID+".srt" || len(subs.Items) == 0 || !strings.Contains(string(b), "Corrected by a volunteer.") {
		t.Errorf("SRT download %v: %v\n%s", srt["name"], err, b)
	}
	pdf := ex["pdf"].(map[string]any)
	if b, err = os.ReadFile(pdf["path"].(string)); err != nil {
		t.Fatal(err)
	}
	text, err := prepare.Extract("x.pdf", b)
	if err != nil || pdf["name"] != ses.ID+".pdf" || !strings.Contains(text, "Corrected by a volunteer.") || !strings.Contains(text, "Evening service") {
		t.Errorf("PDF download %v: %v\n%s", pdf["name"], err, text)
	}
	au := ar["audio"].(map[string]any)
	if au["status"] != 200.0 || au["type"] != "audio/wav" || au["cache"] != "no-store" || au["duration"].(float64) <= 0 {
		t.Errorf("snippet audio: %v", au)
	}
	if ar["snippets"].(float64) < 1 || ar["expiry"] == "" || ar["afterReview"] != ar["left"] || ar["afterDelete"] != 0.0 {
		t.Errorf("review and delete: %v", ar)
	}
	if u := ar["overlayURL"].(string); u != s.url+"/overlay/"+ses.ID+"?bg=123456&opacity=60&font=sans&position=top&size=48&lines=2&hold=5" ||
		ar["previewed"] != true {
		t.Errorf("overlay builder: %q, previewed %v", u, ar["previewed"])
	}
	var filters struct {
		Profanity bool `json:"profanity_filter"`
		Replace   []struct{ Find, Replace string }
	}
	if code := liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/filters", key, nil, &filters); code != 200 || filters.Profanity ||
		len(filters.Replace) != 1 || filters.Replace[0].Replace != "Hour Glass" {
		t.Errorf("caption settings saved from the console: %d %+v", code, filters)
	}
	var after struct{ Error struct{ Code string } }
	if code := liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/transcript", key, nil, &after); code != 404 {
		t.Errorf("the transcript after its deletion: %d %v", code, after)
	}
	for path, v := range res["axe"]["axe"].(map[string]any) {
		if vs := v.([]any); len(vs) > 0 {
			t.Errorf("axe-core: %s: %v", path, vs)
		}
	}
}

// runNode runs a web/e2e script and returns its JSON report lines by
// name, failing t for each that is not ok.
func runNode(t *testing.T, node string, timeout time.Duration, script string, args ...string) map[string]map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = e2eDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s\n%s", script, err, stdout.String(), stderr.String())
	}
	res := map[string]map[string]any{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("script output %q: %v", sc.Text(), err)
		}
		name, _ := r["name"].(string)
		res[name] = r
		if ok, _ := r["ok"].(bool); !ok {
			t.Errorf("browser: %s: %v %v", name, r["error"], r["errors"])
		}
	}
	return res
}
