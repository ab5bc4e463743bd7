package transcript

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// hourLong is an hour of transcript: 1,200 three-second segments of eight
// timed words each.
func hourLong() speech.Transcript {
	var tr speech.Transcript
	words := strings.Fields("the quick brown fox jumps over lazy dogs")
	for i := range 1200 {
		seg := speech.Result{Segment: i, Start: time.Duration(i) * 3 * time.Second, End: time.Duration(i+1) * 3 * time.Second}
		for j, w := range words {
			at := seg.Start + time.Duration(j)*375*time.Millisecond
			seg.Words = append(seg.Words, speech.Word{Text: w, Start: at, End: at + 300*time.Millisecond, Confidence: 0.9})
		}
		seg.Text = strings.Join(words, " ")
		tr.Segments = append(tr.Segments, seg)
	}
	tr.Duration = time.Hour
	return tr
}

func BenchmarkWrite(b *testing.B) {
	tr := hourLong()
	for _, f := range Formats() {
		b.Run(string(f), func(b *testing.B) {
			for b.Loop() {
				if err := Write(io.Discard, f, tr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
