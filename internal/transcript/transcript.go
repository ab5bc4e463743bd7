// Package transcript owns the output formats for transcripts: plain text,
// JSON, SubRip (SRT) and WebVTT. It is pure: it turns a speech.Transcript
// into bytes and imports no engine, storage or HTTP code.
package transcript

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Format names an output format.
type Format string

// The supported formats.
const (
	TXT  Format = "txt"
	JSON Format = "json"
	SRT  Format = "srt"
	VTT  Format = "vtt"
)

// Formats lists every supported format.
func Formats() []Format { return []Format{TXT, JSON, SRT, VTT} }

// ParseFormat accepts a format name in any case.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Formats() {
		if f == known {
			return f, nil
		}
	}
	return "", fmt.Errorf("transcript: unknown format %q (want txt, json, srt or vtt)", s)
}

// Write renders t to w in format f.
func Write(w io.Writer, f Format, t speech.Transcript) error {
	var err error
	switch f {
	case TXT:
		_, err = io.WriteString(w, Text(t)+"\n")
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(ToDoc(t))
	case SRT:
		err = writeCues(w, Cues(t), srtTime, false)
	case VTT:
		err = writeCues(w, Cues(t), vttTime, true)
	default:
		return fmt.Errorf("transcript: unknown format %q", f)
	}
	if err != nil {
		return fmt.Errorf("transcript: writing %s: %w", f, err)
	}
	return nil
}

// Text returns the transcript's words on one line: t.Text if set, else the
// segments joined.
func Text(t speech.Transcript) string {
	if s := strings.Join(strings.Fields(t.Text), " "); s != "" {
		return s
	}
	parts := make([]string, 0, len(t.Segments))
	for _, s := range t.Segments {
		if txt := strings.Join(strings.Fields(s.Text), " "); txt != "" {
			parts = append(parts, txt)
		}
	}
	return strings.Join(parts, " ")
}

// Doc is the JSON shape: times are seconds as floats.
type Doc struct {
	Text     string       `json:"text"`
	Language string       `json:"language,omitempty"`
	Duration float64      `json:"duration"`
	Segments []DocSegment `json:"segments"`
}

// DocSegment is one segment in a Doc.
type DocSegment struct {
	ID         int       `json:"id"`
	Start      float64   `json:"start"`
	End        float64   `json:"end"`
	Text       string    `json:"text"`
	Confidence float32   `json:"confidence"`
	Speaker    string    `json:"speaker,omitempty"`
	Words      []DocWord `json:"words,omitempty"`
}

// DocWord is one word in a DocSegment.
type DocWord struct {
	Word       string  `json:"word"`
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Confidence float32 `json:"confidence"`
}

func secs(d time.Duration) float64 {
	// Millisecond precision: engines' frames are coarser, and it keeps the
	// JSON free of float noise.
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// ToDoc converts t to the JSON document shape.
func ToDoc(t speech.Transcript) Doc {
	d := Doc{Text: Text(t), Language: t.Language, Duration: secs(t.Duration), Segments: []DocSegment{}}
	for i, s := range t.Segments {
		ds := DocSegment{ID: i, Start: secs(s.Start), End: secs(s.End), Text: strings.Join(strings.Fields(s.Text), " "),
			Confidence: s.Confidence, Speaker: s.Speaker}
		for _, w := range s.Words {
			ds.Words = append(ds.Words, DocWord{Word: w.Text, Start: secs(w.Start), End: secs(w.End), Confidence: w.Confidence})
		}
		d.Segments = append(d.Segments, ds)
	}
	return d
}
