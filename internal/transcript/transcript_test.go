package transcript

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// sample has a 10-second segment with word timings (must split on the 7 s
// and 2×42-character limits), one without words, and one with characters
// that need care in SRT/VTT.
func sample() speech.Transcript {
	words := strings.Fields("he hoped there would be stew for dinner turnips and carrots and bruised potatoes and fat mutton pieces to be ladled out")
	seg := speech.Result{Segment: 0, Start: ms(500), End: ms(10400), Confidence: 0.8, Final: true}
	for i, w := range words {
		seg.Words = append(seg.Words, speech.Word{Text: w, Start: ms(500 + i*450), End: ms(500 + i*450 + 400), Confidence: 0.9})
	}
	seg.Text = strings.Join(words, " ")
	return speech.Transcript{
		Text:     "",
		Language: "en",
		Duration: ms(16000),
		Segments: []speech.Result{
			seg,
			{Segment: 1, Text: "stuff it into you his belly counselled him", Start: ms(10500), End: ms(13200), Confidence: 0.7, Final: true},
			{Segment: 2, Text: "a <b> & c --> d", Start: ms(13300), End: ms(15000), Confidence: 0.5, Final: true, Speaker: "S1"},
		},
	}
}

func TestGolden(t *testing.T) {
	for _, f := range []Format{TXT, JSON, SRT, VTT} { // DOCX and PDF: export_test.go reads them back
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, f, sample()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "sample."+string(f)+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("%s differs from golden:\n--- got\n%s\n--- want\n%s", f, buf.Bytes(), want)
			}
		})
	}
}

func TestCueLimits(t *testing.T) {
	cues := Cues(sample())
	if len(cues) < 4 {
		t.Fatalf("got %d cues, want the long segment split: %+v", len(cues), cues)
	}
	for i, c := range cues {
		if c.End-c.Start > MaxCueDuration {
			t.Errorf("cue %d lasts %v", i, c.End-c.Start)
		}
		if len(c.Lines) == 0 || len(c.Lines) > MaxCueLines {
			t.Errorf("cue %d has %d lines", i, len(c.Lines))
		}
		for _, l := range c.Lines {
			if len([]rune(l)) > MaxLineChars {
				t.Errorf("cue %d line %q longer than %d", i, l, MaxLineChars)
			}
		}
	}
	// Splitting happens on word boundaries and keeps word timing.
	if cues[0].Start != ms(500) {
		t.Errorf("first cue starts %v, want the first word's start", cues[0].Start)
	}
}

func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, JSON, sample()); err != nil {
		t.Fatal(err)
	}
	var d Doc
	if err := json.Unmarshal(buf.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Duration != 16 || len(d.Segments) != 3 || d.Segments[0].Start != 0.5 || d.Segments[0].Words[1].Start != 0.95 ||
		!strings.HasPrefix(d.Text, "he hoped") || d.Segments[2].Speaker != "S1" {
		t.Fatalf("unexpected JSON document: %+v", d)
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"txt", "JSON", " srt", "vtt", "DOCX", "pdf"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	for _, s := range []string{"doc", "", "srt2", "html"} {
		if _, err := ParseFormat(s); err == nil {
			t.Errorf("ParseFormat(%q) succeeded", s)
		}
	}
}

var (
	srtTiming = regexp.MustCompile(`^(\d{2,}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2,}):(\d{2}):(\d{2}),(\d{3})$`)
	vttTiming = regexp.MustCompile(`^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})$`)
	voiceTag  = regexp.MustCompile(`^<v [^<>&]+>`)
	bareAmp   = regexp.MustCompile(`&($|[^a-z]|[a-z]+($|[^a-z;]))`)
)

func parseStamp(m []string) (time.Duration, time.Duration) {
	n := make([]int64, 8)
	for i := range n {
		n[i], _ = strconv.ParseInt(m[i+1], 10, 64)
	}
	at := func(h, mi, s, f int64) time.Duration {
		return time.Duration(((h*60+mi)*60+s)*1000+f) * time.Millisecond
	}
	return at(n[0], n[1], n[2], n[3]), at(n[4], n[5], n[6], n[7])
}

// checkSubs parses out strictly and returns an error describing the first
// malformation: bad numbering, bad timing line, empty cue, times that go
// backwards or cues with end <= start.
func checkSubs(out string, vtt bool) error {
	if vtt {
		if out == "WEBVTT\n" {
			return nil
		}
		if !strings.HasPrefix(out, "WEBVTT\n\n") {
			return fmt.Errorf("missing WEBVTT header")
		}
		out = strings.TrimPrefix(out, "WEBVTT\n\n")
	}
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		return fmt.Errorf("output does not end with a new line")
	}
	out = strings.TrimSuffix(out, "\n") + "\n\n" // the last blank line is optional
	var prev time.Duration
	for i, block := range strings.Split(strings.TrimSuffix(out, "\n\n"), "\n\n") {
		lines := strings.Split(block, "\n")
		// SubRip numbers every cue; WebVTT's optional identifier is the
		// same number when present.
		if !vtt || !strings.Contains(lines[0], "-->") {
			if lines[0] != strconv.Itoa(i+1) {
				return fmt.Errorf("cue %d numbered %q", i+1, lines[0])
			}
			lines = lines[1:]
		}
		re := srtTiming
		if vtt {
			re = vttTiming
		}
		if len(lines) < 2 {
			return fmt.Errorf("cue %d is empty: %q", i+1, block)
		}
		m := re.FindStringSubmatch(lines[0])
		if m == nil {
			return fmt.Errorf("cue %d timing line %q", i+1, lines[0])
		}
		start, end := parseStamp(m)
		if start < prev || end <= start {
			return fmt.Errorf("cue %d times %v --> %v after %v", i+1, start, end, prev)
		}
		prev = end
		for _, l := range lines[1:] {
			if strings.TrimSpace(l) == "" || strings.Contains(l, "-->") {
				return fmt.Errorf("cue %d has bad text line %q", i+1, l)
			}
			if vtt && voiceTag.MatchString(l) {
				l = voiceTag.ReplaceAllString(l, "")
			}
			// WebVTT needs "<" and "&" escaped; ">" may stand as it is.
			if vtt && (strings.Contains(l, "<") || bareAmp.MatchString(l)) {
				return fmt.Errorf("cue %d has unescaped markup %q", i+1, l)
			}
		}
	}
	return nil
}

func TestCheckSubsCatchesBadOutput(t *testing.T) {
	// The checker itself must be able to fail.
	bad := []string{
		"1\n00:00:01,000 --> 00:00:00,500\nx\n\n",
		"2\n00:00:00,000 --> 00:00:01,000\nx\n\n",
		"1\n00:00:00,000 --> 00:00:01,000\n\n",
		"1\n00:00:02,000 --> 00:00:03,000\nx\n\n2\n00:00:01,000 --> 00:00:04,000\ny\n\n",
	}
	for _, b := range bad {
		if checkSubs(b, false) == nil {
			t.Errorf("checker accepted %q", b)
		}
	}
}

func FuzzSubtitles(f *testing.F) {
	f.Add("hello world", int64(0), int64(1000), "a b c", int64(900), int64(500), true)
	f.Add("", int64(-5), int64(-1), " \n\t ", int64(1<<62), int64(-1<<62), false)
	f.Add("a ---> b", int64(0), int64(5), "c ---> d", int64(10), int64(20), true)
	f.Add("x-->y <i>", int64(1<<63-1), int64(0), "ünïcödé wörds "+strings.Repeat("long ", 40), int64(3), int64(3), true)
	f.Fuzz(func(t *testing.T, text1 string, s1, e1 int64, text2 string, s2, e2 int64, words bool) {
		seg1 := speech.Result{Text: text1, Start: time.Duration(s1), End: time.Duration(e1)}
		seg2 := speech.Result{Text: text2, Start: time.Duration(s2), End: time.Duration(e2)}
		if words {
			for i, w := range strings.Fields(text2) {
				seg2.Words = append(seg2.Words, speech.Word{Text: w, Start: time.Duration(s2 + int64(i)*e1), End: time.Duration(e2 - int64(i)*s1)})
			}
		}
		tr := speech.Transcript{Segments: []speech.Result{seg1, seg2}}
		for _, f := range []Format{SRT, VTT} {
			var buf bytes.Buffer
			if err := Write(&buf, f, tr); err != nil {
				t.Fatal(err)
			}
			if err := checkSubs(buf.String(), f == VTT); err != nil {
				t.Fatalf("%s: %v\n%s", f, err, buf.String())
			}
		}
	})
}
