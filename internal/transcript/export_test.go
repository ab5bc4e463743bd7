package transcript

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astisub"

	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// readSubtitles parses SubRip or WebVTT back with astisub (a WebVTT voice
// tag becomes the cue's Speaker).
func readSubtitles(r io.Reader, vtt bool) ([]Cue, error) {
	var subs *astisub.Subtitles
	var err error
	if vtt {
		subs, err = astisub.ReadFromWebVTT(r)
	} else {
		subs, err = astisub.ReadFromSRT(r)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Cue, 0, len(subs.Items))
	for _, it := range subs.Items {
		c := Cue{Start: it.StartAt, End: it.EndAt}
		for _, l := range it.Lines {
			if l.VoiceName != "" {
				c.Speaker = l.VoiceName
			}
			c.Lines = append(c.Lines, l.String())
		}
		out = append(out, c)
	}
	return out, nil
}

// spoken is a transcript with two named speakers and one unnamed segment,
// no markup in its words (SubRip has no escaping: "<b>" is bold there).
func spoken() speech.Transcript {
	return speech.Transcript{Segments: []speech.Result{
		{Text: "welcome everyone to the evening service", Start: ms(1200), End: ms(4100), Speaker: "Pastor Dlamini"},
		{Text: "please stand for the first hymn number two hundred and twelve", Start: ms(4300), End: ms(9800)},
		{Text: "thank you ünïcödé and Ελληνικά and кириллица", Start: ms(61000), End: ms(65500), Speaker: "Thandi"},
	}}
}

// wantCues is what a reader should find in the file written from tr.
func wantCues(tr speech.Transcript, vtt bool) []Cue {
	cues := Cues(tr)
	for i := range cues {
		cues[i].Lines = append([]string(nil), cues[i].Lines...)
		for j := range cues[i].Lines {
			cues[i].Lines[j] = noArrow(cues[i].Lines[j])
		}
		cues[i].Speaker = SpeakerName(cues[i].Speaker)
		if !vtt && cues[i].Speaker != "" {
			cues[i].Lines[0] = cues[i].Speaker + ": " + cues[i].Lines[0]
			cues[i].Speaker = ""
		}
	}
	return cues
}

func TestSubtitlesRoundTrip(t *testing.T) {
	for _, vtt := range []bool{false, true} {
		var buf bytes.Buffer
		f := map[bool]Format{false: SRT, true: VTT}[vtt]
		if err := Write(&buf, f, spoken()); err != nil {
			t.Fatal(err)
		}
		if vtt && !strings.Contains(buf.String(), "<v Pastor Dlamini>welcome everyone") {
			t.Errorf("WebVTT without a voice tag:\n%s", buf.String())
		}
		got, err := readSubtitles(&buf, vtt)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if want := wantCues(spoken(), vtt); !reflect.DeepEqual(got, want) {
			t.Errorf("%s read back:\n%+v\nwant\n%+v", f, got, want)
		}
	}
}

func TestEmptySubtitles(t *testing.T) {
	for f, want := range map[Format]string{SRT: "", VTT: "WEBVTT\n"} {
		var buf bytes.Buffer
		if err := Write(&buf, f, speech.Transcript{}); err != nil || buf.String() != want {
			t.Errorf("%s of nothing = %q, %v; want %q", f, buf.String(), err, want)
		}
	}
}

func TestTextLines(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteWith(&buf, TXT, spoken(), Options{Lines: true}); err != nil {
		t.Fatal(err)
	}
	want := "[00:00:01] Pastor Dlamini: welcome everyone to the evening service\n" +
		"[00:00:04] please stand for the first hymn number two hundred and twelve\n" +
		"[00:01:01] Thandi: thank you ünïcödé and Ελληνικά and кириллица\n"
	if buf.String() != want {
		t.Errorf("TXT lines:\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestDocumentsHoldTheWords reads DOCX and PDF back with the project's own
// document reader (internal/prepare: DOCX in Go, PDF through pdftotext).
func TestDocumentsHoldTheWords(t *testing.T) {
	testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
	for _, f := range []Format{DOCX, PDF} {
		var buf bytes.Buffer
		if err := WriteWith(&buf, f, spoken(), Options{Title: "Evening service 7 December"}); err != nil {
			t.Fatal(err)
		}
		text, err := prepare.Extract("x."+string(f), buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		text = strings.Join(strings.Fields(text), " ")
		for _, want := range []string{"Evening service 7 December", "[00:00:01] Pastor Dlamini", "welcome everyone to the evening service",
			"[00:00:04] please stand", "[00:01:01] Thandi", "Ελληνικά and кириллица"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", f, want, text)
			}
		}
	}
}

func TestContentTypes(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Formats() {
		ct := f.ContentType()
		if seen[ct] {
			t.Errorf("%s shares content type %q", f, ct)
		}
		seen[ct] = true
	}
}

// FuzzExports writes any transcript in every format: nothing fails or
// panics, and subtitles read back to the cues that were written.
func FuzzExports(f *testing.F) {
	f.Add("hello world", "Ann", int64(0), int64(1000), "a b c --> d", "", int64(900))
	f.Add("", "", int64(-5), int64(-1), " \n\t ", "<v x>", int64(1<<62))
	f.Add("x\x00y\x1b\ufffd", "a:b&c", int64(1<<63-1), int64(0), strings.Repeat("long ", 60), "é", int64(3))
	f.Fuzz(func(t *testing.T, text1, sp1 string, s1, e1 int64, text2, sp2 string, e2 int64) {
		tr := speech.Transcript{Segments: []speech.Result{
			{Text: text1, Speaker: sp1, Start: time.Duration(s1), End: time.Duration(e1)},
			{Text: text2, Speaker: sp2, Start: time.Duration(e1), End: time.Duration(e2)},
		}}
		for _, f := range Formats() {
			if err := WriteWith(io.Discard, f, tr, Options{Title: text1, Lines: true}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		// SubRip has no escaping, so only markup-free words can round-trip
		// there; WebVTT escapes them.
		for _, vtt := range []bool{false, true} {
			if !vtt && strings.ContainsAny(text1+text2+sp1+sp2, "<>{}&") {
				continue
			}
			var buf bytes.Buffer
			if err := writeSubtitles(&buf, Cues(tr), vtt); err != nil {
				t.Fatal(err)
			}
			if err := checkSubs(buf.String(), vtt); err != nil {
				t.Fatalf("vtt=%v: %v\n%s", vtt, err, buf.String())
			}
			got, err := readSubtitles(bytes.NewReader(buf.Bytes()), vtt)
			if err != nil {
				t.Fatalf("vtt=%v: %v", vtt, err)
			}
			want := wantCues(tr, vtt)
			if len(want) == 0 {
				want = []Cue{}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("vtt=%v read back:\n%q\nwant\n%q\n%s", vtt, got, want, buf.String())
			}
		}
	})
}
