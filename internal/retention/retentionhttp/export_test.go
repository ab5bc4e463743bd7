package retentionhttp

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

func TestToTranscriptAndTitle(t *testing.T) {
	tr := ToTranscript([]live.Event{
		{Type: live.TypeCaption, Final: true, Text: "Welcome.", Start: 1.5, End: 2.25, Speaker: "Ann",
			Words: []live.Word{{Word: "Welcome.", Start: 1.5, End: 2.25, Confidence: 0.9}}},
		{Type: live.TypeCaption, Final: true, Text: "Let us pray.", Start: 3, End: 4},
	})
	if len(tr.Segments) != 2 || tr.Segments[0].Start != 1500*time.Millisecond || tr.Segments[0].Speaker != "Ann" ||
		tr.Segments[0].Words[0].End != 2250*time.Millisecond || tr.Duration != 4*time.Second {
		t.Fatalf("ToTranscript: %+v", tr)
	}
	started := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	if got := Title(live.Info{ID: "ses_a", Label: " Evening service ", StartedAt: &started}); got != "Evening service — 7 December 2026" {
		t.Errorf("Title = %q", got)
	}
	if got := Title(live.Info{ID: "ses_a"}); got != "ses_a" {
		t.Errorf("Title without label or date = %q", got)
	}
}

// Every format answers with its type and a file name; an unknown one is
// refused before anything is read.
func TestExportAnswers(t *testing.T) {
	evs := []live.Event{{Type: live.TypeCaption, Final: true, Text: "hello there", Start: 0, End: 1}}
	for format, ctype := range map[string]string{"txt": "text/plain; charset=utf-8", "srt": "application/x-subrip; charset=utf-8",
		"vtt": "text/vtt; charset=utf-8", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"pdf": "application/pdf", "json": "application/json; charset=utf-8", "": "application/json; charset=utf-8"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/x?format="+format, nil)
		if !checkFormat(w, r) {
			t.Fatalf("%q refused", format)
		}
		writeExport(w, r, slog.New(slog.DiscardHandler), live.Info{ID: "ses_a"}, evs)
		wantDisp := "attachment; filename=ses_a." + format
		if format == "" {
			wantDisp = ""
		}
		if w.Code != 200 || w.Header().Get("Content-Type") != ctype || w.Header().Get("Content-Disposition") != wantDisp ||
			w.Header().Get("Cache-Control") != "no-store" || w.Body.Len() == 0 {
			t.Errorf("%q: %d %v", format, w.Code, w.Header())
		}
	}
	w := httptest.NewRecorder()
	if checkFormat(w, httptest.NewRequest(http.MethodGet, "/x?format=srt2", nil)) || w.Code != 400 || !strings.Contains(w.Body.String(), "bad_request") {
		t.Errorf("unknown format: %d %s", w.Code, w.Body)
	}
}
