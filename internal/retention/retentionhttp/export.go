// Package retentionhttp owns the HTTP surface of kept transcripts and
// review snippets: the transcript export route of the public API and the
// console's Archive and Review pages. It reads and changes kept data only
// through retention.Keeper, so every read and change is audited there.
package retentionhttp

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/retention"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/transcript"
)

// ToTranscript turns a session's kept final captions into a transcript:
// one segment per caption, with its times, speaker and words.
func ToTranscript(evs []live.Event) speech.Transcript {
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	t := speech.Transcript{Segments: make([]speech.Result, 0, len(evs))}
	for i, e := range evs {
		seg := speech.Result{Segment: i, Text: e.Text, Start: secs(e.Start), End: secs(e.End), Final: true,
			Confidence: e.Confidence, Speaker: e.Speaker}
		for _, w := range e.Words {
			seg.Words = append(seg.Words, speech.Word{Text: w.Word, Start: secs(w.Start), End: secs(w.End), Confidence: w.Confidence})
		}
		t.Segments = append(t.Segments, seg)
		t.Duration = max(t.Duration, seg.End)
	}
	return t
}

// Title heads an exported document: the session's label (or id) and the
// day it started.
func Title(info live.Info) string {
	name := strings.TrimSpace(info.Label)
	if name == "" {
		name = info.ID
	}
	at := info.CreatedAt
	if info.StartedAt != nil {
		at = *info.StartedAt
	}
	if at.IsZero() {
		return name
	}
	return name + " — " + at.UTC().Format("2 January 2006")
}

// writeExport answers with a session's kept captions in the format the
// query names: no format (or json) is the API's JSON document
// {"session_id","captions"}; txt, srt, vtt, docx and pdf are files named
// after the session. An unknown format is 400 bad_request before anything
// is read.
func writeExport(w http.ResponseWriter, r *http.Request, log *slog.Logger, info live.Info, evs []live.Event) {
	name := r.URL.Query().Get("format")
	w.Header().Set("Cache-Control", "no-store")
	if name == "" || strings.EqualFold(name, "json") {
		if evs == nil {
			evs = []live.Event{}
		}
		if name != "" {
			w.Header().Set("Content-Disposition", disposition(info.ID, transcript.JSON))
		}
		apierr.JSON(w, http.StatusOK, map[string]any{"session_id": info.ID, "captions": evs})
		return
	}
	f, _ := transcript.ParseFormat(name) // checked by ParseExportFormat before the read
	var buf bytes.Buffer
	if err := transcript.WriteWith(&buf, f, ToTranscript(evs), transcript.Options{Title: Title(info), Lines: true}); err != nil {
		log.Error("exporting a kept transcript", "session_id", info.ID, "format", string(f),
			"request_id", apierr.RequestID(r.Context()), "err", err)
		apierr.Write(w, r, apierr.CodeInternal, "")
		return
	}
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Content-Disposition", disposition(info.ID, f))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(buf.Bytes())
}

// checkFormat refuses an unknown ?format= with 400 before any kept data
// is read (and audited).
func checkFormat(w http.ResponseWriter, r *http.Request) bool {
	name := r.URL.Query().Get("format")
	if name == "" {
		return true
	}
	if _, err := transcript.ParseFormat(name); err != nil {
		apierr.Write(w, r, apierr.CodeBadRequest, fmt.Sprintf("unknown transcript format %q: use txt, json, srt, vtt, docx or pdf", truncate(name, 32)))
		return false
	}
	return true
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func disposition(sessionID string, f transcript.Format) string {
	return mime.FormatMediaType("attachment", map[string]string{"filename": sessionID + "." + string(f)})
}

// keptError answers for the errors reading kept data returns.
func keptError(w http.ResponseWriter, r *http.Request, log *slog.Logger, id string, err error) {
	switch {
	case errors.Is(err, retention.ErrNotFound):
		apierr.Write(w, r, apierr.CodeNotFound, "this session keeps no transcript (keep_transcript is off)")
	case errors.Is(err, retention.ErrExpired):
		apierr.Write(w, r, apierr.CodeNotFound, "this session's transcript was destroyed (retention ended or the session was deleted)")
	default:
		log.Error("reading a kept transcript", "session_id", id, "request_id", apierr.RequestID(r.Context()), "err", err)
		apierr.Write(w, r, apierr.CodeInternal, "")
	}
}
