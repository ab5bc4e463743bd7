package transcript

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Subtitle limits, after common broadcast guidance (BBC, Netflix): a cue
// stays on screen at most ~7 s and holds two lines of at most ~42 characters.
const (
	MaxCueDuration = 7 * time.Second
	MaxLineChars   = 42
	MaxCueLines    = 2
	// minCue keeps every cue visible even when the engine gave a word no
	// length; it is also the resolution both formats print.
	minCue = time.Millisecond
	// maxTime bounds times so arithmetic on absurd engine values cannot
	// overflow (a 1000-hour recording is far past any input limit).
	maxTime = 1000 * time.Hour
)

// clampTime puts d in [0, maxTime] at millisecond resolution.
func clampTime(d time.Duration) time.Duration {
	return min(max(d, 0), maxTime).Truncate(minCue)
}

// Cue is one subtitle: non-empty lines shown from Start to End, spoken by
// Speaker when the engine or the identifier named one.
type Cue struct {
	Start, End time.Duration
	Lines      []string
	Speaker    string
}

// piece is a word (or a run of text) with its timing.
type piece struct {
	text       string
	start, end time.Duration
}

// Cues splits t into subtitle cues. Words with timings are grouped so that a
// cue is at most MaxCueDuration long and fits MaxCueLines lines; a segment
// without words has its text split and its time shared out by length. Cues
// are returned in order, non-overlapping, each with end > start.
func Cues(t speech.Transcript) []Cue {
	var out []Cue
	var prevEnd time.Duration
	for _, seg := range t.Segments {
		for _, group := range groupPieces(segmentPieces(seg)) {
			c := Cue{Start: group[0].start, End: group[len(group)-1].end, Speaker: seg.Speaker}
			words := make([]string, len(group))
			for i, p := range group {
				words[i] = p.text
			}
			c.Lines = wrap(words, MaxLineChars)
			// Engines may overlap segments or give negative or inverted
			// times; subtitles must not.
			c.Start = max(clampTime(c.Start), prevEnd)
			c.End = max(clampTime(c.End), c.Start+minCue)
			prevEnd = c.End
			out = append(out, c)
		}
	}
	return out
}

// segmentPieces turns a segment into timed pieces with clean, non-empty text.
func segmentPieces(seg speech.Result) []piece {
	var ps []piece
	for _, w := range seg.Words {
		for _, f := range strings.Fields(w.Text) {
			ps = append(ps, piece{text: f, start: clampTime(w.Start), end: max(clampTime(w.End), clampTime(w.Start))})
		}
	}
	if len(ps) > 0 {
		return ps
	}
	// No word timings: spread the segment's span over its words by length.
	fields := strings.Fields(seg.Text)
	total := 0
	for _, f := range fields {
		total += utf8.RuneCountInString(f) + 1
	}
	start := clampTime(seg.Start)
	span := float64(max(clampTime(seg.End)-start, 0))
	at := 0
	for _, f := range fields {
		n := utf8.RuneCountInString(f) + 1
		ps = append(ps, piece{text: f,
			start: start + time.Duration(span*float64(at)/float64(total)),
			end:   start + time.Duration(span*float64(at+n)/float64(total))})
		at += n
	}
	return ps
}

// groupPieces packs pieces into cues within the duration and size limits.
func groupPieces(ps []piece) [][]piece {
	var groups [][]piece
	var cur []piece
	for _, p := range ps {
		if len(cur) > 0 {
			words := make([]string, 0, len(cur)+1)
			for _, c := range cur {
				words = append(words, c.text)
			}
			words = append(words, p.text)
			if p.end-cur[0].start > MaxCueDuration || len(wrap(words, MaxLineChars)) > MaxCueLines {
				groups = append(groups, cur)
				cur = nil
			}
		}
		cur = append(cur, p)
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// wrap fills lines of at most width runes; a longer word gets a line alone.
func wrap(words []string, width int) []string {
	var lines []string
	var line strings.Builder
	n := 0
	for _, w := range words {
		wl := utf8.RuneCountInString(w)
		if n > 0 && n+1+wl > width {
			lines = append(lines, line.String())
			line.Reset()
			n = 0
		}
		if n > 0 {
			line.WriteByte(' ')
			n++
		}
		line.WriteString(w)
		n += wl
	}
	if n > 0 {
		lines = append(lines, line.String())
	}
	return lines
}
