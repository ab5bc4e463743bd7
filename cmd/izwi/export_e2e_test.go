package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astisub"

	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// getRaw fetches path with key and returns the status, headers and body.
func getRaw(t *testing.T, s *server, path, key string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// checkExports reads a kept transcript in every export format and checks
// each holds the words the viewers saw (finals): SRT and WebVTT parsed
// back by astisub, DOCX and PDF read by internal/prepare (PDF through
// pdftotext); an unknown format is 400 bad_request.
// stamp is a final's time in the docx and pdf exports.
var stamp = regexp.MustCompile(`\[\d\d:\d\d:\d\d\]`)

func checkExports(t *testing.T, s *server, key, id, finals string) {
	t.Helper()
	testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
	words := strings.Join(strings.Fields(finals), " ")
	for _, f := range []struct{ name, ctype string }{
		{"txt", "text/plain; charset=utf-8"}, {"srt", "application/x-subrip; charset=utf-8"}, {"vtt", "text/vtt; charset=utf-8"},
		{"json", "application/json; charset=utf-8"}, {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"pdf", "application/pdf"},
	} {
		code, h, body := getRaw(t, s, "/v1/sessions/"+id+"/transcript?format="+f.name, key)
		if code != 200 || h.Get("Content-Type") != f.ctype || h.Get("Content-Disposition") != `attachment; filename=`+id+`.`+f.name ||
			h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %q %q %q", f.name, code, h.Get("Content-Type"), h.Get("Content-Disposition"), h.Get("Cache-Control"))
			continue
		}
		var text string
		switch f.name {
		case "txt":
			for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
				_, after, ok := strings.Cut(l, "] ")
				if !ok {
					t.Errorf("txt line without a time: %q", l)
				}
				text += " " + after
			}
		case "srt", "vtt":
			var subs *astisub.Subtitles
			var err error
			if f.name == "srt" {
				subs, err = astisub.ReadFromSRT(bytes.NewReader(body))
			} else {
				subs, err = astisub.ReadFromWebVTT(bytes.NewReader(body))
			}
			if err != nil {
				t.Errorf("%s: %v", f.name, err)
				continue
			}
			for _, it := range subs.Items {
				for _, l := range it.Lines {
					text += " " + l.String()
				}
			}
		case "json":
			var doc struct{ Captions []struct{ Text string } }
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Errorf("json: %v", err)
			}
			for _, c := range doc.Captions {
				text += " " + c.Text
			}
		default:
			var err error
			if text, err = prepare.Extract("x."+f.name, body); err != nil {
				t.Errorf("%s: %v", f.name, err)
				continue
			}
			// Each final is stamped with its time ("[00:00:02] ").
			text = stamp.ReplaceAllString(text, " ")
		}
		if got := strings.Join(strings.Fields(text), " "); !strings.Contains(got, words) {
			t.Errorf("%s export lacks the finals %q:\n%s", f.name, words, got)
		}
	}
	var e struct{ Error struct{ Code string } }
	code, _, body := getRaw(t, s, "/v1/sessions/"+id+"/transcript?format=srt2", key)
	if _ = json.Unmarshal(body, &e); code != 400 || e.Error.Code != "bad_request" {
		t.Errorf("unknown format: %d %s", code, body)
	}
}
