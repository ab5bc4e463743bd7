package transcript

import (
	"bytes"
	"io"
	"strings"

	"github.com/asticode/go-astisub"
)

// Subtitles are written by github.com/asticode/go-astisub, which also reads
// them back in the round-trip tests. What it leaves to the caller: text
// that would read as a timing line ("-->") and speaker names that would
// break a WebVTT voice tag.

// writeSubtitles writes cues as SubRip or WebVTT. WebVTT names the speaker
// with a voice tag (<v Name>); SubRip, which has none, starts the cue's
// first line with "Name: ".
func writeSubtitles(w io.Writer, cues []Cue, vtt bool) error {
	if len(cues) == 0 {
		// astisub refuses to write nothing; an empty transcript is a valid,
		// empty subtitle file.
		if vtt {
			_, err := io.WriteString(w, "WEBVTT\n")
			return err
		}
		return nil
	}
	subs := astisub.NewSubtitles()
	for _, c := range cues {
		item := &astisub.Item{StartAt: c.Start, EndAt: c.End}
		speaker := SpeakerName(c.Speaker)
		for i, l := range c.Lines {
			l = noArrow(l)
			line := astisub.Line{Items: []astisub.LineItem{{Text: l}}}
			switch {
			case speaker == "":
			case vtt:
				line.VoiceName = speaker
			case i == 0:
				line.Items[0].Text = speaker + ": " + l
			}
			item.Lines = append(item.Lines, line)
		}
		subs.Items = append(subs.Items, item)
	}
	var buf bytes.Buffer
	var err error
	if vtt {
		err = subs.WriteToWebVTT(&buf)
	} else {
		err = subs.WriteToSRT(&buf)
	}
	if err != nil {
		return err
	}
	// astisub starts SubRip with a UTF-8 byte-order mark; OpenAI's and most
	// tools' SRT has none, and UTF-8 needs none.
	_, err = w.Write(bytes.TrimPrefix(buf.Bytes(), astisub.BytesBOM))
	return err
}

// noArrow removes "-->" from cue text: a line holding it reads as a timing
// line. ("--->" becomes "-->" after one pass, hence the loop.)
func noArrow(s string) string {
	for strings.Contains(s, "-->") {
		s = strings.ReplaceAll(s, "-->", "->")
	}
	return s
}

// SpeakerName makes a speaker's name safe in every format: one line, no
// markup characters, no "-->", at most 64 characters.
func SpeakerName(s string) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		switch r {
		case '<', '>', '&', ':':
			return ' '
		}
		return r
	}, s)), " ")
	s = noArrow(s)
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64])
	}
	return s
}
