// Package transcript owns the output formats for transcripts: plain text,
// JSON, SubRip (SRT), WebVTT, DOCX and PDF. It is pure: it turns a
// speech.Transcript into bytes and imports no engine, storage or HTTP code.
// Subtitles are written by github.com/asticode/go-astisub, DOCX by
// github.com/fumiama/go-docx and PDF by codeberg.org/go-pdf/fpdf.
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
	DOCX Format = "docx"
	PDF  Format = "pdf"
)

// Formats lists every supported format.
func Formats() []Format { return []Format{TXT, JSON, SRT, VTT, DOCX, PDF} }

// ContentType is the media type a format is served as.
func (f Format) ContentType() string {
	switch f {
	case JSON:
		return "application/json"
	case SRT:
		return "application/x-subrip; charset=utf-8"
	case VTT:
		return "text/vtt; charset=utf-8"
	case DOCX:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case PDF:
		return "application/pdf"
	}
	return "text/plain; charset=utf-8"
}

// Options add what a document shows beyond the words.
type Options struct {
	// Title heads the DOCX and PDF documents (a session's label and date).
	Title string
	// Lines writes TXT as one line per segment, "[HH:MM:SS] Speaker: text",
	// instead of the words on one line (OpenAI's text format).
	Lines bool
}

// ParseFormat accepts a format name in any case.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Formats() {
		if f == known {
			return f, nil
		}
	}
	return "", fmt.Errorf("transcript: unknown format %q (want txt, json, srt, vtt, docx or pdf)", s)
}

// Write renders t to w in format f.
func Write(w io.Writer, f Format, t speech.Transcript) error { return WriteWith(w, f, t, Options{}) }

// WriteWith renders t to w in format f with opts.
func WriteWith(w io.Writer, f Format, t speech.Transcript, opts Options) error {
	var err error
	switch f {
	case TXT:
		if opts.Lines {
			err = writeLines(w, t)
		} else {
			_, err = io.WriteString(w, Text(t)+"\n")
		}
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(ToDoc(t))
	case SRT:
		err = writeSubtitles(w, Cues(t), false)
	case VTT:
		err = writeSubtitles(w, Cues(t), true)
	case DOCX:
		err = writeDOCX(w, t, opts.Title)
	case PDF:
		err = writePDF(w, t, opts.Title)
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

// Paragraph is one segment as documents show it: when, who, what.
type Paragraph struct {
	Start   time.Duration
	Speaker string
	Text    string
}

// Paragraphs lists t's non-empty segments in order (t.Text alone when it
// has none), for the formats meant to be read.
func Paragraphs(t speech.Transcript) []Paragraph {
	var out []Paragraph
	for _, s := range t.Segments {
		if txt := strings.Join(strings.Fields(s.Text), " "); txt != "" {
			out = append(out, Paragraph{Start: clampTime(s.Start), Speaker: SpeakerName(s.Speaker), Text: txt})
		}
	}
	if len(out) == 0 {
		if txt := Text(t); txt != "" {
			out = append(out, Paragraph{Text: txt})
		}
	}
	return out
}

// Clock formats d as HH:MM:SS for readers.
func Clock(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func (p Paragraph) heading() string {
	if p.Speaker != "" {
		return "[" + Clock(p.Start) + "] " + p.Speaker
	}
	return "[" + Clock(p.Start) + "]"
}

func writeLines(w io.Writer, t speech.Transcript) error {
	var b strings.Builder
	for _, p := range Paragraphs(t) {
		b.WriteString(p.heading())
		if p.Speaker != "" {
			b.WriteByte(':')
		}
		b.WriteByte(' ')
		b.WriteString(p.Text)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
